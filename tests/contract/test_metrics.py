"""GET /metrics: Prometheus gauges from the snapshot, counters across polls, and no request to Connect."""

from __future__ import annotations

import pytest

from healthcheck.service import Service
from tests.conftest import FakeClock, client_for
from tests.exposition import metric
from tests.fake_connect import FakeConnect, Fault, task


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
    assert connect.requests == ["/connectors?expand=status&expand=info", "/health"]  # the one poll's requests only


def test_a_poll_that_fails_after_the_fetch_is_counted_once(
    connect: FakeConnect, service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect.set_connector("ok")

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("a bug in rendering")

    monkeypatch.setattr("healthcheck.render.health_doc", broken)  # fails after Connect answered
    service.poller.poll_once()
    text = client_for(service).get("/metrics").get_data(as_text=True)
    p = "kafka_connect_healthcheck_"
    assert metric(text, p + "polls_total", result="ok") + metric(text, p + "polls_total", result="error") == 1
    assert metric(text, p + "poll_errors_total", reason="internal") == 1
    assert metric(text, p + "poll_duration_seconds_count") == 1


def test_metrics_have_no_created_series(connect: FakeConnect, service: Service) -> None:
    service.poller.poll_once()
    text = client_for(service).get("/metrics").get_data(as_text=True)
    assert [line for line in text.splitlines() if "_created" in line] == []
