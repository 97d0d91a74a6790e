"""`GET /status` through the app: what the page says in each state, its escaping, its headers, its size."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import replace

from flask.testing import FlaskClient

from healthcheck.app import create_app
from healthcheck.service import Service
from healthcheck.settings import Settings
from healthcheck.status_page import TRACE_MAX_CHARS, PageContext, StatusPage
from healthcheck.timeline import RESOLUTION
from tests.conftest import FakeClock, client_for
from tests.contract.test_progress import ScriptedKafka
from tests.contract.test_restart_skip import CONFIG, SKIPPED_CONFIG, TRANSIENT, poll_and_act
from tests.fake_connect import FakeConnect, Fault, task

TRACE = (
    "org.apache.kafka.connect.errors.ConnectException: Exiting WorkerSinkTask due to unrecoverable exception.\n"
    "\tat org.apache.kafka.connect.runtime.WorkerSinkTask.deliverMessages(WorkerSinkTask.java:636)\n"
    "Caused by: org.apache.kafka.connect.errors.DataException: Converting byte[] to Kafka Connect data failed\n"
    "\tat org.apache.kafka.connect.json.JsonConverter.toConnectData(JsonConverter.java:333)\n"
    "Caused by: org.apache.kafka.common.errors.SerializationException: Unrecognized token 'hello'\n"
    "\t... 13 more\n"
)
HOSTILE = ("<script>alert(1)</script>", '"><img src=x onerror=alert(2)>', "a&b'c")


def page(client: FlaskClient) -> str:
    response = client.get("/status")
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    return response.get_data(as_text=True)


def state_of(body: str) -> str:
    match = re.search(r'id="snapshot" data-checked-at="[^"]*" data-state="([a-z-]+)"', body)
    assert match, "the page has no snapshot"
    return match.group(1)


def names_in_order(body: str) -> list[str]:
    return re.findall(r'<a class="name" href="[^"]*">([^<]*)</a>', body)


def test_before_the_first_poll_the_page_says_so(client: FlaskClient) -> None:
    body = page(client)
    assert "No status yet" in body and "NO STATUS" in body
    assert 'id="snapshot"' not in body


def test_healthy(connect: FakeConnect, service: Service, client: FlaskClient) -> None:
    connect.set_connector("orders-sink", tasks=[task(0), task(1)])
    service.poller.poll_once()
    body = page(client)
    assert state_of(body) == "healthy"
    assert "<title>HEALTHY · Kafka Connect health</title>" in body
    assert "0 of 3 considered connectors and tasks failing" in body
    assert names_in_order(body) == ["orders-sink"]
    # the state as a word on every badge, not only a color
    assert '<span class="badge s-running">1 RUNNING</span>' in body
    assert f"<code>{connect.url}</code>" in body and "every worker" in body
    for link in ('href="/"', 'href="/connectors"', 'href="/metrics"'):
        assert link in body


def test_failing_connectors_come_first_with_cause_and_folded_trace(
    connect: FakeConnect, settings: Settings, make_service: Callable[..., Service]
) -> None:
    service = make_service(settings, auto_restart=True, restart_max_attempts=3)
    client = create_app(service.settings, service).test_client()
    connect.set_connector("a-fine")
    connect.set_connector("z-broken", tasks=[task(0), task(1, "FAILED", trace=TRACE)])
    service.poller.poll_once()
    assert service.consumers.wait_idle(timeout=10), "the restarter did not finish within 10 s"
    service.poller.poll_once()  # the next snapshot carries what the actor did
    body = page(client)
    assert state_of(body) == "failing"
    assert "UNHEALTHY (1 failing)" in body
    assert names_in_order(body) == ["z-broken", "a-fine"]
    # the innermost cause, in one line
    assert '<span class="cause">org.apache.kafka.common.errors.SerializationException: Unrecognized token' in body
    assert '<details data-key="1|z-broken"><summary>Stack trace</summary><pre>org.apache.kafka' in body
    assert "<details open" not in body
    assert "1 attempt; next <time" in body  # auto-restart restarted it once


def test_a_failure_without_trace_shows_its_state_as_cause(connect: FakeConnect, service: Service, client) -> None:
    connect.set_connector("bare", state="FAILED", tasks=[])
    service.poller.poll_once()
    body = page(client)
    assert '<span class="cause">FAILED</span>' in body and "<details" not in body


def test_poll_error_says_connect_is_unreachable(connect: FakeConnect, service: Service, client) -> None:
    with connect.faulty(Fault(status=500)):
        service.poller.poll_once()
    body = page(client)
    assert state_of(body) == "poll-error"
    assert "CONNECT UNREACHABLE" in body and "<code>http_status</code>" in body and "HTTP 500" in body
    assert "1 polls in the last 5 s: 0 with failures (at most 0 failing at once), 1 that could not read" in body


def test_stale_when_the_poller_stops(connect: FakeConnect, service: Service, client, clock: FakeClock) -> None:
    connect.set_connector("orders-sink")
    service.poller.poll_once()
    fresh = page(client)
    clock.advance(service.settings.max_staleness + 1)
    stale = page(client)
    assert state_of(fresh) == "healthy" and state_of(stale) == "stale"
    assert "<title>STALE · Kafka Connect health</title>" in stale
    assert "orders-sink" in stale  # what Connect said then stays readable


def test_every_string_from_connect_is_escaped(connect: FakeConnect, service: Service, client) -> None:
    for name in HOSTILE:
        connect.set_connector(name, tasks=[task(0, "FAILED", worker_id=name, trace=f"{name}\nCaused by: {name}")])
    service.poller.poll_once()
    body = page(client)
    for name in HOSTILE:
        assert name not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in body
    assert body.count("<script") == 1  # ours
    assert "<img" not in body


def test_the_policy_allows_exactly_the_inline_script_and_style(connect: FakeConnect, service: Service, client) -> None:
    connect.set_connector("orders-sink")
    service.poller.poll_once()
    response = client.get("/status")
    body = response.get_data(as_text=True)
    policy = response.headers["Content-Security-Policy"]
    assert "unsafe" not in policy and "default-src 'none'" in policy and "connect-src 'self'" in policy
    for tag, directive in (("script", "script-src"), ("style", "style-src")):
        blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", body, re.S)
        assert len(blocks) == 1
        digest = base64.b64encode(hashlib.sha256(blocks[0].encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in policy
    assert client.head("/status").headers["Content-Length"] == str(len(response.data))


def test_the_page_is_rendered_once_per_snapshot(connect: FakeConnect, service: Service, clock: FakeClock) -> None:
    status_page = StatusPage(service.store, PageContext("http://connect:8083", None, 5.0, 15.0))
    connect.set_connector("orders-sink")
    service.poller.poll_once()
    first = status_page.answer(clock())
    assert status_page.answer(clock()) is first  # the same bytes object: nothing rendered per request
    clock.advance(1)
    service.poller.poll_once()
    assert status_page.answer(clock()) is not first


def test_a_thousand_connectors_stay_under_one_megabyte(
    connect: FakeConnect, settings: Settings, make_service: Callable[..., Service]
) -> None:
    # traces kept whole (up to 64 KB) by the parser, so the page's own budget and cut are what keep it small
    service = make_service(settings, max_trace_bytes=64 * 1024)
    client = create_app(service.settings, service).test_client()
    long_trace = TRACE + "\tat org.example.Deep.frame(Deep.java:1)\n" * 400  # ~16 KB, as real traces run
    for i in range(1000):
        tasks = [task(0, "FAILED", trace=long_trace), task(1), task(2)] if i % 10 == 0 else [task(0), task(1)]
        connect.set_connector(f"connector-{i:04d}", tasks=tasks)
    service.poller.poll_once()
    body = page(client)
    assert len(body.encode()) < 1024 * 1024, len(body.encode())
    assert len(names_in_order(body)) == 1000
    assert body.count('<span class="cause">') == 100  # every cause line fits; traces fill what is left
    assert 0 < body.count("<details") < 100 and "Some details are left out to keep this page small" in body
    assert f"Trace cut at {TRACE_MAX_CHARS} characters" in body


def test_a_thousand_failing_connectors_stay_under_one_megabyte(
    connect: FakeConnect, settings: Settings, make_service: Callable[..., Service]
) -> None:
    service = make_service(settings, request_timeout=10.0)  # 5 MB from Connect
    client = create_app(service.settings, service).test_client()
    long_trace = TRACE * 4
    failed = [task(0, "FAILED", trace=long_trace), task(1, "FAILED", trace=long_trace)]
    for i in range(1000):
        connect.set_connector(f"connector-{i:04d}", state="FAILED", trace=long_trace, tasks=failed)
    service.poller.poll_once()
    body = page(client)
    assert len(body.encode()) < 1_000_000, len(body.encode())
    assert len(names_in_order(body)) == 1000
    assert '<a href="/connectors/connector-0999">all of them</a>' in body  # what did not fit is a link away


def test_the_timeline_counts_failures_per_poll(connect: FakeConnect, service: Service, client, clock) -> None:
    connect.set_connector("orders-sink")
    for failing in (0, 2, 1, 0):
        connect.set_connector("orders-sink", tasks=[task(i, "FAILED") for i in range(failing)] or [task(0)])
        service.poller.poll_once()
        clock.advance(RESOLUTION)
    body = page(client)
    assert body.count('<rect class="failing"') == 2
    assert "<title>10 s ago: 2 failing</title>" in body and "<title>5 s ago: 1 failing</title>" in body
    assert "4 polls in the last 20 s: 2 with failures (at most 2 failing at once)" in body


def restart_cell(body: str, connector: str) -> str:
    """The Auto-restart cell of `connector`'s row (the fifth)."""
    row = re.search(rf'<a class="name" href="/connectors/{connector}">.*?</tr>', body, re.S)
    assert row, f"no row for {connector}"
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.S)
    return cells[3]  # the first cell's start is before the match: Connector, State, Tasks, Failing | Restart


def test_the_restart_decision_shows_skipped_persistent_and_scheduled(
    connect: FakeConnect, settings: Settings, make_service: Callable[..., Service], clock: FakeClock
) -> None:
    service = make_service(settings, auto_restart=True, restart_backoff=10.0, restart_max_attempts=2, max_staleness=1e6)
    connect.set_connector("bad-config", "FAILED", tasks=[], trace=CONFIG)
    connect.set_connector("mixed", tasks=[task(0, "FAILED", trace=CONFIG), task(1, "FAILED", trace=TRANSIENT)])
    connect.set_connector("flaky", tasks=[task(0, "FAILED", trace=TRANSIENT)])
    poll_and_act(service)
    poll_and_act(service)  # the snapshot shows what the actor decided at the poll before
    body = page(client_for(service))
    assert restart_cell(body, "bad-config") == f'<span class="restart-skipped">{SKIPPED_CONFIG}</span>'
    mixed = restart_cell(body, "mixed")
    assert mixed.startswith(f'<span class="restart-skipped">task 0: {SKIPPED_CONFIG}</span><br>1 attempt; next <time')
    for _ in range(3):  # the second attempt after 10 s; then no more
        clock.advance(11)
        poll_and_act(service)
    body = page(client_for(service))
    assert restart_cell(body, "flaky") == (
        '<strong class="restart-persistent">persistent</strong>: gave up after 2 attempts; '
        'last cause: <span class="last-cause">java.net.SocketTimeoutException: timed out</span>'
    )


def test_lag_and_last_progress_show_for_the_connectors_the_progress_check_judges(
    connect: FakeConnect, settings: Settings, clock: FakeClock
) -> None:
    kafka = ScriptedKafka()
    overrides = {"kafka_bootstrap_servers": "127.0.0.1:9", "progress_interval": 1.0, "stall_after": 3.0}
    service = Service(replace(settings, **overrides), clock=clock, kafka=kafka)  # type: ignore[arg-type]
    try:
        client = client_for(service)
        connect.set_connector("busy", config={"topics": "orders"})
        connect.set_connector("quiet", config={"topics": "audit"})
        connect.set_connector("blocked", config={"topics": "clicks"})
        connect.set_connector("emitter", type="source")  # not judged: no --expect-progress
        service.poller.poll_once()
        assert "<th>Progress</th>" not in page(client)  # no report yet: no column
        kafka.set("connect-quiet", "audit", 0, 500, 500)
        for second in range(5):
            kafka.set("connect-busy", "orders", 0, 1000 * second, 1000 * second + 1200)
            kafka.set("connect-blocked", "clicks", 0, 20, 30 + 100 * second)
            clock.advance(1.0)
            service.progress_check.check_once()  # type: ignore[union-attr]
            service.poller.poll_once()
        body = page(client)
    finally:
        service.stop()
    assert "<th>Progress</th>" in body
    cells = dict(re.findall(r'>([a-z]+)</a>.*?<td class="progress">(.*?)</td>', body, re.S))
    assert cells["quiet"] == "idle; lag 0"
    assert re.fullmatch(
        r'moving; lag 1,200; <span class="age" data-since="[^"]+" data-prefix="last progress " '
        r'data-suffix=" ago">last progress \d+ s ago</span>',
        cells["busy"],
    ), cells["busy"]
    assert cells["blocked"] == "stalled; lag 410; no progress seen yet"
    assert cells["emitter"] == ""
