"""The last hour of poll outcomes (how many connectors and tasks were failing), kept bounded in memory."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

WINDOW = 3600.0  # seconds of history kept
RESOLUTION = 5.0  # seconds one point covers: at most WINDOW / RESOLUTION points, whatever the poll interval


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    """The polls that started within one RESOLUTION-long slot, merged."""

    at: float  # monotonic start of the newest poll merged in
    failing: int  # failing connectors and tasks: the most any merged poll listed
    polls: int  # polls merged into this point
    poll_errors: int  # of them, polls that could not read Connect


class FailingTimeline:
    """Owned by the poller (one thread). Each `record` returns an immutable copy for the snapshot.

    Polls faster than RESOLUTION merge into one point keeping the worst count, so a one-poll spike is
    never averaged away and the memory stays bounded at WINDOW / RESOLUTION points.
    """

    def __init__(self, window: float = WINDOW, resolution: float = RESOLUTION) -> None:
        self._window = window
        self._resolution = resolution
        self._points: deque[TimelinePoint] = deque(maxlen=math.ceil(window / resolution) + 1)

    def record(self, at: float, failing: int | None) -> tuple[TimelinePoint, ...]:
        """One poll that started at `at` (monotonic): `failing` things failed, or None when it could not
        read Connect. Returns the points of the last `window` seconds, oldest first."""
        error = failing is None
        count = failing or 0
        last = self._points[-1] if self._points else None
        if last is not None and self._slot(last.at) == self._slot(at):
            self._points[-1] = TimelinePoint(
                at, max(last.failing, count), last.polls + 1, last.poll_errors + (1 if error else 0)
            )
        else:
            self._points.append(TimelinePoint(at, count, 1, 1 if error else 0))
        while self._points and self._points[0].at < at - self._window:
            self._points.popleft()
        return tuple(self._points)

    def _slot(self, at: float) -> int:
        return math.floor(at / self._resolution)
