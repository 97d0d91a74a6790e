"""Incidents reach a real Alertmanager: active with the right labels while failing, resolved on recovery."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from healthcheck.notify.alertmanager import Alertmanager
from healthcheck.notify.notifier import Notifier
from healthcheck.service import Service
from healthcheck.settings import Settings
from tests.conftest import FakeClock
from tests.fake_connect import FakeConnect, task
from tests.notify.alertmanager_process import AlertmanagerProcess
from tests.notify.events import driven_notifier
from tests.waiting import wait_until

TRACE = "org.apache.kafka.connect.errors.ConnectException: boom\n\tat X\nCaused by: java.io.IOException: disk full\n"


@pytest.fixture
def results() -> list[tuple[str, str, str]]:
    """Each delivery's (target, event, result)."""
    return []


@pytest.fixture
def notifier(
    alertmanager: AlertmanagerProcess, clock: FakeClock, results: list[tuple[str, str, str]]
) -> Iterator[Notifier]:
    """A notifier the test drives, posting to the real Alertmanager; stopped after the test."""
    targets = [Alertmanager(alertmanager.url, repeat=60)]
    notifier = driven_notifier(targets, clock, results, settle=10, cluster="fake-cluster", timeout=5)
    yield notifier
    notifier.stop()


def _active(alertmanager: AlertmanagerProcess, connector: str) -> list[dict[str, Any]]:
    return [
        alert
        for alert in alertmanager.alerts(active="true")
        if alert["labels"].get("connector") == connector and alert["status"]["state"] == "active"
    ]


def test_a_failed_task_is_an_active_alert_with_its_labels_then_resolved(
    alertmanager: AlertmanagerProcess,
    connect: FakeConnect,
    settings: Settings,
    make_service: Callable[..., Service],
    clock: FakeClock,
    notifier: Notifier,
    results: list[tuple[str, str, str]],
) -> None:
    service = make_service(settings)
    connect.set_connector("orders-sink", tasks=[task(0), task(1, "FAILED", "10.0.0.7:8083", TRACE)])
    notifier.consume(service.poller.poll_once())
    assert [e.kind for e in notifier.evaluate()] == ["open"]

    alert = wait_until(lambda: _active(alertmanager, "orders-sink"), what="the alert in Alertmanager")[0]
    assert alert["labels"] == {
        "alertname": "KafkaConnectTaskUnhealthy",
        "connector": "orders-sink",
        "task": "1",
        "state": "FAILED",
        "worker_id": "10.0.0.7:8083",
        "cluster": "fake-cluster",
    }
    assert alert["annotations"]["cause"] == "java.io.IOException: disk full"

    connect.set_connector("orders-sink", tasks=[task(0), task(1)])
    notifier.consume(service.poller.poll_once())
    assert notifier.evaluate() == []  # healthy for less than `settle`: still open
    clock.advance(10)
    notifier.consume(service.poller.poll_once())
    assert [e.kind for e in notifier.evaluate()] == ["resolve"]

    wait_until(lambda: not _active(alertmanager, "orders-sink"), what="the alert to resolve")
    wait_until(lambda: len(results) == 2, what="the courier to count the resolve")
    assert results == [("alertmanager", "open", "sent"), ("alertmanager", "resolve", "sent")]


def test_a_change_of_state_ends_the_old_alert_and_fires_the_new_one(
    alertmanager: AlertmanagerProcess,
    connect: FakeConnect,
    settings: Settings,
    make_service: Callable[..., Service],
    notifier: Notifier,
) -> None:
    service = make_service(settings, unhealthy_states=("FAILED", "UNASSIGNED"))
    connect.set_connector("audit-source", "UNASSIGNED", type="source")
    notifier.consume(service.poller.poll_once())
    notifier.evaluate()
    wait_until(lambda: _active(alertmanager, "audit-source"), what="the UNASSIGNED alert")

    connect.set_connector("audit-source", "FAILED", type="source")
    notifier.consume(service.poller.poll_once())
    assert [(e.kind, e.changed) for e in notifier.evaluate()] == [("repeat", True)]

    def only_failed() -> bool:
        states = [alert["labels"]["state"] for alert in _active(alertmanager, "audit-source")]
        return states == ["FAILED"]

    wait_until(only_failed, what="only the FAILED alert to stay active")
