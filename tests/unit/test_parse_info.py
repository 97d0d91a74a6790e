"""The listing's `info` part: each connector's config and type are read, and a config is never shown."""

from __future__ import annotations

import pytest

from healthcheck.parse import BadResponse, parse_expanded
from healthcheck.service import Service
from tests.fake_connect import FakeConnect

STATUS = {"name": "s", "connector": {"state": "RUNNING", "worker_id": "w:1"}, "tasks": [], "type": "sink"}


def test_the_config_and_type_come_from_info() -> None:
    info = {"name": "s", "config": {"topics": "a,b", "consumer.override.group.id": "g"}, "tasks": [], "type": "sink"}
    (connector,) = parse_expanded({"s": {"status": STATUS, "info": info}})
    assert connector.config == {"topics": "a,b", "consumer.override.group.id": "g"}
    assert connector.type == "sink"


def test_a_listing_without_info_has_an_empty_config() -> None:
    (connector,) = parse_expanded({"s": {"status": STATUS}})
    assert connector.config == {}


def test_a_config_that_is_not_an_object_is_a_bad_response() -> None:
    with pytest.raises(BadResponse, match="info of connector 's', 'config': expected an object, got list"):
        parse_expanded({"s": {"status": STATUS, "info": {"config": ["x"]}}})


def test_a_config_is_kept_for_the_checks_but_never_shown(connect: FakeConnect, service: Service) -> None:
    connect.set_connector("db-sink", config={"connection.password": "hunter2-secret", "topics": "t"})
    service.poller.poll_once()
    assert service.store.current().connectors[0].config["connection.password"] == "hunter2-secret"
    now = service.clock()
    answers = [service.answers.health(now), service.answers.connectors(now), service.answers.connector("db-sink", now)]
    for answer in [*answers, service.answers.metrics(now)]:
        assert b"hunter2-secret" not in answer.body
    assert "hunter2-secret" not in repr(service.store.current())
