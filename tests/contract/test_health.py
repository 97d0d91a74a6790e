"""The HTTP contract of `/` and `/ping`, through the Flask app, with the poller reading a fake Connect over HTTP."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from flask.testing import FlaskClient

from healthcheck.app import create_app
from healthcheck.service import Service
from healthcheck.settings import BasicAuth, Settings
from tests.conftest import FakeClock
from tests.fake_connect import WORKER, FakeConnect, Fault, task

TRACE = "org.apache.kafka.connect.errors.ConnectException: Couldn't find or create file\n\tat org.apache.Foo.bar"


def without_since(failures: list[dict]) -> list[dict]:
    """Failure entries minus "since", which tests/test_features.py covers."""
    assert all(failure["since"] for failure in failures)
    return [{k: v for k, v in failure.items() if k != "since"} for failure in failures]


def poll_and_get(service: Service, client: FlaskClient, path: str = "/"):
    service.poller.poll_once()
    return client.get(path)


def test_before_the_first_poll_it_is_503_with_no_status_yet(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 503
    assert response.json == {
        "healthy": False,
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
        {"type": "task", "connector": "bad-sink", "id": 1, "state": "FAILED", "worker_id": WORKER, "trace": TRACE}
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
    assert failures == [
        {"type": "connector", "connector": "with-trace", "state": "FAILED", "worker_id": WORKER, "trace": TRACE},
        {"type": "connector", "connector": "without-trace", "state": "FAILED", "worker_id": WORKER},
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


def test_ping_is_up_whatever_connect_says(connect: FakeConnect, service: Service, client: FlaskClient) -> None:
    assert client.get("/ping").json == {"status": "UP"}
    with connect.faulty(Fault(status=500)):
        service.poller.poll_once()
    response = client.get("/ping")
    assert response.status_code == 200
    assert response.json == {"status": "UP"}
    assert client.head("/ping").status_code == 200


@pytest.mark.parametrize("path", ["/", "/ping", "/nope", "/connectors/x/status"])
def test_every_response_is_json_and_never_cached(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert isinstance(response.json, dict)


def test_unknown_path_is_404_json(client: FlaskClient) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json["status"] == 404
    assert response.json["error"] == "Not Found"


@pytest.mark.parametrize("path", ["/", "/ping"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_wrong_method_is_405_json_saying_what_is_allowed(client: FlaskClient, path: str, method: str) -> None:
    response = client.open(path, method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert response.json["status"] == 405
    assert response.headers["Cache-Control"] == "no-store"


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
        "/connectors?expand=status",
        "/connectors/a%20b%2Fc/status",
        "/connectors/ok/status",
        "/health",  # 404 on Connect before 3.9: asked once, then never again
    ]
    service.poller.poll_once()
    assert connect.requests[4:] == [
        "/connectors?expand=status",
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


def test_basic_auth_is_sent_and_the_password_never_shows(make_service, clock) -> None:
    connect = FakeConnect(auth=("admin", "s3cr3t:pw")).start()
    try:
        connect.set_connector("x")
        good = make_service(Settings(connect_url=connect.url, basic_auth=BasicAuth("admin", "s3cr3t:pw")))
        client = create_app(good.settings, good).test_client()
        assert poll_and_get(good, client).status_code == 200
        wrong = make_service(Settings(connect_url=connect.url, basic_auth=BasicAuth("admin", "nope-pw")))
        client = create_app(wrong.settings, wrong).test_client()
        response = poll_and_get(wrong, client)
        assert response.status_code == 503
        assert "HTTP 401" in response.json["error"]
        assert b"nope-pw" not in response.data
        assert "nope-pw" not in repr(wrong.settings)
    finally:
        connect.stop()


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
    assert connect.requests == ["/connectors?expand=status", "/health"]


def test_the_body_is_built_once_per_poll_not_per_probe(connect, service: Service, client: FlaskClient) -> None:
    connect.set_connector("x")
    service.poller.poll_once()
    snapshot = service.store.current()
    assert service.answers.health(service.clock()) is snapshot.answer
    assert client.get("/").data == snapshot.body
