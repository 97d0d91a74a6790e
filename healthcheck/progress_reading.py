"""Which progress report a poll may judge with: the newest one, never a stale one, and why progress is unknown."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from healthcheck.progress_report import ConnectorProgress, ProgressError, ProgressReport, ProgressStore

_NOTHING: Mapping[str, ConnectorProgress] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ProgressReading:
    """What one poll knows about progress: the report it judged with (None: none yet, or too old) and why
    progress is unknown, in whole (the round failed, or the report is stale) or in part (some connectors)."""

    report: ProgressReport | None = None
    error: ProgressError | None = None

    @property
    def stalled(self) -> Mapping[str, ConnectorProgress]:
        """The connectors the report found stalled (never from a failed round: unknown is not stalled)."""
        if self.report is None or self.report.error is not None:
            return _NOTHING
        return {name: p for name, p in self.report.connectors.items() if p.stalled}


NO_PROGRESS = ProgressReading()


def reading_of(report: ProgressReport | None, now: float, max_age: float) -> ProgressReading:
    """The reading a poll at monotonic `now` makes of `report`; older than max_age, it is unknown (stale)."""
    if report is None:
        return NO_PROGRESS
    age = now - report.taken_at
    if age > max_age:
        message = f"the last progress round is {age:.0f} s old (more than {max_age:g} s): progress unknown"
        return ProgressReading(error=ProgressError("stale", message))
    if report.error is not None:
        return ProgressReading(report, report.error)
    errors = report.connector_errors()
    if not errors:
        return ProgressReading(report)
    listed = "; ".join(f"{name}: {message}" for name, message in sorted(errors.items())[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return ProgressReading(
        report, ProgressError("connectors", f"{len(errors)} connector(s) could not be judged: {listed}{more}")
    )


class ProgressSource:
    """What the poller holds: the store the progress job publishes into, and how old a report may be."""

    def __init__(self, store: ProgressStore, max_age: float) -> None:
        self.store = store
        self.max_age = max_age

    def reading(self, now: float) -> ProgressReading:
        return reading_of(self.store.current(), now, self.max_age)
