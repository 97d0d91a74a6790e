"""A new actor carries on the incidents the old one opened (read from the actor's state): it repeats and
resolves them, and never sends their "open" again. Driven directly, with an injected clock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from healthcheck.actor import ActionStateFile
from healthcheck.notify.notifier import Notifier
from healthcheck.service import Service
from healthcheck.settings import Settings
from tests.conftest import FakeClock
from tests.fake_connect import FakeConnect, task

EPOCH = 1_750_000_000.0  # wall-clock seconds when the monotonic FakeClock reads 0
TRACE = "org.apache.kafka.connect.errors.ConnectException: x\nCaused by: java.io.IOException: disk full"


@pytest.fixture
def state(tmp_path: Path) -> ActionStateFile:
    """The incidents' state file, as the actors of one host share it."""
    return ActionStateFile(tmp_path / "kafka-connect-healthcheck-test.incidents.json")


@pytest.fixture
def actor(state: ActionStateFile, clock: FakeClock) -> Callable[[], Notifier]:
    """Makes a notifier as a process that has just become the actor makes it (no targets: events are
    returned by evaluate); repeats every 60 s, resolves after 10 s healthy."""

    def make() -> Notifier:
        return Notifier(
            [],
            repeat=60,
            settle=10,
            max_staleness=1e6,
            unhealthy_after=0,
            tick=3600,
            clock=clock,
            state=state,
            epoch=lambda: EPOCH + clock(),
        )

    return make


@pytest.fixture
def service(settings: Settings, make_service: Callable[..., Service]) -> Service:
    return make_service(settings)


def judge(notifier: Notifier, service: Service) -> list[tuple[str, str]]:
    """One poll handed to `notifier`, judged now: the (event, key) pairs it decides."""
    notifier.consume(service.poller.poll_once())
    return [(event.kind, event.incident.key) for event in notifier.evaluate()]


def test_a_new_actor_does_not_open_again_and_resolves_what_the_old_one_opened(
    connect: FakeConnect, service: Service, actor: Callable[[], Notifier], clock: FakeClock
) -> None:
    connect.set_connector("orders", tasks=[task(0, "FAILED", trace=TRACE)])
    old = actor()
    old.consume(service.poller.poll_once())
    (opened,) = old.evaluate()
    assert (opened.kind, opened.incident.key) == ("open", "task:orders:0")
    clock.advance(5)
    new = actor()  # the old actor is gone (kill -9: nothing of it runs any more)
    assert judge(new, service) == []
    connect.set_connector("orders", tasks=[task(0)])
    assert judge(new, service) == []  # healthy, not yet for the settle time
    clock.advance(10)
    new.consume(service.poller.poll_once())
    (resolved,) = new.evaluate()
    assert resolved.kind == "resolve"
    assert resolved.incident == opened.incident  # the same since, cause, worker and cluster the open carried


def test_a_carried_incident_repeats_on_the_old_actors_schedule(
    connect: FakeConnect, service: Service, actor: Callable[[], Notifier], clock: FakeClock
) -> None:
    connect.set_connector("orders", "FAILED", trace=TRACE)
    assert judge(actor(), service) == [("open", "connector:orders")]
    clock.advance(40)
    new = actor()
    assert judge(new, service) == []  # 40 s after the open: no repeat due yet
    clock.advance(21)
    assert judge(new, service) == [("repeat", "connector:orders")]  # 61 s after the old actor's open


def test_an_unreadable_state_opens_again_rather_than_losing_the_incident(
    connect: FakeConnect, service: Service, actor: Callable[[], Notifier], state: ActionStateFile
) -> None:
    connect.set_connector("orders", tasks=[task(0, "FAILED", trace=TRACE)])
    assert judge(actor(), service) == [("open", "task:orders:0")]
    state.path.write_text('{"version": 1, "incidents": [{"key": "task:orders:0"}]}')  # damaged
    assert judge(actor(), service) == [("open", "task:orders:0")]
