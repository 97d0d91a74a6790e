"""GET / (and HEAD): the original tool's contract, and the verdict's settings as a probe sees them."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from flask.testing import FlaskClient

from healthcheck.app import create_app
from healthcheck.service import Service
from healthcheck.settings import Settings
from tests.conftest import FakeClock, client_for, poll_and_get
from tests.fake_connect import TRACE, WORKER, FakeConnect, Fault, task


def without_since(failures: list[dict]) -> list[dict]:
    """Failure entries minus "since", which tests/unit/test_history.py covers."""
    assert all(failure["since"] for failure in failures)
    return [{k: v for k, v in failure.items() if k != "since"} for failure in failures]


def test_before_the_first_poll_it_is_503_with_no_status_yet(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 503
    assert response.json == {
        "healthy": False,
        "status": "fail",
        "message": "No status yet: the first poll of Kafka Connect has not finished.",
        "failure_states": ["FAILED"],
    }


def test_all_running_is_200_with_the_original_tools_body(
    connect: FakeConnect, service: Service, client: FlaskClient
) -> None:
    connect.set_connector("source", tasks=[task(0), task(1)])
    connect.set_connector("sink")
    response = poll_and_get(service, client)
    assert response.status_code == 200
    body = response.json
    assert body.pop("checked_at")
    assert body == {
        "failures": [],
        "failure_states": ["FAILED"],
        "failure_rate": 0.0,
        "failure_threshold": 0.0,
        "healthy": True,
        "status": "pass",
    }


def test_checked_at_is_iso8601_utc(connect: FakeConnect, service: Service, client: FlaskClient) -> None:
    checked_at = poll_and_get(service, client).json["checked_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", checked_at)
    assert datetime.fromisoformat(checked_at.replace("Z", "+00:00")).tzinfo is not None


def test_a_failed_task_is_503_with_a_task_entry_and_its_trace(
    connect: FakeConnect, service: Service, client: FlaskClient
) -> None:
    connect.set_connector("ok")
    connect.set_connector("bad-sink", tasks=[task(0), task(1, "FAILED", trace=TRACE)])
    response = poll_and_get(service, client)
    assert response.status_code == 503
    assert response.json["healthy"] is False
    assert without_since(response.json["failures"]) == [
        {
            "type": "task",
            "connector": "bad-sink",
            "id": 1,
            "state": "FAILED",
            "worker_id": WORKER,
            "trace": TRACE,
            "cause": "org.apache.kafka.connect.errors.ConnectException: Couldn't find or create file",
        }
    ]
    assert response.json["failure_rate"] == pytest.approx(1 / 5)


def test_a_task_without_trace_has_trace_null(connect: FakeConnect, service: Service, client: FlaskClient) -> None:
    connect.set_connector("x", tasks=[task(0, "FAILED")])
    assert poll_and_get(service, client).json["failures"][0]["trace"] is None


def test_a_failed_connector_entry_has_trace_only_when_connect_gave_one(
    connect: FakeConnect, service: Service, client: FlaskClient
) -> None:
    connect.set_connector("with-trace", "FAILED", tasks=[], trace=TRACE)
    connect.set_connector("without-trace", "FAILED", tasks=[])
    failures = without_since(poll_and_get(service, client).json["failures"])
    cause = TRACE.splitlines()[0]
    assert failures == [
        {"type": "connector", "connector": "with-trace", "state": "FAILED", "worker_id": WORKER, "trace": TRACE}
        | {"cause": cause},
        {"type": "connector", "connector": "without-trace", "state": "FAILED", "worker_id": WORKER, "cause": "FAILED"},
    ]


def test_head_has_the_same_status_and_length_but_no_body(
    connect: FakeConnect, service: Service, client: FlaskClient
) -> None:
    connect.set_connector("x", tasks=[task(0, "FAILED")])
    get = poll_and_get(service, client)
    head = client.head("/")
    assert head.status_code == get.status_code == 503
    assert head.data == b""
    assert head.headers["Content-Length"] == str(len(get.data))


@pytest.mark.parametrize(
    ("fault", "reason", "error_text"),
    [
        (Fault(status=500), "http_status", "HTTP 500"),
        (Fault(status=503), "http_status", "HTTP 503"),
        (Fault(status=409), "http_status", "rebalance"),
        (Fault(body=b'{"a": '), "bad_response", "malformed JSON"),
        (Fault(body=b'{"x": {"status": {"connector": 7}}}'), "bad_response", "connector 'x'"),
        (Fault(body=b'"just a string"'), "bad_response", "expected an object or a list"),
        (Fault(close_mid_body=True), "connection", "closed before the whole body"),
        (Fault(hang=True), "timeout", "no answer within 1 s"),
    ],
    ids=["500", "503", "409-rebalance", "malformed", "wrong-shape", "wrong-type", "cut-mid-body", "hang"],
)
def test_a_bad_answer_from_connect_is_503_with_the_error_and_heals_on_the_next_poll(
    connect: FakeConnect,
    service: Service,
    client: FlaskClient,
    caplog: pytest.LogCaptureFixture,
    fault: Fault,
    reason: str,
    error_text: str,
) -> None:
    connect.set_connector("x")
    assert poll_and_get(service, client).status_code == 200
    with connect.faulty(fault):
        response = poll_and_get(service, client)
    assert response.status_code == 503
    body = response.json
    assert body["healthy"] is False
    assert body["reason"] == reason
    assert error_text in body["error"]
    assert body["message"] == "Could not read the status of Kafka Connect; assuming unhealthy."
    assert body["failure_states"] == ["FAILED"]
    assert any(r.levelname == "ERROR" and error_text in r.getMessage() for r in caplog.records)
    assert poll_and_get(service, client).status_code == 200


def test_connect_refusing_connections_is_503_naming_the_url(settings: Settings, make_service, connect) -> None:
    connect.stop()
    service = make_service(settings)
    client = create_app(service.settings, service).test_client()
    body = poll_and_get(service, client).json
    assert body["reason"] == "connection"
    assert connect.url in body["error"]
    assert "Connection refused" in body["error"]


def test_a_stale_snapshot_is_never_healthy(
    connect: FakeConnect, service: Service, client: FlaskClient, clock: FakeClock
) -> None:
    connect.set_connector("x")
    assert poll_and_get(service, client).status_code == 200
    clock.advance(service.settings.max_staleness - 0.5)
    assert client.get("/").status_code == 200
    clock.advance(42.0)
    response = client.get("/")
    assert response.status_code == 503
    assert response.json["healthy"] is False
    assert "stale" in response.json["message"]
    assert "56.5 s old" in response.json["message"]
    assert response.json["age_seconds"] == pytest.approx(56.5)
    assert client.head("/").status_code == 503
    service.poller.poll_once()
    assert client.get("/").status_code == 200


def test_worker_filter_judges_only_the_monitored_worker(connect: FakeConnect, settings, make_service) -> None:
    connect.set_connector("mine", tasks=[task(0, worker_id="10.0.0.1:8083")], worker_id="10.0.0.1:8083")
    connect.set_connector("theirs", tasks=[task(0, "FAILED", worker_id="10.0.0.2:8083")], worker_id="10.0.0.1:8083")
    mine = make_service(settings, connect_worker_id="10.0.0.1:8083")
    assert poll_and_get(mine, create_app(mine.settings, mine).test_client()).status_code == 200
    theirs = make_service(settings, connect_worker_id="10.0.0.2:8083")
    response = poll_and_get(theirs, create_app(theirs.settings, theirs).test_client())
    assert response.status_code == 503
    assert [f["worker_id"] for f in response.json["failures"]] == ["10.0.0.2:8083"]


def test_paused_is_healthy_by_default_and_unhealthy_when_listed(connect, settings, make_service) -> None:
    connect.set_connector("p", "PAUSED", tasks=[task(0, "PAUSED")])
    default = make_service(settings)
    assert poll_and_get(default, create_app(default.settings, default).test_client()).status_code == 200
    strict = make_service(settings, unhealthy_states=("FAILED", "PAUSED"))
    response = poll_and_get(strict, create_app(strict.settings, strict).test_client())
    assert response.status_code == 503
    assert response.json["failure_states"] == ["FAILED", "PAUSED"]
    assert [f["type"] for f in response.json["failures"]] == ["connector", "task"]


def test_threshold_tolerates_a_share_of_failures(connect, settings, make_service) -> None:
    for i in range(5):
        connect.set_connector(f"c{i}", tasks=[task(0, "FAILED" if i == 0 else "RUNNING")])
    tolerant = make_service(settings, failure_threshold_percentage=10.0)
    response = poll_and_get(tolerant, create_app(tolerant.settings, tolerant).test_client())
    assert response.status_code == 200
    assert response.json["failure_rate"] == 0.1
    assert response.json["failure_threshold"] == 0.1
    assert len(response.json["failures"]) == 1
    strict = make_service(settings, failure_threshold_percentage=5.0)
    assert poll_and_get(strict, create_app(strict.settings, strict).test_client()).status_code == 503


def test_considered_containers_task_only_ignores_connector_states(connect, settings, make_service) -> None:
    connect.set_connector("x", "FAILED", tasks=[task(0)])
    tasks_only = make_service(settings, considered_containers=("TASK",))
    assert poll_and_get(tasks_only, create_app(tasks_only.settings, tasks_only).test_client()).status_code == 200


def test_a_thousand_probes_cause_no_request_to_connect(
    connect: FakeConnect, service: Service, client: FlaskClient
) -> None:
    connect.set_connector("x")
    service.poller.poll_once()
    before = connect.request_count()
    for _ in range(500):
        assert client.get("/").status_code == 200
        assert client.head("/").status_code == 200
    assert connect.request_count() == before
    assert connect.requests == ["/connectors?expand=status&expand=info", "/health"]


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


def test_hide_traces_leaves_traces_out_but_keeps_the_one_line_cause(
    connect: FakeConnect, settings: Settings, make_service
) -> None:
    service = make_service(settings, hide_traces=True)
    trace = "org.example.Boom: outer\n\tat secret.internal.Host.run(Host.java:1)\nCaused by: java.io.IOException: disk"
    connect.set_connector("c", "FAILED", tasks=[task(0, "FAILED", trace=trace)], trace="x")
    service.poller.poll_once()
    client = client_for(service)
    for path in ("/", "/connectors/c", "/connectors"):
        assert b"secret.internal" not in client.get(path).data
    failures = client.get("/").json["failures"]
    assert "trace" not in failures[0]  # the connector entry
    assert failures[1]["trace"] is None  # a task entry keeps the key, as the original tool's does
    assert [f["cause"] for f in failures] == ["x", "java.io.IOException: disk"]
