"""One poll of Connect turned into a published snapshot, and a log line for each change it shows."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from healthcheck.connect_client import ConnectError
from healthcheck.history import FailureHistory
from healthcheck.metrics import PollMetrics
from healthcheck.model import ConnectorStatus, RestartStatus, WorkerHealth, without_traces
from healthcheck.render import View
from healthcheck.restarter import Restarter
from healthcheck.snapshot import PollError, Snapshot, SnapshotStore, failed_poll, healthy_or_not
from healthcheck.verdict import Failure, Rules, find_failures, judge

log = logging.getLogger(__name__)


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class StatusSource(Protocol):
    def fetch_statuses(self) -> tuple[ConnectorStatus, ...]: ...

    def fetch_worker_health(self) -> WorkerHealth | None: ...


class Poller:
    """Calls Connect once per `poll_once`; never raises, so a bad answer cannot kill the schedule.

    Only the scheduler's one thread calls poll_once (max_instances=1), so the state kept across polls
    (failure history, restart tracks, change log) needs no lock.
    """

    def __init__(
        self,
        client: StatusSource,
        rules: Rules,
        store: SnapshotStore,
        view: View,
        *,
        restarter: Restarter | None = None,
        metrics: PollMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], str] = utc_now_iso,
    ) -> None:
        self._client = client
        self._rules = rules
        self._store = store
        self._view = view
        self._restarter = restarter
        self._metrics = metrics or PollMetrics()
        self._clock = clock
        self._wall_clock = wall_clock
        self._history = FailureHistory()
        self._changes = ChangeLog()

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
            )
        self._store.publish(snapshot)
        self._changes.record(snapshot)
        return snapshot

    def _poll(self, started: float, checked_at: str) -> Snapshot:
        connectors = self._rules.select(self._client.fetch_statuses())
        if self._view.hide_traces:
            connectors = without_traces(connectors)
        worker = self._client.fetch_worker_health()
        failures, considered = find_failures(connectors, self._rules)
        seen = self._history.observe((f.key for f in failures), started, checked_at)
        verdict = judge(failures, considered, self._rules, seen, worker)
        restarts: dict[str, RestartStatus] = {}
        if self._restarter is not None:
            restarts = self._restarter.act(connectors, self._rules, self._clock())
        self._metrics.observe_poll(self._clock() - started, None)
        return healthy_or_not(
            connectors=connectors,
            verdict=verdict,
            view=self._view,
            taken_at=started,
            checked_at=checked_at,
            counters=self._metrics.render(),
            worker=worker,
            restarts=restarts,
        )


def _describe(failure: Failure) -> str:
    what = f"connector '{failure.connector}'"
    if failure.type == "task":
        what += f" task {failure.task_id}"
    return what


def _first_line(trace: str | None) -> str:
    return trace.strip().splitlines()[0] if trace and trace.strip() else "no trace"


class ChangeLog:
    """Logs what changed since the previous poll, so the log reads as a history, not a heartbeat."""

    def __init__(self) -> None:
        self._failures: dict[tuple[str, int | None], Failure] = {}
        self._error: PollError | None = None
        self._failed_polls = 0
        self._healthy: bool | None = None
        self._worker: WorkerHealth | None = None

    def record(self, snapshot: Snapshot) -> None:
        if snapshot.error is not None:
            self._record_error(snapshot.error)
            return  # the state of connectors is unknown: neither failed nor recovered
        if self._error is not None:
            log.info("Connect status readable again after %d failed poll(s)", self._failed_polls)
            self._error, self._failed_polls = None, 0
        assert snapshot.verdict is not None
        if log.isEnabledFor(logging.DEBUG):
            for connector in snapshot.connectors:
                log.debug("connector '%s' is %s on %s", connector.name, connector.state, connector.worker_id)
                for task in connector.tasks:
                    log.debug("connector '%s' task %d is %s on %s", connector.name, task.id, task.state, task.worker_id)
        self._record_worker(snapshot.worker)
        current = {failure.key: failure for failure in snapshot.verdict.failures}
        for key, failure in current.items():
            before = self._failures.get(key)
            if before is None or before.state != failure.state:
                log.warning(
                    "%s is unhealthy: %s on %s: %s",
                    _describe(failure),
                    failure.state,
                    failure.worker_id,
                    _first_line(failure.trace),
                )
        for key, failure in self._failures.items():
            if key not in current:
                log.info("%s recovered (was %s)", _describe(failure), failure.state)
        self._failures = current
        verdict = snapshot.verdict
        if verdict.healthy != self._healthy:
            log.log(
                logging.INFO if verdict.healthy else logging.WARNING,
                "health is now %s: %d of %d considered failing (rate %.3f, threshold %.3f)%s",
                "HEALTHY" if verdict.healthy else "UNHEALTHY",
                sum(1 for f in verdict.failures if f.counted),
                verdict.considered,
                verdict.failure_rate,
                verdict.failure_threshold,
                f"; worker is {verdict.worker.state}" if verdict.worker else "",
            )
            self._healthy = verdict.healthy

    def _record_worker(self, worker: WorkerHealth | None) -> None:
        was_healthy = self._worker is None or self._worker.healthy
        is_healthy = worker is None or worker.healthy
        if was_healthy and not is_healthy:
            assert worker is not None
            log.warning("the Connect worker reports itself %s: %s", worker.state, worker.message)
        elif is_healthy and not was_healthy:
            log.info("the Connect worker reports itself healthy again")
        self._worker = worker

    def _record_error(self, error: PollError) -> None:
        self._failed_polls += 1
        if self._error is None or self._error.reason != error.reason:
            log.error("cannot read Connect status (%s): %s", error.reason, error.message)
        self._error = error
        self._healthy = False
