"""The listing's `info` part: each connector's type and the config keys the checks read are kept; the rest of a
config is dropped as it is parsed, and none of it is ever shown."""

from __future__ import annotations

import pytest

from healthcheck.parse import BadResponse, parse_expanded
from healthcheck.service import Service
from tests.fake_connect import FakeConnect

STATUS = {"name": "s", "connector": {"state": "RUNNING", "worker_id": "w:1"}, "tasks": [], "type": "sink"}


def test_the_config_and_type_come_from_info() -> None:
    config = {"topics": "a,b", "consumer.override.group.id": "g", "topics.regex": "x.*", "tasks.max": "2"}
    info = {"name": "s", "config": config, "tasks": [], "type": "sink"}
    (connector,) = parse_expanded({"s": {"status": STATUS, "info": info}})
    assert connector.config == config
    assert connector.type == "sink"


def test_only_the_config_keys_the_checks_read_are_kept() -> None:
    config = {"connector.class": "x.JdbcSink", "connection.url": "jdbc:db", "name": "s", "tasks.max": "2"}
    (connector,) = parse_expanded({"s": {"status": STATUS, "info": {"config": config}}})
    assert connector.config == {"tasks.max": "2"}


def test_a_listing_without_info_has_no_config() -> None:
    (connector,) = parse_expanded({"s": {"status": STATUS}})
    assert connector.config is None
    assert connector.tasks_max is None


def test_a_config_that_is_not_an_object_is_a_bad_response() -> None:
    with pytest.raises(BadResponse, match="info of connector 's', 'config': expected an object, got list"):
        parse_expanded({"s": {"status": STATUS, "info": {"config": ["x"]}}})


def test_a_config_secret_is_never_kept_nor_shown(connect: FakeConnect, service: Service) -> None:
    connect.set_connector("db-sink", config={"connection.password": "hunter2-secret", "topics": "t"})
    service.poller.poll_once()
    assert service.store.current().connectors[0].config == {"topics": "t"}
    now = service.clock()
    answers = [service.answers.health(now), service.answers.connectors(now), service.answers.connector("db-sink", now)]
    for answer in [*answers, service.answers.metrics(now)]:
        assert b"hunter2-secret" not in answer.body
    assert "hunter2-secret" not in repr(service.store.current())
