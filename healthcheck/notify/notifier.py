"""The coordinator: takes published snapshots, decides incidents in its own thread, hands events to couriers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from healthcheck.actor import ActionStateFile
from healthcheck.notify import incident_state
from healthcheck.notify.courier import Courier
from healthcheck.notify.incidents import Event, IncidentTracker
from healthcheck.notify.readings import read
from healthcheck.snapshot import Snapshot

log = logging.getLogger(__name__)


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Notifier:
    """A SnapshotConsumer (consumers.py), so it runs only in the host's acting process: one process sends,
    however many workers serve. `consume` only keeps a reference and wakes the notifier's own thread, so its
    lane is free at once; that thread judges the newest snapshot on every publish and at least every `tick`
    seconds. The tick is what notices a poller that has stopped publishing (the runner offers nothing then):
    it reads the store (`source`) and finds the snapshot stale. It also sends repeats between polls. The
    thread judges only while `may_act()` (the actor lock is held by this process): the other workers' threads
    idle, and one of them takes over when its poll takes the lock after the actor dies.

    The open incidents go to `state` (a file beside the actor lock) whenever an event is decided, and are read
    back at the first judgement, so a process that takes over from a dead actor repeats and resolves them
    instead of opening them again (Slack would show each one twice).

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
        may_act: Callable[[], bool] = lambda: True,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], str] = utc_now_iso,
        state: ActionStateFile | None = None,
        epoch: Callable[[], float] = time.time,
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
        self._may_act = may_act
        self._state = state
        self._epoch = epoch
        self._carried_on = state is None  # the previous actor's incidents are read at the first judgement
        self._latest: Snapshot | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def consume(self, snapshot: Snapshot) -> None:
        if self._cluster is None and snapshot.error is None:
            # Asked here, on the runner's thread for this consumer (which may block), and only after a poll
            # that reached Connect: the notifier's own thread never waits on Connect, so a hung Connect cannot
            # keep it from noticing the snapshot go stale. Before the wake: the open carries the cluster label.
            self._cluster = self._lookup_cluster()
        self._latest = snapshot
        self._wake.set()

    def evaluate(self, now: float | None = None) -> list[Event]:
        """Judge the newest snapshot at `now` and queue the events it calls for. Only one thread calls it."""
        now = self._clock() if now is None else now
        if not self._carried_on:
            self._carry_on(now)
        if self._source is not None:
            self._latest = self._source()
        reading = read(self._latest, now, self._max_staleness, self._unhealthy_after)
        events = self._tracker.observe(reading, now, self._wall_clock(), self._cluster)
        for event in events:
            if event.kind == "open":
                log.warning("incident opened: %s", event.incident.summary)
            elif event.kind == "resolve":
                log.info("incident resolved: %s (was %s)", event.incident.subject, event.incident.state)
            for courier in self.couriers:
                courier.offer(event)
        if events:
            self._save(now)
        return events

    def _carry_on(self, now: float) -> None:
        assert self._state is not None
        self._carried_on = True
        carried = incident_state.load(self._state.read(), now, self._epoch())
        if carried:
            self._tracker.carry_on(carried)
            log.info("carrying on %d open incident(s) from the previous actor", len(carried))

    def _save(self, now: float) -> None:
        """After the events are queued: an actor killed in between sends an open again (a duplicate the
        receivers deduplicate by key), never loses one."""
        if self._state is None:
            return
        try:
            self._state.write(incident_state.dump(self._tracker.carried(), now, self._epoch()))
        except OSError as error:
            log.warning(
                "cannot save the open incidents to %s (%s): a new actor would open them again", self._state.path, error
            )

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
            if not self._may_act():
                continue
            try:
                self.evaluate()
            except Exception:  # a bug here must not end notifications for the life of the process
                log.exception("judging incidents failed unexpectedly")
