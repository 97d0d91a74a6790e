"""Idle and slow clients never starve the probes: anyone who can reach the port must not fail a kubelet probe."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest

from tests.fake_connect import FakeConnect
from tests.hostile_clients import HostileClients, fresh_probe
from tests.server_process import CONSOLE_SCRIPT, ServerProcess
from tests.waiting import wait_until

PROBE_TIMEOUT = 1.0  # a kubelet probe's default timeoutSeconds
WATCH_SECONDS = 10.0


@pytest.fixture
def served(connect: FakeConnect) -> Iterator[ServerProcess]:
    """The console script with its defaults (1 worker, 4 threads), polling a healthy fake."""
    connect.set_connector("orders-sink")
    server = ServerProcess(
        [CONSOLE_SCRIPT, "--port", "{port}", "--host", "127.0.0.1", "--poll-interval", "0.5"],
        env={"HEALTHCHECK_CONNECT_URL": connect.url},
    )
    with server:
        wait_until(lambda: server.get("/").status_code == 200, what="a healthy answer")
        yield server


def test_probes_answer_within_1_s_while_200_idle_and_50_slow_header_clients_hold_connections(
    served: ServerProcess,
) -> None:
    slow_answers: list[str] = []
    rounds = 0
    with HostileClients(served.port, idle=200, slow=50) as hostile:
        deadline = time.monotonic() + WATCH_SECONDS
        while time.monotonic() < deadline:
            for path in ("/", "/ready", "/ping"):
                status, seconds = fresh_probe(served.port, path, timeout=PROBE_TIMEOUT)
                if status != 200 or seconds >= PROBE_TIMEOUT:
                    slow_answers.append(f"{path}: {status or 'no answer'} after {seconds:.2f} s")
            rounds += 1
        assert hostile.counts.header_lines > 0  # the slow clients really were dribbling headers meanwhile
    assert rounds >= 10
    assert not slow_answers, f"{len(slow_answers)} of {3 * rounds} probes failed: {slow_answers[:10]}"


def test_sigterm_does_not_wait_for_idle_or_slow_connections(served: ServerProcess) -> None:
    with HostileClients(served.port, idle=50, slow=10):
        wait_until(lambda: fresh_probe(served.port, "/ping")[0] == 200, what="the server to answer beside them")
        started = time.monotonic()
        assert served.signal(signal.SIGTERM, timeout=9) == 0  # well before the 10 s header deadline closes them
        took = time.monotonic() - started
    print(f"\nexited {took:.2f} s after SIGTERM with 60 idle or slow connections open")
