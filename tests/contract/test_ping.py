"""GET /ping: up whatever Connect says."""

from __future__ import annotations

from flask.testing import FlaskClient

from healthcheck.service import Service
from tests.fake_connect import FakeConnect, Fault


def test_ping_is_up_whatever_connect_says(connect: FakeConnect, service: Service, client: FlaskClient) -> None:
    assert client.get("/ping").json == {"status": "UP"}
    with connect.faulty(Fault(status=500)):
        service.poller.poll_once()
    response = client.get("/ping")
    assert response.status_code == 200
    assert response.json == {"status": "UP"}
    assert client.head("/ping").status_code == 200
