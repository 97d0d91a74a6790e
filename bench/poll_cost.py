"""One poll at scale, measured in its own process: wall and CPU time of `poll_once` and of its parts.

Run by bench/run.py pinned to the server's core: `python -m bench.poll_cost --polls N -- FLAG...`, where the
flags after `--` are the console script's own (`--connect-url URL`, `--hide-traces true`, ...), read by
`healthcheck.command_line.load`. Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import collections
import json
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests

from healthcheck.command_line import load
from healthcheck.json_members import members
from healthcheck.parse import TracePolicy, parse_members
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
    traces = TracePolicy(hide=settings.hide_traces, max_bytes=settings.max_trace_bytes)
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
        # The poll decodes the listing connector by connector (json_members) and parses each as it comes:
        # json is that decoding alone, parse the rest of doing both.
        text = raw.decode()
        _, _, loads_cpu = timed(lambda: collections.deque(members(text), maxlen=0))
        _, _, both_cpu = timed(lambda: parse_members(members(text, traces.json_hook()), traces))
        parse_cpu = max(0.0, both_cpu - loads_cpu)
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
