"""The coordinator: takes published snapshots, decides incidents in its own thread, hands events to couriers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from healthcheck.notify.courier import Courier
from healthcheck.notify.incidents import Event, IncidentTracker
from healthcheck.notify.readings import read
from healthcheck.snapshot import Snapshot

log = logging.getLogger(__name__)


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Notifier:
    """A snapshot consumer. `consume` only keeps a reference and wakes the notifier's thread, so it never
    delays the poller; the thread judges the newest snapshot on every publish and at least every `tick`
    seconds, which is how a poller that has stopped publishing is noticed (a stale snapshot) and how repeats
    go out between polls.

    `evaluate(now)` is the unit of work; tests call it directly with their own clock.
    """

    name = "notify"

    def __init__(
        self,
        couriers: Sequence[Courier],
        *,
        repeat: float,
        settle: float,
        max_staleness: float,
        unhealthy_after: float,
        tick: float,
        cluster_id: Callable[[], str | None] = lambda: None,
        source: Callable[[], Snapshot | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], str] = utc_now_iso,
    ) -> None:
        self.couriers = tuple(couriers)
        self._tracker = IncidentTracker(repeat=repeat, settle=settle)
        self._max_staleness = max_staleness
        self._unhealthy_after = unhealthy_after
        self._tick = tick
        self._cluster_id = cluster_id
        self._cluster: str | None = None
        self._clock = clock
        self._wall_clock = wall_clock
        self._source = source  # where to read the newest snapshot when nothing hands it over (consume)
        self._latest: Snapshot | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def consume(self, snapshot: Snapshot) -> None:
        self._latest = snapshot
        self._wake.set()

    def evaluate(self, now: float | None = None) -> list[Event]:
        """Judge the newest snapshot at `now` and queue the events it calls for. Only one thread calls it."""
        now = self._clock() if now is None else now
        if self._source is not None:
            self._latest = self._source()
        reading = read(self._latest, now, self._max_staleness, self._unhealthy_after)
        if self._cluster is None and reading.connectors_known:
            # Asked only while Connect answers polls: no extra timeouts against a Connect that is down.
            self._cluster = self._lookup_cluster()
        events = self._tracker.observe(reading, now, self._wall_clock(), self._cluster)
        for event in events:
            if event.kind == "open":
                log.warning("incident opened: %s", event.incident.summary)
            elif event.kind == "resolve":
                log.info("incident resolved: %s (was %s)", event.incident.subject, event.incident.state)
            for courier in self.couriers:
                courier.offer(event)
        return events

    def _lookup_cluster(self) -> str | None:
        try:
            return self._cluster_id()
        except Exception as error:  # the cluster id only labels alerts; lacking it must not stop them
            log.debug("cannot read Connect's kafka_cluster_id: %s", type(error).__name__)
            return None

    def start(self) -> None:
        if self._thread is not None:
            return
        for courier in self.couriers:
            courier.start()
        self._thread = threading.Thread(target=self._run, name="notify", daemon=True)
        self._thread.start()
        log.info("notifying %s", ", ".join(courier.target.name for courier in self.couriers))

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        for courier in self.couriers:
            courier.stop()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._tick)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self.evaluate()
            except Exception:  # a bug here must not end notifications for the life of the process
                log.exception("judging incidents failed unexpectedly")
