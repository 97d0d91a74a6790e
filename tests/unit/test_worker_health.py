"""The worker's own `GET /health` (Kafka 3.9+): a 404 while it starts never switches the check off."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from healthcheck.app import create_app
from healthcheck.connect_client import HEALTH_RECHECK_SECONDS
from healthcheck.service import Service
from tests.conftest import FakeClock
from tests.fake_connect import FakeConnect

FIXTURES = Path(__file__).parent.parent / "fixtures" / "connect"
HEALTHY = (200, {"status": "healthy", "message": "Worker has completed startup and is ready to handle requests."})


def recorded_404(version: str) -> tuple[int, dict[str, str]]:
    """What a real worker of `version` answered on /health while it started (tests/fixtures)."""
    doc = json.loads((FIXTURES / version / "health_while_starting_404.json").read_text())
    return doc["status"], doc["body"]


def client_for(service: Service) -> FlaskClient:
    return create_app(service.settings, service).test_client()


@pytest.mark.parametrize("version", ["3.9.2", "4.4.0"])
def test_a_404_while_a_39_plus_worker_starts_is_starting_then_healthy_when_it_is(
    connect: FakeConnect, service: Service, version: str
) -> None:
    connect.version = version
    connect.set_connector("orders-sink")
    connect.health = recorded_404(version)
    client = client_for(service)
    for _ in range(3):  # as many 404s as the start takes: each is "starting", none switches the check off
        service.poller.poll_once()
        response = client.get("/")
        assert response.status_code == 503
        (worker,) = response.json["failures"]
        assert (worker["type"], worker["state"]) == ("worker", "starting")
        assert f"HTTP 404 from Connect {version[:3]}" in worker["message"]
        assert client.get("/ready").status_code == 503
    connect.health = HEALTHY
    service.poller.poll_once()
    assert client.get("/").status_code == 200
    assert client.get("/ready").status_code == 200
    connect.health = (503, {"status": "unhealthy", "message": "Worker is unable to read its config topic"})
    service.poller.poll_once()  # and it is still asked: a later problem shows at the next poll
    assert client.get("/").json["failures"][0]["state"] == "unhealthy"
    assert connect.path_counts()["/health"] == 5


def test_a_404_while_even_get_root_does_not_answer_is_starting(connect: FakeConnect, service: Service) -> None:
    connect.set_connector("orders-sink")
    connect.health = recorded_404("4.4.0")
    connect.root_answer = recorded_404("4.4.0")  # Jetty answers, Connect's resources are not there yet
    service.poller.poll_once()
    response = client_for(service).get("/")
    assert response.status_code == 503
    assert response.json["failures"][0]["state"] == "starting"


def test_connect_before_39_has_no_health_and_is_asked_again_every_10_s(
    connect: FakeConnect, service: Service, clock: FakeClock
) -> None:
    connect.version = "3.8.1"
    connect.health = None  # 404: the endpoint does not exist before Kafka 3.9
    connect.set_connector("orders-sink")
    client = client_for(service)
    for _ in range(3):
        service.poller.poll_once()
        assert client.get("/").status_code == 200
        assert client.get("/ready").status_code == 200
    assert connect.path_counts()["/health"] == 1
    # The sidecar outlives its Connect container: one upgraded to 3.9+ is noticed within 10 s.
    connect.version = "4.4.0"
    connect.health = (503, {"status": "starting", "message": "Worker is still starting"})
    clock.advance(HEALTH_RECHECK_SECONDS)
    service.poller.poll_once()
    assert connect.path_counts()["/health"] == 2
    assert client.get("/").json["failures"][0]["state"] == "starting"


@pytest.mark.parametrize("status", [500, 503, 301, 429])
def test_a_non_2xx_health_is_never_healthy_whatever_its_body_says(
    connect: FakeConnect, service: Service, status: int
) -> None:
    connect.set_connector("orders-sink")
    connect.health = (status, {"status": "healthy", "message": "all good"})
    service.poller.poll_once()
    response = client_for(service).get("/")
    assert response.status_code == 503
    (worker,) = response.json["failures"]
    assert worker["state"] == "unhealthy"
    assert f"HTTP {status}" in worker["message"]
