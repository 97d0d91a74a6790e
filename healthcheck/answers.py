"""Every endpoint's answer, read from the newest published snapshot; the only work per request is its age."""

from __future__ import annotations

from healthcheck import metrics, render
from healthcheck.model import ConnectorStatus
from healthcheck.progress_report import ProgressReport
from healthcheck.render import View
from healthcheck.responses import Answer, error
from healthcheck.snapshot import Snapshot, SnapshotStore
from healthcheck.verdict import Verdict


def progress_report(snapshot: Snapshot) -> ProgressReport | None:
    return snapshot.progress.report if snapshot.progress is not None else None


class Answers:
    """Built once per process around the store; `now` is the monotonic clock the snapshots were taken on."""

    def __init__(self, store: SnapshotStore, max_staleness: float, view: View) -> None:
        self._store = store
        self._max_staleness = max_staleness
        self._view = view
        self._no_status = Answer.json(503, render.no_status_doc(view))
        self._not_ready = Answer.json(503, render.ready_doc(False, render.NO_STATUS_MESSAGE, None))

    def _stale(self, snapshot: Snapshot, now: float) -> Answer | None:
        """The 503 to send instead of `snapshot` when it is too old, else None."""
        age = now - snapshot.taken_at
        if age <= self._max_staleness:
            return None
        # Rare by design (the poller is stuck or dead), so rendering here per request is fine.
        return Answer.json(503, render.stale_doc(age, self._max_staleness, self._view, snapshot.checked_at))

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

    def health(self, now: float) -> Answer:
        snapshot = self._store.current()
        if snapshot is None:
            return self._no_status
        return self._stale(snapshot, now) or snapshot.answer

    def ready(self, now: float) -> Answer:
        snapshot = self._store.current()
        if snapshot is None:
            return self._not_ready
        age = now - snapshot.taken_at
        if age > self._max_staleness:
            return Answer.json(503, render.ready_doc(False, f"the last poll is {age:.1f} s old", snapshot.checked_at))
        return snapshot.ready

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

    def connector(self, name: str, now: float) -> Answer:
        judged = self._judged(now)
        if isinstance(judged, Answer):
            return judged
        snapshot, verdict = judged
        by_name = snapshot.memo("by-name", lambda: {c.name: c for c in snapshot.connectors})
        connector = by_name.get(name)
        if connector is None:  # not memoized: any name can be asked for, and the memo must stay bounded
            return error(404, f"No connector named {name!r} in the last poll (or it is filtered out).")
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
            lambda: metrics.render_state(snapshot.connectors, snapshot.verdict, snapshot.ok, fresh, snapshot.progress),
        )
        return Answer(200, snapshot.counters + state + metrics.age_line(age), content_type=metrics.CONTENT_TYPE)
