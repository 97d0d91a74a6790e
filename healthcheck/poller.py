"""One poll of Connect turned into a published snapshot; whatever acts on it is told after the publish."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

from healthcheck.connect_client import ConnectError
from healthcheck.history import FailureHistory
from healthcheck.memory import release_free_memory
from healthcheck.metrics import PollMetrics
from healthcheck.model import ConnectorStatus, RestartStatus, WorkerHealth
from healthcheck.progress_reading import ProgressSource
from healthcheck.render import View
from healthcheck.snapshot import PollError, Snapshot, SnapshotStore, failed_poll, healthy_or_not
from healthcheck.timeline import FailingTimeline
from healthcheck.verdict import Rules, evaluate

log = logging.getLogger(__name__)


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class StatusSource(Protocol):
    def fetch_statuses(self) -> tuple[ConnectorStatus, ...]: ...

    def fetch_worker_health(self) -> WorkerHealth | None: ...


def no_restarts() -> Mapping[str, RestartStatus]:
    return {}


class Poller:
    """Calls Connect once per `poll_once`; never raises, so a bad answer cannot kill the schedule.

    Publish first, act after: the snapshot is in the store before anyone is told about it, and those told
    (`on_publish`: the change log, the consumer runner) only take it and return, so no action can delay an
    answer or the next poll. Only the scheduler's one thread calls poll_once, so the state kept across polls
    (the failure history) needs no lock.
    """

    def __init__(
        self,
        client: StatusSource,
        rules: Rules,
        store: SnapshotStore,
        view: View,
        *,
        metrics: PollMetrics | None = None,
        restarts: Callable[[], Mapping[str, RestartStatus]] = no_restarts,
        on_publish: Sequence[Callable[[Snapshot], None]] = (),
        prepare: Callable[[Snapshot], None] = lambda snapshot: None,
        progress: ProgressSource | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], str] = utc_now_iso,
    ) -> None:
        self._client = client
        self._rules = rules
        self._store = store
        self._view = view
        self._metrics = metrics or PollMetrics()
        self._restarts = restarts  # the actor's restart state, as it is when this poll ends
        self._on_publish = tuple(on_publish)
        self._prepare = prepare  # more of the snapshot's answers, rendered before anyone can ask for them
        self._progress = progress
        self._clock = clock
        self._wall_clock = wall_clock
        self._history = FailureHistory()
        self._timeline = FailingTimeline()  # only the poll thread touches it, like the history

    def poll_once(self) -> Snapshot:
        started = self._clock()
        checked_at = self._wall_clock()
        try:
            snapshot = self._poll(started, checked_at)
        except Exception as error:  # anything, even our own bug, must end as an unhealthy snapshot
            if isinstance(error, ConnectError):
                poll_error = PollError(error.reason, error.message)
            else:
                log.exception("poll failed unexpectedly")
                poll_error = PollError("internal", f"{type(error).__name__}: {error}")
            self._metrics.observe_poll(self._clock() - started, poll_error.reason)
            snapshot = failed_poll(
                error=poll_error,
                view=self._view,
                taken_at=started,
                checked_at=checked_at,
                counters=self._metrics.render(),
                timeline=self._timeline.record(started, None),
            )
        try:
            self._prepare(snapshot)
        except Exception:  # what it would have built is built on first request instead
            log.exception("preparing the answers of the snapshot of %s failed", checked_at)
        self._store.publish(snapshot)
        for listener in self._on_publish:
            try:
                listener(snapshot)
            except Exception:  # the snapshot is published; a listener's bug must not end the schedule
                log.exception("a listener failed on the snapshot of %s", checked_at)
        release_free_memory()  # the previous snapshot and this poll's temporaries are gone: give their pages back
        return snapshot

    def _poll(self, started: float, checked_at: str) -> Snapshot:
        # Traces were capped, or dropped for --hide-traces, as the client parsed them.
        connectors = self._rules.select(self._client.fetch_statuses())
        worker = self._client.fetch_worker_health()
        # The newest progress report, read (never waited for): its own job runs beside this poll.
        progress = self._progress.reading(started) if self._progress is not None else None
        stalled = progress.stalled if progress is not None else None
        # The same pure function the verdict's table and property tests exercise.
        verdict = evaluate(connectors, self._rules, self._history.seen(started, checked_at), worker, stalled)
        self._history.observe((f.key for f in verdict.failures), started, checked_at)
        snapshot = healthy_or_not(
            connectors=connectors,
            verdict=verdict,
            view=self._view,
            taken_at=started,
            checked_at=checked_at,
            worker=worker,
            restarts=self._restarts(),
            timeline=self._timeline.record(started, len(verdict.failures)),
            progress=progress,
        )
        # Counted only now that nothing can fail any more: a poll is counted once, as what was published.
        self._metrics.forget_connectors_except({c.name for c in connectors})
        self._metrics.observe_poll(self._clock() - started, None)
        return replace(snapshot, counters=self._metrics.render())
