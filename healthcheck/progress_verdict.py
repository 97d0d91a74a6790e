"""STALLED in the verdict: the newest progress report turned into connector failures, never a stale one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from healthcheck.model import ConnectorStatus
from healthcheck.progress_report import ProgressError, ProgressReport, ProgressStore
from healthcheck.verdict import Failure, Rules

STALLED = "STALLED"


@dataclass(frozen=True, slots=True)
class ProgressVerdict:
    failures: tuple[Failure, ...] = ()  # one STALLED failure per stalled connector
    report: ProgressReport | None = None  # the report they came from (None: none yet, or too old)
    error: ProgressError | None = None  # why progress is unknown, in part or in whole


def _running(connector: ConnectorStatus) -> bool:
    return connector.state == "RUNNING" and any(task.state == "RUNNING" for task in connector.tasks)


def stalled(
    connectors: Iterable[ConnectorStatus], report: ProgressReport | None, rules: Rules, now: float, max_age: float
) -> ProgressVerdict:
    """The STALLED failures among `connectors` (this poll's, filtered), from a report at most max_age old.

    Only a connector that is RUNNING now can be STALLED: one paused since the report was made is PAUSED.
    STALLED is a state of the connector, so it counts where the connector's own state would (CONNECTOR in
    the considered containers, on the monitored worker)."""
    if report is None:
        return ProgressVerdict()
    age = now - report.taken_at
    if age > max_age:
        message = f"the last progress round is {age:.0f} s old (more than {max_age:g} s): progress unknown"
        return ProgressVerdict(error=ProgressError("stale", message))
    if report.error is not None:
        return ProgressVerdict(report=report, error=report.error)
    judge_connector = STALLED in rules.unhealthy_states and "CONNECTOR" in rules.considered_containers
    failures = []
    for connector in connectors:
        progress = report.connectors.get(connector.name)
        if progress is None or not progress.stalled or not _running(connector):
            continue
        if judge_connector and rules.on_monitored_worker(connector.worker_id):
            failures.append(Failure("connector", connector.name, STALLED, connector.worker_id, stall=progress))
    errors = report.connector_errors()
    error = None
    if errors:
        listed = "; ".join(f"{name}: {message}" for name, message in sorted(errors.items())[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        error = ProgressError("connectors", f"{len(errors)} connector(s) could not be judged: {listed}{more}")
    return ProgressVerdict(tuple(failures), report, error)


def merged(failures: tuple[Failure, ...], more: tuple[Failure, ...]) -> tuple[Failure, ...]:
    """Both lists in the verdict's order: by connector name, the connector before its tasks."""
    if not more:
        return failures
    return tuple(sorted((*failures, *more), key=lambda f: (f.connector, f.task_id is not None, f.task_id or 0)))


class ProgressSource:
    """What the poller holds: the store the progress job publishes into, and how old a report may be."""

    def __init__(self, store: ProgressStore, max_age: float) -> None:
        self.store = store
        self.max_age = max_age

    def verdict(self, connectors: Iterable[ConnectorStatus], rules: Rules, now: float) -> ProgressVerdict:
        return stalled(connectors, self.store.current(), rules, now, self.max_age)
