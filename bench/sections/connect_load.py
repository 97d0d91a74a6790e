"""Load on Connect: the requests reaching Connect at 0, 100 and 5,000 probes/s, for 1 and 2 serving processes."""

from __future__ import annotations

import time
from typing import Any

from bench import report
from bench.harness import (
    SERVER_CPUS,
    STATUS_PATH,
    Bench,
    Section,
    Target,
    healthcheck_argv,
    polls_at,
    wait_for,
    wrk,
)
from tests.server_process import free_port

HEADING = "Load on Connect against probe rate"


def run(bench: Bench) -> Section:
    section = Section()
    interval = 1.0  # short, so a 10 s window counts ten polls per process rather than two
    window = 10.0
    fake = bench.fake(100)
    for workers, rates in ((1, (0, 100, 5000)), (2, (0, 5000))):
        port = free_port()
        argv = healthcheck_argv(
            SERVER_CPUS, port, fake.url, "--poll-interval", f"{interval:g}", "--workers", str(workers)
        )
        with bench.running(f"healthcheck-{workers}-workers-polling", argv, port) as server:
            start = polls_at(fake)
            wait_for(lambda: polls_at(fake) - start >= workers, 30, "every worker's first poll")  # noqa: B023
            server.wait_answer("/")
            idle_per_poll = 0.0
            for rate in rates:
                before, started = fake.path_counts(), time.monotonic()
                run = None
                if rate == 0:
                    time.sleep(window)
                else:
                    connections = 10 if rate <= 100 else 50
                    run = wrk(
                        server.url + "/", seconds=window, connections=connections, delay_ms=1000 * connections // rate
                    )
                elapsed = time.monotonic() - started
                asked = fake.path_counts() - before
                polls, total = asked[STATUS_PATH], sum(asked.values())
                per_poll = total / polls if polls else float("inf")
                idle_per_poll = idle_per_poll or per_poll
                expected = elapsed / interval * workers
                section.rows.append(
                    {
                        "workers": workers,
                        "poll_interval_s": interval,
                        "probe_rate_asked": rate,
                        "probe_rate": run.rps if run else 0.0,
                        "window_s": round(elapsed, 2),
                        "polls": polls,
                        "connect_requests": total,
                        "requests_per_poll": round(per_poll, 2),
                        "paths": dict(asked),
                        "connect_requests_per_min": round(total * 60 / elapsed, 1),
                        "expected_polls_per_min": round(60 / interval * workers, 1),
                        "server": server.command,
                        "command": run.command if run else f"(no probes: {window:g} s idle)",
                    }
                )
                # Polls are aligned to each process's start, so a window holds one more or one fewer per process.
                section.targets.append(
                    Target(
                        f"polls at {rate} probes/s, {workers} process(es)",
                        f"{polls} in {elapsed:.1f} s",
                        f"{expected:.1f} +- {workers} (window / interval x processes)",
                        abs(polls - expected) <= workers + 0.5,
                    )
                )
                if rate:
                    section.targets.append(
                        Target(
                            f"requests to Connect at {rate} probes/s, {workers} process(es)",
                            f"{total} ({per_poll:.2f} per poll)",
                            f"{idle_per_poll:.2f} per poll, as with no probes",
                            abs(total - polls * idle_per_poll) <= workers * idle_per_poll + 0.5,
                        )
                    )
    idle = section.rows[0]
    paths = " and ".join(f"`GET {path}`" for path in sorted(idle["paths"]))
    section.notes.append(
        f"Requests to Connect per minute = 60 / poll interval x {idle['requests_per_poll']:g} requests per poll "
        f"({paths}) x serving processes, whatever the probe rate: with the default 5 s interval, "
        f"{12 * idle['requests_per_poll']:g} per minute per process."
    )
    return section


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = report.table(
        [
            ("processes", lambda r: r["workers"]),
            ("probes/s asked", lambda r: r["probe_rate_asked"]),
            ("probes/s done", lambda r: f"{r['probe_rate']:.0f}"),
            ("window s", lambda r: r["window_s"]),
            ("polls (expected per min)", lambda r: f"{r['polls']} ({r['expected_polls_per_min']:g}/min)"),
            ("requests at Connect", lambda r: r["connect_requests"]),
            ("requests per poll", lambda r: r["requests_per_poll"]),
            ("requests per minute", lambda r: r["connect_requests_per_min"]),
            ("command", lambda r: f"`{r['command']}`"),
        ],
        rows,
    )
    return lines + report.servers_list(
        rows, lambda r: f"{r['workers']} worker(s), poll interval {r['poll_interval_s']:g} s"
    )
