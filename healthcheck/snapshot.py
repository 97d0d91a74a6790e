"""The immutable result of one poll, the builders that make it, and the store that swaps it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from healthcheck import render
from healthcheck.latest import Latest
from healthcheck.model import ConnectorStatus, RestartStatus, WorkerHealth
from healthcheck.progress_reading import ProgressReading
from healthcheck.render import View
from healthcheck.responses import VARY_ACCEPT, Answer
from healthcheck.timeline import TimelinePoint
from healthcheck.verdict import Verdict


@dataclass(frozen=True, slots=True)
class PollError:
    reason: str  # timeout, connection, http_status, bad_response, internal
    message: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the endpoints need from one poll. `/` and `/ready` are rendered when the poll ends;
    the rarer, larger views (/connectors, /metrics) on first use, once per snapshot."""

    taken_at: float  # monotonic clock; staleness is measured from it
    checked_at: str  # ISO 8601 UTC, for humans
    answer: Answer  # GET /: 200 or 503 with the JSON body
    ready: Answer  # GET /ready
    counters: bytes  # metrics that accumulate across polls, rendered at the end of this poll
    connectors: tuple[ConnectorStatus, ...] = ()
    verdict: Verdict | None = None
    error: PollError | None = None
    worker: WorkerHealth | None = None
    restarts: Mapping[str, RestartStatus] = field(default_factory=dict)  # the actor's state when it was built
    timeline: tuple[TimelinePoint, ...] = ()  # the last hour of polls, this one included (status page)
    progress: ProgressReading | None = None  # the progress report this poll judged with; None: no progress check
    _memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def status(self) -> int:
        return self.answer.status

    @property
    def body(self) -> bytes:
        return self.answer.body

    def memo(self, key: Any, build: Callable[[], Any]) -> Any:
        """Build a derived view at most once per snapshot (a rare race builds it twice: same bytes)."""
        value = self._memo.get(key)
        if value is None:
            value = self._memo.setdefault(key, build())
        return value


def readiness(worker: WorkerHealth | None, error: PollError | None) -> tuple[bool, str]:
    """(ready, why): what `/ready` says in either representation."""
    if error is not None:
        return False, f"Connect did not answer the last poll: {error.message}"
    if worker is not None and not worker.healthy:
        return False, f"the Connect worker reports itself {worker.state}: {worker.message}"
    return True, "Connect answered the last poll."


def _ready_answer(
    worker: WorkerHealth | None, error: PollError | None, checked_at: str, warning: str | None = None
) -> Answer:
    ready, message = readiness(worker, error)
    doc = render.ready_doc(ready, message, checked_at, warning if ready else None)
    return Answer.json(200 if ready else 503, doc, VARY_ACCEPT)


def healthy_or_not(
    *,
    connectors: tuple[ConnectorStatus, ...],
    verdict: Verdict,
    view: View,
    taken_at: float,
    checked_at: str,
    counters: bytes = b"",
    worker: WorkerHealth | None = None,
    restarts: Mapping[str, RestartStatus] | None = None,
    timeline: tuple[TimelinePoint, ...] = (),
    progress: ProgressReading | None = None,
) -> Snapshot:
    restarts = restarts or {}
    progress_error = progress.error if progress is not None else None
    body = render.to_json_bytes(render.health_doc(verdict, view, checked_at, restarts, progress_error))
    return Snapshot(
        taken_at=taken_at,
        checked_at=checked_at,
        answer=Answer(200 if verdict.healthy else 503, body, VARY_ACCEPT),
        ready=_ready_answer(worker, None, checked_at, verdict.warning),
        counters=counters,
        connectors=connectors,
        verdict=verdict,
        worker=worker,
        restarts=restarts,
        timeline=timeline,
        progress=progress,
    )


def failed_poll(
    *,
    error: PollError,
    view: View,
    taken_at: float,
    checked_at: str,
    counters: bytes = b"",
    timeline: tuple[TimelinePoint, ...] = (),
) -> Snapshot:
    return Snapshot(
        taken_at=taken_at,
        checked_at=checked_at,
        answer=Answer.json(503, render.poll_error_doc(error.reason, error.message, view, checked_at), VARY_ACCEPT),
        ready=_ready_answer(None, error, checked_at),
        counters=counters,
        error=error,
        timeline=timeline,
    )


class SnapshotStore(Latest[Snapshot]):
    """Holds the newest snapshot; the poller publishes, every request reads."""
