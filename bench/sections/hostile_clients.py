"""Hostile clients: probe latency from a fresh client while 1,000 idle and 200 slow-header connections are held open
against the console script, beside the same probes with no such connections."""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench import report
from bench.harness import (
    SERVER_CPUS,
    Bench,
    Section,
    Target,
    command_line,
    healthcheck_argv,
    proc_status_kb,
)
from tests.hostile_clients import HostileClients, fresh_probe, raise_open_file_limit
from tests.server_process import free_port

HEADING = "Probes from a fresh client while idle and slow-header connections are held open"

IDLE, SLOW = 1000, 200
P99_LIMIT_MS = 100.0
PATHS = ("/", "/ready", "/ping")


def _probe_latencies(port: int, seconds: float) -> tuple[list[float], list[str]]:
    """Fresh-connection probes back to back for `seconds`: latencies in ms, and what went wrong."""
    latencies: list[float] = []
    failures: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for path in PATHS:
            status, took = fresh_probe(port, path)
            latencies.append(took * 1000)
            if status != 200:
                failures.append(f"{path}: {status or 'no answer'}")
    return latencies, failures


def _row(name: str, latencies: list[float], failures: list[str], **extra: Any) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "name": name,
        "probes": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "max_ms": round(ordered[-1], 2),
        "failed": len(failures),
        **extra,
    }


def _rss(server: Any) -> float:
    """The serving worker's resident memory in MB."""
    return round(sum(proc_status_kb(pid, "VmRSS") for pid in server.worker_pids()) / 1024, 1)


def run(bench: Bench) -> Section:
    section = Section()
    raise_open_file_limit(IDLE + SLOW + 512)
    fake = bench.fake(100)
    port = free_port()
    seconds = max(bench.seconds * 2, 5.0)
    with bench.running("healthcheck", healthcheck_argv(SERVER_CPUS, port, fake.url), port) as server:
        server.wait_answer("/")
        quiet, quiet_failures = _probe_latencies(port, seconds)
        section.rows.append(_row("no other clients", quiet, quiet_failures, server=server.command, rss_mb=_rss(server)))
        with HostileClients(port, idle=IDLE, slow=SLOW) as hostile:
            loaded, failures = _probe_latencies(port, seconds)
            counts = hostile.counts
            rss = _rss(server)
        section.rows.append(
            _row(
                f"{IDLE} idle + {SLOW} slow-header connections held open",
                loaded,
                failures,
                server=server.command,
                reopened=counts.reopened,
                header_lines=counts.header_lines,
                rss_mb=rss,
            )
        )
    row = section.rows[-1]
    section.targets += [
        Target(
            f"probe p99 from a fresh client, {IDLE} idle + {SLOW} slow-header connections open",
            f"{row['p99_ms']:.1f} ms (p50 {row['p50_ms']:.1f}, max {row['max_ms']:.1f}; quiet p99 "
            f"{section.rows[0]['p99_ms']:.1f} ms)",
            f"< {P99_LIMIT_MS:g} ms",
            row["p99_ms"] < P99_LIMIT_MS,
        ),
        Target(
            "every probe answered 200 while they were open",
            f"{row['failed']} of {row['probes']} failed" + (f": {failures[:3]}" if failures else ""),
            "none failed",
            not failures and not quiet_failures,
        ),
    ]
    section.notes.append(
        f"Probes {', '.join(PATHS)} in turn on a new connection each, back to back for {seconds:g} s, from the "
        f"driver core; `tests/hostile_clients.py` holds the connections (the slow ones send a header line per "
        f"second; the server closed {row['reopened']} at its 10 s header deadline and they were opened again). "
        f"Worker RSS {section.rows[0]['rss_mb']} MB without them, {row['rss_mb']} MB with them. "
        f"Server: `{command_line(server.argv)}`."
    )
    return section


def table(rows: list[dict[str, Any]]) -> list[str]:
    return report.table(
        [
            ("other clients", lambda r: r["name"]),
            ("probes", lambda r: r["probes"]),
            ("p50 ms", lambda r: r["p50_ms"]),
            ("p99 ms", lambda r: r["p99_ms"]),
            ("max ms", lambda r: r["max_ms"]),
            ("failed", lambda r: r["failed"]),
            ("worker RSS MB", lambda r: r["rss_mb"]),
        ],
        rows,
    )
