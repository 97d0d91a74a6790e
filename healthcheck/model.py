"""Typed, immutable views of what Connect reports: connectors, their tasks, their states."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Connect's AbstractStatus.State values; STOPPED exists since Kafka 3.5 and applies to connectors only.
STATES = ("FAILED", "PAUSED", "UNASSIGNED", "RUNNING", "RESTARTING", "STOPPED")
CONTAINERS = ("CONNECTOR", "TASK")
# RUNNING but not moving data: the progress check's state for a connector (never for a task).
STALLED = "STALLED"
# What --unhealthy-states accepts: Connect's states, and STALLED.
JUDGED_STATES = (*STATES, STALLED)


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
    # From `?expand=info`. Held in memory only and never rendered: a connector config may carry secrets.
    config: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def running(self) -> bool:
        """RUNNING with a RUNNING task: the only state in which a connector can be expected to move data."""
        return self.state == "RUNNING" and any(task.state == "RUNNING" for task in self.tasks)


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
    next_restart: str | None  # ISO 8601 UTC; None once exhausted
    exhausted: bool
