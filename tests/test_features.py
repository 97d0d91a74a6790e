"""Beyond the original tool: /metrics, /ready, per-connector health, filters, failure history, auto-restart."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from healthcheck.app import create_app
from healthcheck.service import Service
from healthcheck.settings import Settings, load
from tests.conftest import FakeClock
from tests.fake_connect import FakeConnect, Fault, task

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def client_for(service: Service) -> FlaskClient:
    return create_app(service.settings, service).test_client()


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a text exposition, or fail."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        sample, _, value = line.rpartition(" ")
        sample_name, _, sample_labels = sample.partition("{")
        found = ",".join(sorted(sample_labels.rstrip("}").split(","))) if sample_labels else ""
        if sample_name == name and found == wanted:
            return float(value)
    raise AssertionError(f"no sample {name}{{{wanted}}} in:\n{text}")


# --- /metrics


def test_metrics_show_states_counts_health_and_poll_errors(connect: FakeConnect, service: Service) -> None:
    client = client_for(service)
    connect.set_connector("ok", tasks=[task(0), task(1)])
    connect.set_connector("bad", tasks=[task(0, "FAILED")])
    service.poller.poll_once()
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.get_data(as_text=True)
    p = "kafka_connect_healthcheck_"
    assert metric(text, p + "connector_state", connector="ok", worker_id="127.0.0.1:8083", state="RUNNING") == 1
    assert metric(text, p + "task_state", connector="bad", task="0", worker_id="127.0.0.1:8083", state="FAILED") == 1
    assert metric(text, p + "tasks", state="RUNNING") == 2
    assert metric(text, p + "tasks", state="FAILED") == 1
    assert metric(text, p + "connectors", state="RUNNING") == 2
    assert metric(text, p + "connectors", state="PAUSED") == 0
    assert metric(text, p + "healthy") == 0
    assert metric(text, p + "up") == 1
    assert metric(text, p + "snapshot_age_seconds") == 0
    assert metric(text, p + "poll_duration_seconds_count") == 1
    assert metric(text, p + "poll_errors_total", reason="timeout") == 0
    assert "(from the last poll)" in text

    with connect.faulty(Fault(status=409)):
        service.poller.poll_once()
        service.poller.poll_once()
    text = client.get("/metrics").get_data(as_text=True)
    assert metric(text, p + "up") == 0
    assert metric(text, p + "healthy") == 0
    assert metric(text, p + "poll_errors_total", reason="http_status") == 2
    assert metric(text, p + "poll_duration_seconds_count") == 3


def test_metrics_age_grows_and_stale_is_never_healthy(connect: FakeConnect, service: Service, clock: FakeClock):
    client = client_for(service)
    connect.set_connector("ok")
    service.poller.poll_once()
    p = "kafka_connect_healthcheck_"
    assert metric(client.get("/metrics").get_data(as_text=True), p + "healthy") == 1
    clock.advance(100)
    text = client.get("/metrics").get_data(as_text=True)
    assert metric(text, p + "snapshot_age_seconds") == 100
    assert metric(text, p + "healthy") == 0


def test_metrics_before_the_first_poll_say_down(service: Service) -> None:
    text = client_for(service).get("/metrics").get_data(as_text=True)
    assert metric(text, "kafka_connect_healthcheck_up") == 0
    assert "kafka_connect_healthcheck_snapshot_age_seconds NaN" in text


def test_metrics_scrapes_cause_no_request_to_connect(connect: FakeConnect, service: Service) -> None:
    client = client_for(service)
    connect.set_connector("ok")
    service.poller.poll_once()
    for _ in range(100):
        assert client.get("/metrics").status_code == 200
    assert connect.requests == ["/connectors?expand=status", "/health"]  # the one poll's requests only


# --- /ready


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
    assert response.json["failures"] == [{"type": "worker", "state": state, "message": f"Worker is {state}"}]
    connect.health = (200, {"status": "healthy", "message": "ok"})
    service.poller.poll_once()
    assert client.get("/").status_code == 200
    assert client.get("/ready").status_code == 200


def test_connect_without_health_endpoint_is_asked_once(connect: FakeConnect, service: Service) -> None:
    connect.health = None
    connect.set_connector("ok")
    for _ in range(3):
        service.poller.poll_once()
    assert client_for(service).get("/ready").status_code == 200
    assert connect.path_counts()["/health"] == 1


# --- per-connector health


def test_per_connector_health(connect: FakeConnect, service: Service) -> None:
    client = client_for(service)
    connect.set_connector("ok", tasks=[task(0), task(1)])
    connect.set_connector("bad", tasks=[task(0), task(1, "FAILED", trace="boom")])
    service.poller.poll_once()
    ok = client.get("/connectors/ok")
    assert ok.status_code == 200
    assert ok.json["healthy"] is True
    assert ok.json["failures"] == []
    assert [t["state"] for t in ok.json["tasks"]] == ["RUNNING", "RUNNING"]
    bad = client.get("/connectors/bad")
    assert bad.status_code == 503
    assert [(f["type"], f["id"], f["trace"]) for f in bad.json["failures"]] == [("task", 1, "boom")]
    missing = client.get("/connectors/nope")
    assert missing.status_code == 404
    assert "nope" in missing.json["message"]
    listing = client.get("/connectors")
    assert listing.status_code == 200
    assert [
        (c["name"], c["state"], c["healthy"], [t["state"] for t in c["tasks"]]) for c in listing.json["connectors"]
    ] == [
        ("bad", "RUNNING", False, ["RUNNING", "FAILED"]),
        ("ok", "RUNNING", True, ["RUNNING", "RUNNING"]),
    ]


def test_per_connector_health_follows_the_snapshot(connect: FakeConnect, service: Service) -> None:
    client = client_for(service)
    connect.set_connector("x", tasks=[task(0, "FAILED")])
    service.poller.poll_once()
    assert client.get("/connectors/x").status_code == 503
    connect.set_connector("x")
    service.poller.poll_once()
    assert client.get("/connectors/x").status_code == 200
    connect.delete_connector("x")
    service.poller.poll_once()
    assert client.get("/connectors/x").status_code == 404


def test_per_connector_endpoints_say_when_connect_is_unreadable(connect: FakeConnect, service: Service) -> None:
    client = client_for(service)
    with connect.faulty(Fault(status=500)):
        service.poller.poll_once()
    for path in ("/connectors", "/connectors/x"):
        response = client.get(path)
        assert response.status_code == 503
        assert "HTTP 500" in response.json["error"]


# --- filters


def test_include_and_exclude_filters(connect: FakeConnect, settings: Settings, make_service) -> None:
    connect.set_connector("orders-sink", tasks=[task(0, "FAILED")])
    connect.set_connector("orders-source")
    connect.set_connector("audit-sink", tasks=[task(0, "FAILED")])
    only_orders = make_service(settings, include_connectors=re.compile("orders-.*"))
    client = client_for(only_orders)
    only_orders.poller.poll_once()
    body = client.get("/").json
    assert [f["connector"] for f in body["failures"]] == ["orders-sink"]
    assert body["failure_rate"] == pytest.approx(1 / 4)  # audit-sink counts nowhere
    assert client.get("/connectors/audit-sink").status_code == 404
    no_sinks = make_service(
        settings, include_connectors=re.compile("orders-.*"), exclude_connectors=re.compile(".*-sink")
    )
    no_sinks.poller.poll_once()
    assert client_for(no_sinks).get("/").status_code == 200


def test_invalid_filter_regex_is_a_setting_error() -> None:
    with pytest.raises(ValueError, match=r"--include-connectors.*'orders-\(': must be a valid regular expression"):
        load(["--include-connectors", "orders-("], {})


def test_filter_matches_the_whole_name() -> None:
    settings = load([], {"HEALTHCHECK_EXCLUDE_CONNECTORS": "sink"})
    assert settings.exclude_connectors is not None
    assert settings.exclude_connectors.fullmatch("my-sink") is None


# --- failure history


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


# --- auto-restart


@pytest.fixture
def restarting(settings: Settings, make_service: Callable[..., Service]) -> Service:
    """A service with auto-restart on: first retry after 10 s, at most 3 attempts."""
    return make_service(settings, auto_restart=True, restart_backoff=10.0, restart_max_attempts=3, max_staleness=1e6)


def restart_posts(connect: FakeConnect) -> list[str]:
    return [r for r in connect.requests if r.startswith("POST")]


def test_auto_restart_backs_off_and_gives_up(connect: FakeConnect, restarting: Service, clock: FakeClock) -> None:
    client = client_for(restarting)
    connect.set_connector("bad", tasks=[task(0), task(1, "FAILED")])
    restarting.poller.poll_once()
    assert restart_posts(connect) == ["POST /connectors/bad/restart?includeTasks=true&onlyFailed=true"]
    failure = client.get("/").json["failures"][0]
    assert failure["restart_attempts"] == 1
    assert ISO.fullmatch(failure["next_restart"])
    # schedule: attempt 1 at once, 2 after 10 s, 3 after 20 s more, then no more
    for advance, expected_posts in [(5, 1), (5, 2), (10, 2), (10, 3), (3600, 3), (3600, 3)]:
        clock.advance(advance)
        restarting.poller.poll_once()
        assert len(restart_posts(connect)) == expected_posts, f"after +{advance} s"
    failure = client.get("/").json["failures"][0]
    assert failure["restart_attempts"] == 3
    assert failure["restarts_exhausted"] is True
    assert "next_restart" not in failure
    text = client.get("/metrics").get_data(as_text=True)
    assert metric(text, "kafka_connect_healthcheck_restarts_total", connector="bad", result="ok") == 3


def test_auto_restart_recovers_and_resets_the_count(
    connect: FakeConnect, restarting: Service, clock: FakeClock
) -> None:
    client = client_for(restarting)
    connect.heal_on_restart = True
    connect.set_connector("flaky", tasks=[task(0, "FAILED")])
    restarting.poller.poll_once()  # restart 1: the fake heals it
    restarting.poller.poll_once()
    assert client.get("/").status_code == 200
    clock.advance(11)  # healthy for longer than the next delay: the count resets
    restarting.poller.poll_once()
    connect.set_connector("flaky", tasks=[task(0, "FAILED")])
    restarting.poller.poll_once()
    assert len(restart_posts(connect)) == 2  # at once again, not after a backoff
    assert client.get("/").status_code == 503  # what the poll saw before its restart


def test_a_task_that_fails_right_after_each_restart_keeps_backing_off(
    connect: FakeConnect, restarting: Service, clock: FakeClock
) -> None:
    connect.set_connector("storm", tasks=[task(0, "FAILED")])
    restarting.poller.poll_once()
    connect.set_connector("storm", tasks=[task(0, "RUNNING")])
    clock.advance(1)
    restarting.poller.poll_once()  # briefly fine...
    connect.set_connector("storm", tasks=[task(0, "FAILED")])
    clock.advance(1)
    restarting.poller.poll_once()  # ...and failed again: still within the 10 s backoff
    assert len(restart_posts(connect)) == 1


def test_auto_restart_on_old_connect_restarts_connector_then_each_failed_task(
    connect: FakeConnect, restarting: Service
) -> None:
    connect.legacy = True
    connect.set_connector("old", tasks=[task(0, "FAILED"), task(1), task(2, "FAILED")])
    restarting.poller.poll_once()
    assert restart_posts(connect) == [
        "POST /connectors/old/restart?includeTasks=true&onlyFailed=true",
        "POST /connectors/old/tasks/0/restart",
        "POST /connectors/old/tasks/2/restart",
    ]


def test_auto_restart_only_touches_the_monitored_worker_and_failed_state(
    connect: FakeConnect, settings: Settings, make_service
) -> None:
    service = make_service(
        settings, auto_restart=True, connect_worker_id="me:8083", unhealthy_states=("FAILED", "PAUSED")
    )
    connect.set_connector("theirs", tasks=[task(0, "FAILED", worker_id="other:8083")], worker_id="me:8083")
    connect.set_connector("paused", "PAUSED", tasks=[task(0, "PAUSED", worker_id="me:8083")], worker_id="me:8083")
    service.poller.poll_once()
    assert restart_posts(connect) == []


def test_a_failed_restart_counts_and_is_logged(
    connect: FakeConnect, restarting: Service, caplog: pytest.LogCaptureFixture
) -> None:
    connect.set_connector("bad", tasks=[task(0, "FAILED")])
    with connect.faulty(Fault(status=409, paths=("/connectors/bad/restart",))):
        restarting.poller.poll_once()
    assert any("restart 1/3 of connector 'bad' failed" in r.getMessage() for r in caplog.records)
    text = client_for(restarting).get("/metrics").get_data(as_text=True)
    assert metric(text, "kafka_connect_healthcheck_restarts_total", connector="bad", result="error") == 1


def test_auto_restart_is_off_by_default(connect: FakeConnect, service: Service) -> None:
    connect.set_connector("bad", tasks=[task(0, "FAILED")])
    service.poller.poll_once()
    assert restart_posts(connect) == []
    assert "restart_attempts" not in client_for(service).get("/").json["failures"][0]


@pytest.mark.parametrize("raw", ["true", "YES", "1", "True"])
def test_boolean_settings_accept_the_usual_words(raw: str) -> None:
    assert load([], {"HEALTHCHECK_AUTO_RESTART": raw}).auto_restart is True


@pytest.mark.parametrize("raw", ["false", "No", "0"])
def test_boolean_settings_accept_the_usual_no_words(raw: str) -> None:
    assert load([], {"HEALTHCHECK_AUTO_RESTART": raw}).auto_restart is False


def test_a_bad_boolean_names_the_setting() -> None:
    with pytest.raises(ValueError, match=r"HEALTHCHECK_AUTO_RESTART.*'maybe'.*true, false"):
        load([], {"HEALTHCHECK_AUTO_RESTART": "maybe"})


# --- hide traces


def test_hide_traces_leaves_traces_out(connect: FakeConnect, settings: Settings, make_service) -> None:
    service = make_service(settings, hide_traces=True)
    connect.set_connector("c", "FAILED", tasks=[task(0, "FAILED", trace="secret.internal.Host: boom")], trace="x")
    service.poller.poll_once()
    client = client_for(service)
    for path in ("/", "/connectors/c", "/connectors"):
        assert b"secret.internal" not in client.get(path).data
    failures = client.get("/").json["failures"]
    assert "trace" not in failures[0]  # the connector entry
    assert failures[1]["trace"] is None  # a task entry keeps the key, as the original tool's does
