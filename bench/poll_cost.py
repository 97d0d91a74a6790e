"""One poll at scale, measured in its own process: wall and CPU time of `poll_once` and of its parts.

Run by bench/run.py pinned to the server's core: `python -m bench.poll_cost --polls N -- FLAG...`, where the
flags after `--` are the console script's own (`--connect-url URL`, `--hide-traces true`, ...), read by
`healthcheck.command_line.load`. Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests

from healthcheck.command_line import load
from healthcheck.parse import parse_expanded
from healthcheck.service import Service
from healthcheck.settings import Settings

T = TypeVar("T")


def timed(work: Callable[[], T]) -> tuple[T, float, float]:
    """The result of `work()`, the wall seconds and the CPU seconds (all threads of this process) it took."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 2)


def measure(settings: Settings, polls: int) -> dict[str, Any]:
    service = Service(settings)
    connect_url = settings.connect_url
    try:
        service.poller.poll_once()  # warm-up: imports, the first connection
        walls, cpus = [], []
        for _ in range(polls):
            snapshot, wall, cpu = timed(service.poller.poll_once)
            if not snapshot.ok:
                raise SystemExit(f"poll failed: {snapshot.error}")
            walls.append(wall)
            cpus.append(cpu)
        # Where the CPU goes: the first steps timed once more on the same data; the rest is the verdict,
        # the snapshot and its rendered body (timed as the remainder, so this survives changes inside them).
        raw, _, read_cpu = timed(
            lambda: requests.get(connect_url + "/connectors?expand=status&expand=info", timeout=60).content
        )
        doc, _, loads_cpu = timed(lambda: json.loads(raw))
        _, _, parse_cpu = timed(lambda: parse_expanded(doc))
        poll_cpu = statistics.median(cpus)
        rest_cpu = max(0.0, poll_cpu - read_cpu - loads_cpu - parse_cpu)
        return {
            "polls": polls,
            "wall_ms": median_ms(walls),
            "cpu_ms": median_ms(cpus),
            "cpu_ms_min": round(min(cpus) * 1000, 2),
            "cpu_ms_max": round(max(cpus) * 1000, 2),
            "status": snapshot.status,
            "body_bytes": len(snapshot.body),
            "connect_bytes": len(raw),
            "parts_cpu_ms": {
                "http_read": round(read_cpu * 1000, 2),
                "json_loads": round(loads_cpu * 1000, 2),
                "parse": round(parse_cpu * 1000, 2),
                "verdict_render": round(rest_cpu * 1000, 2),
            },
            "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }
    finally:
        service.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=5)
    parser.add_argument("flags", nargs="*", help="the console script's flags, after --")
    args = parser.parse_args()
    print(json.dumps(measure(load(["--request-timeout", "60", *args.flags], environ={}), args.polls)))


if __name__ == "__main__":
    main()
