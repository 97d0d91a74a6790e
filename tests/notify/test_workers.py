"""Notifications from the real console script with several workers: one process per host sends (the actor),
so a receiver hears of each event once, even when the actor is killed while an incident is open; and a poller
stuck on a hung Connect, which publishes nothing, still opens the "Connect stale" incident (the notifier's own
tick reads the store)."""

from __future__ import annotations

import os
import re
import signal
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fake_connect import FakeConnect, Fault, task
from tests.faults.test_actions import actor_pid
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


def saved_as_open(state_dir: Path, key: str) -> bool:
    """Whether the actor's incident state (beside its lock) lists `key` as open."""
    return any(key in path.read_text() for path in state_dir.glob("*.incidents.json"))


@pytest.fixture
def workers(connect: FakeConnect, receiver: Receiver, tmp_path: Path) -> Iterator[Start]:
    """Starts the console script (more flags as arguments): `count` (WORKERS) workers polling every 0.2 s,
    notifying `receiver` by webhook, the actor lock in tmp_path."""
    started: list[ServerProcess] = []
    flags = [
        CONSOLE_SCRIPT,
        *("--host", "127.0.0.1", "--port", "{port}", "--poll-interval", "0.2"),
        *("--notify", f"webhook+{receiver.url}/hook", "--state-dir", str(tmp_path)),
    ]

    def start(*more: str, count: int = WORKERS) -> ServerProcess:
        argv = [*flags, "--workers", str(count), *more]
        server = ServerProcess(argv, env={"HEALTHCHECK_CONNECT_URL": connect.url}).start()
        started.append(server)
        assert server.process is not None
        wait_until(lambda: len(children(server.process.pid)) == count, what="all workers")
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


def test_an_incident_open_when_the_actor_is_killed_opens_once_and_resolves_once(
    connect: FakeConnect, receiver: Receiver, workers: Start, tmp_path: Path
) -> None:
    key = "task:orders:0"
    connect.set_connector("orders", tasks=[task(0, "FAILED", trace="Caused by: java.io.IOException: disk full")])
    server = workers("--notify-repeat", "3600", count=2)
    assert server.process is not None
    wait_until(lambda: "open" in events(receiver, key), what="the open")
    wait_until(lambda: saved_as_open(tmp_path, key), what="the actor to save the open incident")
    victim = actor_pid(tmp_path)
    assert victim in children(server.process.pid)
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: actor_pid(tmp_path) not in (0, victim), what="another worker to take over")
    wait_until(lambda: "carrying on 1 open incident(s)" in server.log(), what="the new actor to carry the incident")
    polled = polls(connect)
    wait_until(lambda: polls(connect) >= polled + 20, what="ten more polls by each worker")  # time to open again
    connect.set_connector("orders", tasks=[task(0)])
    wait_until(lambda: "resolve" in events(receiver, key), what="the resolve")
    polled = polls(connect)
    wait_until(lambda: polls(connect) >= polled + 20, what="ten more polls by each worker")

    assert events(receiver, key) == ["open", "resolve"]  # not a second open from the new actor


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
