"""The stall rule: pure functions judging windows of offset samples, with the time passed in.

Shaped after Burrow's evaluator (core/internal/evaluator/caching.go): each partition keeps a short window of
samples; small rules, checked in order, say whether it is idle, moving, still being watched, or stalled.
A sink partition's sample is its consumer group's committed offset and its lag behind the log end; a
source connector's sample is its whole offset map (Connect's `GET /connectors/<name>/offsets`) with no lag.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise


class Judgement(StrEnum):
    WATCHING = "watching"  # not watched for stall_after yet: no verdict from a first sample
    IDLE = "idle"  # lag 0: nothing waiting, healthy however long it lasts
    MOVING = "moving"  # the position advanced (or the lag shrank) within stall_after
    STALLED = "stalled"  # work waiting, and the position has not moved for stall_after


@dataclass(frozen=True, slots=True)
class Sample:
    at: float  # monotonic seconds
    position: Hashable  # sink: the committed offset (None: none committed); source: its offsets, frozen
    lag: int | None  # sink: records waiting; source: None (unknown, so always "work waiting")
    wall: str = ""  # the same moment in ISO 8601 UTC, to report as last_progress


@dataclass(frozen=True, slots=True)
class Track:
    """One partition's (or one source connector's) window: samples oldest first, trimmed to stall_after
    plus one older anchor, and the newest moment of progress ever seen (it may be older than the window)."""

    samples: tuple[Sample, ...] = ()
    last_progress: Sample | None = None


# --- the rules, one small function each, in the order judge() checks them


def caught_up(newest: Sample) -> bool:
    """Lag 0 now: idle, not stalled, however long the position has stood still."""
    return newest.lag == 0


def shows_progress(before: Sample | None, after: Sample) -> bool:
    """`after` is a moment of progress: nothing waiting, the position changed (a commit advanced, or an
    operator reset it), or the lag shrank."""
    if after.lag == 0:
        return True
    if before is None:
        return False
    if after.position != before.position:
        return True
    return after.lag is not None and before.lag is not None and after.lag < before.lag


def progressed_within(samples: tuple[Sample, ...], now: float, stall_after: float) -> bool:
    """Some sample taken in the last stall_after seconds shows progress against the one before it."""
    horizon = now - stall_after
    return any(after.at >= horizon and shows_progress(before, after) for before, after in pairwise(samples))


def watched_for(samples: tuple[Sample, ...], now: float, stall_after: float) -> bool:
    """The window reaches back stall_after seconds: long enough to call a standstill a stall."""
    return bool(samples) and now - samples[0].at >= stall_after


def judge(track: Track, now: float, stall_after: float) -> Judgement:
    if not track.samples:
        return Judgement.WATCHING
    if caught_up(track.samples[-1]):
        return Judgement.IDLE
    if progressed_within(track.samples, now, stall_after):
        return Judgement.MOVING
    if not watched_for(track.samples, now, stall_after):
        return Judgement.WATCHING
    return Judgement.STALLED


# --- keeping the window


def trim(samples: tuple[Sample, ...], now: float, stall_after: float) -> tuple[Sample, ...]:
    """The samples of the last stall_after seconds, plus the newest one before that (the anchor that proves
    the window spans stall_after)."""
    horizon = now - stall_after
    inside = [i for i, sample in enumerate(samples) if sample.at >= horizon]
    first = max(0, inside[0] - 1) if inside else max(0, len(samples) - 1)
    return samples[first:]


def observe(track: Track, sample: Sample, stall_after: float) -> Track:
    """The track with `sample` added (the newest), the window trimmed, last_progress moved if it shows one."""
    before = track.samples[-1] if track.samples else None
    progressed = shows_progress(before, sample)
    samples = trim((*track.samples, sample), sample.at, stall_after)
    return Track(samples, sample if progressed else track.last_progress)


def last_progress_of(track: Track) -> str | None:
    return track.last_progress.wall if track.last_progress is not None else None


# --- a connector judged from its partitions


@dataclass(frozen=True, slots=True)
class Stuck:
    """A partition that holds work and has not moved for stall_after."""

    topic: str | None  # None for a source partition
    partition: int | None
    lag: int | None
    source_partition: Mapping[str, object] | None = None  # a source's partition as Connect names it


def connector_judgement(judgements: Iterable[Judgement]) -> Judgement:
    """Worst first: one stalled partition stalls the connector (its other tasks may be fine, this one is not);
    then watching (no verdict yet), moving, idle. No partitions at all: idle (nothing to move)."""
    seen = set(judgements)
    for judgement in (Judgement.STALLED, Judgement.WATCHING, Judgement.MOVING):
        if judgement in seen:
            return judgement
    return Judgement.IDLE


def connector_last_progress(tracks: Mapping[Hashable, Track], stalled: Iterable[Hashable]) -> str | None:
    """When stalled: the oldest last progress among the stalled partitions (the stall clock's start; None if
    none was seen while watched). Otherwise the newest progress of any partition."""
    stalled = list(stalled)
    if stalled:
        moments = [tracks[key].last_progress for key in stalled]
        if any(moment is None for moment in moments):
            return None
        return min(moments, key=lambda sample: sample.at).wall  # type: ignore[union-attr]
    seen = [track.last_progress for track in tracks.values() if track.last_progress is not None]
    return max(seen, key=lambda sample: sample.at).wall if seen else None
