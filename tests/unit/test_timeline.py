"""The status page's timeline: bounded to the last hour, spikes kept, poll errors apart."""

from __future__ import annotations

from healthcheck.timeline import RESOLUTION, WINDOW, FailingTimeline


def test_the_timeline_is_bounded_to_the_last_hour() -> None:
    timeline = FailingTimeline()
    points = ()
    for second in range(2 * int(WINDOW)):  # two hours of polls, one a second
        points = timeline.record(float(second), 4 if second % 5 == 3 else 0)  # one poll of five fails
    assert len(points) == int(WINDOW / RESOLUTION) + 1
    assert points[-1].at - points[0].at <= WINDOW
    assert all(p.polls == RESOLUTION and p.failing == 4 for p in points[1:-1])  # a spike is never averaged away


def test_the_timeline_keeps_poll_errors_apart() -> None:
    timeline = FailingTimeline(resolution=5.0)
    timeline.record(0.0, 3)
    points = timeline.record(1.0, None)
    assert [(p.failing, p.polls, p.poll_errors) for p in points] == [(3, 2, 1)]
    points = timeline.record(5.0, None)
    assert [(p.failing, p.polls, p.poll_errors) for p in points] == [(3, 2, 1), (0, 1, 1)]
