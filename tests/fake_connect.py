"""An in-process fake Kafka Connect: a real HTTP server on 127.0.0.1 speaking Connect's JSON, with faults.

Its answers follow the real worker's (see tests/fixtures/connect/ and test_fake_matches_real.py).
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.local_server import LocalServer, QuietHandler

WORKER = "127.0.0.1:8083"
# A FAILED task's trace as FileStreamSinkTask reports it (first line, then the stack).
TRACE = "org.apache.kafka.connect.errors.ConnectException: Couldn't find or create file\n\tat org.apache.Foo.bar"


@dataclass
class Fault:
    """What the fake does instead of answering normally. Applies to every request it matches."""

    status: int | None = None  # answer this HTTP status with Connect's error JSON
    delay: float = 0.0  # seconds to wait before answering
    hang: bool = False  # never answer (until the fake stops)
    body: bytes | None = None  # send these bytes as a 200 body instead of the real JSON
    close_mid_body: bool = False  # promise a long body, send half, close the connection
    drip: float = 0.0  # send the body one byte per `drip` seconds
    paths: tuple[str, ...] = ()  # only requests whose path starts with one of these; empty: all
    headers: tuple[tuple[str, str], ...] = ()  # extra headers on the faulty answer (Location, Content-Encoding)
    stream_size: int = 0  # stream a 200 JSON-looking body of this many bytes, made on the fly, never held whole
    stream_declared: bool = True  # ...with a Content-Length; False: no length, the body ends when we close


def task(id: int, state: str = "RUNNING", worker_id: str = WORKER, trace: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": id, "state": state, "worker_id": worker_id}
    if trace:
        doc["trace"] = trace  # Connect leaves out an empty trace (@JsonInclude(NON_EMPTY))
    return doc


class FakeConnect(LocalServer):
    def __init__(
        self,
        *,
        auth: tuple[str, str] | None = None,
        legacy: bool = False,
        version: str | None = None,
        status_version: bool = True,
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.auth = auth
        self.legacy = legacy  # answer like Connect < 2.3: no ?expand, a list of names
        self._version = version
        # Kafka 4.x puts the plugin's "version" in each connector and task status; 3.x leaves it out (False)
        self.status_version = status_version
        self.fault: Fault | None = None
        self.health: tuple[int, dict[str, str]] | None = (
            200,
            {"status": "healthy", "message": "Worker has completed startup and is ready to handle requests."},
        )
        self.root_answer: tuple[int, Any] | None = None  # GET / answers this instead (a worker still starting)
        self.vanish_after_listing: set[str] = set()  # legacy: listed, then 404 on their status
        self.heal_on_restart = False  # a restart turns the connector's FAILED parts RUNNING
        self._statuses: dict[str, dict[str, Any]] = {}
        self._infos: dict[str, dict[str, Any]] = {}  # `?expand=info` per connector
        self._offsets: dict[str, list[dict[str, Any]]] = {}  # GET /connectors/<name>/offsets (Kafka 3.5+)
        self._lock = threading.Lock()
        self._requests: list[str] = []
        super().__init__(self._handler_class(), port=port, ssl_context=ssl_context, name="fake-connect")

    @property
    def version(self) -> str:
        """What GET / reports: as given, else one that fits `legacy` (before 3.9 there is no /health)."""
        return self._version or ("2.2.0" if self.legacy else "4.4.0")

    @version.setter
    def version(self, value: str) -> None:
        self._version = value

    # --- state

    def set_connector(
        self,
        name: str,
        state: str = "RUNNING",
        tasks: list[dict[str, Any]] | None = None,
        *,
        worker_id: str = WORKER,
        trace: str | None = None,
        type: str = "sink",
        config: dict[str, str] | None = None,
    ) -> None:
        """`config`: what `?expand=info` shows; by default a plausible one (class, name, tasks.max)."""
        versioned = {"version": self.version} if self.status_version else {}
        connector: dict[str, Any] = {"state": state, "worker_id": worker_id, **versioned}
        if trace:
            connector["trace"] = trace
        doc = {
            "name": name,
            "connector": connector,
            "tasks": [dict(t, **versioned) for t in (tasks if tasks is not None else [task(0)])],
            "type": type,
        }
        if config is None:
            plugin = "FileStreamSinkConnector" if type == "sink" else "FileStreamSourceConnector"
            config = {
                "connector.class": f"org.apache.kafka.connect.file.{plugin}",
                "tasks.max": str(len(doc["tasks"]) or 1),
            }
        info = {
            "name": name,
            "config": {**config, "name": name},
            "tasks": [{"connector": name, "task": t["id"]} for t in doc["tasks"]],
            "type": type,
        }
        with self._lock:
            self._statuses[name] = doc
            self._infos[name] = info

    def set_offsets(self, name: str, offsets: dict[str, Any]) -> None:
        """What `GET /connectors/<name>/offsets` answers for a source: {json(partition): offset}, e.g.
        {'{"filename": "/in.txt"}': {"position": 42}} (Connect 3.5+; a fake of an older version has no such path)."""
        with self._lock:
            self._offsets[name] = [
                {"partition": json.loads(partition), "offset": offset} for partition, offset in offsets.items()
            ]

    def delete_connector(self, name: str) -> None:
        with self._lock:
            self._statuses.pop(name, None)
            self._infos.pop(name, None)

    def clear(self) -> None:
        with self._lock:
            self._statuses.clear()
            self._infos.clear()

    @contextmanager
    def faulty(self, fault: Fault) -> Iterator[None]:
        self.fault = fault
        try:
            yield
        finally:
            self.fault = None

    # --- what it was asked

    @property
    def requests(self) -> list[str]:
        with self._lock:
            return list(self._requests)

    def request_count(self) -> int:
        with self._lock:
            return len(self._requests)

    def path_counts(self) -> Counter[str]:
        return Counter(self.requests)

    # --- answering

    def _answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        with self._lock:
            statuses = {name: json.loads(json.dumps(doc)) for name, doc in self._statuses.items()}
            infos = {name: json.loads(json.dumps(doc)) for name, doc in self._infos.items()}
        if path == "/":
            if self.root_answer is not None:
                return self.root_answer
            return 200, {"version": self.version, "commit": "0123456789abcdef", "kafka_cluster_id": "fake-cluster"}
        if path == "/health":  # Kafka 3.9+; a legacy fake has none
            if self.health is None or self.legacy:
                return 404, {"error_code": 404, "message": "HTTP 404 Not Found"}
            return self.health
        if path == "/connectors":
            expand = query.get("expand", [])
            if self.legacy or not expand:
                return 200, sorted(statuses)
            listing: dict[str, dict[str, Any]] = {name: {} for name in sorted(statuses)}
            for name, entry in listing.items():
                if "status" in expand:
                    entry["status"] = statuses[name]
                if "info" in expand:
                    entry["info"] = infos[name]
            return 200, listing
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "connectors" and parts[2] == "offsets" and self._has_offsets_api():
            name = unquote(parts[1])
            if name not in statuses:
                return 404, {"error_code": 404, "message": f"Connector {name} not found"}
            with self._lock:
                return 200, {"offsets": json.loads(json.dumps(self._offsets.get(name, [])))}
        if len(parts) == 3 and parts[0] == "connectors" and parts[2] == "status":
            name = unquote(parts[1])
            if name in statuses and name not in self.vanish_after_listing:
                return 200, statuses[name]
            return 404, {"error_code": 404, "message": f"No status found for connector {name}"}
        return 404, {"error_code": 404, "message": "HTTP 404 Not Found"}

    def _has_offsets_api(self) -> bool:
        """KIP-875's offsets endpoint exists from Kafka 3.5."""
        major, minor = (int(part) for part in self.version.split(".")[:2])
        return not self.legacy and (major, minor) >= (3, 5)

    def _restart(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        """POST /connectors/<name>/restart[?includeTasks=&onlyFailed=] and /connectors/<name>/tasks/<id>/restart."""
        parts = path.strip("/").split("/")
        name = unquote(parts[1]) if len(parts) > 1 else ""
        with self._lock:
            doc = self._statuses.get(name)
            if doc is None or parts[0] != "connectors" or parts[-1] != "restart":
                return 404, {"error_code": 404, "message": f"Unknown connector {name}"}
            include_tasks = query.get("includeTasks") == ["true"] and not self.legacy  # KIP-745 is Kafka 3.0+
            only_failed = query.get("onlyFailed") == ["true"] and not self.legacy
            restart_connector = len(parts) == 3 and (doc["connector"]["state"] == "FAILED" or not only_failed)
            restarted = [doc["connector"]] if restart_connector else []
            if len(parts) == 5:
                restarted = [t for t in doc["tasks"] if str(t["id"]) == parts[3]]
            elif include_tasks:
                restarted += [t for t in doc["tasks"] if t["state"] == "FAILED" or not only_failed]
            # The 202 body shows what restarts as RESTARTING, trace kept (tests/fixtures/connect/*/restart_*.json)
            answer = json.loads(json.dumps(doc))
            pairs = zip([doc["connector"], *doc["tasks"]], [answer["connector"], *answer["tasks"]], strict=True)
            for part, shown in pairs:
                if any(part is restarting for restarting in restarted):
                    shown["state"] = "RESTARTING"
            if self.heal_on_restart:
                for part in restarted:
                    part["state"] = "RUNNING"
                    part.pop("trace", None)
            if include_tasks:  # 202 with the status, what is restarting marked RESTARTING
                return 202, answer
        return 204, None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                split = self._intercepted(self.path)
                if split is not None:
                    status, doc = fake._answer(split.path, parse_qs(split.query))
                    self._send(status, json.dumps(doc).encode())

            def do_POST(self) -> None:
                split = self._intercepted("POST " + self.path)
                if split is not None:
                    status, doc = fake._restart(split.path, parse_qs(split.query))
                    self._send(status, b"" if doc is None else json.dumps(doc).encode())

            def _intercepted(self, logged_as: str) -> Any:
                """Record the request and answer it if auth or a fault says so; else the split URL."""
                split = urlsplit(self.path)
                with fake._lock:
                    fake._requests.append(logged_as)
                if fake.auth is not None and not self._authorized():
                    self._send(401, b"User cannot access the resource.", content_type="text/plain")
                    return None
                fault = fake.fault
                if fault is not None and (not fault.paths or split.path.startswith(fault.paths)):
                    self._faulty(fault, split)
                    return None
                return split

            def _authorized(self) -> bool:
                user, password = fake.auth  # type: ignore[misc]
                expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
                return self.headers.get("Authorization") == expected

            def _faulty(self, fault: Fault, split: Any) -> None:
                if fault.hang:
                    fake.stopping.wait(120)
                    return
                if fault.delay:
                    fake.stopping.wait(fault.delay)
                if fault.status is not None:
                    message = {
                        409: "Cannot complete request momentarily due to no known leader URL, "
                        "likely because a rebalance was underway.",
                    }.get(fault.status, "Request processing failed")
                    body = json.dumps({"error_code": fault.status, "message": message}).encode()
                    self._send(fault.status, body, headers=fault.headers)
                    return
                if fault.stream_size:
                    self._stream(fault.stream_size, fault.stream_declared)
                    return
                if fault.body is not None:
                    self._send(200, fault.body, drip=fault.drip, headers=fault.headers)
                    return
                status, doc = fake._answer(split.path, parse_qs(split.query))
                body = json.dumps(doc).encode()
                if fault.close_mid_body:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body) + 1000))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self._send(status, body, drip=fault.drip)

            def _stream(self, size: int, declared: bool) -> None:
                """A valid-looking expanded listing of `size` bytes, written chunk by chunk."""
                entry = b'"c%09d":{"status":{"name":"c","connector":{"state":"RUNNING","worker_id":"w"},"tasks":[]}},'
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    if declared:
                        self.send_header("Content-Length", str(size))
                    else:
                        self.close_connection = True
                    self.end_headers()
                    self.wfile.write(b"{")
                    sent, chunk = 1, entry * (64 * 1024 // len(entry))
                    while sent < size and not fake.stopping.is_set():
                        piece = chunk[: size - sent]
                        self.wfile.write(piece)
                        sent += len(piece)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading: what a size cap should do

            def _send(
                self,
                status: int,
                body: bytes,
                content_type: str = "application/json",
                drip: float = 0,
                headers: tuple[tuple[str, str], ...] = (),
            ) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    for name, value in headers:
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if drip:
                        for i in range(len(body)):
                            if fake.stopping.wait(drip):
                                return
                            self.wfile.write(body[i : i + 1])
                            self.wfile.flush()
                    else:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to do

        return Handler
