"""Since when each failure has been seen: remembered across polls, forgotten when the thing recovers."""

from __future__ import annotations

from collections.abc import Iterable

from healthcheck.verdict import FailureKey, Seen


class FailureHistory:
    """Owned by the poller (one thread), so it needs no lock."""

    def __init__(self) -> None:
        self._first_seen: dict[FailureKey, tuple[float, str]] = {}  # monotonic, ISO 8601

    def observe(self, keys: Iterable[FailureKey], now: float, now_iso: str) -> dict[FailureKey, Seen]:
        """Record the failures of one successful poll; those not among them have recovered."""
        current = {key: self._first_seen.get(key, (now, now_iso)) for key in keys}
        self._first_seen = current
        return {key: Seen(since=iso, lasted=now - first) for key, (first, iso) in current.items()}
