"""The health rule: a pure function from connector statuses and rules to a verdict."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from healthcheck.model import ConnectorStatus


@dataclass(frozen=True, slots=True)
class Rules:
    unhealthy_states: frozenset[str]
    considered_containers: frozenset[str]  # "CONNECTOR" and/or "TASK"
    worker_id: str | None = None  # None: every worker; otherwise compared case-insensitively
    failure_threshold: float = 0.0  # a fraction: healthy while failure_rate <= this

    def on_monitored_worker(self, worker_id: str) -> bool:
        return self.worker_id is None or worker_id.lower() == self.worker_id.lower()


@dataclass(frozen=True, slots=True)
class Failure:
    type: str  # "connector" or "task"
    connector: str
    state: str
    worker_id: str
    trace: str | None = None
    task_id: int | None = None

    @property
    def key(self) -> tuple[str, int | None]:
        """What stays the same for one failing thing across polls."""
        return (self.connector, self.task_id)


@dataclass(frozen=True, slots=True)
class Verdict:
    failures: tuple[Failure, ...]
    considered: int
    failure_rate: float
    failure_threshold: float
    healthy: bool


def evaluate(connectors: Iterable[ConnectorStatus], rules: Rules) -> Verdict:
    """Judge the considered connectors and tasks on the monitored worker(s).

    failure_rate = failing / considered (0.0 when nothing is considered); healthy when it is at most
    the threshold. Failures come sorted by connector name, the connector before its tasks, so the
    answer does not depend on the order Connect listed them in.
    """
    judge_connectors = "CONNECTOR" in rules.considered_containers
    judge_tasks = "TASK" in rules.considered_containers
    considered = 0
    failures: list[Failure] = []
    for connector in sorted(connectors, key=lambda c: c.name):
        if judge_connectors and rules.on_monitored_worker(connector.worker_id):
            considered += 1
            if connector.state in rules.unhealthy_states:
                failures.append(
                    Failure("connector", connector.name, connector.state, connector.worker_id, connector.trace)
                )
        if not judge_tasks:
            continue
        for task in sorted(connector.tasks, key=lambda t: t.id):
            if rules.on_monitored_worker(task.worker_id):
                considered += 1
                if task.state in rules.unhealthy_states:
                    failures.append(Failure("task", connector.name, task.state, task.worker_id, task.trace, task.id))
    failure_rate = len(failures) / considered if considered else 0.0
    return Verdict(
        failures=tuple(failures),
        considered=considered,
        failure_rate=failure_rate,
        failure_threshold=rules.failure_threshold,
        healthy=failure_rate <= rules.failure_threshold,
    )
