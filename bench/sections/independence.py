"""Independence from Connect: probes while Connect takes 2 s per request, against the same with a fast Connect."""

from __future__ import annotations

import time
from typing import Any

from bench import report
from bench.harness import (
    SERVER_CPUS,
    Bench,
    Section,
    Target,
    clean_runs,
    compared,
    healthcheck_argv,
    ratio_text,
)
from tests.server_process import free_port

HEADING = "Independence from Connect (1,000 connectors x 3 tasks)"


def run(bench: Bench) -> Section:
    section = Section()
    fast = bench.fake(1000)
    slow = bench.fake(1000, delay=2.0)
    fast_port, slow_port = free_port(), free_port()
    extra = ("--request-timeout", "5")
    with (
        bench.running(
            "healthcheck-fast-connect", healthcheck_argv(SERVER_CPUS, fast_port, fast.url, *extra), fast_port
        ) as fast_server,
        bench.running(
            "healthcheck-slow-connect", healthcheck_argv(SERVER_CPUS, slow_port, slow.url, *extra), slow_port
        ) as slow_server,
    ):
        fast_server.wait_answer("/")
        slow_server.wait_answer("/")  # the first 2 s poll is done
        before, started = slow.path_counts(), time.monotonic()
        subjects = {"fast Connect": (fast_server, "/"), "Connect answering in 2 s": (slow_server, "/")}
        section.rows = compared(bench.interleaved(subjects), {name: server for name, (server, _) in subjects.items()})
        asked, elapsed = slow.path_counts() - before, time.monotonic() - started
    slow_row = section.rows[1]
    section.notes.append(
        f"During the {elapsed:.0f} s of the comparison the slow fake was asked "
        + ", ".join(f"{path} {count} times" for path, count in sorted(asked.items()))
        + " (one poll every 5 s, each of its requests answered after 2 s)."
    )
    section.targets += [
        Target(
            "slow Connect: probe throughput vs fast Connect",
            ratio_text(slow_row, "rps_ratio"),
            ">= 0.90x",
            slow_row["rps_ratio"] >= 0.9,
        ),
        Target(
            "slow Connect: probe p99 vs fast Connect",
            ratio_text(slow_row, "p99_ratio"),
            "<= 1.10x",
            slow_row["p99_ratio"] <= 1.1,
        ),
        *clean_runs(section.rows),
    ]
    return section


def table(rows: list[dict[str, Any]]) -> list[str]:
    return report.table([("Connect", lambda r: r["name"]), *report.COMPARISON], rows) + report.servers_list(
        rows, lambda r: r["name"]
    )
