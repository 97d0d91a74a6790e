"""Typed, immutable views of what Connect reports: connectors, their tasks, their states."""

from __future__ import annotations

from dataclasses import dataclass

# Connect's AbstractStatus.State values; STOPPED exists since Kafka 3.5 and applies to connectors only.
STATES = ("FAILED", "PAUSED", "UNASSIGNED", "RUNNING", "RESTARTING", "STOPPED")
CONTAINERS = ("CONNECTOR", "TASK")


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
