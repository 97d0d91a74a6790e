"""A real HTTP(S) server on 127.0.0.1 in a daemon thread: what the fake Connect and the notification receiver
are built on (the test doubles differ only in their handlers)."""

from __future__ import annotations

import contextlib
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class QuietHandler(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1, no access log, and no traceback when the client hangs up (a timeout, a kill)."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, a keep-alive client's delayed ACK adds 40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle(self) -> None:
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            super().handle()


class LocalServer:
    """Subclasses give the handler and keep their own state; `stopping` ends what their handlers wait for."""

    def __init__(
        self,
        handler: type[BaseHTTPRequestHandler],
        *,
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        name: str = "local-http",
    ) -> None:
        self.stopping = threading.Event()  # set by stop(): a handler told to wait or drip gives up
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self.scheme = "http"
        if ssl_context is not None:  # HTTPS; the handshake happens in the handler thread, on first read
            self.scheme = "https"
            self._server.socket = ssl_context.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
            self._server.handle_error = lambda request, client_address: None  # failed handshakes are the test
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self.scheme}://{host}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
