"""Connect faults seen through the console script, as a load balancer sees them: `/ping` keeps answering,
`/` is never 200 on stale or unreadable data, and health comes back at the first poll after Connect heals."""

from __future__ import annotations

import time

import pytest

from tests.fake_connect import FakeConnect, Fault, task
from tests.faults.conftest import MIB, Console, healthy_fake, polls
from tests.server_process import ServerProcess
from tests.waiting import wait_until


def status(server: ServerProcess) -> int:
    return server.get("/").status_code


def assert_honest_while(server: ServerProcess, probes: int = 20) -> list[dict]:
    """Probe / and /ping `probes` times: / never 200, /ping always 200. Returns the bodies of /."""
    bodies = []
    for _ in range(probes):
        answer = server.get("/")
        assert answer.status_code == 503, answer.text
        bodies.append(answer.json())
        assert server.get("/ping").status_code == 200
    return bodies


def recover(server: ServerProcess, connect: FakeConnect) -> int:
    """Wait for 200 after Connect healed; return how many polls it took (the first healthy one should do)."""
    healed_at, started = polls(connect), time.monotonic()
    wait_until(lambda: status(server) == 200, timeout=10, what="health to return")
    took = polls(connect) - healed_at
    print(f"recovered {time.monotonic() - started:.2f} s after Connect healed, in {took} poll(s)")
    return took


def test_connect_hanging_then_healing(connect: FakeConnect, console: Console) -> None:
    server = console(healthy_fake(connect).url, "--request-timeout", "0.5")
    wait_until(lambda: status(server) == 200, what="a healthy answer")
    with connect.faulty(Fault(hang=True)):
        wait_until(lambda: status(server) == 503, what="the hang to show")
        bodies = assert_honest_while(server)
    assert {body.get("reason", body.get("error")) for body in bodies} <= {"timeout", "stale"}
    assert recover(server, connect) <= 2  # at most the poll in flight when it healed, and the next
    assert (
        "cannot read Connect status (timeout): GET /connectors?expand=status&expand=info: no answer within 0.5 s"
        in server.log()
    )


def test_connect_refusing_then_listening_again(console: Console) -> None:
    gone = FakeConnect().start()
    port = int(gone.url.rsplit(":", 1)[1])
    gone.stop()
    server = console(gone.url)
    wait_until(lambda: "Connection refused" in server.get("/").text, what="the refusal to show")
    assert {body["reason"] for body in assert_honest_while(server)} == {"connection"}
    back = healthy_fake(FakeConnect(port=port).start())
    try:
        assert recover(server, back) <= 2
    finally:
        back.stop()
    assert "[Errno 111] Connection refused" in server.log()


def test_connect_slower_than_the_interval_but_fresh_enough_stays_healthy(
    connect: FakeConnect, console: Console
) -> None:
    server = console(healthy_fake(connect).url, "--max-staleness", "3", "--request-timeout", "3")
    wait_until(lambda: status(server) == 200, what="a healthy answer")
    # each poll takes 0.5 s, one starts every 0.2 s at most: answers are at most ~1 s old
    with connect.faulty(Fault(delay=0.5, paths=("/connectors",))):
        before = polls(connect)
        seen = set()
        while polls(connect) < before + 4:
            seen.add(status(server))
    assert seen == {200}  # no false alarm: a slow Connect with fresh answers is healthy


def test_connect_slower_than_max_staleness_is_never_healthy(connect: FakeConnect, console: Console) -> None:
    server = console(healthy_fake(connect).url, "--max-staleness", "1", "--request-timeout", "3")
    wait_until(lambda: status(server) == 200, what="a healthy answer")
    with connect.faulty(Fault(delay=1.5)):  # every answer is 1.5 s old when it arrives
        wait_until(lambda: status(server) == 503, what="staleness to show")
        before = polls(connect)
        while polls(connect) < before + 2:
            assert_honest_while(server, probes=1)
    assert recover(server, connect) <= 2


def test_ten_thousand_connectors(connect: FakeConnect, console: Console) -> None:
    for i in range(10_000):
        connect.set_connector(f"connector-{i:05d}", tasks=[task(0), task(1)])
    # the in-process fake needs over a second to answer: poll less often, allow older answers
    server = console(connect.url, "--request-timeout", "10", "--poll-interval", "2", "--max-staleness", "20")
    wait_until(lambda: status(server) == 200, timeout=30, what="a healthy answer")
    connect.set_connector("connector-09999", tasks=[task(0, "FAILED", trace="boom"), task(1)])
    wait_until(lambda: status(server) == 503, timeout=30, what="the failed task to show")
    assert [f["connector"] for f in server.get("/").json()["failures"]] == ["connector-09999"]


@pytest.mark.parametrize("how", ["flag", "env"])
def test_max_response_bytes_caps_what_is_read(connect: FakeConnect, console: Console, how: str) -> None:
    for i in range(100):
        connect.set_connector(f"connector-{i:03d}")  # about 20 kB
    flags, env = (
        (["--max-response-bytes", "10000"], {}) if how == "flag" else ([], {"HEALTHCHECK_MAX_RESPONSE_BYTES": "10000"})
    )
    server = console(connect.url, *flags, env=env)
    wait_until(lambda: "limit" in server.get("/").text, what="the cap to refuse the answer")
    body = server.get("/").json()
    assert (body["reason"], body["error"]) == (
        "bad_response",
        "GET /connectors?expand=status&expand=info: response larger than the limit of 10000 bytes",
    )


def test_a_300_mib_answer_is_refused_without_holding_it(connect: FakeConnect, console: Console) -> None:
    server = console(healthy_fake(connect).url, "--request-timeout", "30")
    wait_until(lambda: status(server) == 200, what="a healthy answer")
    with connect.faulty(Fault(stream_size=300 * MIB, stream_declared=False)):
        wait_until(lambda: "larger than the limit of 67108864 bytes" in server.get("/").text, what="the cap")
        assert server.get("/ping").status_code == 200
    assert recover(server, connect) <= 2
