"""The gunicorn worker class we serve with: Tornado reads requests without a thread, probes are answered on its
event loop, every other path runs in a small thread pool.

Why not gunicorn's gthread: a thread reads each request, so `--threads` idle or slow-header connections stop
every probe (measured: 4 idle connections stall `/ping` 5 s; 4 slow ones block it for as long as they like).
Why not gunicorn's own tornado worker: it runs the whole app on the event loop (a first `/connectors` render of
a big cluster would stall probes), adds a versioned `Server` header and an access log line per request, and
stops without waiting for requests in flight. Why not gevent: the poller and Kafka's admin client are C code
and threads that a monkey-patched hub cannot interleave.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import resource
import socket
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from email.utils import formatdate
from io import BytesIO
from typing import Any

from gunicorn.workers.base import Worker
from tornado import httputil
from tornado.escape import url_unescape
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop, PeriodicCallback
from tornado.iostream import IOStream, StreamClosedError

from healthcheck.memory import use_one_arena
from healthcheck.probes import answered_inline

log = logging.getLogger(__name__)

# A client has this long to send a request's head (and an idle kept-alive connection lives this long): after
# it the connection is closed, so held-open connections cost a file descriptor for seconds, not forever.
HEADER_DEADLINE = 10.0
MAX_BODY_BYTES = 64 * 1024  # nothing we serve reads a body
# On SIGTERM, connections that have not sent a whole request yet get this long to finish sending it.
STOP_LINGER = 2.0
# When accept() runs out of file descriptors, stop accepting this long instead of spinning on the listener.
ACCEPT_PAUSE = 0.1

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Reply = tuple[int, str, list[tuple[str, str]], bytes]

INTERNAL_ERROR: Reply = (
    500,
    "Internal Server Error",
    [("Content-Type", "application/json"), ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")],
    b'{"error":"Internal Server Error","message":"See the server log.","status":500}\n',
)


def raise_open_file_limit() -> int:
    """Raise the soft limit on open files to the hard one: every held connection costs a descriptor, and a
    limit of 1,024 would let a thousand idle connections refuse the next probe. Returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            return soft
    return hard


def call_wsgi(app: WSGIApp, environ: dict[str, Any]) -> Reply:
    """Run a WSGI app to completion: (status, reason, headers, body)."""
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        started[:] = [status, headers]
        return chunks.append

    chunks: list[bytes] = []
    try:
        result = app(environ, start_response)
        try:
            chunks.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        code, _, reason = started[0].partition(" ")
        return int(code), reason, started[1], b"".join(chunks)
    except Exception:
        log.exception("the app failed to answer %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
        return INTERNAL_ERROR


class _Date:
    """The `Date` header, formatted once per second."""

    def __init__(self) -> None:
        self._second = 0
        self._text = ""

    def __call__(self) -> str:
        now = int(time.time())
        if now != self._second:
            self._second, self._text = now, formatdate(now, usegmt=True)
        return self._text


class WSGIBridge:
    """Tornado's request callback: answers what `inline` says on the event loop (prebuilt bytes, no thread hop),
    every other request in `executor`, and writes the reply when it is ready."""

    def __init__(self, app: WSGIApp, executor: ThreadPoolExecutor, inline: Callable[[dict[str, Any]], bool]) -> None:
        self._app = app
        self._executor = executor
        self._inline = inline
        self._date = _Date()
        self.closing = False  # set on SIGTERM: every answer then says "Connection: close"
        self.in_flight = 0

    def __call__(self, request: httputil.HTTPServerRequest) -> None:
        environ = self.environ(request)
        if self._inline(environ):
            self._reply(request, call_wsgi(self._app, environ))
            return
        self.in_flight += 1
        future = self._executor.submit(call_wsgi, self._app, environ)
        IOLoop.current().add_future(future, lambda done: self._finish(request, done))

    def _finish(self, request: httputil.HTTPServerRequest, done: Future[Reply]) -> None:
        self.in_flight -= 1
        self._reply(request, done.result())

    def _reply(self, request: httputil.HTTPServerRequest, reply: Reply) -> None:
        code, reason, headers, body = reply
        out = httputil.HTTPHeaders()
        for name, value in headers:
            out.add(name, value)
        out["Date"] = self._date()
        if self.closing:
            out["Connection"] = "close"
        connection = request.connection
        assert connection is not None
        try:
            connection.write_headers(httputil.ResponseStartLine("HTTP/1.1", code, reason), out, chunk=body)
            connection.finish()
        except StreamClosedError:
            pass  # the client left before its answer was ready

    @staticmethod
    def environ(request: httputil.HTTPServerRequest) -> dict[str, Any]:
        host, port = request.host, "80"
        if not host.endswith("]") and ":" in host:  # host:port, [v6]:port; not a bare [v6] address
            host, _, port = host.rpartition(":")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            # WSGI wants the percent-decoded path as latin-1 text of its bytes.
            "PATH_INFO": url_unescape(request.path, encoding=None, plus=False).decode("latin-1"),
            "QUERY_STRING": request.query,
            "REMOTE_ADDR": request.remote_ip,
            "SERVER_NAME": host,
            "SERVER_PORT": port,
            "SERVER_PROTOCOL": request.version,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": request.protocol,
            "wsgi.input": BytesIO(request.body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        for name, value in request.headers.get_all():
            if name == "Content-Type":
                environ["CONTENT_TYPE"] = value
            elif name == "Content-Length":
                environ["CONTENT_LENGTH"] = value
            else:
                key = "HTTP_" + name.replace("-", "_").upper()
                environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ


class _Server(HTTPServer):  # type: ignore[misc]
    """Tornado's HTTP server, counting open connections (for a graceful stop) and closed ones (for gunicorn's
    max_requests), through its public hooks."""

    on_connection_close: Callable[[], None] = staticmethod(lambda: None)
    open_connections = 0

    def accept(self, connection: socket.socket, address: Any) -> None:
        """What Tornado's own accept handler does with a new socket (TCPServer without TLS), in public terms."""
        stream = IOStream(connection, max_buffer_size=self.max_buffer_size, read_chunk_size=self.read_chunk_size)
        self.handle_stream(stream, address)

    def handle_stream(self, stream: IOStream, address: Any) -> None:
        self.open_connections += 1
        super().handle_stream(stream, address)

    def on_close(self, server_conn: object) -> None:
        self.open_connections -= 1
        self.on_connection_close()
        super().on_close(server_conn)


def _accepting(sock: socket.socket, handle: Callable[[socket.socket, Any], None]) -> Callable[[int, int], None]:
    """An accept handler that pauses on EMFILE/ENFILE instead of spinning: the listener stays readable while
    descriptors are exhausted, and Tornado's own handler would raise on every loop turn."""
    loop = IOLoop.current()

    def accept(fd: int, events: int) -> None:
        for _ in range(128):
            try:
                connection, address = sock.accept()
            except BlockingIOError:
                return
            except ConnectionAbortedError:
                continue
            except OSError as error:
                if error.errno not in (errno.EMFILE, errno.ENFILE):
                    raise
                log.warning("out of file descriptors: not accepting connections for %g s", ACCEPT_PAUSE)
                loop.remove_handler(sock)
                loop.call_later(ACCEPT_PAUSE, lambda: loop.add_handler(sock, accept, IOLoop.READ))
                return
            handle(connection, address)

    return accept


class ProbeWorker(Worker):  # type: ignore[misc]
    """gunicorn worker: `worker_class = "healthcheck.worker.ProbeWorker"`; `threads` sizes the thread pool."""

    def init_process(self) -> None:
        # Before the app loads and post_worker_init starts the poller: no thread has an arena of its own yet.
        use_one_arena()
        raise_open_file_limit()
        super().init_process()

    def run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        executor = ThreadPoolExecutor(max_workers=self.cfg.threads, thread_name_prefix="healthcheck-http")
        bridge = WSGIBridge(self.wsgi, executor, answered_inline)
        server = _Server(
            bridge,
            no_keep_alive=self.cfg.keepalive <= 0,
            idle_connection_timeout=HEADER_DEADLINE,
            body_timeout=HEADER_DEADLINE,
            max_body_size=MAX_BODY_BYTES,
        )
        server.on_connection_close = self._count_request
        loop = IOLoop.current()
        for sock in self.sockets:
            sock.setblocking(False)
            loop.add_handler(sock, _accepting(sock, server.accept), IOLoop.READ)
        stopped = asyncio.Event()
        heartbeat = PeriodicCallback(lambda: self._heartbeat(stopped), 200)
        heartbeat.start()
        await stopped.wait()
        heartbeat.stop()
        for sock in self.sockets:
            loop.remove_handler(sock)
        await self._drain(server, bridge)
        executor.shutdown(wait=False)

    def _heartbeat(self, stopped: asyncio.Event) -> None:
        self.notify()
        if self.ppid != os.getppid():
            self.log.info("Parent changed, shutting down: %s", self)
            self.alive = False
        if not self.alive:
            stopped.set()

    async def _drain(self, server: _Server, bridge: WSGIBridge) -> None:
        """Stop gracefully: answers in flight are sent (within graceful_timeout), a request still arriving gets
        STOP_LINGER seconds, and every answer from now on closes its connection."""
        bridge.closing = True
        server.conn_params.no_keep_alive = True
        started = time.monotonic()
        while server.open_connections:
            elapsed = time.monotonic() - started
            if elapsed > self.cfg.graceful_timeout or (elapsed > STOP_LINGER and not bridge.in_flight):
                break
            self.notify()
            await asyncio.sleep(0.05)  # a drain is a loop over time by nature: check ten times a second
        # Closing a connection waits for its read loop to end, which a closed stream ends at once; the bound
        # only guards the exit against a Tornado that behaves otherwise.
        try:
            await asyncio.wait_for(server.close_all_connections(), STOP_LINGER)
        except TimeoutError:
            log.warning("some connections did not close within %g s of the stop", STOP_LINGER)

    def _count_request(self) -> None:
        self.nr += 1
        if self.alive and self.nr >= self.max_requests:
            self.log.info("Autorestarting worker after current request.")
            self.alive = False
