"""Actions beside the poller, as processes: a hung restart delays no answer and no poll, one process per host
restarts (whatever --workers says), a killed actor is replaced, and SIGTERM is never held by a hung Connect."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.fake_connect import FakeConnect, Fault, task
from tests.faults.conftest import Console, polls
from tests.faults.test_process import children
from tests.waiting import wait_until


@pytest.fixture
def actor_console(console: Console, tmp_path: Path) -> Console:
    """`console`, with the actor lock and its state file in tmp_path."""
    return lambda connect, *flags: console(connect.url, *flags, env={"HEALTHCHECK_STATE_DIR": str(tmp_path)})


def restart_posts(connect: FakeConnect) -> int:
    return sum(1 for request in connect.requests if request.startswith("POST"))


def actor_pid(state_dir: Path) -> int:
    """The pid the acting process wrote into its lock file."""
    (lock,) = state_dir.glob("*.lock")
    text = lock.read_text().strip()
    return int(text) if text else 0


def test_a_hung_restart_delays_neither_the_answer_nor_the_next_poll(
    connect: FakeConnect, actor_console: Console
) -> None:
    connect.set_connector("good")
    # one FAILED task of four considered: 25 %, under the threshold, so / is 200 while it is restarted
    connect.set_connector("bad", tasks=[task(0, "FAILED")])
    server = actor_console(
        connect,
        *("--failure-threshold-percentage", "50", "--max-staleness", "1", "--request-timeout", "2"),
        *("--auto-restart", "true", "--restart-backoff", "0.1", "--restart-max-attempts", "100"),
    )
    with connect.faulty(Fault(delay=30, paths=("/connectors/bad/restart",))):  # every restart hangs 30 s
        wait_until(lambda: restart_posts(connect) >= 1, what="the first restart to hang")
        started, seen = time.monotonic(), set()
        while restart_posts(connect) < 3 or time.monotonic() - started < 4:  # several restarts hang and time out
            answer = server.get("/")
            assert answer.status_code == 200, answer.text  # never a stale 503: the poller never waits
            seen.add(answer.json()["checked_at"])
            assert time.monotonic() - started < 20, "restarts did not go on"
    elapsed = time.monotonic() - started
    print(f"\n{len(seen)} distinct snapshots in {elapsed:.1f} s while {restart_posts(connect)} restarts hung")
    assert len(seen) >= elapsed / 0.2 / 3  # poll after poll, at least a third of the polls a free poller makes
    assert "restart 1/100 of connector 'bad' failed: POST /connectors/bad/restart" in server.log()
    assert "no answer within 2 s" in server.log()


@pytest.mark.parametrize("workers", [1, 3])
def test_one_process_restarts_however_many_workers_serve(
    connect: FakeConnect, actor_console: Console, workers: int
) -> None:
    connect.set_connector("bad", tasks=[task(0, "FAILED")])
    server = actor_console(
        connect,
        *("--workers", str(workers), "--auto-restart", "true"),
        *("--restart-backoff", "0.3", "--restart-max-attempts", "2"),
    )
    assert server.process is not None
    wait_until(lambda: len(children(server.process.pid)) == workers, what="all workers")
    wait_until(lambda: restart_posts(connect) >= 2, what="both restarts")
    polled = polls(connect)
    wait_until(lambda: polls(connect) >= polled + 10 * workers, what="ten more polls by each worker")
    assert restart_posts(connect) == 2  # not 2 x workers: one actor, and the cap holds
    for _ in range(3 * workers):  # whichever worker answers shows the actor's state
        failure = server.get("/").json()["failures"][0]
        assert (failure["restart_attempts"], failure.get("restarts_exhausted")) == (2, True)


def test_a_killed_actor_is_replaced_and_restarts_go_on(
    connect: FakeConnect, actor_console: Console, tmp_path: Path
) -> None:
    connect.heal_on_restart = True
    connect.set_connector("flaky", tasks=[task(0, "FAILED")])
    server = actor_console(connect, "--workers", "2", "--auto-restart", "true", "--restart-backoff", "0.2")
    assert server.process is not None
    wait_until(lambda: restart_posts(connect) == 1 and server.get("/").status_code == 200, what="a healed task")
    victim = actor_pid(tmp_path)
    assert victim in children(server.process.pid)
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    wait_until(lambda: actor_pid(tmp_path) not in (0, victim), what="another process to take over")
    took_over = time.monotonic() - killed_at
    connect.set_connector("flaky", tasks=[task(0, "FAILED")])
    failed_at = time.monotonic()
    wait_until(lambda: restart_posts(connect) == 2, what="the new actor to restart the task")
    restarted = time.monotonic() - failed_at
    wait_until(lambda: server.get("/").status_code == 200, what="health to return")
    print(f"\nactor killed: another took over in {took_over:.2f} s; the next failure restarted in {restarted:.2f} s")
    assert actor_pid(tmp_path) in children(server.process.pid)
    assert "is now the one that acts for this host" in server.log()


@pytest.mark.parametrize(
    ("fault", "hung_call"),
    [
        pytest.param(Fault(hang=True), "/connectors?expand=status", id="poll-hangs"),
        pytest.param(Fault(hang=True, paths=("/connectors/bad/restart",)), "POST", id="restart-hangs"),
    ],
)
def test_sigterm_is_not_held_by_a_hung_connect(
    connect: FakeConnect, actor_console: Console, fault: Fault, hung_call: str
) -> None:
    connect.set_connector("bad", tasks=[task(0, "FAILED")])
    with connect.faulty(fault):
        server = actor_console(connect, "--request-timeout", "60", "--max-staleness", "120", "--auto-restart", "true")
        wait_until(lambda: any(r.startswith(hung_call) for r in connect.requests), what=f"{hung_call} to hang")
        started = time.monotonic()
        assert server.signal(signal.SIGTERM, timeout=8) == 0  # not the 60 s a hung request could take
    print(f"\nexited {time.monotonic() - started:.2f} s after SIGTERM")
