"""Progress round: the cost of one progress round at 100 and 1,000 sink connectors x 3 partitions.

A real broker (the tests' KafkaStack) holds one 3-partition topic per sink, a record on each partition and a
committed offset for each sink's group, all made directly with confluent-kafka: 1,000 real sink tasks would not
fit on 2 cores, and the round reads exactly what they would leave behind. A fake Connect lists the sinks (with
their configs, as `?expand=status&expand=info` does). Measured: wall time and process CPU time of
`ProgressCheck.check_once()` (librdkafka's threads included), requests sent to Kafka and to Connect.

    .venv/bin/python -m bench.sections.progress [--sinks 100,1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from bench.harness import Bench, BenchError, Section, Target
from healthcheck.service import Service
from healthcheck.settings import Settings
from tests.fake_connect import FakeConnect
from tests.integration.kafka_stack import KafkaStack

PARTITIONS = 3
CPU_LIMIT_AT_1000 = 0.5  # seconds of CPU per round
HEADING = "Progress round (STALLED check): sinks x 3 partitions on a real broker"
COMMAND = ".venv/bin/python -m bench.sections.progress --sinks 100,1000 --rounds 5"


def prepare(bootstrap: str, first: int, last: int) -> None:
    """Topics bench-<i> (3 partitions) with a record each, and group connect-bench-sink-<i> committed at 0."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = [f"bench-{i:04d}" for i in range(first, last)]
    for future in admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in names], request_timeout=60).values():
        future.result()
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for name in names:
        for partition in range(PARTITIONS):
            producer.produce(name, b"x", partition=partition)
    unsent = producer.flush(60)
    if unsent:  # a busy machine: the lag the round must see would be short, and every figure after it wrong
        raise BenchError(f"{unsent} of the setup records were not delivered to the broker within 60 s")
    futures = []
    for name in names:
        offsets = [TopicPartition(name, p, 0) for p in range(PARTITIONS)]
        request = [ConsumerGroupTopicPartitions(f"connect-bench-sink-{name[6:]}", offsets)]
        futures += admin.alter_consumer_group_offsets(request, request_timeout=60).values()
    for future in futures:
        future.result()


def measure_round(bootstrap: str, sinks: int, rounds: int) -> dict[str, Any]:
    connect = FakeConnect().start()
    try:
        for i in range(sinks):
            connect.set_connector(f"bench-sink-{i:04d}", config={"topics": f"bench-{i:04d}"})
        settings = replace(
            Settings(connect_url=connect.url),
            kafka_bootstrap_servers=bootstrap,
            request_timeout=30.0,
            progress_interval=30.0,
            stall_after=300.0,
        )
        service = Service(settings)
        try:
            service.poller.poll_once()
            service.progress_check.check_once()  # warm-up: connections, metadata  # type: ignore[union-attr]
            walls, cpus, kafka_requests, connect_requests = [], [], set(), set()
            for _ in range(rounds):
                before = connect.request_count()
                wall, cpu = time.perf_counter(), time.process_time()
                report = service.progress_check.check_once()  # type: ignore[union-attr]
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
                assert report is not None and report.error is None, report
                assert len(report.connectors) == sinks and not report.connector_errors(), report.connector_errors()
                assert all(p.lag == PARTITIONS for p in report.connectors.values())
                kafka_requests.add(report.kafka_requests)
                connect_requests.add(connect.request_count() - before)
        finally:
            service.stop()
    finally:
        connect.stop()
    return {
        "sinks": sinks,
        "partitions": sinks * PARTITIONS,
        "wall_s": round(statistics.median(walls), 3),
        "cpu_s": round(statistics.median(cpus), 3),
        "kafka_requests": sorted(kafka_requests),
        "connect_requests": sorted(connect_requests),
    }


def measure(sizes: list[int], rounds: int) -> dict[str, Any]:
    rows = []
    with KafkaStack() as stack:
        made = 0
        for size in sizes:
            prepare(stack.bootstrap, made, size)
            made = size
            rows.append(measure_round(stack.bootstrap, size, rounds))
    targets = []
    for row in rows:
        if row["sinks"] == 1000:
            targets.append(
                {
                    "name": "CPU per progress round at 1,000 sinks x 3 partitions",
                    "measured": f"{row['cpu_s']} s",
                    "limit": f"< {CPU_LIMIT_AT_1000} s",
                    "ok": row["cpu_s"] < CPU_LIMIT_AT_1000,
                }
            )
    connect_counts = {count for row in rows for count in row["connect_requests"]}
    targets.append(
        {
            "name": "Connect requests per progress round, whatever the number of sinks",
            "measured": ", ".join(f"{row['sinks']} sinks: {row['connect_requests']}" for row in rows),
            "limit": "the same at every size",
            "ok": len(connect_counts) == 1,
        }
    )
    return {"rows": rows, "targets": targets}


def run(bench: Bench) -> Section:
    """The `make bench` section: 100 and 1,000 sinks, 5 measured rounds each."""
    result = measure([100, 1000], rounds=5)
    return Section(
        rows=result["rows"],
        targets=[Target(**target) for target in result["targets"]],
        notes=[f"Made by `{COMMAND}` (also run alone)."],
    )


def table(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "| sinks x partitions | wall | CPU (process) | requests to Kafka | requests to Connect |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        out.append(
            f"| {row['sinks']} x {PARTITIONS} | {row['wall_s']} s | {row['cpu_s']} s | "
            f"{', '.join(map(str, row['kafka_requests']))} | {', '.join(map(str, row['connect_requests']))} |"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sinks", default="100,1000", help="comma list of sink counts (default 100,1000)")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds per size (default 5)")
    args = parser.parse_args(argv)
    result = measure(sorted(int(n) for n in args.sinks.split(",")), args.rounds)
    print(json.dumps(result, indent=2))
    missed = [t for t in result["targets"] if not t["ok"]]
    for target in missed:
        print(f"MISSED {target['name']}: {target['measured']} (limit {target['limit']})", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
