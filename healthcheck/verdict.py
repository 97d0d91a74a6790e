"""The health rule: pure functions from connector statuses, rules and failure ages to a verdict."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from healthcheck.causes import root_cause
from healthcheck.model import NO_TASKS, STALLED, ConnectorStatus, WorkerHealth
from healthcheck.progress_report import ConnectorProgress

FailureKey = tuple[str, int | None]  # (connector, task id or None for the connector itself)


@dataclass(frozen=True, slots=True)
class Rules:
    unhealthy_states: frozenset[str]
    considered_containers: frozenset[str]  # "CONNECTOR" and/or "TASK"
    worker_id: str | None = None  # None: every worker; otherwise compared case-insensitively
    failure_threshold: float = 0.0  # a fraction: healthy while failure_rate <= this
    include: re.Pattern[str] | None = None  # connector names matched in full; None: all
    exclude: re.Pattern[str] | None = None  # wins over include
    unhealthy_after: float = 0.0  # seconds a failure must last before it counts against health
    # --connect-worker-id auto: the lower-cased ids this host's worker may have (worker_identity.py)
    worker_aliases: frozenset[str] = frozenset()

    def on_monitored_worker(self, worker_id: str) -> bool:
        if self.worker_id is None:
            return True
        if self.worker_aliases:
            return worker_id.lower() in self.worker_aliases
        return worker_id.lower() == self.worker_id.lower()

    def selects(self, name: str) -> bool:
        if self.exclude is not None and self.exclude.fullmatch(name):
            return False
        return self.include is None or self.include.fullmatch(name) is not None

    def select(self, connectors: Iterable[ConnectorStatus]) -> tuple[ConnectorStatus, ...]:
        """The connectors the filters keep, sorted by name; the others count nowhere."""
        return tuple(sorted((c for c in connectors if self.selects(c.name)), key=lambda c: c.name))


@dataclass(frozen=True, slots=True)
class Seen:
    """How long this process has seen one failure (from FailureHistory)."""

    since: str  # ISO 8601 UTC
    lasted: float  # seconds


@dataclass(frozen=True, slots=True)
class Failure:
    type: str  # "connector" or "task"
    connector: str
    state: str
    worker_id: str
    trace: str | None = None
    task_id: int | None = None
    since: str | None = None
    counted: bool = True  # False while it has lasted less than unhealthy_after
    stall: ConnectorProgress | None = None  # a STALLED connector: its lag, last progress and stuck partitions
    cause: str = ""  # one line: the trace's root cause (causes.root_cause), else its state; set by __post_init__

    def __post_init__(self) -> None:
        if not self.cause:
            object.__setattr__(self, "cause", root_cause(self.trace) or self.state)

    @property
    def key(self) -> FailureKey:
        """What stays the same for one failing thing across polls."""
        return (self.connector, self.task_id)


PASS, WARN, FAIL = "pass", "warn", "fail"


@dataclass(frozen=True, slots=True)
class Verdict:
    failures: tuple[Failure, ...]
    considered: int
    failure_rate: float  # counted failures / considered
    failure_threshold: float
    healthy: bool
    worker: WorkerHealth | None = None  # set when the worker's own /health says it is not healthy
    warning: str | None = None  # something is off that fails nothing (a worker id that matches nothing)

    @property
    def status(self) -> str:
        """fail: / answers 503. warn: / answers 200, but failures are listed (under the threshold, or not yet
        lasted --unhealthy-after) or there is a warning. pass: nothing to say."""
        if not self.healthy:
            return FAIL
        return WARN if self.failures or self.warning else PASS


def no_tasks_failure(connector: ConnectorStatus) -> Failure:
    expected = f"tasks.max is {connector.tasks_max}" if connector.tasks_max is not None else "tasks.max unknown"
    cause = f"the connector is RUNNING but has no tasks ({expected})"
    return Failure("connector", connector.name, NO_TASKS, connector.worker_id, cause=cause)


def stalled_failure(connector: ConnectorStatus, progress: ConnectorProgress) -> Failure:
    what = f"{len(progress.stuck)} partition(s) stuck" if progress.stuck else "no progress"
    if progress.lag is not None:
        what += f", lag {progress.lag}"
    since = f"; last progress {progress.last_progress}" if progress.last_progress else ""
    cause = f"the connector is RUNNING but moves no data ({what}{since})"
    return Failure("connector", connector.name, STALLED, connector.worker_id, stall=progress, cause=cause)


def find_failures(
    connectors: Iterable[ConnectorStatus], rules: Rules, stalled: Mapping[str, ConnectorProgress] | None = None
) -> tuple[tuple[Failure, ...], int]:
    """The failing connectors and tasks on the monitored worker(s), and how many were considered.
    `connectors` are those the filters kept (Rules.select), as the poller passes them.

    `stalled`: the connectors the newest fresh progress report found stalled. STALLED is a state of the
    connector, so it counts where the connector's own state would, and only while the connector is RUNNING
    with a RUNNING task: one paused or failed since the report was made is what Connect says it is.

    Failures come sorted by connector name, the connector before its tasks, so the answer does not depend
    on the order Connect listed them in.
    """
    judge_connectors = "CONNECTOR" in rules.considered_containers
    judge_tasks = "TASK" in rules.considered_containers
    stalled = stalled if STALLED in rules.unhealthy_states and stalled else {}
    considered = 0
    failures: list[Failure] = []
    causes: dict[str, str | None] = {}  # one root_cause per distinct trace: a connector's tasks often fail alike

    def cause_of(trace: str | None, state: str) -> str:
        if trace is None:
            return state
        if trace not in causes:
            causes[trace] = root_cause(trace)
        return causes[trace] or state

    for connector in sorted(connectors, key=lambda c: c.name):
        if judge_connectors and rules.on_monitored_worker(connector.worker_id):
            considered += 1
            if connector.state in rules.unhealthy_states:
                state, trace = connector.state, connector.trace
                failures.append(
                    Failure(
                        "connector", connector.name, state, connector.worker_id, trace, cause=cause_of(trace, state)
                    )
                )
            elif connector.without_tasks and NO_TASKS in rules.unhealthy_states:
                failures.append(no_tasks_failure(connector))
            elif connector.name in stalled and connector.running:
                failures.append(stalled_failure(connector, stalled[connector.name]))
        if not judge_tasks:
            continue
        for task in sorted(connector.tasks, key=lambda t: t.id):
            if rules.on_monitored_worker(task.worker_id):
                considered += 1
                if task.state in rules.unhealthy_states:
                    cause = cause_of(task.trace, task.state)
                    failures.append(
                        Failure("task", connector.name, task.state, task.worker_id, task.trace, task.id, cause=cause)
                    )
    return tuple(failures), considered


def unmatched_worker_warning(connectors: Iterable[ConnectorStatus], rules: Rules) -> str | None:
    """A worker id that matches nothing makes everything healthy forever: say so when it matches no connector
    or task while the (filtered) cluster has some."""
    if rules.worker_id is None:
        return None
    workers = {c.worker_id for c in connectors} | {t.worker_id for c in connectors for t in c.tasks}
    if not workers or any(rules.on_monitored_worker(worker) for worker in workers):
        return None
    names = sorted(workers)
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    configured = repr(rules.worker_id)
    if rules.worker_aliases:
        configured += f" (this host: {', '.join(sorted(rules.worker_aliases))})"
    return (
        f"--connect-worker-id {configured} matches no connector or task, so nothing is judged; "
        f"the connectors and tasks run on: {shown}"
    )


def judge(
    failures: tuple[Failure, ...],
    considered: int,
    rules: Rules,
    seen: Mapping[FailureKey, Seen] | None = None,
    worker: WorkerHealth | None = None,
    warning: str | None = None,
) -> Verdict:
    """failure_rate = counted failures / considered (0.0 when nothing is considered); healthy when it is at
    most the threshold and the worker itself is not unhealthy. A failure counts once it has lasted
    `unhealthy_after` seconds (`seen`; a failure missing there has just appeared)."""
    dated = []
    for failure in failures:
        record = seen.get(failure.key) if seen is not None else None
        lasted = record.lasted if record else 0.0
        dated.append(replace(failure, since=record.since if record else None, counted=lasted >= rules.unhealthy_after))
    counted = sum(1 for failure in dated if failure.counted)
    failure_rate = counted / considered if considered else 0.0
    worker_failing = worker is not None and not worker.healthy
    return Verdict(
        failures=tuple(dated),
        considered=considered,
        failure_rate=failure_rate,
        failure_threshold=rules.failure_threshold,
        healthy=failure_rate <= rules.failure_threshold and not worker_failing,
        worker=worker if worker_failing else None,
        warning=warning,
    )


def evaluate(
    connectors: Iterable[ConnectorStatus],
    rules: Rules,
    seen: Mapping[FailureKey, Seen] | None = None,
    worker: WorkerHealth | None = None,
    stalled: Mapping[str, ConnectorProgress] | None = None,
) -> Verdict:
    """Judge the considered connectors and tasks on the monitored worker(s); `stalled` as in find_failures."""
    selected = rules.select(connectors)
    failures, considered = find_failures(selected, rules, stalled)
    return judge(failures, considered, rules, seen, worker, unmatched_worker_warning(selected, rules))
