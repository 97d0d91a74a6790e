"""Delivery to one target: a bounded queue, its own thread, retries with backoff, one log line per failure."""

from __future__ import annotations

import logging
import random
import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol

from healthcheck.notify.http import Outgoing, Reply, SendError, post
from healthcheck.notify.incidents import Event

log = logging.getLogger(__name__)

RESULTS = ("sent", "failed", "dropped")
QUEUE_LIMIT = 1000
MAX_ATTEMPTS = 5  # 1 + 4 retries: about 15 s of backoff before giving up on one event
BACKOFF = 1.0  # seconds before the first retry; doubles each time
MAX_DELAY = 60.0  # a Retry-After longer than this is cut to it: later events must not wait for hours
REQUEST_TIMEOUT = 10.0  # seconds for one whole call


class Target(Protocol):
    name: str  # the metrics label and the log's name for it: never a URL (Slack's is a secret)
    kind: str

    def wants(self, event: Event) -> bool: ...

    def request(self, event: Event) -> Outgoing: ...

    def accepted(self, status: int) -> bool: ...


Send = Callable[[Outgoing, float], Reply]  # (request, timeout) -> reply, or raises SendError
Record = Callable[[str, str, str], None]  # (target, event kind, result)


def http_send(verify: bool | str = True) -> Send:
    def send(outgoing: Outgoing, timeout: float) -> Reply:
        return post(outgoing.url, outgoing.body, dict(outgoing.headers), timeout=timeout, verify=verify)

    return send


def retry_delay(attempt: int, retry_after: float | None, jitter: Callable[[], float] = random.random) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): the receiver's Retry-After when it
    gave one, else BACKOFF x 2^(attempt-1) with jitter (50-100 %) so many senders do not retry in step."""
    if retry_after is not None:
        return min(retry_after, MAX_DELAY)
    return min(BACKOFF * 2 ** (attempt - 1), MAX_DELAY) * (0.5 + jitter() / 2)


class Courier:
    """Owns one target's queue and thread, so a target that is down or slow never holds up another.

    The queue keeps the newest QUEUE_LIMIT events; when it is full the oldest is dropped (counted and logged
    once per overflow), since a stale repeat matters less than the newest open or resolve. Events go out in
    order, so a resolve never overtakes its open.
    """

    def __init__(
        self,
        target: Target,
        *,
        send: Send | None = None,
        record: Record = lambda target, event, result: None,
        timeout: float = REQUEST_TIMEOUT,
        max_attempts: int = MAX_ATTEMPTS,
        queue_limit: int = QUEUE_LIMIT,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.target = target
        self._send = send or http_send()
        self._record = record
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._queue: deque[Event] = deque()
        self._limit = queue_limit
        self._jitter = jitter
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._overflowing = False
        self._busy = False
        self._thread: threading.Thread | None = None

    def offer(self, event: Event) -> None:
        """Queue an event for the target; never blocks."""
        if not self.target.wants(event):
            return
        dropped: Event | None = None
        with self._changed:
            if len(self._queue) >= self._limit:
                dropped = self._queue.popleft()
            self._queue.append(event)
            self._changed.notify()
        if dropped is not None:
            self._record(self.target.name, dropped.kind, "dropped")
            if not self._overflowing:
                log.error("notifications to %s are backing up: dropped the oldest queued event", self.target.name)
            self._overflowing = True

    def pending(self) -> int:
        """Events queued or being delivered."""
        with self._changed:
            return len(self._queue) + (1 if self._busy else 0)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"notify-{self.target.name}", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()

    def _run(self) -> None:
        while not self._stopping.is_set():
            with self._changed:
                while not self._queue and not self._stopping.is_set():
                    self._changed.wait()
                if self._stopping.is_set():
                    return
                event = self._queue.popleft()
                self._busy = True
                if not self._queue:
                    self._overflowing = False
            try:
                self.deliver(event)
            except Exception:  # our own bug must not end the thread: later events still need it
                log.exception("delivering a notification to %s failed unexpectedly", self.target.name)
            finally:
                with self._changed:
                    self._busy = False

    def deliver(self, event: Event, sleep: Callable[[float], bool] | None = None) -> bool:
        """Send one event, retrying what may pass (no answer, 5xx, 429); True once the target accepted it.
        `sleep(seconds)` waits between attempts and returns True to give up (the service is stopping)."""
        wait = sleep or self._stopping.wait
        outgoing = self.target.request(event)
        problem = ""
        for attempt in range(1, self._max_attempts + 1):
            retry_after: float | None = None
            try:
                reply = self._send(outgoing, self._timeout)
            except SendError as error:
                problem = error.message
                if not error.retryable:
                    break
            else:
                if self.target.accepted(reply.status):
                    self._record(self.target.name, event.kind, "sent")
                    return True
                problem = f"HTTP {reply.status}"
                if not (reply.status == 429 or reply.status >= 500):
                    break  # another 4xx (or a redirect): the request itself is wrong, resending cannot help
                retry_after = reply.retry_after
            if attempt < self._max_attempts:
                delay = retry_delay(attempt, retry_after, self._jitter)
                log.debug("%s: attempt %d failed (%s); retrying in %.1f s", self.target.name, attempt, problem, delay)
                if wait(delay):
                    break
        self._record(self.target.name, event.kind, "failed")
        log.error(
            "notification to %s failed: %s %s for %s: %s",
            self.target.name,
            event.kind,
            event.incident.key,
            event.incident.subject,
            problem or "stopped",
        )
        return False
