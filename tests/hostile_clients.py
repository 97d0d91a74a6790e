"""Connections that tie up a careless HTTP server: idle ones that never send, slow ones that never finish.

Used by the slow-client fault test and by `make bench`. Whatever the server closes is opened again, so the
counts hold for as long as the clients run.
"""

from __future__ import annotations

import resource
import select
import socket
import threading
import time
from dataclasses import dataclass

REQUEST_START = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def raise_open_file_limit(needed: int) -> None:
    """Raise this process's soft limit on open files towards the hard one; fail clearly if even that is short."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(hard, max(needed, soft))
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < needed:
            raise RuntimeError(f"need {needed} open files, the hard limit (ulimit -Hn) is {hard}")


def fresh_probe(port: int, path: str, timeout: float = 1.0) -> tuple[int, float]:
    """One GET on a new connection, as a kubelet sends it: (status, seconds), or (0, seconds) when it failed."""
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.settimeout(max(timeout - (time.monotonic() - started), 0.001))
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            head = sock.recv(64)
        status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.") else 0
    except OSError:
        status = 0
    return status, time.monotonic() - started


@dataclass
class Counts:
    opened: int = 0
    reopened: int = 0  # the server closed one (a header deadline) and we opened it again
    header_lines: int = 0


class HostileClients:
    """`idle` connections that send nothing and `slow` ones that send one header line per `pace` seconds, forever."""

    def __init__(self, port: int, *, idle: int, slow: int, pace: float = 1.0) -> None:
        self.port = port
        self.idle_count = idle
        self.slow_count = slow
        self.pace = pace
        self.counts = Counts()
        self._idle: list[socket.socket] = []
        self._slow: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hostile-clients", daemon=True)

    def _open(self, *, slow: bool) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.setblocking(False)
        if slow:
            sock.send(REQUEST_START)
        self.counts.opened += 1
        return sock

    def start(self) -> HostileClients:
        raise_open_file_limit(self.idle_count + self.slow_count + 256)
        self._idle = [self._open(slow=False) for _ in range(self.idle_count)]
        self._slow = [self._open(slow=True) for _ in range(self.slow_count)]
        self._thread.start()
        return self

    def _run(self) -> None:
        # Pacing the header lines is the point of these clients, so this loop waits on purpose.
        while not self._stop.wait(self.pace):
            self._keep_idle_open()
            for i, sock in enumerate(self._slow):
                try:
                    sock.send(b"X-Slow: %d\r\n" % self.counts.header_lines)
                    self.counts.header_lines += 1
                except OSError:
                    sock.close()
                    self._slow[i] = self._reopen(sock, slow=True)

    def _keep_idle_open(self) -> None:
        for i, sock in enumerate(self._idle):
            if sock.fileno() == -1:  # a reopen the server refused: try again
                self._idle[i] = self._reopen(sock, slow=False)
        # poll, not select: select cannot watch descriptors numbered above 1023.
        poller = select.poll()
        by_fd = {sock.fileno(): sock for sock in self._idle if sock.fileno() != -1}
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        for fd, _ in poller.poll(0):
            sock = by_fd[fd]
            try:
                closed = sock.recv(1) == b""
            except OSError:
                closed = True
            if closed:
                sock.close()
                self._idle[self._idle.index(sock)] = self._reopen(sock, slow=False)

    def _reopen(self, closed: socket.socket, *, slow: bool) -> socket.socket:
        """A new connection in place of `closed`; `closed` itself while the server refuses (it is stopping):
        the next round tries again."""
        try:
            sock = self._open(slow=slow)
        except OSError:
            return closed
        self.counts.reopened += 1
        return sock

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for sock in self._idle + self._slow:
            sock.close()

    def __enter__(self) -> HostileClients:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
