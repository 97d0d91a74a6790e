"""The stall rule, proven by a table of offset windows (as Burrow's caching_test.go proves its evaluator)."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthcheck.progress import (
    Judgement,
    Sample,
    Track,
    connector_judgement,
    connector_last_progress,
    judge,
    observe,
    trim,
)

STALL_AFTER = 300.0
W, IDLE, M, S = Judgement.WATCHING, Judgement.IDLE, Judgement.MOVING, Judgement.STALLED


def track_of(*samples: tuple[float, object, int | None]) -> Track:
    """Feed (at, committed offset, lag) samples through observe(), as the progress job does each round."""
    track = Track()
    for at, position, lag in samples:
        track = observe(track, Sample(at, position, lag, wall=f"t{at:g}"), STALL_AFTER)
    return track


# (why, samples as (seconds, committed offset, lag), judged at the newest sample's time, expected)
WINDOWS = [
    ("no sample yet: nothing to say", [], W),
    ("one sample, lag 10: no verdict from a first sample", [(0, 5, 10)], W),
    ("lag 0 on the first sample: idle at once", [(0, 5, 0)], IDLE),
    ("lag 0 for an hour, offset never moves: idle, not stalled", [(t, 5, 0) for t in range(0, 3601, 30)], IDLE),
    ("offset stands, lag 10, for 270 s: still watching", [(t, 5, 10) for t in range(0, 271, 30)], W),
    ("offset stands, lag 10, for 300 s: stalled", [(t, 5, 10) for t in range(0, 301, 30)], S),
    ("offset stands, lag grows, for 300 s: stalled", [(t, 5, 10 + t) for t in range(0, 301, 30)], S),
    ("commits advance each round while lag stays: moving", [(t, 5 + t, 10) for t in range(0, 601, 30)], M),
    ("lag shrinks though the offset is the same (a topic's records aged out): moving", [(0, 5, 10), (300, 5, 8)], M),
    ("an offset reset (rewound) is a change made on purpose: moving", [(0, 50, 10), (300, 20, 40)], M),
    (
        "advanced once 200 s ago, then stood still: still within stall_after",
        [(0, 5, 10), (100, 6, 10), (200, 6, 10), (300, 6, 10)],
        M,
    ),
    (
        "advanced once 330 s ago, then stood still: stalled",
        [(0, 5, 10), (30, 6, 10), *[(t, 6, 10) for t in range(60, 361, 30)]],
        S,
    ),
    (
        "caught up 330 s ago, new data since, nothing committed: stalled",
        [(0, 5, 0), *[(t, 5, 10) for t in range(30, 331, 30)]],
        S,
    ),
    (
        "caught up 240 s ago, new data since: progress within stall_after",
        [(0, 5, 10), (60, 5, 0), *[(t, 5, 10) for t in range(90, 301, 30)]],
        M,
    ),
    (
        "data but never a commit (lag from the log start) for 300 s: stalled",
        [(t, None, 42) for t in range(0, 301, 30)],
        S,
    ),
    ("the first commit arrives: moving", [(0, None, 42), (300, 3, 39)], M),
    (
        "two samples 300 s apart, nothing moved: stalled (the gap was a failed round, not progress)",
        [(0, 5, 10), (300, 5, 10)],
        S,
    ),
    ("a source (no lag) whose offsets changed: moving", [(0, "a", None), (300, "b", None)], M),
    ("a source whose offsets stood still for 300 s: stalled", [(t, "a", None) for t in range(0, 301, 60)], S),
    ("a source watched 200 s: watching", [(t, "a", None) for t in range(0, 201, 60)], W),
]


@pytest.mark.parametrize(("why", "samples", "expected"), WINDOWS, ids=[row[0] for row in WINDOWS])
def test_the_stall_rule(why: str, samples: list[tuple[float, object, int | None]], expected: Judgement) -> None:
    track = track_of(*samples)
    now = samples[-1][0] if samples else 0.0
    assert judge(track, now, STALL_AFTER) == expected, why


def test_last_progress_is_the_newest_moment_of_progress_even_after_it_leaves_the_window() -> None:
    track = track_of((0, 5, 10), (30, 6, 10), *[(t, 6, 10) for t in range(60, 1000, 30)])
    assert track.last_progress is not None and track.last_progress.at == 30
    assert track.samples[0].at < 990 - STALL_AFTER <= track.samples[1].at  # trimmed to one anchor + the horizon


def test_a_stalled_connector_reports_the_oldest_stall_start_among_its_stuck_partitions() -> None:
    tracks = {
        "p0": track_of((0, 5, 0), *[(t, 5, 10) for t in range(30, 601, 30)]),
        "p1": track_of((0, 5, 10), (200, 6, 10), *[(t, 6, 10) for t in range(230, 601, 30)]),
    }
    assert connector_last_progress(tracks, ["p0", "p1"]) == "t0"
    assert connector_last_progress(tracks, []) == "t200"  # not stalled: the newest progress


def test_one_stalled_partition_stalls_the_connector_and_no_partitions_is_idle() -> None:
    assert connector_judgement([IDLE, M, S]) == S
    assert connector_judgement([IDLE, M, W]) == W
    assert connector_judgement([IDLE, M]) == M
    assert connector_judgement([]) == IDLE


samples_strategy = st.lists(
    st.tuples(st.integers(0, 30), st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=40
)


@given(samples_strategy)
def test_a_partition_with_nothing_waiting_is_never_stalled(steps: list[tuple[int, int, int]]) -> None:
    track, at = Track(), 0.0
    for gap, offset, lag in steps:
        at += gap * 20
        track = observe(track, Sample(at, offset, lag), STALL_AFTER)
    if track.samples[-1].lag == 0:
        assert judge(track, at, STALL_AFTER) == IDLE


@given(samples_strategy)
def test_stalled_means_no_progress_for_stall_after_and_work_waiting(steps: list[tuple[int, int, int]]) -> None:
    track, at, history = Track(), 0.0, []
    for gap, offset, lag in steps:
        at += gap * 20
        track = observe(track, Sample(at, offset, lag), STALL_AFTER)
        history.append((at, offset, lag))
    if judge(track, at, STALL_AFTER) == S:
        assert history[-1][2] > 0
        assert history[0][0] <= at - STALL_AFTER  # watched at least stall_after
        recent = [h for h in history if h[0] >= at - STALL_AFTER]
        earlier = [h for h in history if h[0] < at - STALL_AFTER]
        before = earlier[-1:] + recent
        assert all(h[2] > 0 for h in recent)
        assert len({h[1] for h in before}) == 1  # the offset never moved in the window
        assert all(b[2] >= a[2] for a, b in pairwise(before))  # nor did the lag shrink


def test_trim_keeps_one_anchor_before_the_horizon() -> None:
    samples = tuple(Sample(t, 0, 1) for t in range(0, 1000, 100))
    assert [s.at for s in trim(samples, 900, STALL_AFTER)] == [500, 600, 700, 800, 900]
