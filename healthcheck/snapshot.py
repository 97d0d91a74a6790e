"""The immutable result of one poll, the store that swaps it, and how old it may get before it lies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus

from healthcheck import render
from healthcheck.model import ConnectorStatus
from healthcheck.verdict import Verdict

COMMON_HEADERS = (
    ("Content-Type", "application/json"),
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
)


class Answer:
    """A complete HTTP answer, headers included, built once so a probe only has to send it."""

    __slots__ = ("body", "headers", "status", "status_line")

    def __init__(self, status: int, body: bytes, extra_headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.status = status
        self.body = body
        self.status_line = f"{status} {HTTPStatus(status).phrase}"
        self.headers = [*COMMON_HEADERS, *extra_headers, ("Content-Length", str(len(body)))]


@dataclass(frozen=True, slots=True)
class PollError:
    reason: str  # timeout, connection, http_status, bad_response, internal
    message: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a probe needs, computed once per poll: readers only pick it up and send `body`."""

    taken_at: float  # monotonic clock; staleness is measured from it
    checked_at: str  # ISO 8601 UTC, for humans
    duration: float  # seconds the poll took
    answer: Answer  # 200 or 503 with the JSON body
    connectors: tuple[ConnectorStatus, ...] = ()
    verdict: Verdict | None = None
    error: PollError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def status(self) -> int:
        return self.answer.status

    @property
    def body(self) -> bytes:
        return self.answer.body


def healthy_or_not(
    *,
    connectors: tuple[ConnectorStatus, ...],
    verdict: Verdict,
    failure_states: Sequence[str],
    taken_at: float,
    checked_at: str,
    duration: float,
) -> Snapshot:
    return Snapshot(
        taken_at=taken_at,
        checked_at=checked_at,
        duration=duration,
        answer=Answer(200 if verdict.healthy else 503, render.health_body(verdict, failure_states, checked_at)),
        connectors=connectors,
        verdict=verdict,
    )


def failed_poll(
    *, error: PollError, failure_states: Sequence[str], taken_at: float, checked_at: str, duration: float
) -> Snapshot:
    return Snapshot(
        taken_at=taken_at,
        checked_at=checked_at,
        duration=duration,
        answer=Answer(503, render.poll_error_body(error.reason, error.message, failure_states, checked_at)),
        error=error,
    )


class SnapshotStore:
    """Holds the newest snapshot. Publishing rebinds one attribute, which is atomic in CPython, so readers
    take no lock and never see half a snapshot."""

    def __init__(self) -> None:
        self._current: Snapshot | None = None

    def publish(self, snapshot: Snapshot) -> None:
        self._current = snapshot

    def current(self) -> Snapshot | None:
        return self._current


class HealthAnswers:
    """Answers `GET /` from the store; the only work per request is the staleness check."""

    def __init__(self, store: SnapshotStore, max_staleness: float, failure_states: Sequence[str]) -> None:
        self._store = store
        self._max_staleness = max_staleness
        self._failure_states = tuple(failure_states)
        self._no_status = Answer(503, render.no_status_body(self._failure_states))

    def answer(self, now: float) -> Answer:
        snapshot = self._store.current()
        if snapshot is None:
            return self._no_status
        age = now - snapshot.taken_at
        if age > self._max_staleness:
            # Rare by design (the poller is stuck or dead), so rendering here per request is fine.
            body = render.stale_body(age, self._max_staleness, self._failure_states, snapshot.checked_at)
            return Answer(503, body)
        return snapshot.answer
