"""The process under abuse: a worker killed with SIGKILL under load is replaced and serves again within
seconds; SIGTERM lets the requests in flight finish, then exits 0."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.fake_connect import FakeConnect
from tests.faults.conftest import healthy_fake
from tests.server_process import CONSOLE_SCRIPT, ServerProcess
from tests.waiting import wait_until

LOAD_THREADS = 4
MAX_REQUESTS = 50_000  # per thread: the load stops by itself even if a test forgets to stop it


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(child) for child in (task / "children").read_text().split()}
    return found


class Load:
    """Threads probing `/` over keep-alive connections, recording (time, status or error name) per request."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.results: list[tuple[float, int | str]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(LOAD_THREADS)]

    def _run(self) -> None:
        with requests.Session() as session:
            for _ in range(MAX_REQUESTS):
                if self._stop.is_set():
                    return
                try:
                    outcome: int | str = session.get(self.url, timeout=2).status_code
                except requests.RequestException as error:
                    outcome = type(error).__name__
                with self._lock:
                    self.results.append((time.monotonic(), outcome))

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def since(self, start: float) -> list[tuple[float, int | str]]:
        with self._lock:
            return [result for result in self.results if result[0] >= start]


@pytest.fixture
def served(connect: FakeConnect, request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """The console script with `request.param` workers, polling a healthy fake every 0.2 s."""
    server = ServerProcess(
        [CONSOLE_SCRIPT, "--host", "127.0.0.1", "--port", "{port}", "--poll-interval", "0.2"],
        env={"HEALTHCHECK_CONNECT_URL": healthy_fake(connect).url, "HEALTHCHECK_WORKERS": str(request.param)},
    )
    with server:
        assert server.process is not None
        wait_until(lambda: len(children(server.process.pid)) == request.param, what="all workers")
        wait_until(lambda: server.get("/").status_code == 200, what="a healthy answer")
        yield server


@pytest.mark.parametrize("served", [1, 2], indirect=True, ids=["1-worker", "2-workers"])
def test_a_worker_killed_under_load_is_replaced_and_serves_again(served: ServerProcess) -> None:
    assert served.process is not None
    master = served.process.pid
    before = children(master)
    victim = min(before)
    with Load(served.url + "/") as load:
        wait_until(lambda: len(load.results) >= 200, what="load to build up")
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: len(children(master) - before) == 1, timeout=10, what="a new worker")
        wait_until(lambda: served.get("/").status_code == 200, timeout=10, what="the new worker to serve 200")
        serving_at = time.monotonic()
        # and every worker answers 200 again: a run of successes on all the load's connections
        wait_until(lambda: [r[1] for r in load.results[-20:]] == [200] * 20, timeout=10, what="steady 200s")
    after = load.since(killed_at)
    bad = [(t, outcome) for t, outcome in after if outcome != 200]
    window = (bad[-1][0] - killed_at) if bad else 0.0
    kinds = sorted({str(outcome) for _, outcome in bad})
    print(
        f"\n{len(before)} worker(s), SIGKILL under load: {len(bad)} of {len(after)} probes failed ({kinds}) "
        f"within {window:.2f} s; a fresh probe got 200 {serving_at - killed_at:.2f} s after the kill"
    )
    assert served.process.poll() is None  # the master lives on
    assert f"Worker (pid:{victim}) was sent SIGKILL!" in served.log()


def _send_partial_request(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # the headers are not finished yet
    return sock


def _accepted(sock: socket.socket) -> bool:
    """Whether the server has accept()ed this connection: until then, the kernel's end of it in
    /proc/net/tcp has no inode (it waits in the listen backlog, and is reset if the listener closes)."""
    server_port, client_port = sock.getpeername()[1], sock.getsockname()[1]
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            return inode != "0"
    return False


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            if len(body) >= length:
                break
    return data


@pytest.mark.parametrize("served", [1], indirect=True, ids=["1-worker"])
def test_sigterm_lets_requests_in_flight_finish_then_exits_0(served: ServerProcess) -> None:
    assert served.process is not None
    in_flight = [_send_partial_request(served.port) for _ in range(3)]
    wait_until(lambda: all(_accepted(sock) for sock in in_flight), what="the worker to take the requests")
    served.process.send_signal(signal.SIGTERM)

    def refusing_new_requests() -> bool:
        try:
            requests.get(served.url + "/ping", timeout=0.3)
        except requests.RequestException:
            return True
        return False

    wait_until(refusing_new_requests, timeout=10, what="the server to stop taking new requests")
    assert served.process.poll() is None  # still up: it waits for the requests in flight
    answers = []
    for sock in in_flight:
        with sock:
            sock.sendall(b"\r\n")  # finish the request
            answers.append(_read_response(sock))
    assert served.process.wait(timeout=15) == 0
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer
        assert b'"healthy":true' in answer
