"""The immutable result of one poll, the store that swaps it, and the answers served from it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from healthcheck import metrics, render
from healthcheck.model import ConnectorStatus, RestartStatus, WorkerHealth
from healthcheck.render import View, to_json_bytes
from healthcheck.verdict import Verdict

COMMON_HEADERS = (
    ("Content-Type", "application/json"),
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
)


class Answer:
    """A complete HTTP answer, headers included, built once so a probe only has to send it."""

    __slots__ = ("body", "headers", "status", "status_line")

    def __init__(
        self,
        status: int,
        body: bytes,
        extra_headers: tuple[tuple[str, str], ...] = (),
        content_type: str = "application/json",
    ) -> None:
        self.status = status
        self.body = body
        self.status_line = f"{status} {HTTPStatus(status).phrase}"
        self.headers = [
            ("Content-Type", content_type),
            *COMMON_HEADERS[1:],
            *extra_headers,
            ("Content-Length", str(len(body))),
        ]

    @classmethod
    def json(cls, status: int, doc: Any) -> Answer:
        return cls(status, to_json_bytes(doc))


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
    duration: float  # seconds the poll took
    view: View
    answer: Answer  # GET /: 200 or 503 with the JSON body
    ready: Answer  # GET /ready
    counters: bytes  # metrics that accumulate across polls, rendered at the end of this poll
    connectors: tuple[ConnectorStatus, ...] = ()
    verdict: Verdict | None = None
    error: PollError | None = None
    worker: WorkerHealth | None = None
    restarts: Mapping[str, RestartStatus] = field(default_factory=dict)
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


def _ready_answer(worker: WorkerHealth | None, error: PollError | None, checked_at: str) -> Answer:
    if error is not None:
        return Answer.json(
            503, render.ready_doc(False, f"Connect did not answer the last poll: {error.message}", checked_at)
        )
    if worker is not None and not worker.healthy:
        message = f"the Connect worker reports itself {worker.state}: {worker.message}"
        return Answer.json(503, render.ready_doc(False, message, checked_at))
    return Answer.json(200, render.ready_doc(True, "Connect answered the last poll.", checked_at))


def healthy_or_not(
    *,
    connectors: tuple[ConnectorStatus, ...],
    verdict: Verdict,
    view: View,
    taken_at: float,
    checked_at: str,
    duration: float,
    counters: bytes = b"",
    worker: WorkerHealth | None = None,
    restarts: Mapping[str, RestartStatus] | None = None,
) -> Snapshot:
    restarts = restarts or {}
    body = to_json_bytes(render.health_doc(verdict, view, checked_at, restarts))
    return Snapshot(
        taken_at=taken_at,
        checked_at=checked_at,
        duration=duration,
        view=view,
        answer=Answer(200 if verdict.healthy else 503, body),
        ready=_ready_answer(worker, None, checked_at),
        counters=counters,
        connectors=connectors,
        verdict=verdict,
        worker=worker,
        restarts=restarts,
    )


def failed_poll(
    *, error: PollError, view: View, taken_at: float, checked_at: str, duration: float, counters: bytes = b""
) -> Snapshot:
    return Snapshot(
        taken_at=taken_at,
        checked_at=checked_at,
        duration=duration,
        view=view,
        answer=Answer.json(503, render.poll_error_doc(error.reason, error.message, view, checked_at)),
        ready=_ready_answer(None, error, checked_at),
        counters=counters,
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


class Answers:
    """Every endpoint's answer, from the store. The only work per request is the staleness check."""

    def __init__(self, store: SnapshotStore, max_staleness: float, view: View) -> None:
        self._store = store
        self._max_staleness = max_staleness
        self._view = view
        self._no_status = Answer.json(503, render.no_status_doc(view))
        self._not_ready = Answer.json(503, render.ready_doc(False, render.NO_STATUS_MESSAGE, None))

    def _fresh(self, now: float) -> tuple[Snapshot | None, Answer | None]:
        """(the snapshot, None) when it is fresh; (snapshot or None, the 503 to send) when it is not."""
        snapshot = self._store.current()
        if snapshot is None:
            return None, self._no_status
        age = now - snapshot.taken_at
        if age > self._max_staleness:
            # Rare by design (the poller is stuck or dead), so rendering here per request is fine.
            return snapshot, Answer.json(
                503, render.stale_doc(age, self._max_staleness, self._view, snapshot.checked_at)
            )
        return snapshot, None

    def health(self, now: float) -> Answer:
        snapshot, problem = self._fresh(now)
        return problem or snapshot.answer  # type: ignore[union-attr]

    def ready(self, now: float) -> Answer:
        snapshot, problem = self._fresh(now)
        if snapshot is None:
            return self._not_ready
        if problem is not None:
            age = now - snapshot.taken_at
            return Answer.json(503, render.ready_doc(False, f"the last poll is {age:.1f} s old", snapshot.checked_at))
        return snapshot.ready

    def connectors(self, now: float) -> Answer:
        snapshot, problem = self._fresh(now)
        if problem is not None or snapshot is None or snapshot.verdict is None:
            return problem or snapshot.answer  # type: ignore[union-attr]
        verdict = snapshot.verdict
        return snapshot.memo(
            "connectors",
            lambda: Answer.json(200, render.connectors_doc(snapshot.connectors, verdict, snapshot.checked_at)),
        )

    def connector(self, name: str, now: float) -> Answer:
        snapshot, problem = self._fresh(now)
        if problem is not None or snapshot is None or snapshot.verdict is None:
            return problem or snapshot.answer  # type: ignore[union-attr]
        by_name = snapshot.memo("by-name", lambda: {c.name: c for c in snapshot.connectors})
        connector = by_name.get(name)
        if connector is None:  # not memoized: any name can be asked for, and the memo must stay bounded
            message = f"No connector named {name!r} in the last poll (or it is filtered out)."
            return Answer.json(404, {"error": "Not Found", "message": message, "status": 404})
        return snapshot.memo(("connector", name), lambda: self._connector_answer(snapshot, connector))

    def _connector_answer(self, snapshot: Snapshot, connector: ConnectorStatus) -> Answer:
        assert snapshot.verdict is not None
        doc = render.connector_doc(
            connector, snapshot.verdict, snapshot.view, snapshot.checked_at, snapshot.restarts.get(connector.name)
        )
        return Answer.json(200 if doc["healthy"] else 503, doc)

    def metrics(self, now: float) -> Answer:
        snapshot = self._store.current()
        if snapshot is None:
            state = metrics.render_state((), None, up=False, fresh=False)
            return Answer(200, state + metrics.age_line(None), content_type=metrics.CONTENT_TYPE)
        age = now - snapshot.taken_at
        fresh = age <= self._max_staleness
        state = snapshot.memo(
            ("metrics", fresh),
            lambda: metrics.render_state(snapshot.connectors, snapshot.verdict, snapshot.ok, fresh),
        )
        return Answer(200, snapshot.counters + state + metrics.age_line(age), content_type=metrics.CONTENT_TYPE)
