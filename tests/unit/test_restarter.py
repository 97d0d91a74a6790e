"""Auto-restart: backoff, giving up, recovery, old Connect, only the monitored worker's FAILED instances."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from healthcheck.service import Service
from healthcheck.settings import Settings
from tests.conftest import FakeClock, client_for
from tests.exposition import metric
from tests.fake_connect import FakeConnect, Fault, task

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture
def restarting(settings: Settings, make_service: Callable[..., Service]) -> Service:
    """A service with auto-restart on: first retry after 10 s, at most 3 attempts."""
    return make_service(settings, auto_restart=True, restart_backoff=10.0, restart_max_attempts=3, max_staleness=1e6)


def poll_and_act(service: Service) -> None:
    """One poll, then wait until the actions it was handed (auto-restart) are done with it."""
    service.poller.poll_once()
    assert service.consumers.wait_idle(timeout=10), "the restarter did not finish within 10 s"


def restart_posts(connect: FakeConnect) -> list[str]:
    return [r for r in connect.requests if r.startswith("POST")]


def test_auto_restart_backs_off_and_gives_up(connect: FakeConnect, restarting: Service, clock: FakeClock) -> None:
    client = client_for(restarting)
    connect.set_connector("bad", tasks=[task(0), task(1, "FAILED")])
    poll_and_act(restarting)
    assert restart_posts(connect) == ["POST /connectors/bad/restart?includeTasks=true&onlyFailed=true"]
    assert "restart_attempts" not in client.get("/").json["failures"][0]  # published before the restart
    poll_and_act(restarting)  # the next snapshot shows what the actor did
    failure = client.get("/").json["failures"][0]
    assert failure["restart_attempts"] == 1
    assert ISO.fullmatch(failure["next_restart"])
    # schedule: attempt 1 at once, 2 after 10 s, 3 after 20 s more, then no more
    for advance, expected_posts in [(5, 1), (5, 2), (10, 2), (10, 3), (3600, 3), (3600, 3)]:
        clock.advance(advance)
        poll_and_act(restarting)
        assert len(restart_posts(connect)) == expected_posts, f"after +{advance} s"
    failure = client.get("/").json["failures"][0]
    assert failure["restart_attempts"] == 3
    assert failure["restarts_exhausted"] is True
    assert "next_restart" not in failure
    text = client.get("/metrics").get_data(as_text=True)
    assert metric(text, "kafka_connect_healthcheck_restarts_total", connector="bad", result="ok") == 3


def test_auto_restart_recovers_and_resets_the_count(
    connect: FakeConnect, restarting: Service, clock: FakeClock
) -> None:
    client = client_for(restarting)
    connect.heal_on_restart = True
    connect.set_connector("flaky", tasks=[task(0, "FAILED")])
    poll_and_act(restarting)  # restart 1: the fake heals it
    poll_and_act(restarting)
    assert client.get("/").status_code == 200
    clock.advance(11)  # healthy for longer than the next delay: the count resets
    poll_and_act(restarting)
    connect.set_connector("flaky", tasks=[task(0, "FAILED")])
    poll_and_act(restarting)
    assert len(restart_posts(connect)) == 2  # at once again, not after a backoff
    assert client.get("/").status_code == 503  # what the poll saw before its restart


def test_a_task_that_fails_right_after_each_restart_keeps_backing_off(
    connect: FakeConnect, restarting: Service, clock: FakeClock
) -> None:
    connect.set_connector("storm", tasks=[task(0, "FAILED")])
    poll_and_act(restarting)
    connect.set_connector("storm", tasks=[task(0, "RUNNING")])
    clock.advance(1)
    poll_and_act(restarting)  # briefly fine...
    connect.set_connector("storm", tasks=[task(0, "FAILED")])
    clock.advance(1)
    poll_and_act(restarting)  # ...and failed again: still within the 10 s backoff
    assert len(restart_posts(connect)) == 1


def test_auto_restart_on_old_connect_restarts_connector_then_each_failed_task(
    connect: FakeConnect, restarting: Service
) -> None:
    connect.legacy = True
    connect.set_connector("old", tasks=[task(0, "FAILED"), task(1), task(2, "FAILED")])
    poll_and_act(restarting)
    assert restart_posts(connect) == [
        "POST /connectors/old/restart?includeTasks=true&onlyFailed=true",
        "POST /connectors/old/tasks/0/restart",
        "POST /connectors/old/tasks/2/restart",
    ]


def test_auto_restart_only_touches_the_monitored_worker_and_failed_state(
    connect: FakeConnect, settings: Settings, make_service
) -> None:
    service = make_service(
        settings, auto_restart=True, connect_worker_id="me:8083", unhealthy_states=("FAILED", "PAUSED")
    )
    connect.set_connector("theirs", tasks=[task(0, "FAILED", worker_id="other:8083")], worker_id="me:8083")
    connect.set_connector("paused", "PAUSED", tasks=[task(0, "PAUSED", worker_id="me:8083")], worker_id="me:8083")
    poll_and_act(service)
    assert restart_posts(connect) == []


def test_a_failed_restart_counts_and_is_logged(
    connect: FakeConnect, restarting: Service, caplog: pytest.LogCaptureFixture
) -> None:
    connect.set_connector("bad", tasks=[task(0, "FAILED")])
    with connect.faulty(Fault(status=409, paths=("/connectors/bad/restart",))):
        poll_and_act(restarting)
    assert any("restart 1/3 of connector 'bad' failed" in r.getMessage() for r in caplog.records)
    poll_and_act(restarting)  # the counters of the next poll show it (no second restart: it is backing off)
    assert len(restart_posts(connect)) == 1
    text = client_for(restarting).get("/metrics").get_data(as_text=True)
    assert metric(text, "kafka_connect_healthcheck_restarts_total", connector="bad", result="error") == 1


def test_restart_series_go_when_their_connector_goes(connect: FakeConnect, restarting: Service) -> None:
    connect.set_connector("bad", tasks=[task(0, "FAILED")])
    poll_and_act(restarting)
    poll_and_act(restarting)
    series = 'kafka_connect_healthcheck_restarts_total{connector="bad"'
    assert series in client_for(restarting).get("/metrics").get_data(as_text=True)
    connect.delete_connector("bad")
    poll_and_act(restarting)
    assert series not in client_for(restarting).get("/metrics").get_data(as_text=True)


def test_one_actor_restarts_and_the_next_one_keeps_its_count(
    connect: FakeConnect, settings: Settings, make_service: Callable[..., Service], clock: FakeClock
) -> None:
    both = {"auto_restart": True, "restart_backoff": 10.0, "restart_max_attempts": 2, "max_staleness": 1e6}
    first, second = make_service(settings, **both), make_service(settings, **both)  # two workers of one host
    connect.set_connector("bad", tasks=[task(0, "FAILED")])
    poll_and_act(first)
    poll_and_act(second)  # not the actor: it polls and serves, and sends nothing
    assert len(restart_posts(connect)) == 1
    poll_and_act(second)
    assert client_for(second).get("/").json["failures"][0]["restart_attempts"] == 1  # the actor's state, shown
    first.stop()  # the actor goes away (as a killed process does: the kernel drops its lock)
    for _ in range(3):
        clock.advance(3600)
        poll_and_act(second)  # takes over: attempt 2 of 2, then no more (a fresh count would send two more)
    assert len(restart_posts(connect)) == 2
    assert client_for(second).get("/").json["failures"][0]["restarts_exhausted"] is True


def test_auto_restart_is_off_by_default(connect: FakeConnect, service: Service) -> None:
    connect.set_connector("bad", tasks=[task(0, "FAILED")])
    service.poller.poll_once()
    assert restart_posts(connect) == []
    assert "restart_attempts" not in client_for(service).get("/").json["failures"][0]
