"""Issue 14 over real HTTP: NO_TASKS, causes, the pass/warn/fail level, and a worker id that matches nothing."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import pytest
import requests
from werkzeug.serving import make_server

from healthcheck.app import create_app
from healthcheck.service import Service
from healthcheck.settings import Settings
from healthcheck.worker_identity import own_worker_ids
from tests.conftest import FakeClock
from tests.exposition import metric
from tests.fake_connect import WORKER, FakeConnect, Fault, task

CONFIG_TRACE = (
    "org.apache.kafka.connect.errors.ConnectException: Failed to start\n"
    "\tat org.apache.kafka.connect.runtime.WorkerConnector.doStart(WorkerConnector.java:219)\n"
    'Caused by: org.apache.kafka.common.config.ConfigException: Missing required configuration "file"\n'
    "\t... 10 more\n"
)


class Served:
    """A Service behind a real HTTP server on 127.0.0.1; the test decides when it polls."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self._server = make_server("127.0.0.1", 0, create_app(service.settings, service), threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="healthcheck-http", daemon=True)
        self._thread.start()

    def poll(self) -> Served:
        self.service.poller.poll_once()
        return self

    def get(self, path: str = "/", **headers: str) -> requests.Response:
        return requests.get(self.url + path, headers=headers, timeout=5)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def serve(settings: Settings, make_service: Callable[..., Service]) -> Iterator[Callable[..., Served]]:
    """Serve a Service built from the fake's settings with overrides, over real HTTP."""
    servers: list[Served] = []

    def start(**overrides: object) -> Served:
        servers.append(Served(make_service(settings, **overrides)))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


# --- NO_TASKS


def test_a_running_connector_without_tasks_is_no_tasks_when_listed(
    connect: FakeConnect, serve: Callable[..., Served]
) -> None:
    connect.set_connector("mirror", tasks=[], config={"connector.class": "x.MirrorSourceConnector", "tasks.max": "4"})
    connect.set_connector("ok", tasks=[task(0)])
    assert serve().poll().get().status_code == 200  # not a failure by default
    server = serve(unhealthy_states=("FAILED", "NO_TASKS")).poll()
    response = server.get()
    assert response.status_code == 503
    [failure] = response.json()["failures"]
    assert {k: v for k, v in failure.items() if k != "since"} == {
        "type": "connector",
        "connector": "mirror",
        "state": "NO_TASKS",
        "worker_id": WORKER,
        "cause": "the connector is RUNNING but has no tasks (tasks.max is 4)",
    }
    assert response.json()["failure_states"] == ["FAILED", "NO_TASKS"]
    detail = server.get("/connectors/mirror")
    assert detail.status_code == 503
    assert (detail.json()["tasks_max"], detail.json()["tasks_running"]) == (4, 0)
    assert detail.json()["failures"][0]["state"] == "NO_TASKS"


def test_no_tasks_counts_only_after_unhealthy_after_like_any_state(
    connect: FakeConnect, serve: Callable[..., Served], clock: FakeClock
) -> None:
    # A new connector is RUNNING for a moment before its tasks start: --unhealthy-after rides that out.
    connect.set_connector("new", tasks=[])
    server = serve(unhealthy_states=("NO_TASKS",), unhealthy_after=30.0).poll()
    first = server.get()
    assert (first.status_code, first.json()["status"]) == (200, "warn")
    assert first.json()["failures"][0]["counted"] is False
    clock.advance(31)
    assert server.poll().get().status_code == 503
    connect.set_connector("new", tasks=[task(0)])
    assert server.poll().get().json()["status"] == "pass"


def test_fewer_tasks_than_tasks_max_is_shown_but_healthy(connect: FakeConnect, serve: Callable[..., Served]) -> None:
    connect.set_connector("jdbc", tasks=[task(0), task(1, "UNASSIGNED")], config={"tasks.max": "8"})
    server = serve(unhealthy_states=("FAILED", "NO_TASKS")).poll()
    assert server.get().json()["status"] == "pass"
    listed = server.get("/connectors").json()["connectors"][0]
    assert (listed["tasks_max"], listed["tasks_running"]) == (8, 1)


# --- cause


def test_the_cause_is_the_innermost_caused_by_in_the_body_and_the_log(
    connect: FakeConnect, serve: Callable[..., Served], caplog: pytest.LogCaptureFixture
) -> None:
    connect.set_connector("orders", "FAILED", tasks=[], trace=CONFIG_TRACE)
    with caplog.at_level(logging.WARNING, logger="healthcheck.poller"):
        response = serve().poll().get()
    cause = 'org.apache.kafka.common.config.ConfigException: Missing required configuration "file"'
    assert response.json()["failures"][0]["cause"] == cause
    assert f"connector 'orders' is unhealthy: FAILED on {WORKER}: {cause}" in caplog.text


# --- pass / warn / fail


def test_levels_pass_warn_fail_with_the_status_codes_of_before(
    connect: FakeConnect, serve: Callable[..., Served]
) -> None:
    for i in range(10):
        connect.set_connector(f"c{i}", tasks=[])
    server = serve(considered_containers=("CONNECTOR",), failure_threshold_percentage=10.0)
    answer = server.poll().get()
    assert (answer.status_code, answer.json()["status"], answer.json()["healthy"]) == (200, "pass", True)
    connect.set_connector("c0", "FAILED", tasks=[])  # 1 of 10: within the 10 % threshold
    answer = server.poll().get()
    assert (answer.status_code, answer.json()["status"], answer.json()["healthy"]) == (200, "warn", True)
    assert len(answer.json()["failures"]) == 1
    connect.set_connector("c1", "FAILED", tasks=[])  # 2 of 10: over it
    answer = server.poll().get()
    assert (answer.status_code, answer.json()["status"], answer.json()["healthy"]) == (503, "fail", False)


def test_metrics_show_the_level(connect: FakeConnect, serve: Callable[..., Served], clock: FakeClock) -> None:
    connect.set_connector("c", "FAILED", tasks=[])
    server = serve(unhealthy_after=60.0)

    def levels() -> dict[str, float]:
        text = server.get("/metrics").text
        return {s: metric(text, "kafka_connect_healthcheck_status", status=s) for s in ("pass", "warn", "fail")}

    assert levels() == {"pass": 0, "warn": 0, "fail": 1}  # no poll yet
    server.poll()
    assert levels() == {"pass": 0, "warn": 1, "fail": 0}
    clock.advance(61)
    server.poll()
    assert levels() == {"pass": 0, "warn": 0, "fail": 1}
    clock.advance(server.service.settings.max_staleness + 1)
    assert levels() == {"pass": 0, "warn": 0, "fail": 1}  # stale is never anything but fail


# --- a worker id that matches nothing


def test_a_worker_id_that_matches_nothing_warns_in_body_ready_metrics_and_log_once(
    connect: FakeConnect, serve: Callable[..., Served], caplog: pytest.LogCaptureFixture
) -> None:
    connect.set_connector("c", "FAILED", tasks=[task(0, "FAILED")])
    server = serve(connect_worker_id="127.0.0.1:8038")  # a typo of the worker's 127.0.0.1:8083
    with caplog.at_level(logging.WARNING, logger="healthcheck.poller"):
        server.poll().poll()
    root = server.get()
    assert (root.status_code, root.json()["status"]) == (200, "warn")
    expected = (
        "--connect-worker-id '127.0.0.1:8038' matches no connector or task, so nothing is judged; "
        "the connectors and tasks run on: 127.0.0.1:8083"
    )
    assert root.json()["warning"] == expected
    ready = server.get("/ready")
    assert (ready.status_code, ready.json()["warning"]) == (200, expected)
    assert metric(server.get("/metrics").text, "kafka_connect_healthcheck_worker_id_unmatched") == 1
    assert caplog.text.count(expected) == 1  # once, not per poll

    right = serve(connect_worker_id=WORKER).poll()
    assert "warning" not in right.get().json() and "warning" not in right.get("/ready").json()
    assert right.get().status_code == 503
    assert metric(right.get("/metrics").text, "kafka_connect_healthcheck_worker_id_unmatched") == 0


def test_an_empty_cluster_is_no_reason_to_warn(connect: FakeConnect, serve: Callable[..., Served]) -> None:
    assert "warning" not in serve(connect_worker_id="10.0.0.9:8083").poll().get().json()


# --- application/health+json

HEALTH_JSON = "application/health+json"


def test_health_json_for_root_has_a_check_per_connector_task_and_the_worker(
    connect: FakeConnect, serve: Callable[..., Served]
) -> None:
    connect.set_connector("orders", tasks=[task(0), task(1, "FAILED", trace=CONFIG_TRACE)])
    connect.set_connector("audit", "PAUSED", tasks=[task(0, "PAUSED")])
    server = serve().poll()
    answer = server.get(Accept=HEALTH_JSON)
    assert answer.status_code == 503
    assert answer.headers["Content-Type"] == HEALTH_JSON
    assert answer.headers["Cache-Control"] == "no-store"
    doc = answer.json()
    checked_at = server.get().json()["checked_at"]
    assert doc["status"] == "fail"
    assert doc["output"] == "1 of 5 considered failing (rate 0.200, threshold 0.000)"
    assert list(doc["checks"]) == [
        "connector:audit",
        "task:audit-0",
        "connector:orders",
        "task:orders-0",
        "task:orders-1",
        "worker:health",
    ]
    assert doc["checks"]["task:orders-1"] == [
        {
            "componentId": "orders-1",
            "componentType": "task",
            "observedValue": "FAILED",
            "status": "fail",
            "time": checked_at,
            "output": 'org.apache.kafka.common.config.ConfigException: Missing required configuration "file"',
        }
    ]
    assert doc["checks"]["connector:audit"][0]["status"] == "pass"  # PAUSED is not a failure by default
    assert doc["checks"]["worker:health"][0]["observedValue"] == "healthy"
    assert "output" not in doc["checks"]["task:orders-0"][0]


def test_health_json_levels_give_2xx_for_pass_and_warn_and_503_for_fail(
    connect: FakeConnect, serve: Callable[..., Served], clock: FakeClock
) -> None:
    connect.set_connector("orders")
    server = serve(unhealthy_after=30.0).poll()
    assert (server.get(Accept=HEALTH_JSON).status_code, server.get(Accept=HEALTH_JSON).json()["status"]) == (
        200,
        "pass",
    )
    connect.set_connector("orders", tasks=[task(0, "FAILED")])
    server.poll()
    warn = server.get(Accept=HEALTH_JSON)
    assert (warn.status_code, warn.json()["status"]) == (200, "warn")
    assert warn.json()["checks"]["task:orders-0"][0]["status"] == "warn"  # listed, not counted yet
    clock.advance(31)
    server.poll()
    assert server.get(Accept=HEALTH_JSON).status_code == 503


def test_health_json_for_a_connector_and_ready(connect: FakeConnect, serve: Callable[..., Served]) -> None:
    connect.set_connector("orders", "FAILED", tasks=[], trace=CONFIG_TRACE)
    connect.set_connector("ok")
    server = serve().poll()
    orders = server.get("/connectors/orders", Accept=HEALTH_JSON)
    assert (orders.status_code, orders.headers["Content-Type"]) == (503, HEALTH_JSON)
    assert list(orders.json()["checks"]) == ["connector:orders"]
    assert orders.json()["output"].startswith("org.apache.kafka.common.config.ConfigException")
    ok = server.get("/connectors/ok", Accept=HEALTH_JSON)
    assert (ok.status_code, ok.json()["status"], list(ok.json()["checks"])) == (
        200,
        "pass",
        ["connector:ok", "task:ok-0"],
    )
    ready = server.get("/ready", Accept=HEALTH_JSON)
    assert (ready.status_code, ready.json()["status"], ready.json()["output"]) == (
        200,
        "pass",
        "Connect answered the last poll.",
    )
    assert server.get("/connectors/nope", Accept=HEALTH_JSON).status_code == 404


def test_health_json_before_the_first_poll_and_when_stale_is_fail(
    connect: FakeConnect, serve: Callable[..., Served], clock: FakeClock
) -> None:
    server = serve()
    for path in ("/", "/ready", "/connectors/x"):
        answer = server.get(path, Accept=HEALTH_JSON)
        assert (answer.status_code, answer.json()["status"]) == (503, "fail"), path
        assert answer.json()["output"] == "No status yet: the first poll of Kafka Connect has not finished."
    server.poll()
    clock.advance(server.service.settings.max_staleness + 1)
    stale = server.get(Accept=HEALTH_JSON)
    assert (stale.status_code, stale.headers["Content-Type"]) == (503, HEALTH_JSON)
    assert stale.json()["output"].startswith("Status is stale")


@pytest.mark.parametrize(
    ("accept", "health_json"),
    [
        (None, False),
        ("*/*", False),
        ("application/json", False),
        (HEALTH_JSON, True),
        (f"{HEALTH_JSON}, application/json;q=0.5", True),
        (f"application/json, {HEALTH_JSON};q=0.5", False),  # the client prefers plain JSON
        (f"{HEALTH_JSON};q=0", False),  # q=0: "not acceptable"
        (f"text/html, {HEALTH_JSON}", True),
    ],
)
def test_content_negotiation(
    connect: FakeConnect, serve: Callable[..., Served], accept: str | None, health_json: bool
) -> None:
    connect.set_connector("orders")
    server = serve().poll()
    headers = {} if accept is None else {"Accept": accept}
    for path in ("/", "/ready", "/connectors/orders"):
        answer = server.get(path, **headers)
        assert (answer.headers["Content-Type"] == HEALTH_JSON) is health_json, path
        assert ("checked_at" in answer.json()) is not health_json, path
        # either representation says it depends on Accept, so no cache on the way serves one for the other
        assert answer.headers["Vary"] == "Accept", path


def test_health_json_is_built_once_per_poll_not_per_request(connect: FakeConnect, serve: Callable[..., Served]) -> None:
    connect.set_connector("orders")
    server = serve().poll()
    answers = server.service.answers
    now = server.service.clock()
    first = answers.health(now, as_health_json=True)
    assert answers.health(now, as_health_json=True) is first  # the same bytes object: no render per request
    assert answers.ready(now, as_health_json=True) is answers.ready(now, as_health_json=True)
    server.poll()
    assert answers.health(now, as_health_json=True) is not first  # a new poll, a new body


def test_health_json_of_the_probe_paths_is_rendered_by_the_poll(
    connect: FakeConnect, serve: Callable[..., Served]
) -> None:
    """The probe server answers `/` and `/ready` on its event loop: their health+json bytes must already exist
    when the snapshot is published, for a healthy poll and for a failed one alike."""
    connect.set_connector("orders")
    server = serve().poll()
    with connect.faulty(Fault(status=500)):
        failed = server.service.poller.poll_once()
    for snapshot in (server.poll().service.store.current(), failed):
        assert snapshot is not None
        for path in ("/", "/ready"):
            snapshot.memo(("health+json", path), lambda path=path: pytest.fail(f"{path} rendered on request"))
    assert failed.error is not None


# --- --connect-worker-id auto


def test_own_worker_ids_are_this_hosts_names_and_addresses_with_the_connect_port() -> None:
    addresses = {"localhost": ["127.0.0.1", "::1"], "pod-7": ["10.1.2.3"], "pod-7.ns.svc": ["10.1.2.3"]}
    ids = own_worker_ids(
        "http://localhost:8083",
        hostname=lambda: "Pod-7",
        fqdn=lambda: "pod-7.ns.svc",
        resolve=lambda name: addresses.get(name.lower(), []),
    )
    assert ids == {
        "localhost:8083",
        "127.0.0.1:8083",
        "::1:8083",
        "[::1]:8083",
        "pod-7:8083",
        "pod-7.ns.svc:8083",
        "10.1.2.3:8083",
    }
    assert own_worker_ids("https://connect", hostname=str, fqdn=str, resolve=lambda _: []) == {"connect:443"}


def test_auto_judges_only_this_hosts_worker(connect: FakeConnect, serve: Callable[..., Served]) -> None:
    here = connect.url.removeprefix("http://")  # 127.0.0.1:<port>: the worker this host runs, by --connect-url
    connect.set_connector("mine", tasks=[task(0, "FAILED", worker_id=here)], worker_id=here)
    connect.set_connector("theirs", "FAILED", tasks=[task(0, worker_id="10.9.9.9:8083")], worker_id="10.9.9.9:8083")
    server = serve(connect_worker_id="auto").poll()
    failures = server.get().json()["failures"]
    assert [(f["connector"], f["type"]) for f in failures] == [("mine", "task")]
    assert "warning" not in server.get().json()


def test_auto_that_matches_nothing_warns_with_the_ids_it_tried(
    connect: FakeConnect, serve: Callable[..., Served]
) -> None:
    connect.set_connector("theirs", worker_id="10.9.9.9:8083", tasks=[task(0, worker_id="10.9.9.9:8083")])
    warning = serve(connect_worker_id="AUTO").poll().get().json()["warning"]
    port = connect.url.rsplit(":", 1)[1]
    assert warning.startswith("--connect-worker-id 'AUTO' (this host: ")
    assert f"127.0.0.1:{port}" in warning and warning.endswith("run on: 10.9.9.9:8083")
