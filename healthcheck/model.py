"""Typed, immutable views of what Connect reports: connectors, their tasks, their states."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Connect's AbstractStatus.State values; STOPPED exists since Kafka 3.5 and applies to connectors only.
STATES = ("FAILED", "PAUSED", "UNASSIGNED", "RUNNING", "RESTARTING", "STOPPED")
CONTAINERS = ("CONNECTOR", "TASK")
# RUNNING but not moving data: the progress check's state for a connector (never for a task).
STALLED = "STALLED"
# A state of ours, not Connect's: a RUNNING connector without a single task (a connector that never created
# its tasks, or a rebalance that never assigned them). Connect's tasks.max is at least 1, so none is too few.
NO_TASKS = "NO_TASKS"
# What --unhealthy-states accepts: Connect's states, NO_TASKS and STALLED.
JUDGED_STATES = (*STATES, NO_TASKS, STALLED)
# The only config keys anything here reads (tasks.max for NO_TASKS; a sink's group and topics for the progress
# check). Parsing keeps these alone: a config's other keys (secrets, bulk) are never held past the parse.
CONFIG_KEYS = frozenset({"tasks.max", "consumer.override.group.id", "topics", "topics.regex"})


@dataclass(frozen=True, slots=True)
class TaskStatus:
    id: int
    state: str
    worker_id: str
    trace: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectorStatus:
    name: str
    state: str
    worker_id: str
    trace: str | None = None
    tasks: tuple[TaskStatus, ...] = ()
    type: str | None = None
    # From `?expand=info`, only its CONFIG_KEYS; None: no info (Connect before 2.3). Never rendered.
    config: Mapping[str, str] | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        """RUNNING with a RUNNING task: the only state in which a connector can be expected to move data."""
        return self.state == "RUNNING" and any(task.state == "RUNNING" for task in self.tasks)

    @property
    def without_tasks(self) -> bool:
        return self.state == "RUNNING" and not self.tasks

    @property
    def tasks_running(self) -> int:
        return sum(1 for task in self.tasks if task.state == "RUNNING")

    @property
    def tasks_max(self) -> int | None:
        """`tasks.max` from the config (Connect's default 1 when unset); None when there is no config (Connect
        before 2.3 has no `?expand=info`) or it is garbled."""
        if self.config is None:
            return None
        raw = self.config.get("tasks.max", "1").strip()
        return int(raw) if raw.isascii() and raw.isdigit() else None


@dataclass(frozen=True, slots=True)
class WorkerHealth:
    """The worker's own `GET /health` (Kafka 3.9+): healthy, starting, unhealthy, or unresponsive."""

    state: str
    message: str

    @property
    def healthy(self) -> bool:
        return self.state == "healthy"


@dataclass(frozen=True, slots=True)
class RestartStatus:
    """Auto-restart's record for one connector with FAILED parts."""

    attempts: int
    next_restart: str | None  # ISO 8601 UTC; None once exhausted, or when every FAILED part is skipped
    exhausted: bool  # max attempts reached: the failure is persistent
    skipped: Mapping[int | None, str] = field(default_factory=dict)  # part (task id, None: connector) -> why
    last_cause: str | None = None  # the cause of what the last restart was for
