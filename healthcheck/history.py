"""Since when each failure has been seen: remembered across polls, forgotten when the thing recovers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from healthcheck.verdict import FailureKey, Seen


class SeenSoFar(Mapping[FailureKey, Seen]):
    """What the history knows at one instant, as the verdict reads it: a failure seen before has lasted since
    it was first seen; any other has just appeared (since now, lasted 0)."""

    def __init__(self, first_seen: Mapping[FailureKey, tuple[float, str]], now: float, now_iso: str) -> None:
        self._first_seen = first_seen
        self._now = now
        self._new = Seen(since=now_iso, lasted=0.0)

    def __getitem__(self, key: FailureKey) -> Seen:
        first = self._first_seen.get(key)
        return self._new if first is None else Seen(since=first[1], lasted=self._now - first[0])

    def __iter__(self) -> Iterator[FailureKey]:
        return iter(self._first_seen)

    def __len__(self) -> int:
        return len(self._first_seen)


class FailureHistory:
    """Owned by the poller (one thread), so it needs no lock."""

    def __init__(self) -> None:
        self._first_seen: dict[FailureKey, tuple[float, str]] = {}  # monotonic, ISO 8601

    def seen(self, now: float, now_iso: str) -> SeenSoFar:
        """For verdict.evaluate, before this poll's failures are known."""
        return SeenSoFar(self._first_seen, now, now_iso)

    def observe(self, keys: Iterable[FailureKey], now: float, now_iso: str) -> dict[FailureKey, Seen]:
        """Record the failures of one successful poll; those not among them have recovered."""
        current = {key: self._first_seen.get(key, (now, now_iso)) for key in keys}
        self._first_seen = current
        return {key: Seen(since=iso, lasted=now - first) for key, (first, iso) in current.items()}
