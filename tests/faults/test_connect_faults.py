"""Connect misbehaving in every way we know of, over real sockets: `/` stays honest, `/ping` stays up, and
health comes back at the first poll after Connect heals."""

from __future__ import annotations

import gzip
import json
import threading
from dataclasses import replace
from typing import Any

import pytest
from flask.testing import FlaskClient

from healthcheck.app import create_app
from healthcheck.service import Service
from healthcheck.settings import BasicAuth, Settings
from healthcheck.snapshot import Snapshot
from tests.conftest import FakeClock
from tests.fake_connect import WORKER, FakeConnect, Fault, task
from tests.faults.conftest import MIB, error_lines, healthy_fake
from tests.waiting import wait_until


def expanded(status: Any) -> bytes:
    """An `?expand=status` body holding one connector whose status document is `status`."""
    return json.dumps({"orders-sink": {"status": status}}).encode()


def connector_status(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "orders-sink",
        "connector": {"state": "RUNNING", "worker_id": WORKER},
        "tasks": [{"id": 0, "state": "RUNNING", "worker_id": WORKER}],
        "type": "sink",
    }
    doc.update(overrides)
    return doc


def gzip_bomb(size: int) -> bytes:
    """`size` bytes of JSON-looking text in about 1 kB per MiB: gzip members, each 1 MiB of spaces inflated."""
    member = gzip.compress(b" " * MIB, compresslevel=9)
    return gzip.compress(b"[") + member * (size // MIB)


TRUNCATED = expanded(connector_status())[:-40]
LIMIT = "larger than the limit of 67108864 bytes"


def case(fault: Fault, reason: str, words: str, id: str, timeout: float = 2.0) -> Any:
    """A fault, the reason in the body, and words that the body's "error" and the log line must contain;
    `timeout` is the request timeout (short where the fault is slowness, so the test is quick)."""
    return pytest.param(fault, reason, words, timeout, id=id)


FAULTS = [
    case(Fault(hang=True), "timeout", "no answer within 0.3 s", "hangs-forever", timeout=0.3),
    case(Fault(delay=1.0), "timeout", "no answer within 0.3 s", "answers-after-the-timeout", timeout=0.3),
    case(Fault(drip=0.05), "timeout", "body not complete within 0.3 s", "drips-the-body", timeout=0.3),
    case(Fault(close_mid_body=True), "connection", "closed before the whole body", "closes-mid-body"),
    case(Fault(status=404, paths=("/connectors",)), "http_status", "HTTP 404", "404-on-connectors"),
    case(Fault(status=500), "http_status", "HTTP 500: Request processing failed", "500"),
    case(Fault(status=409), "http_status", "HTTP 409: Cannot complete request momentarily", "409-rebalance"),
    case(Fault(status=302, headers=(("Location", "http://127.0.0.1:1/"),)), "http_status", "302", "302"),
    case(Fault(body=b'{"orders-sink": {"status": {'), "bad_response", "malformed JSON", "malformed-json"),
    case(Fault(body=TRUNCATED), "bad_response", "malformed JSON", "truncated-json"),
    case(Fault(body=b"\xff\xfe{}"), "bad_response", "malformed JSON", "not-utf8"),
    case(Fault(body=b"<html>Bad Gateway</html>"), "bad_response", "malformed JSON", "html"),
    case(Fault(body=b""), "bad_response", "malformed JSON", "empty-body"),
    case(Fault(body=b"null"), "bad_response", "expected an object or a list, got NoneType", "null"),
    case(Fault(body=b"42"), "bad_response", "expected an object or a list, got int", "number"),
    case(Fault(body=b"[1, 2]"), "bad_response", "expected names, got int", "list-of-numbers"),
    case(Fault(body=expanded(None)), "bad_response", "expected an object, got NoneType", "null-status"),
    case(
        Fault(body=json.dumps({"orders-sink": []}).encode()),
        "bad_response",
        "connector 'orders-sink': expected an object, got list",
        "list-for-object",
    ),
    case(
        Fault(body=expanded(connector_status(connector={"state": 1, "worker_id": WORKER}))),
        "bad_response",
        "'state' should be str, got int",
        "number-for-string",
    ),
    case(
        Fault(body=expanded(connector_status(connector={"worker_id": WORKER}))),
        "bad_response",
        "'state' should be str, got NoneType",
        "missing-state",
    ),
    case(
        Fault(body=expanded({"connector": {"state": "RUNNING", "worker_id": WORKER}})),
        "bad_response",
        "'tasks' should be a list, got NoneType",
        "missing-tasks",
    ),
    case(
        Fault(body=expanded(connector_status(tasks=[{"id": "0", "state": "RUNNING", "worker_id": WORKER}]))),
        "bad_response",
        "'id' should be int, got str",
        "string-task-id",
    ),
    case(
        Fault(body=expanded(connector_status(tasks=[None]))),
        "bad_response",
        "task: expected an object, got NoneType",
        "null-task",
    ),
    case(Fault(stream_size=300 * MIB), "bad_response", LIMIT, "300-MiB-with-length"),
    # reading 64 MiB before giving up may take a few seconds on a busy machine
    case(Fault(stream_size=300 * MIB, stream_declared=False), "bad_response", LIMIT, "300-MiB-no-length", timeout=30),
    case(
        Fault(body=gzip_bomb(300 * MIB), headers=(("Content-Encoding", "gzip"),)),
        "bad_response",
        LIMIT,
        "300-MiB-gzip-bomb",
        timeout=30,
    ),
]


@pytest.mark.parametrize(("fault", "reason", "words", "timeout"), FAULTS)
def test_a_connect_fault_is_an_explained_503_and_health_returns_at_the_next_poll(
    request: pytest.FixtureRequest,
    connect: FakeConnect,
    settings: Settings,
    poller_log: pytest.LogCaptureFixture,
    fault: Fault,
    reason: str,
    words: str,
    timeout: float,
) -> None:
    healthy_fake(connect)
    live = Service(replace(settings, request_timeout=timeout))  # the real clock: a body's deadline needs it
    probe = create_app(live.settings, live).test_client()
    request.addfinalizer(live.stop)
    live.poller.poll_once()
    assert probe.get("/").status_code == 200

    with connect.faulty(fault):
        snapshot = live.poller.poll_once()
        answer = probe.get("/")
        assert probe.get("/ping").status_code == 200

    assert answer.status_code == 503
    body = answer.get_json()
    assert body["healthy"] is False
    assert (body["reason"], words in body["error"]) == (reason, True), body["error"]
    assert snapshot.connectors == ()  # nothing half-read is kept
    assert [line for line in error_lines(poller_log) if words in line], poller_log.text

    live.poller.poll_once()
    assert probe.get("/").status_code == 200
    assert "Connect status readable again after 1 failed poll(s)" in poller_log.text


def test_connect_refusing_connections_is_a_503_until_it_listens_again(
    settings: Settings, make_service: Any, poller_log: pytest.LogCaptureFixture
) -> None:
    gone = FakeConnect().start()
    port = int(gone.url.rsplit(":", 1)[1])
    service = make_service(settings, connect_url=gone.url)
    probe = create_app(service.settings, service).test_client()
    gone.stop()

    service.poller.poll_once()
    answer = probe.get("/")
    assert answer.status_code == 503
    assert answer.get_json()["reason"] == "connection"
    assert "Connection refused" in answer.get_json()["error"]
    assert probe.get("/ping").status_code == 200
    assert any("Connection refused" in line for line in error_lines(poller_log))

    back = healthy_fake(FakeConnect(port=port).start())
    try:
        service.poller.poll_once()
        assert probe.get("/").status_code == 200
    finally:
        back.stop()


def test_401_from_connect_is_a_503_until_the_credentials_work(
    settings: Settings, make_service: Any, poller_log: pytest.LogCaptureFixture
) -> None:
    secured = healthy_fake(FakeConnect(auth=("healthcheck", "rotated")).start())
    try:
        service = make_service(settings, connect_url=secured.url, basic_auth=BasicAuth("healthcheck", "old"))
        probe = create_app(service.settings, service).test_client()
        service.poller.poll_once()
        body = probe.get("/").get_json()
        assert (body["reason"], body["error"]) == ("http_status", "GET /connectors?expand=status&expand=info: HTTP 401")
        assert error_lines(poller_log) == ["cannot read Connect status (http_status): " + body["error"]]

        secured.auth = ("healthcheck", "old")  # Connect's password file reverted
        service.poller.poll_once()
        assert probe.get("/").status_code == 200
    finally:
        secured.stop()


def test_a_rebalance_storm_of_409_and_500_is_503_throughout_and_one_log_line(
    connect: FakeConnect, live: Service, probe: FlaskClient, poller_log: pytest.LogCaptureFixture
) -> None:
    healthy_fake(connect)
    for i in range(100):
        with connect.faulty(Fault(status=409 if i % 3 else 500)):
            live.poller.poll_once()
        assert probe.get("/").status_code == 503
        assert probe.get("/ping").status_code == 200
    assert len(error_lines(poller_log)) == 1  # a line per change, not per poll

    live.poller.poll_once()
    assert probe.get("/").status_code == 200
    assert "Connect status readable again after 100 failed poll(s)" in poller_log.text


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(Fault(status=500, paths=("/connectors/payments-sink/status",)), id="one-status-500"),
        pytest.param(Fault(hang=True, paths=("/connectors/payments-sink/status",)), id="one-status-hangs"),
        pytest.param(Fault(body=b'{"connector": 7}', paths=("/connectors/payments-sink/status",)), id="one-wrong"),
    ],
)
def test_old_connect_never_gives_a_verdict_on_part_of_the_connectors(
    settings: Settings, make_service: Any, fault: Fault
) -> None:
    legacy = FakeConnect(legacy=True).start()
    try:
        for name in ("audit-source", "orders-sink", "payments-sink", "zeta-sink"):
            legacy.set_connector(name)
        legacy.set_connector("audit-source", tasks=[task(0, "FAILED")])
        service = make_service(settings, connect_url=legacy.url, request_timeout=0.3, failure_threshold_percentage=50)
        probe = create_app(service.settings, service).test_client()
        with legacy.faulty(fault):
            snapshot = service.poller.poll_once()
        assert probe.get("/").status_code == 503
        assert snapshot.verdict is None and snapshot.error is not None
        assert "/connectors/payments-sink/status" in snapshot.error.message

        service.poller.poll_once()
        assert probe.get("/").status_code == 200  # 1 failing of 8 considered, within the 50 % threshold
    finally:
        legacy.stop()


def test_a_hanging_poll_never_leaves_a_healthy_answer_standing(
    connect: FakeConnect, settings: Settings, make_service: Any, clock: FakeClock
) -> None:
    healthy_fake(connect)
    service = make_service(settings, request_timeout=1.0, poll_interval=0.2, max_staleness=0.6)
    probe = create_app(service.settings, service).test_client()
    service.poller.poll_once()
    assert probe.get("/").status_code == 200

    polls = connect.request_count()
    finished: list[Snapshot] = []
    with connect.faulty(Fault(hang=True)):
        stuck = threading.Thread(target=lambda: finished.append(service.poller.poll_once()))
        stuck.start()
        wait_until(lambda: connect.request_count() > polls, what="the poll to be stuck in Connect")
        assert probe.get("/").status_code == 200  # the last poll is recent enough: still true
        clock.advance(0.7)  # the last completed poll is now older than max staleness
        answer = probe.get("/")
        assert probe.get("/ping").status_code == 200
        stuck.join(timeout=10)
    assert answer.status_code == 503
    assert answer.get_json()["error"] == "stale"
    assert finished[0].error is not None and finished[0].error.reason == "timeout"


def test_a_poll_slower_than_max_staleness_is_stale_on_arrival(connect: FakeConnect, settings: Settings) -> None:
    healthy_fake(connect)
    service = Service(replace(settings, poll_interval=0.1, max_staleness=0.3))  # on the real clock
    try:
        probe = create_app(service.settings, service).test_client()
        with connect.faulty(Fault(delay=0.5)):  # slower than the interval and the staleness, within the timeout
            snapshot = service.poller.poll_once()
        assert snapshot.status == 200  # Connect said healthy...
        assert probe.get("/").status_code == 503  # ...but half a second ago, which is too long ago
        assert probe.get("/").get_json()["error"] == "stale"
        service.poller.poll_once()
        assert probe.get("/").status_code == 200
    finally:
        service.stop()


def test_ten_thousand_connectors_in_one_poll(connect: FakeConnect, settings: Settings, make_service: Any) -> None:
    for i in range(10_000):
        connect.set_connector(f"connector-{i:05d}", tasks=[task(0), task(1)])
    service = make_service(settings, request_timeout=30)
    probe = create_app(service.settings, service).test_client()
    snapshot = service.poller.poll_once()
    assert snapshot.error is None and len(snapshot.connectors) == 10_000
    assert probe.get("/").status_code == 200

    connect.set_connector("connector-04321", tasks=[task(0), task(1, "FAILED", trace="boom")])
    service.poller.poll_once()
    body = probe.get("/").get_json()
    assert [(f["connector"], f["type"], f["id"], f["state"], f["trace"]) for f in body["failures"]] == [
        ("connector-04321", "task", 1, "FAILED", "boom")
    ]
    assert body["failure_rate"] == 1 / 30_000
