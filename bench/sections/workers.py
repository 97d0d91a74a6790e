"""Workers and cores: 1 worker x N threads against 2 workers, the server on 1 and on 2 CPUs; ratios to the default
1 x 4."""

from __future__ import annotations

from typing import Any

from bench import report
from bench.harness import Bench, Section, Server, compared, healthcheck_argv, polls_at, wait_for
from tests.server_process import free_port

HEADING = "Workers and cores (`GET /`; ratios to 1 x 4 on the same CPUs)"


def run(bench: Bench) -> Section:
    section = Section()
    fake = bench.fake(100)
    layouts = ((1, 4), (1, 1), (1, 8), (2, 2), (2, 4))  # the default first: the ratios are to it
    for cpus in ("0", "0,1"):
        servers: dict[str, Server] = {}
        for worker_count, threads in layouts:
            port = free_port()
            argv = healthcheck_argv(cpus, port, fake.url, "--workers", str(worker_count), "--threads", str(threads))
            servers[f"{worker_count} x {threads}"] = bench.server(
                f"healthcheck-{worker_count}x{threads}-{cpus}", argv, port
            )
        start = polls_at(fake)
        wanted = sum(w for w, _ in layouts)
        wait_for(lambda: polls_at(fake) - start >= wanted, 30, "every worker's first poll")  # noqa: B023
        for server in servers.values():
            server.wait_answer("/")
        runs = bench.interleaved({name: (server, "/") for name, server in servers.items()}, rounds=min(3, bench.rounds))
        for row, (worker_count, threads) in zip(compared(runs, servers), layouts, strict=True):
            row.update(cpus=len(cpus.split(",")), workers=worker_count, threads=threads)
            section.rows.append(row)
        bench.close_servers()
    per_poll = fake.request_count() / polls_at(fake)
    for row in section.rows:
        row["connect_requests_per_min"] = round(12 * row["workers"] * per_poll, 1)
    section.notes.append(
        "All five layouts of a CPU setting run at once (an idle one only polls) and are loaded in turn, "
        f"{min(3, bench.rounds)} rounds. On 2 CPUs the server shares core 1 with wrk (the machine has two cores), "
        "so the 2-CPU figures understate what a server with two free cores does. Connect requests per minute at "
        f"the default 5 s interval: 12 polls x {per_poll:.2f} requests per poll (as counted at the fake) x workers."
    )
    return section


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = report.table(
        [
            ("server CPUs", lambda r: r["cpus"]),
            ("workers x threads", lambda r: r["name"]),
            *report.COMPARISON[:-2],
            ("Connect requests/min (5 s polls)", lambda r: r["connect_requests_per_min"]),
            ("server", lambda r: f"`{r['server']}`"),
        ],
        rows,
    )
    return [*lines, "", f"Load: `{rows[0]['command']}` against each server in turn."]
