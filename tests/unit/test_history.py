"""Failure history: since when each failure has been seen, and --unhealthy-after."""

from __future__ import annotations

import pytest

from healthcheck.service import Service
from healthcheck.settings import Settings
from tests.conftest import FakeClock, client_for
from tests.fake_connect import FakeConnect, Fault, task


def test_since_survives_polls_and_resets_on_recovery(connect: FakeConnect, service: Service) -> None:
    client = client_for(service)
    connect.set_connector("x", tasks=[task(0, "FAILED")])
    first = service.poller.poll_once()
    since = client.get("/").json["failures"][0]["since"]
    assert since == first.checked_at
    service.poller.poll_once()
    assert client.get("/").json["failures"][0]["since"] == since
    with connect.faulty(Fault(status=500)):
        service.poller.poll_once()  # unknown state: not a recovery
    service.poller.poll_once()
    assert client.get("/").json["failures"][0]["since"] == since
    connect.set_connector("x")
    service.poller.poll_once()
    connect.set_connector("x", tasks=[task(0, "FAILED")])
    again = service.poller.poll_once()
    assert client.get("/").json["failures"][0]["since"] == again.checked_at != since


def test_unhealthy_after_lists_a_failure_at_once_but_fails_only_when_it_lasts(
    connect: FakeConnect, settings: Settings, make_service, clock: FakeClock
) -> None:
    connect.set_connector("x", tasks=[task(0, "UNASSIGNED")])  # a rebalance in progress
    connect.set_connector("y")
    patient = make_service(
        settings, unhealthy_after=30.0, max_staleness=1000.0, unhealthy_states=("FAILED", "UNASSIGNED")
    )
    client = client_for(patient)
    patient.poller.poll_once()
    body = client.get("/").json
    assert client.get("/").status_code == 200
    assert body["failures"][0]["counted"] is False
    assert body["failure_rate"] == 0.0
    clock.advance(29)
    patient.poller.poll_once()
    assert client.get("/").status_code == 200
    clock.advance(1)
    patient.poller.poll_once()
    response = client.get("/")
    assert response.status_code == 503
    assert "counted" not in response.json["failures"][0]
    assert response.json["failure_rate"] == pytest.approx(1 / 4)
    connect.set_connector("x")  # the rebalance ended
    patient.poller.poll_once()
    assert client.get("/").status_code == 200
