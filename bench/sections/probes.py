"""Probes against a null app: GET / and GET /ping against a constant Flask answer, same gunicorn config, same core."""

from __future__ import annotations

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
    null_argv,
    ratio_text,
)
from tests.server_process import free_port

HEADING = "Probes against the null app (same gunicorn config, same core)"
# The IETF health-check format is prebuilt per snapshot like the plain body: a probe asking for it must cost
# no more than the null app either.
HEALTH_JSON = "probe GET / (Accept: application/health+json)"


def run(bench: Bench) -> Section:
    section = Section()
    fake = bench.fake(100)
    null_port, probe_port = free_port(), free_port()
    with (
        bench.running("null-app", null_argv(SERVER_CPUS, null_port), null_port) as null,
        bench.running("healthcheck", healthcheck_argv(SERVER_CPUS, probe_port, fake.url), probe_port) as probe,
    ):
        null.wait_answer("/")
        probe.wait_answer("/")
        subjects = {
            "null app GET /": (null, "/"),
            "probe GET /": (probe, "/"),
            "probe GET /ping": (probe, "/ping"),
            HEALTH_JSON: (probe, "/"),
        }
        runs = bench.interleaved(subjects, accept={HEALTH_JSON: "application/health+json"})
        section.rows = compared(runs, {name: server for name, (server, _) in subjects.items()})
    for row in section.rows[1:]:
        name = row["name"]
        section.targets += [
            Target(f"{name}: throughput vs null app", ratio_text(row, "rps_ratio"), ">= 1.0x", row["rps_ratio"] >= 1.0),
            Target(
                f"{name}: throughput vs null app (aim)",
                ratio_text(row, "rps_ratio"),
                ">= 1.5x",
                row["rps_ratio"] >= 1.5,
                hard=False,
            ),
            Target(f"{name}: p99 vs null app", ratio_text(row, "p99_ratio"), "<= 1.2x", row["p99_ratio"] <= 1.2),
        ]
    section.targets += clean_runs(section.rows)
    return section


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = report.table([("subject", lambda r: r["name"]), *report.COMPARISON], rows)
    return lines + report.servers_list(rows, lambda r: "null app" if r["name"].startswith("null") else "healthcheck")
