"""Notifications from the real console script with several workers: one process per host sends (the actor),
so a receiver hears of each event once; and a poller stuck on a hung Connect, which publishes nothing, still
opens the "Connect stale" incident (the notifier's own tick reads the store)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fake_connect import FakeConnect, Fault, task
from tests.faults.test_process import children
from tests.notify.receiver import Receiver
from tests.server_process import CONSOLE_SCRIPT, ServerProcess
from tests.waiting import wait_until

WORKERS = 3

Start = Callable[..., ServerProcess]


def polls(connect: FakeConnect) -> int:
    return sum(1 for path in connect.requests if path.startswith("/connectors?"))


def ten_more_polls_by_each_worker(connect: FakeConnect) -> None:
    polled = polls(connect)
    wait_until(lambda: polls(connect) >= polled + 10 * WORKERS, what="ten more polls by each worker")


def judged_by_every_worker(server: ServerProcess, health: str) -> bool:
    """Whether each worker's own poller has logged that health is now `health` (each judges on its own)."""
    pids = re.findall(rf"\[(\d+)\] healthcheck\.changelog: health is now {health}\b", server.log())
    return len(set(pids)) == WORKERS


def events(receiver: Receiver, key: str) -> list[str]:
    return [body["event"] for body in receiver.bodies() if body["key"] == key]


@pytest.fixture
def workers(connect: FakeConnect, receiver: Receiver, tmp_path: Path) -> Iterator[Start]:
    """Starts the console script (more flags as arguments): WORKERS workers polling every 0.2 s, notifying
    `receiver` by webhook, the actor lock in tmp_path."""
    started: list[ServerProcess] = []
    flags = [
        CONSOLE_SCRIPT,
        *("--host", "127.0.0.1", "--port", "{port}", "--poll-interval", "0.2", "--workers", str(WORKERS)),
        *("--notify", f"webhook+{receiver.url}/hook", "--state-dir", str(tmp_path)),
    ]

    def start(*more: str) -> ServerProcess:
        server = ServerProcess([*flags, *more], env={"HEALTHCHECK_CONNECT_URL": connect.url}).start()
        started.append(server)
        assert server.process is not None
        wait_until(lambda: len(children(server.process.pid)) == WORKERS, what="all workers")
        return server

    yield start
    for server in started:
        server.stop()


def test_each_event_reaches_the_webhook_once_however_many_workers_poll(
    connect: FakeConnect, receiver: Receiver, workers: Start
) -> None:
    connect.set_connector("orders", tasks=[task(0, "FAILED", trace="Caused by: java.io.IOException: disk full")])
    server = workers("--notify-repeat", "3600")
    wait_until(lambda: judged_by_every_worker(server, "UNHEALTHY"), what="every worker to see the failure")
    wait_until(lambda: "open" in events(receiver, "task:orders:0"), what="the open")
    ten_more_polls_by_each_worker(connect)  # time for any other worker to send its own open
    connect.set_connector("orders", tasks=[task(0)])
    wait_until(lambda: judged_by_every_worker(server, "HEALTHY"), what="every worker to see the recovery")
    wait_until(lambda: "resolve" in events(receiver, "task:orders:0"), what="the resolve")
    ten_more_polls_by_each_worker(connect)

    assert events(receiver, "task:orders:0") == ["open", "resolve"]  # not three of each: one actor sends


def test_a_stuck_poller_still_opens_connect_stale_once(
    connect: FakeConnect, receiver: Receiver, workers: Start
) -> None:
    connect.set_connector("orders")
    # Polls wait up to 60 s for Connect but the answer is stale after 1 s: no poll publishes while it hangs.
    server = workers("--request-timeout", "60", "--max-staleness", "1", "--notify-repeat", "0.5")
    wait_until(lambda: judged_by_every_worker(server, "HEALTHY"), what="a healthy snapshot in every worker")
    with connect.faulty(Fault(hang=True)):

        def repeated_thrice() -> Counter[str] | None:
            seen = Counter(events(receiver, "connect"))
            return seen if seen["repeat"] >= 3 else None

        seen = wait_until(repeated_thrice, timeout=20, what="the stale incident, open and repeated")
        assert seen["open"] == 1  # the actor's tick alone, not every worker's
        stale = next(body for body in receiver.bodies() if body["key"] == "connect")
        assert stale["state"] == "STALE" and "no poll of Connect has completed" in stale["cause"]
