"""Big cluster: the CPU to render `GET /connectors` once per snapshot, at 1,000 and 10,000 connectors x 3 tasks
with a third of the connectors failing (3 tasks each): linear in the size of the cluster."""

from __future__ import annotations

import time
from typing import Any

from bench import report
from bench.harness import Bench, Section, Target
from healthcheck.model import CONTAINERS, ConnectorStatus, TaskStatus
from healthcheck.render import connectors_doc, to_json_bytes
from healthcheck.verdict import Rules, evaluate

HEADING = "Rendering `GET /connectors` for big clusters"
SIZES = (1000, 10000)
FAILING_EVERY = 3  # 10,000 connectors -> 3,334 failing, 10,002 failing tasks: the worst case and more
LIMIT_S = 0.25  # O(connectors x failures) took 1.46 s at 10,000 connectors and 3,000 failures


def cluster(size: int) -> tuple[ConnectorStatus, ...]:
    def tasks(failing: bool) -> tuple[TaskStatus, ...]:
        state, trace = ("FAILED", "java.lang.RuntimeException: boom") if failing else ("RUNNING", None)
        return tuple(TaskStatus(t, state, "w:8083", trace) for t in range(3))

    return tuple(
        ConnectorStatus(f"connector-{i:05d}", "RUNNING", "w:8083", None, tasks(i % FAILING_EVERY == 0), "sink")
        for i in range(size)
    )


def render_cpu(connectors: tuple[ConnectorStatus, ...]) -> float:
    """The least CPU of 3 renders of `/connectors` (document and bytes), in seconds."""
    verdict = evaluate(
        connectors, Rules(unhealthy_states=frozenset({"FAILED"}), considered_containers=frozenset(CONTAINERS))
    )
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        to_json_bytes(connectors_doc(connectors, verdict, "2026-01-01T00:00:00.000Z"))
        best = min(best, time.process_time() - started)
    return best


def run(bench: Bench) -> Section:
    section = Section()
    for size in SIZES:
        connectors = cluster(size)
        failures = sum(1 for c in connectors for t in c.tasks if t.state == "FAILED")
        section.rows.append({"connectors": size, "failures": failures, "cpu_s": round(render_cpu(connectors), 4)})
    small, big = section.rows
    growth = big["cpu_s"] / small["cpu_s"] if small["cpu_s"] else float("inf")
    section.targets += [
        Target(
            f"GET /connectors render at {big['connectors']:,} connectors, {big['failures']:,} failures",
            f"{big['cpu_s']:.3f} s CPU",
            f"< {LIMIT_S:g} s",
            big["cpu_s"] < LIMIT_S,
        ),
        Target(
            "/connectors render cost grows linearly (10x the cluster)",
            f"{growth:.1f}x ({small['cpu_s']:.4f} s -> {big['cpu_s']:.3f} s)",
            "<= 20x (quadratic would be ~100x)",
            growth <= 20,
        ),
    ]
    section.notes.append(
        "In the driver process, rendering the document and its bytes as the first `GET /connectors` of a "
        "snapshot does (later requests reuse the bytes); least CPU of 3 runs."
    )
    return section


def table(rows: list[dict[str, Any]]) -> list[str]:
    return report.table(
        [
            ("connectors", lambda r: f"{r['connectors']:,}"),
            ("failures", lambda r: f"{r['failures']:,}"),
            ("CPU s (least of 3)", lambda r: r["cpu_s"]),
        ],
        rows,
    )
