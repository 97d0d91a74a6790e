"""The immutable result of one progress round, and the store its job swaps it into."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from healthcheck.latest import Latest
from healthcheck.progress import Judgement, Stuck

# Why a round could not be read: the Kafka reader's reasons, plus "connect" (no connector list yet),
# "internal" (our own bug) and "stale" (the progress job stopped publishing).
PROGRESS_ERROR_REASONS = ("connection", "timeout", "auth", "kafka", "connect", "internal", "stale", "connectors")


@dataclass(frozen=True, slots=True)
class PartitionProgress:
    """One sink partition (topic, partition, offsets) or one source partition (as Connect names it)."""

    topic: str | None = None
    partition: int | None = None
    committed: int | None = None
    end: int | None = None
    lag: int | None = None
    source_partition: Mapping[str, Any] | None = None
    source_offset: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ConnectorProgress:
    name: str
    kind: str  # "sink" or "source"
    judgement: Judgement
    checked_at: str
    lag: int | None = None  # summed over partitions; None for a source
    last_progress: str | None = None  # ISO 8601 UTC
    last_progress_epoch: float | None = None  # the same, for the metric
    partitions: tuple[PartitionProgress, ...] = ()
    stuck: tuple[Stuck, ...] = ()
    error: str | None = None  # this connector could not be read this round: unknown, not stalled

    @property
    def stalled(self) -> bool:
        return self.judgement is Judgement.STALLED and self.error is None


@dataclass(frozen=True, slots=True)
class ProgressError:
    reason: str  # one of PROGRESS_ERROR_REASONS
    message: str


@dataclass(frozen=True, slots=True)
class ProgressReport:
    taken_at: float  # monotonic
    checked_at: str
    duration: float = 0.0
    connectors: Mapping[str, ConnectorProgress] = field(default_factory=dict)
    error: ProgressError | None = None  # the whole round failed: nothing in it is judged
    kafka_requests: int = 0
    connect_requests: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    def connector_errors(self) -> dict[str, str]:
        return {name: p.error for name, p in self.connectors.items() if p.error is not None}


class ProgressStore(Latest[ProgressReport]):
    """Holds the newest report; the progress job publishes, each poll reads."""
