"""Poll cost at scale: one poll at 100, 1,000 and 10,000 connectors x 3 tasks: time, CPU, RSS of the server, body
size."""

from __future__ import annotations

import json
import subprocess
from dataclasses import fields
from typing import Any

from bench import report
from bench.harness import (
    BIN,
    REPO,
    SERVER_CPUS,
    Bench,
    BenchError,
    Section,
    Target,
    command_line,
    healthcheck_argv,
    http_get,
    polls_at,
    proc_status_kb,
    wait_for,
)
from healthcheck.settings import Settings
from tests.fake_connect import FakeConnect
from tests.server_process import free_port

HEADING = "Poll cost at scale (connectors x 3 tasks)"


def run(bench: Bench) -> Section:
    section = Section()
    failing = "10 % of connectors failing, 5 KB traces"
    scenarios: list[tuple[str, int, tuple[str, ...], tuple[int, ...]]] = [
        ("all running", 0, (), (100, 1000, 10000)),
        (failing, 10, (), (100, 1000, 10000)),
    ]
    if "hide_traces" in {f.name for f in fields(Settings)}:
        scenarios.append((f"{failing}, --hide-traces true", 10, ("--hide-traces", "true"), (10000,)))
    for scenario, failing_every, flags, sizes in scenarios:
        for connectors in sizes:
            fake = bench.fake(connectors, failing_every=failing_every)
            row = {"scenario": scenario, "connectors": connectors, "tasks": connectors * 3}
            row.update(_poll_cost(fake, flags))
            row.update(_server_after_polls(bench, fake, flags))
            section.rows.append(row)
            bench.release(fake)
            if row["probe_status"] != row["status"]:
                section.notes.append(
                    f"{connectors} connectors ({scenario}): the server answered {row['probe_status']} where the poll "
                    f"gave {row['status']}: {row['probe_body_head']}"
                )
            if connectors == 10000:
                hard = scenario == "all running"  # the case; the others depend on made-up traces
                if scenario == failing:  # #10.5: a big failing cluster stays cheap with default settings
                    section.targets.append(
                        Target(
                            f"10,000 connectors ({scenario}): size of GET /",
                            _size(row["probe_body_bytes"]),
                            "<= 8 MB",
                            row["probe_body_bytes"] <= 8 * 1024 * 1024,
                        )
                    )
                section.targets += [
                    Target(
                        f"10,000 connectors ({scenario}): CPU per poll",
                        f"{row['cpu_ms_min'] / 1000:.3f} s (median {row['cpu_ms'] / 1000:.3f} s)",
                        "< 0.5 s",
                        row["cpu_ms_min"] < 500,
                        hard=hard,
                    ),
                    Target(
                        f"10,000 connectors ({scenario}): server worker RSS",
                        f"{row['worker_rss_mb']:.1f} MB",
                        "< 100 MB",
                        row["worker_rss_mb"] < 100,
                        hard=hard or scenario == failing,
                    ),
                ]
    section.notes.append(
        "Wall time includes the fake Connect building its answer (on the other core); CPU time is only the "
        "polling process's own, the least disturbed of 5 polls (and their median). Parts: read, json and parse "
        "timed once more on the same data; the rest is everything else in the poll (the worker's `/health`, the "
        "verdict, the snapshot and its bodies). The targets bind the all-running scenario (the issue's N "
        "connectors x 3 tasks); the failing scenarios, sized by made-up traces, report against the same limits."
    )
    return section


def _poll_cost(fake: FakeConnect, flags: tuple[str, ...]) -> dict[str, Any]:
    """bench/poll_cost.py in its own process on the server's core."""
    argv = ["taskset", "-c", SERVER_CPUS, str(BIN / "python"), "-m", "bench.poll_cost", "--polls", "5"]
    argv += ["--", "--connect-url", fake.url, *flags]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise BenchError(f"poll_cost failed: {done.stderr.strip()[-2000:]}")
    return {**json.loads(done.stdout.splitlines()[-1]), "command": command_line(argv)}


def _server_after_polls(bench: Bench, fake: FakeConnect, flags: tuple[str, ...]) -> dict[str, Any]:
    """The console script's worker RSS after three polls, and its `GET /`."""
    port = free_port()
    argv = healthcheck_argv(SERVER_CPUS, port, fake.url, "--poll-interval", "2", "--max-staleness", "60", *flags)
    start = polls_at(fake)
    with bench.running(f"healthcheck-scale-{port}", argv, port) as server:
        # The 4th poll starts after the 3rd has finished: polls never overlap.
        wait_for(lambda: polls_at(fake) - start >= 4, 120, "three polls by the server")
        status, body = http_get(server.url + "/", timeout=30)
        (worker,) = server.worker_pids()
        return {
            "worker_rss_mb": round(proc_status_kb(worker, "VmRSS") / 1024, 1),
            "worker_peak_rss_mb": round(proc_status_kb(worker, "VmHWM") / 1024, 1),
            "master_rss_mb": round(proc_status_kb(server.proc.pid, "VmRSS") / 1024, 1),
            "probe_status": status,
            "probe_body_bytes": len(body),
            "probe_body_head": body[:200].decode(errors="replace"),
            "server": server.command,
        }


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = report.table(
        [
            ("scenario", lambda r: r["scenario"]),
            ("connectors", lambda r: r["connectors"]),
            ("wall ms (median)", lambda r: r["wall_ms"]),
            ("CPU ms min (median)", report.best_median("cpu_ms_min", "cpu_ms")),
            (
                "CPU ms: read / json / parse / rest",
                lambda r: " / ".join(f"{v:.0f}" for v in r["parts_cpu_ms"].values()),
            ),
            ("Connect's body", lambda r: _size(r["connect_bytes"])),
            ("probe body", lambda r: _size(r["probe_body_bytes"])),
            ("worker RSS MB (peak)", lambda r: f"{r['worker_rss_mb']} ({r['worker_peak_rss_mb']})"),
            ("master RSS MB", lambda r: r["master_rss_mb"]),
        ],
        rows,
    )
    return [
        *lines,
        "",
        f"Poll cost: `{rows[0]['command']}` (URL of that row's fake). RSS: the console script, "
        f"read from /proc/PID/status after three polls, e.g. `{rows[-1]['server']}`.",
    ]


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} B"
