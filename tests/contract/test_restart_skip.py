"""Restarts that know when not to: --restart-skip, "persistent" after the cap, and why, in body, log and metrics."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from healthcheck.command_line import load
from healthcheck.model import ConnectorStatus, TaskStatus
from healthcheck.restart_rules import DEFAULT_RESTART_SKIP, plan, skip_reason
from healthcheck.service import Service
from healthcheck.settings import Settings, SettingsError
from healthcheck.verdict import Rules
from tests.conftest import FakeClock, client_for
from tests.exposition import metric
from tests.fake_connect import FakeConnect, task

DEFAULT = re.compile(DEFAULT_RESTART_SKIP)
EVERYWHERE = Rules(frozenset({"FAILED"}), frozenset({"CONNECTOR", "TASK"}))
CONFIG = (
    "org.apache.kafka.connect.errors.ConnectException: Failed to start\n\tat x.Y.z(Y.java:1)\n"
    'Caused by: org.apache.kafka.common.config.ConfigException: Missing required configuration "file"'
)
AUTH = (
    "org.apache.kafka.connect.errors.ConnectException: Exiting WorkerSinkTask\n"
    "Caused by: org.apache.kafka.common.errors.SaslAuthenticationException: Authentication failed: Invalid username"
)
TRANSIENT = (
    "org.apache.kafka.connect.errors.ConnectException: boom\nCaused by: java.net.SocketTimeoutException: timed out"
)


@pytest.mark.parametrize(
    ("trace", "skipped"),
    [
        # A bad config fails the same way after every restart.
        pytest.param(CONFIG, "org.apache.kafka.common.config.ConfigException", id="config"),
        # So do bad credentials and missing ACLs.
        pytest.param(AUTH, "org.apache.kafka.common.errors.SaslAuthenticationException", id="authentication"),
        pytest.param(
            "org.apache.kafka.common.errors.TopicAuthorizationException: Not authorized to access topics: [t]",
            "org.apache.kafka.common.errors.TopicAuthorizationException",
            id="authorization",
        ),
        pytest.param(
            "java.sql.SQLInvalidAuthorizationSpecException: Access denied for user 'app'",
            "java.sql.SQLInvalidAuthorizationSpecException",
            id="jdbc-credentials",
        ),
        # A timeout may well pass: restart it.
        pytest.param(TRANSIENT, None, id="transient"),
        # A stack frame that names config code is not a config exception.
        pytest.param(
            "java.lang.NullPointerException\n\tat org.apache.kafka.common.config.ConfigDef.parse", None, id="frame"
        ),
        pytest.param(None, None, id="no-trace"),
    ],
)
def test_the_default_skips_what_a_restart_cannot_fix(trace: str | None, skipped: str | None) -> None:
    reason = skip_reason(trace.splitlines()[-1].removeprefix("Caused by: ") if trace else "FAILED", trace, DEFAULT)
    assert reason == (None if skipped is None else f"{skipped} matches --restart-skip (a restart cannot fix it)")


def test_no_rule_restarts_everything() -> None:
    assert skip_reason("x.ConfigException: bad", CONFIG, None) is None


def test_plan_restarts_only_what_is_not_skipped() -> None:
    connector = ConnectorStatus(
        "c", "FAILED", "w", TRANSIENT, (TaskStatus(0, "FAILED", "w", CONFIG), TaskStatus(1, "FAILED", "w", TRANSIENT))
    )
    decided = plan(connector, EVERYWHERE, DEFAULT)
    assert decided is not None
    assert (decided.restart_connector, decided.restart_tasks, set(decided.skipped)) == (True, (1,), {0})
    assert not decided.everything
    assert decided.causes[0] == 'org.apache.kafka.common.config.ConfigException: Missing required configuration "file"'
    all_of_it = plan(connector, EVERYWHERE, None)
    assert all_of_it is not None and all_of_it.everything and all_of_it.restart_tasks == (0, 1)
    assert plan(ConnectorStatus("ok", "RUNNING", "w"), EVERYWHERE, DEFAULT) is None


# --- over HTTP, against the fake Connect


@pytest.fixture
def restarting(settings: Settings, make_service: Callable[..., Service]) -> Service:
    """Auto-restart on with the default skip rule: first retry after 10 s, at most 2 attempts."""
    return make_service(settings, auto_restart=True, restart_backoff=10.0, restart_max_attempts=2, max_staleness=1e6)


def posts(connect: FakeConnect) -> list[str]:
    return [r for r in connect.requests if r.startswith("POST")]


def poll_and_act(service: Service) -> None:
    """One poll, then wait until auto-restart is done with it (its decision shows in the next snapshot)."""
    service.poller.poll_once()
    assert service.consumers.wait_idle(timeout=10), "the restarter did not finish within 10 s"


def skips(client: FlaskClient, connector: str, reason: str) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    return metric(text, "kafka_connect_healthcheck_restart_skips_total", connector=connector, reason=reason)


SKIPPED_CONFIG = (
    "skipped: org.apache.kafka.common.config.ConfigException matches --restart-skip (a restart cannot fix it)"
)


def test_a_config_failure_is_not_restarted_and_says_why(
    connect: FakeConnect, restarting: Service, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_for(restarting)
    connect.set_connector("bad", "FAILED", tasks=[], trace=CONFIG)
    with caplog.at_level(logging.WARNING, logger="healthcheck.restarter"):
        for _ in range(3):
            poll_and_act(restarting)
            clock.advance(60)
    assert posts(connect) == []
    failure = client.get("/").json["failures"][0]
    assert failure["restart"] == SKIPPED_CONFIG
    assert (failure["restart_attempts"], failure["next_restart"]) == (0, None)
    assert skips(client, "bad", "restart_skip") == 1  # once per failure, not per poll
    assert caplog.text.count("not restarting connector 'bad'") == 1
    assert 'cause: org.apache.kafka.common.config.ConfigException: Missing required configuration "file"' in caplog.text


def test_only_the_parts_a_restart_can_fix_are_restarted(connect: FakeConnect, restarting: Service) -> None:
    connect.set_connector("mixed", tasks=[task(0, "FAILED", trace=AUTH), task(1, "FAILED", trace=TRANSIENT), task(2)])
    poll_and_act(restarting)
    # Not the one KIP-745 call: it would restart the skipped task 0 as well.
    assert posts(connect) == ["POST /connectors/mixed/tasks/1/restart"]
    poll_and_act(restarting)  # the next snapshot shows what the actor decided
    failures = client_for(restarting).get("/").json["failures"]
    assert [f["restart"][:9] for f in failures] == ["skipped: ", "scheduled"]


def test_after_the_last_attempt_the_failure_is_persistent_with_its_last_cause(
    connect: FakeConnect, restarting: Service, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_for(restarting)
    connect.set_connector("flaky", tasks=[task(0, "FAILED", trace=TRANSIENT)])
    with caplog.at_level(logging.ERROR, logger="healthcheck.restarter"):
        for _ in range(4):
            poll_and_act(restarting)
            clock.advance(11)
    assert len(posts(connect)) == 2
    failure = client.get("/").json["failures"][0]
    assert (failure["restart"], failure["restart_attempts"], failure["restarts_exhausted"]) == ("persistent", 2, True)
    assert failure["last_cause"] == "java.net.SocketTimeoutException: timed out"
    assert "2 restarts did not help; no more attempts (persistent); last cause: java.net" in caplog.text
    assert skips(client, "flaky", "persistent") == 1


def test_every_worker_shows_what_the_actor_decided(
    connect: FakeConnect, restarting: Service, settings: Settings, make_service: Callable[..., Service]
) -> None:
    """Another process on this host (same --state-dir, Connect and port) does not act, but answers the same
    "restart", "last_cause" and counts, read from the actor's state file."""
    other = make_service(settings, auto_restart=True, restart_backoff=10.0, restart_max_attempts=2, max_staleness=1e6)
    connect.set_connector("mixed", tasks=[task(0, "FAILED", trace=CONFIG), task(1, "FAILED", trace=TRANSIENT)])
    poll_and_act(restarting)  # the first to poll takes the host's lock and acts
    poll_and_act(other)
    assert posts(connect) == ["POST /connectors/mixed/tasks/1/restart"]  # once, by the actor only
    poll_and_act(restarting)
    poll_and_act(other)
    assert posts(connect) == ["POST /connectors/mixed/tasks/1/restart"]
    # next_restart moves by the milliseconds between the actor's writes: only that it is set is compared
    restart_keys = ("restart", "restart_attempts", "restarts_exhausted", "last_cause")
    seen = [
        [{key: f.get(key) for key in restart_keys} for f in client_for(service).get("/").json["failures"]]
        for service in (restarting, other)
    ]
    assert seen[0] == seen[1]
    skipped, scheduled = seen[1]
    assert (skipped["restart"], skipped["restart_attempts"]) == (SKIPPED_CONFIG, 1)
    assert (scheduled["restart"], scheduled["restart_attempts"]) == ("scheduled", 1)
    assert all(f["next_restart"] is not None for f in client_for(restarting).get("/").json["failures"])
    by_name = client_for(other).get("/connectors/mixed").json
    assert [f.get("restart") for f in by_name["failures"]] == [SKIPPED_CONFIG, "scheduled"]


def test_a_new_actor_carries_on_without_saying_it_again(
    connect: FakeConnect,
    restarting: Service,
    settings: Settings,
    make_service: Callable[..., Service],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    connect.set_connector("flaky", tasks=[task(0, "FAILED", trace=CONFIG), task(1, "FAILED", trace=TRANSIENT)])
    with caplog.at_level(logging.WARNING, logger="healthcheck.restarter"):
        for _ in range(3):
            poll_and_act(restarting)
            clock.advance(11)
        restarting.stop()  # the actor goes away; the next process to poll takes over
        successor = make_service(
            settings, auto_restart=True, restart_backoff=10.0, restart_max_attempts=2, max_staleness=1e6
        )
        for _ in range(2):
            poll_and_act(successor)
            clock.advance(11)
    assert successor.actor.held  # it took over
    assert len(posts(connect)) == 2  # the cap counts the old actor's attempts
    assert caplog.text.count("not restarting connector 'flaky' task 0") == 1
    assert caplog.text.count("restarts did not help") == 1
    failure = client_for(successor).get("/").json["failures"][1]
    assert (failure["restart"], failure["last_cause"]) == ("persistent", "java.net.SocketTimeoutException: timed out")
    # said, and counted, by the old actor: not again by this one
    assert "restart_skips_total{" not in client_for(successor).get("/metrics").get_data(as_text=True)


def test_an_empty_restart_skip_restarts_everything(
    connect: FakeConnect, settings: Settings, make_service: Callable[..., Service]
) -> None:
    service = make_service(settings, auto_restart=True, restart_skip=None)
    connect.set_connector("bad", "FAILED", tasks=[], trace=CONFIG)
    poll_and_act(service)
    assert posts(connect) == ["POST /connectors/bad/restart?includeTasks=true&onlyFailed=true"]


def test_restart_skip_setting() -> None:
    assert load([], {}).restart_skip.pattern == DEFAULT_RESTART_SKIP
    assert load(["--restart-skip", ""], {}).restart_skip is None
    assert load([], {"HEALTHCHECK_RESTART_SKIP": "Boom"}).restart_skip.pattern == "Boom"
    with pytest.raises(
        SettingsError, match=r"--restart-skip \(env HEALTHCHECK_RESTART_SKIP\) value '\(': must be a valid"
    ):
        load(["--restart-skip", "("], {})
