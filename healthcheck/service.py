"""What one serving process owns: the snapshot store, the poller, and the scheduler that drives it."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.executors.base import BaseExecutor, run_job
from apscheduler.schedulers.background import BackgroundScheduler

from healthcheck.answers import Answers
from healthcheck.connect_client import ConnectClient
from healthcheck.metrics import PollMetrics
from healthcheck.poller import Poller
from healthcheck.render import View
from healthcheck.restarter import Restarter
from healthcheck.settings import Settings
from healthcheck.snapshot import SnapshotStore
from healthcheck.verdict import Rules

log = logging.getLogger(__name__)


def rules_from(settings: Settings) -> Rules:
    return Rules(
        unhealthy_states=frozenset(settings.unhealthy_states),
        considered_containers=frozenset(settings.considered_containers),
        worker_id=settings.connect_worker_id,
        failure_threshold=settings.failure_threshold,
        include=settings.include_connectors,
        exclude=settings.exclude_connectors,
        unhealthy_after=settings.unhealthy_after,
    )


def tls_verify(settings: Settings) -> bool | str:
    """What requests' `verify` gets: no verification, the configured CA bundle, or the system CAs."""
    if settings.connect_insecure:
        return False
    return settings.connect_ca_file or True


def client_cert(settings: Settings) -> str | tuple[str, str] | None:
    if settings.connect_client_cert and settings.connect_client_key:
        return (settings.connect_client_cert, settings.connect_client_key)
    return settings.connect_client_cert


class DaemonThreadExecutor(BaseExecutor):  # type: ignore[misc]
    """Runs each poll in a fresh daemon thread.

    APScheduler's thread pool is joined at interpreter exit, so a poll stuck in a hung Connect would hold
    up SIGTERM until its request timeout; a daemon thread is simply abandoned. max_instances=1 still holds:
    BaseExecutor counts running instances whatever runs them.
    """

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        def run() -> None:
            try:
                events = run_job(job, job._jobstore_alias, run_times, self._logger.name)
            except BaseException:
                self._run_job_error(job.id, *sys.exc_info()[1:])
            else:
                self._run_job_success(job.id, events)

        threading.Thread(target=run, name="healthcheck-poll", daemon=True).start()


class Service:
    """Built once per process. Tests drive `poller.poll_once()` directly; production calls `start()`."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self.store = SnapshotStore()
        if settings.connect_insecure:
            log.warning(
                "INSECURE: the TLS certificate of Connect at %s is NOT verified (--connect-insecure): anyone on "
                "the network path can pose as Connect and read its credentials. Use --connect-ca-file instead.",
                settings.connect_url,
            )
        self.client = ConnectClient(
            settings.connect_url,
            auth=settings.credentials,
            timeout=settings.request_timeout,
            max_response_bytes=settings.max_response_bytes,
            verify=tls_verify(settings),
            cert=client_cert(settings),
            clock=clock,
        )
        self.metrics = PollMetrics()
        view = View(settings.unhealthy_states, hide_traces=settings.hide_traces)
        restarter = None
        if settings.auto_restart:
            restarter = Restarter(
                self.client,
                backoff=settings.restart_backoff,
                max_attempts=settings.restart_max_attempts,
                on_attempt=self.metrics.observe_restart,
            )
        self.poller = Poller(
            self.client, rules_from(settings), self.store, view, restarter=restarter, metrics=self.metrics, clock=clock
        )
        self.answers = Answers(self.store, settings.max_staleness, view)
        self._scheduler: BackgroundScheduler | None = None

    def start(self) -> None:
        """Start polling in a background thread: first poll now, then every poll_interval.

        Call it in the process that serves (a gunicorn worker, after fork): threads do not survive fork().
        """
        if self._scheduler is not None:
            return
        scheduler = BackgroundScheduler(daemon=True, timezone=UTC, executors={"default": DaemonThreadExecutor()})
        scheduler.add_job(
            self.poller.poll_once,
            "interval",
            seconds=self.settings.poll_interval,
            next_run_time=datetime.now(UTC),
            id="poll-connect",
            max_instances=1,  # a slow poll is never overlapped by the next one...
            coalesce=True,  # ...and missed runs collapse into one
            misfire_grace_time=None,
        )
        scheduler.start()
        self._scheduler = scheduler
        log.info(
            "polling %s every %g s (request timeout %g s, max staleness %g s)",
            self.settings.connect_url,
            self.settings.poll_interval,
            self.settings.request_timeout,
            self.settings.max_staleness,
        )

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        self.client.close()
