"""Every endpoint's answer, read from the newest published snapshot; the only work per request is its age."""

from __future__ import annotations

import json

from healthcheck import health_json, metrics, render
from healthcheck.model import CONTAINERS, ConnectorStatus
from healthcheck.progress_report import ProgressReport
from healthcheck.render import View
from healthcheck.responses import VARY_ACCEPT, Answer, error
from healthcheck.snapshot import Snapshot, SnapshotStore, readiness
from healthcheck.verdict import Rules, Verdict

# Which parts the health+json checks list when the view does not say: every connector and task.
EVERY_PART = Rules(frozenset(), frozenset(CONTAINERS))


def _message(answer: Answer) -> str:
    """The human message of one of our JSON error answers (poll error, stale), for its health+json twin."""
    return str(json.loads(answer.body).get("message", ""))


def progress_report(snapshot: Snapshot) -> ProgressReport | None:
    return snapshot.progress.report if snapshot.progress is not None else None


class Answers:
    """Built once per process around the store; `now` is the monotonic clock the snapshots were taken on.

    `/`, `/ready` and `/connectors/<name>` answer plain JSON, or application/health+json when the request's
    Accept header prefers it; each representation is built at most once per snapshot (Snapshot.memo)."""

    def __init__(self, store: SnapshotStore, max_staleness: float, view: View) -> None:
        self._store = store
        self._max_staleness = max_staleness
        self._view = view
        self._rules = view.rules or EVERY_PART
        self._no_status = Answer.json(503, render.no_status_doc(view), VARY_ACCEPT)
        self._not_ready = Answer.json(503, render.ready_doc(False, render.NO_STATUS_MESSAGE, None), VARY_ACCEPT)
        self._no_status_health_json = Answer.health_json(health_json.failing_doc(render.NO_STATUS_MESSAGE))

    def _stale(self, snapshot: Snapshot, now: float) -> Answer | None:
        """The 503 to send instead of `snapshot` when it is too old, else None."""
        age = now - snapshot.taken_at
        if age <= self._max_staleness:
            return None
        # Rare by design (the poller is stuck or dead), so rendering here per request is fine.
        doc = render.stale_doc(age, self._max_staleness, self._view, snapshot.checked_at)
        return Answer.json(503, doc, VARY_ACCEPT)

    def _judged(self, now: float) -> tuple[Snapshot, Verdict] | Answer:
        """The fresh snapshot and its verdict, or the answer to send instead (no poll yet, stale, poll failed)."""
        snapshot = self._store.current()
        if snapshot is None:
            return self._no_status
        problem = self._stale(snapshot, now)
        if problem is not None:
            return problem
        if snapshot.verdict is None:
            return snapshot.answer
        return snapshot, snapshot.verdict

    def prebuild(self, snapshot: Snapshot) -> None:
        """Render the health+json twins of `/` and `/ready` with the poll, before the snapshot is published, so
        a probe asking for them only sends bytes, as a plain one does (the poller calls this)."""
        self._health_json(snapshot)
        self._ready_json(snapshot)

    def _health_json(self, snapshot: Snapshot) -> Answer:
        def build() -> Answer:
            if snapshot.verdict is None:  # the poll failed
                return Answer.health_json(health_json.failing_doc(_message(snapshot.answer)))
            doc = health_json.health_doc(
                snapshot.connectors, snapshot.verdict, self._rules, snapshot.worker, snapshot.checked_at
            )
            return Answer.health_json(doc)

        return snapshot.memo(("health+json", "/"), build)

    def _ready_json(self, snapshot: Snapshot) -> Answer:
        def build() -> Answer:
            ready, message = readiness(snapshot.worker, snapshot.error)
            return Answer.health_json(health_json.ready_doc(ready, message, snapshot.worker, snapshot.checked_at))

        return snapshot.memo(("health+json", "/ready"), build)

    def _failing_health_json(self, answer: Answer) -> Answer:
        """health+json for an answer that has no verdict behind it: no poll yet, a poll error, a stale snapshot."""
        if answer is self._no_status:
            return self._no_status_health_json
        snapshot = self._store.current()
        if snapshot is not None and answer is snapshot.answer:  # the poll failed: once per snapshot
            return self._health_json(snapshot)
        return Answer.health_json(health_json.failing_doc(_message(answer)))  # stale: rare, as its JSON twin

    def health(self, now: float, as_health_json: bool = False) -> Answer:
        if not as_health_json:
            snapshot = self._store.current()
            if snapshot is None:
                return self._no_status
            return self._stale(snapshot, now) or snapshot.answer
        judged = self._judged(now)
        if isinstance(judged, Answer):
            return self._failing_health_json(judged)
        return self._health_json(judged[0])

    def ready(self, now: float, as_health_json: bool = False) -> Answer:
        snapshot = self._store.current()
        if snapshot is None:
            return self._no_status_health_json if as_health_json else self._not_ready
        age = now - snapshot.taken_at
        if age > self._max_staleness:
            message = f"the last poll is {age:.1f} s old"
            if as_health_json:
                return Answer.health_json(health_json.ready_doc(False, message, None, snapshot.checked_at))
            return Answer.json(503, render.ready_doc(False, message, snapshot.checked_at), VARY_ACCEPT)
        return self._ready_json(snapshot) if as_health_json else snapshot.ready

    def connectors(self, now: float) -> Answer:
        judged = self._judged(now)
        if isinstance(judged, Answer):
            return judged
        snapshot, verdict = judged
        return snapshot.memo(
            "connectors",
            lambda: Answer.json(
                200,
                render.connectors_doc(snapshot.connectors, verdict, snapshot.checked_at, progress_report(snapshot)),
            ),
        )

    def connector(self, name: str, now: float, as_health_json: bool = False) -> Answer:
        judged = self._judged(now)
        if isinstance(judged, Answer):
            return self._failing_health_json(judged) if as_health_json else judged
        snapshot, verdict = judged
        by_name = snapshot.memo("by-name", lambda: {c.name: c for c in snapshot.connectors})
        connector = by_name.get(name)
        if connector is None:  # not memoized: any name can be asked for, and the memo must stay bounded
            return error(404, f"No connector named {name!r} in the last poll (or it is filtered out).")
        if as_health_json:
            return snapshot.memo(
                ("health+json", "connector", name),
                lambda: Answer.health_json(
                    health_json.connector_doc(connector, verdict, self._rules, snapshot.checked_at)
                ),
            )
        return snapshot.memo(("connector", name), lambda: self._connector_answer(snapshot, verdict, connector))

    def _connector_answer(self, snapshot: Snapshot, verdict: Verdict, connector: ConnectorStatus) -> Answer:
        doc = render.connector_doc(
            connector,
            verdict,
            self._view,
            snapshot.checked_at,
            snapshot.restarts.get(connector.name),
            progress_report(snapshot),
        )
        return Answer.json(200 if doc["healthy"] else 503, doc, VARY_ACCEPT)

    def metrics(self, now: float) -> Answer:
        snapshot = self._store.current()
        if snapshot is None:
            state = metrics.render_state((), None, up=False, fresh=False)
            return Answer(200, state + metrics.age_line(None), content_type=metrics.CONTENT_TYPE)
        age = now - snapshot.taken_at
        fresh = age <= self._max_staleness
        state = snapshot.memo(
            ("metrics", fresh),
            lambda: metrics.render_state(snapshot.connectors, snapshot.verdict, snapshot.ok, fresh, snapshot.progress),
        )
        return Answer(200, snapshot.counters + state + metrics.age_line(age), content_type=metrics.CONTENT_TYPE)
