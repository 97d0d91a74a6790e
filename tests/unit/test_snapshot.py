"""The snapshot and the answers served from it: bytes built once per poll, not per probe."""

from __future__ import annotations

from flask.testing import FlaskClient

from healthcheck.service import Service


def test_the_body_is_built_once_per_poll_not_per_probe(connect, service: Service, client: FlaskClient) -> None:
    connect.set_connector("x")
    service.poller.poll_once()
    snapshot = service.store.current()
    assert service.answers.health(service.clock()) is snapshot.answer
    assert client.get("/").data == snapshot.body
