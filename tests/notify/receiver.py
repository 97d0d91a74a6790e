"""A notification receiver for tests: a real HTTP(S) server on 127.0.0.1 that records what it is sent and
answers as told (a status, a Retry-After, a delay, a slow drip)."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.local_server import LocalServer, QuietHandler


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b"ok"
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0  # seconds before answering (interrupted when the receiver stops)
    drip: float = 0.0  # send the status line and headers one byte per `drip` seconds


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver(LocalServer):
    """Answers each request with the next scripted Answer; once the script is used up, with the Answer for
    its path in `by_path`, else with `default`."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, default: Answer | None = None) -> None:
        self.default = default or Answer()
        self.by_path: dict[str, Answer] = {}
        self._script: list[Answer] = []
        self._received: list[Received] = []
        self._lock = threading.Lock()
        super().__init__(self._handler(), ssl_context=ssl_context, name="notify-receiver")

    def script(self, *answers: Answer) -> None:
        with self._lock:
            self._script.extend(answers)

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def bodies(self) -> Iterator[Any]:
        return (r.json() for r in self.received)

    def _next(self, path: str) -> Answer:
        with self._lock:
            return self._script.pop(0) if self._script else self.by_path.get(path, self.default)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver._received.append(Received(self.path, dict(self.headers.items()), body))
                answer = receiver._next(self.path)
                if answer.delay and receiver.stopping.wait(answer.delay):
                    return
                head = f"HTTP/1.1 {answer.status} X\r\nContent-Length: {len(answer.body)}\r\n"
                head += "".join(f"{name}: {value}\r\n" for name, value in answer.headers) + "\r\n"
                try:
                    if answer.drip:
                        for byte in head.encode():
                            if receiver.stopping.wait(answer.drip):
                                return
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                    else:
                        self.wfile.write(head.encode() + answer.body)
                except OSError:
                    pass  # the sender gave up (a deadline test): nothing to do

        return Handler
