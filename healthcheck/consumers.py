"""Actions as consumers of published snapshots: each runs in its own thread, beside the poller, never on it.

After each publish every consumer is offered the newest snapshot. A consumer still busy with an older one
later gets only the newest (one slot, no queue), so a hung consumer delays neither the poll nor another
consumer, and memory stays bounded however long it hangs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from healthcheck.snapshot import Snapshot

log = logging.getLogger(__name__)


class SnapshotConsumer(Protocol):
    """Something that acts on what a poll saw (restarts, notifications). Called in its own thread, one
    snapshot at a time; it may block (a slow target), and it should not raise (if it does, it is logged)."""

    name: str

    def consume(self, snapshot: Snapshot) -> None: ...


class _Lane:
    """One consumer's thread and its one-snapshot slot."""

    def __init__(self, consumer: SnapshotConsumer) -> None:
        self.consumer = consumer
        self._changed = threading.Condition()
        self._pending: Snapshot | None = None
        self._busy = False
        self._stopped = False
        self._thread: threading.Thread | None = None

    def offer(self, snapshot: Snapshot) -> None:
        with self._changed:
            if self._stopped:
                return
            self._pending = snapshot  # replaces one not yet taken: only the newest matters
            if self._thread is None:
                # A daemon thread: a consumer stuck in a hung call never holds up the process's exit.
                self._thread = threading.Thread(target=self._run, name=f"consumer-{self.consumer.name}", daemon=True)
                self._thread.start()
            self._changed.notify_all()

    def _run(self) -> None:
        while True:
            with self._changed:
                while self._pending is None and not self._stopped:
                    self._changed.wait()
                if self._stopped:
                    return
                snapshot, self._pending, self._busy = self._pending, None, True
            try:
                self.consumer.consume(snapshot)
            except Exception:  # one bad snapshot or bug must not end the consumer for the life of the process
                log.exception("consumer %s failed on the snapshot of %s", self.consumer.name, snapshot.checked_at)
            finally:
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()

    def wait_idle(self, deadline: float) -> bool:
        with self._changed:
            while self._pending is not None or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify_all()


class ConsumerRunner:
    """Hands each published snapshot to every consumer, in this process only while `may_act()` says so
    (the host's one actor: see actor.py). `offer` never blocks the caller (the poller)."""

    def __init__(self, consumers: Sequence[SnapshotConsumer], may_act: Callable[[], bool] = lambda: True) -> None:
        self._lanes = [_Lane(consumer) for consumer in consumers]
        self._may_act = may_act

    def add(self, consumer: SnapshotConsumer) -> None:
        """Register another consumer (before the first snapshot is offered)."""
        self._lanes.append(_Lane(consumer))

    @property
    def consumers(self) -> tuple[SnapshotConsumer, ...]:
        return tuple(lane.consumer for lane in self._lanes)

    def offer(self, snapshot: Snapshot) -> None:
        if not self._lanes or not self._may_act():
            return
        for lane in self._lanes:
            lane.offer(snapshot)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Whether every consumer has finished with the newest snapshot it was offered, within `timeout`."""
        deadline = time.monotonic() + timeout
        return all(lane.wait_idle(deadline) for lane in self._lanes)

    def stop(self) -> None:
        """No more snapshots; a consumer in the middle of one is not waited for."""
        for lane in self._lanes:
            lane.stop()
