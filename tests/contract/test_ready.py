"""GET /ready: follows whether Connect answers the polls (and its worker's own health), not the connectors."""

from __future__ import annotations

import pytest

from healthcheck.service import Service
from tests.conftest import FakeClock, client_for
from tests.fake_connect import FakeConnect, Fault, task


def test_ready_follows_the_poll_not_the_connectors(connect: FakeConnect, service: Service, clock: FakeClock) -> None:
    client = client_for(service)
    assert client.get("/ready").status_code == 503  # before the first poll
    connect.set_connector("bad", tasks=[task(0, "FAILED")])
    service.poller.poll_once()
    assert client.get("/").status_code == 503
    response = client.get("/ready")
    assert response.status_code == 200  # Connect answered: ready, even though a connector failed
    assert response.json["ready"] is True
    with connect.faulty(Fault(status=500)):
        service.poller.poll_once()
    response = client.get("/ready")
    assert response.status_code == 503
    assert "HTTP 500" in response.json["message"]
    service.poller.poll_once()
    assert client.get("/ready").status_code == 200
    clock.advance(service.settings.max_staleness + 1)
    assert client.get("/ready").status_code == 503
    assert client.head("/ready").status_code == 503


@pytest.mark.parametrize(
    ("status", "state"),
    [(503, "starting"), (500, "unhealthy")],
)
def test_an_unhealthy_worker_is_not_ready_and_fails_root(
    connect: FakeConnect, service: Service, status: int, state: str
) -> None:
    client = client_for(service)
    connect.set_connector("ok")
    connect.health = (status, {"status": state, "message": f"Worker is {state}"})
    service.poller.poll_once()
    assert client.get("/ready").status_code == 503
    assert state in client.get("/ready").json["message"]
    response = client.get("/")
    assert response.status_code == 503
    assert response.json["failures"] == [
        {"type": "worker", "state": state, "message": f"Worker is {state}", "cause": f"Worker is {state}"}
    ]
    connect.health = (200, {"status": "healthy", "message": "ok"})
    service.poller.poll_once()
    assert client.get("/").status_code == 200
    assert client.get("/ready").status_code == 200
