"""What one serving process owns: the snapshot store, the poller, and the scheduler that drives it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from healthcheck.connect_client import ConnectClient
from healthcheck.poller import Poller
from healthcheck.settings import Settings
from healthcheck.snapshot import HealthAnswers, SnapshotStore
from healthcheck.verdict import Rules

log = logging.getLogger(__name__)


def rules_from(settings: Settings) -> Rules:
    return Rules(
        unhealthy_states=frozenset(settings.unhealthy_states),
        considered_containers=frozenset(settings.considered_containers),
        worker_id=settings.connect_worker_id,
        failure_threshold=settings.failure_threshold,
    )


class Service:
    """Built once per process. Tests drive `poller.poll_once()` directly; production calls `start()`."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self.store = SnapshotStore()
        self.client = ConnectClient(
            settings.connect_url, auth=settings.basic_auth, timeout=settings.request_timeout, clock=clock
        )
        self.poller = Poller(self.client, rules_from(settings), self.store, settings.unhealthy_states, clock=clock)
        self.answers = HealthAnswers(self.store, settings.max_staleness, settings.unhealthy_states)
        self._scheduler: BackgroundScheduler | None = None

    def start(self) -> None:
        """Start polling in a background thread: first poll now, then every poll_interval.

        Call it in the process that serves (a gunicorn worker, after fork): threads do not survive fork().
        """
        if self._scheduler is not None:
            return
        scheduler = BackgroundScheduler(daemon=True, timezone=UTC)
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
