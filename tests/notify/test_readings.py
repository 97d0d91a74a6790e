"""What a published snapshot says is wrong: failures with their root cause, Connect unreadable or stale, and
the filters applied, read from snapshots the real poller built against the fake Connect."""

from __future__ import annotations

import re
from collections.abc import Callable

from healthcheck.notify.incidents import CONNECT_KEY
from healthcheck.notify.readings import read
from healthcheck.service import Service
from healthcheck.settings import Settings
from tests.conftest import FakeClock
from tests.fake_connect import FakeConnect, Fault, task

NESTED = (
    "org.apache.kafka.connect.errors.ConnectException: Exiting WorkerSinkTask\n\tat a.b(C.java:1)\n"
    "Caused by: org.apache.kafka.connect.errors.DataException: bad record\n\tat d.e(F.java:2)\n"
    "Caused by: java.io.IOException: disk full\n\tat g.h(I.java:3)\n"
)


def test_failures_become_problems_with_key_worker_and_cause(
    connect: FakeConnect, settings: Settings, make_service: Callable[..., Service], clock: FakeClock
) -> None:
    service = make_service(settings)
    connect.set_connector("orders", "FAILED", trace=NESTED, tasks=[task(0), task(1, "FAILED", "w2:8083")])
    reading = read(service.poller.poll_once(), clock(), 15, 0)
    assert reading.connectors_known
    assert [(p.key, p.state, p.worker_id, p.cause) for p in reading.problems] == [
        ("connector:orders", "FAILED", "127.0.0.1:8083", "java.io.IOException: disk full"),
        ("task:orders:1", "FAILED", "w2:8083", "FAILED"),
    ]


def test_filters_and_the_worker_filter_decide_what_can_open(
    connect: FakeConnect, settings: Settings, make_service: Callable[..., Service], clock: FakeClock
) -> None:
    service = make_service(
        settings, exclude_connectors=re.compile("scratch-.*"), connect_worker_id="w1:8083", unhealthy_after=30
    )
    connect.set_connector("scratch-1", "FAILED", worker_id="w1:8083")
    connect.set_connector("orders", worker_id="w1:8083", tasks=[task(0, "FAILED", "w1:8083"), task(1, "FAILED", "w9")])
    reading = read(service.poller.poll_once(), clock(), 15, 30)
    assert [(p.key, p.counted) for p in reading.problems] == [("task:orders:0", False)]  # not yet 30 s


def test_connect_unreadable_is_one_problem_and_the_connectors_are_unknown(
    connect: FakeConnect, settings: Settings, make_service: Callable[..., Service], clock: FakeClock
) -> None:
    service = make_service(settings)
    with connect.faulty(Fault(status=500)):
        snapshot = service.poller.poll_once()
    reading = read(snapshot, clock(), 15, 20)
    assert not reading.connectors_known
    (problem,) = reading.problems
    assert (problem.key, problem.state, problem.hold) == (CONNECT_KEY, "UNREADABLE", 20)
    assert "HTTP 500" in problem.cause


def test_a_stale_snapshot_is_connect_stale_even_if_it_said_healthy(
    connect: FakeConnect, settings: Settings, make_service: Callable[..., Service], clock: FakeClock
) -> None:
    service = make_service(settings)
    connect.set_connector("orders")
    snapshot = service.poller.poll_once()
    assert read(snapshot, clock(), 15, 0).problems == ()
    clock.advance(16)
    reading = read(snapshot, clock(), 15, 0)
    assert [(p.key, p.state) for p in reading.problems] == [(CONNECT_KEY, "STALE")]
    assert not reading.connectors_known


def test_no_snapshot_yet_opens_nothing() -> None:
    assert read(None, 0.0, 15, 0).problems == ()
