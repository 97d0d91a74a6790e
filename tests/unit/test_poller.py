"""The poller: how it reads Connect (expanded or one connector at a time, and /health) into a snapshot."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from healthcheck.service import Service
from tests.conftest import poll_and_get
from tests.fake_connect import FakeConnect, task


def test_legacy_connect_without_expand_is_read_one_connector_at_a_time(
    connect: FakeConnect, service: Service, client: FlaskClient
) -> None:
    connect.legacy = True
    connect.set_connector("a b/c", tasks=[task(0, "FAILED")])  # a name that needs URL quoting
    connect.set_connector("ok")
    response = poll_and_get(service, client)
    assert response.status_code == 503
    assert response.json["failures"][0]["connector"] == "a b/c"
    assert response.json["failure_rate"] == pytest.approx(1 / 4)
    assert connect.requests == [
        "/connectors?expand=status&expand=info",
        "/connectors/a%20b%2Fc/status",
        "/connectors/ok/status",
        "/health",  # 404, and GET / says 2.2.0: no /health before Kafka 3.9; asked again after 10 s
        "/",
    ]
    service.poller.poll_once()
    assert connect.requests[5:] == [
        "/connectors?expand=status&expand=info",
        "/connectors/a%20b%2Fc/status",
        "/connectors/ok/status",
    ]


def test_a_connector_deleted_mid_poll_is_skipped_not_a_failure(
    connect: FakeConnect, service: Service, client: FlaskClient
) -> None:
    connect.legacy = True
    connect.set_connector("deleted", tasks=[task(0, "FAILED")])
    connect.set_connector("ok")
    connect.vanish_after_listing = {"deleted"}
    response = poll_and_get(service, client)
    assert response.status_code == 200
    assert response.json["failures"] == []


def test_a_connector_deleted_between_polls_drops_out(connect: FakeConnect, service: Service, client: FlaskClient):
    connect.set_connector("x", tasks=[task(0, "FAILED")])
    assert poll_and_get(service, client).status_code == 503
    connect.delete_connector("x")
    assert poll_and_get(service, client).status_code == 200
