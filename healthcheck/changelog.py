"""A log line for each change between published snapshots, so the log reads as a history, not a heartbeat."""

from __future__ import annotations

import logging

from healthcheck.model import WorkerHealth
from healthcheck.snapshot import PollError, Snapshot
from healthcheck.verdict import Failure

log = logging.getLogger(__name__)


def _describe(failure: Failure) -> str:
    what = f"connector '{failure.connector}'"
    if failure.type == "task":
        what += f" task {failure.task_id}"
    return what


class ChangeLog:
    """Fed every published snapshot, in order, by the poller right after it publishes (logging is cheap,
    and every process logs what it serves, actor or not)."""

    def __init__(self) -> None:
        self._failures: dict[tuple[str, int | None], Failure] = {}
        self._error: PollError | None = None
        self._failed_polls = 0
        self._healthy: bool | None = None
        self._worker: WorkerHealth | None = None
        self._warning: str | None = None

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
        self._record_warning(snapshot.verdict.warning)
        current = {failure.key: failure for failure in snapshot.verdict.failures}
        for key, failure in current.items():
            before = self._failures.get(key)
            if before is None or before.state != failure.state:
                log.warning(
                    "%s is unhealthy: %s on %s: %s",
                    _describe(failure),
                    failure.state,
                    failure.worker_id,
                    failure.cause,
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

    def _record_warning(self, warning: str | None) -> None:
        if warning is not None and self._warning is None:
            log.warning("%s", warning)
        elif warning is None and self._warning is not None:
            log.info("--connect-worker-id matches connectors or tasks again")
        self._warning = warning

    def _record_error(self, error: PollError) -> None:
        self._failed_polls += 1
        if self._error is None or self._error.reason != error.reason:
            log.error("cannot read Connect status (%s): %s", error.reason, error.message)
        self._error = error
        self._healthy = False
