"""A thin client for Connect's REST API: one session, a deadline on every call, one error type."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import requests
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import InsecureRequestWarning, ReadTimeoutError
from urllib3.util import Timeout

from healthcheck.json_members import members, starts_object
from healthcheck.model import ConnectorStatus, WorkerHealth
from healthcheck.parse import (
    DEFAULT_TRACES,
    BadResponse,
    TracePolicy,
    parse_connector_status,
    parse_members,
    parse_names,
)
from healthcheck.setting_types import BasicAuth

DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
HEALTH_ENDPOINT_SINCE = (3, 9)  # KIP-1017
HEALTH_RECHECK_SECONDS = 10.0
LISTING = "/connectors?expand=status&expand=info"  # every status and config in one request (Connect 2.3+)
_CHUNK = 64 * 1024
_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")
_SSL_REASON = re.compile(r"\[(?:SSL|X509)(?:: [A-Z0-9_]+)?\] .*?(?= \(_ssl\.c|['\"]\)|$)")


class ConnectError(Exception):
    """A poll could not read Connect's status. `reason` is one of REASONS."""

    REASONS = ("timeout", "connection", "http_status", "bad_response")

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def quiet_insecure_warnings() -> None:
    """Silence urllib3's warning on every unverified request, process-wide: for the serving process to call
    when it starts in insecure mode (it says so once, loudly, itself). Never done by constructing a client."""
    warnings.filterwarnings("ignore", category=InsecureRequestWarning)


class _NotFound(Exception):
    """A 404, which only the per-connector fallback treats as "deleted since it was listed"."""


class ConnectClient:
    def __init__(
        self,
        base_url: str,
        *,
        auth: BasicAuth | None = None,
        timeout: float = 5.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        traces: TracePolicy = DEFAULT_TRACES,
    ) -> None:
        """`verify`: True (the system CAs), a CA bundle path, or False (no verification: the caller warns).
        `cert`: a client certificate path (key included) or a (cert, key) pair, for mTLS.
        `traces`: what is kept of each status's trace as it is parsed (capped, or dropped)."""
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        # Passed on every request, never set on the session: requests lets REQUESTS_CA_BUNDLE override a
        # session-level `verify`, so a configured CA (or insecure mode) would silently not apply.
        self._verify = verify
        self._cert = cert
        self._clock = clock
        self._traces = traces
        self._skip_health_until = float("-inf")  # after a 404 from a Connect before 3.9 (no /health there)
        self._session = requests.Session()
        self._session.headers.update({"Accept": "application/json", "User-Agent": "kafka-connect-healthcheck"})
        if auth is not None:
            self._session.auth = (auth.username, auth.password)

    def close(self) -> None:
        self._session.close()

    def fetch_statuses(self) -> tuple[ConnectorStatus, ...]:
        """Every connector's status and config, in one request where Connect supports `?expand` (2.3+).
        The config (`expand=info`) names a sink's consumer group and topics for the progress check."""
        text = self._get_text(LISTING)
        try:
            if starts_object(text):  # decoded connector by connector: see json_members
                return parse_members(members(text, self._traces.json_hook()), self._traces)
            doc = self._decode(LISTING, text)
            if isinstance(doc, list):
                return self._fetch_one_by_one(parse_names(doc))
        except BadResponse as error:
            raise ConnectError("bad_response", f"GET {LISTING}: {error}") from None
        except json.JSONDecodeError as error:
            raise ConnectError("bad_response", f"GET {LISTING}: malformed JSON ({error})") from None
        raise ConnectError("bad_response", f"GET {LISTING}: expected an object or a list, got {type(doc).__name__}")

    def _fetch_one_by_one(self, names: tuple[str, ...]) -> tuple[ConnectorStatus, ...]:
        statuses = []
        for name in names:
            path = f"/connectors/{quote(name, safe='')}/status"
            try:
                doc = self._get_json(path, not_found_ok=True)
            except _NotFound:
                continue  # deleted between the listing and this request: not a failure
            try:
                statuses.append(parse_connector_status(doc, name, self._traces))
            except BadResponse as error:
                raise ConnectError("bad_response", f"GET {path}: {error}") from None
        return tuple(statuses)

    def _get_json(self, path: str, *, not_found_ok: bool = False) -> Any:
        return self._decode(path, self._get_text(path, not_found_ok=not_found_ok))

    def _get_text(self, path: str, *, not_found_ok: bool = False) -> str:
        try:
            # Decoded without keeping the raw bytes alive beside the text.
            return self._get(path, not_found_ok=not_found_ok).decode()
        except UnicodeDecodeError as error:
            raise ConnectError("bad_response", f"GET {path}: malformed JSON ({error})") from None

    def _decode(self, path: str, text: str) -> Any:
        try:
            # Each trace capped (or dropped) by the hook as soon as its object is decoded: memory peaks near the
            # size of the body, not a multiple.
            return json.loads(text, object_hook=self._traces.json_hook())
        except json.JSONDecodeError as error:
            raise ConnectError("bad_response", f"GET {path}: malformed JSON ({error})") from None

    def _get(self, path: str, *, not_found_ok: bool = False) -> bytearray:
        deadline = self._clock() + self.timeout
        with self._call("GET", path) as response:
            if response.status_code == 404 and not_found_ok:
                raise _NotFound(_error_detail(response))
            if response.status_code != 200:
                raise ConnectError("http_status", f"GET {path}: HTTP {response.status_code}{_error_detail(response)}")
            return self._read_body(response, path, deadline)

    @contextmanager
    def _call(self, method: str, path: str) -> Iterator[requests.Response]:
        """One request to Connect, bounded as a whole by one deadline, `timeout` seconds from now.

        Connecting and waiting for the headers share the deadline (urllib3's total timeout); from the headers
        on, a watchdog shuts the socket at the deadline, so a body (or an error body) that trickles in byte by
        byte cannot stretch the call. Whatever the call was doing then, it ends as a "timeout" ConnectError.
        """
        deadline = time.monotonic() + self.timeout
        response = self._open(method, path)
        expired = threading.Event()
        watchdog = threading.Timer(max(deadline - time.monotonic(), 0.0), _shut, (response, expired))
        watchdog.daemon = True
        watchdog.start()
        try:
            with response:
                yield response
            if expired.is_set():  # what was read may be cut short by the watchdog: not an answer
                raise ConnectError("timeout", f"{method} {path}: body not complete within {self.timeout:g} s")
        except Exception:
            if expired.is_set():  # the headers came, the rest did not in time
                raise ConnectError("timeout", f"{method} {path}: body not complete within {self.timeout:g} s") from None
            raise
        finally:
            watchdog.cancel()

    def _open(self, method: str, path: str) -> requests.Response:
        """Send one request; the caller reads (and closes) the streamed response."""
        try:
            # Redirects are refused: following one could carry credentials to a host nobody configured.
            return self._session.request(
                method,
                self.base_url + path,
                timeout=Timeout(total=self.timeout),
                stream=True,
                allow_redirects=False,
                verify=self._verify,
                cert=self._cert,
            )
        except requests.Timeout:
            raise ConnectError("timeout", f"{method} {path}: no answer within {self.timeout:g} s") from None
        except requests.exceptions.SSLError as error:
            message = f"{method} {path}: TLS with {self.base_url} failed: {_tls_cause(error)}"
            raise ConnectError("connection", message) from None
        except requests.RequestException as error:
            message = f"{method} {path}: cannot reach {self.base_url}: {_cause(error)}"
            raise ConnectError("connection", message) from None

    def fetch_cluster_id(self) -> str | None:
        """The Kafka cluster id from `GET /` (Connect 1.0+), for labelling notifications; None if absent."""
        doc = self._get_json("/")
        cluster = doc.get("kafka_cluster_id") if isinstance(doc, dict) else None
        return cluster if isinstance(cluster, str) and cluster else None

    def fetch_worker_health(self) -> WorkerHealth | None:
        """The worker's own `GET /health` (Kafka 3.9+, KIP-1017); None where Connect has none.

        A 404 there means "no such endpoint" only on Connect before 3.9, which `GET /` tells (its "version");
        on 3.9+, or while `GET /` does not answer either, it means the worker is still starting: a 404 never
        switches the check off. Before 3.9, /health (and the version) is asked again every
        HEALTH_RECHECK_SECONDS, so a sidecar notices when its Connect container is replaced by a newer one."""
        now = self._clock()
        if now < self._skip_health_until:
            return None
        try:
            with self._call("GET", "/health") as response:
                status = response.status_code
                body = b"" if status == 404 else response.raw.read(64 * 1024, decode_content=True)
        except ConnectError as error:
            return WorkerHealth("unresponsive", error.message)
        except Exception as error:  # a garbled /health says nothing good about the worker
            return WorkerHealth("unresponsive", f"GET /health: unreadable answer ({type(error).__name__})")
        if status != 404:
            return _worker_health(status, body)
        version = self._connect_version()
        if version is None:
            return WorkerHealth("starting", "GET /health: HTTP 404 and GET / does not answer yet: Connect is starting")
        if version < HEALTH_ENDPOINT_SINCE:
            self._skip_health_until = now + HEALTH_RECHECK_SECONDS
            return None
        text = ".".join(map(str, version))
        return WorkerHealth("starting", f"GET /health: HTTP 404 from Connect {text}: the worker is still starting")

    def _connect_version(self) -> tuple[int, int] | None:
        """(major, minor) from `GET /`; None while it does not answer; (0, 0) when it answers without a
        version we can read (treated as a Connect without /health)."""
        try:
            doc = self._get_json("/")
        except ConnectError:
            return None
        version = doc.get("version") if isinstance(doc, dict) else None
        match = re.match(r"(\d+)\.(\d+)", version) if isinstance(version, str) else None
        return (int(match.group(1)), int(match.group(2))) if match else (0, 0)

    def fetch_source_offsets(self, connector: str) -> Any | None:
        """`GET /connectors/<name>/offsets` (Kafka 3.5+, KIP-875) as parsed JSON; None where Connect has no
        such endpoint (Jersey's bare "HTTP 404 Not Found", unlike a 404 for an unknown connector)."""
        path = f"/connectors/{quote(connector, safe='')}/offsets"
        try:
            return self._get_json(path, not_found_ok=True)
        except _NotFound as missing:
            if "HTTP 404 Not Found" in str(missing):
                return None
            raise ConnectError("http_status", f"GET {path}: HTTP 404{missing}") from None

    def restart_failed(self, connector: str, failed_task_ids: list[int]) -> None:
        """Restart a connector's FAILED instances: one call on Kafka 3.0+ (KIP-745); before that, Connect
        ignores the query, restarts only the connector (204), and each failed task needs its own call."""
        name = quote(connector, safe="")
        status = self._post(f"/connectors/{name}/restart?includeTasks=true&onlyFailed=true")
        if status == 204:
            for task_id in failed_task_ids:
                self._post(f"/connectors/{name}/tasks/{task_id}/restart")

    def restart_parts(self, connector: str, restart_connector: bool, task_ids: list[int]) -> None:
        """Restart some FAILED parts and not others: the connector instance alone (a plain restart restarts no
        task), then each task by its own call."""
        name = quote(connector, safe="")
        if restart_connector:
            self._post(f"/connectors/{name}/restart")
        for task_id in task_ids:
            self._post(f"/connectors/{name}/tasks/{task_id}/restart")

    def _post(self, path: str) -> int:
        with self._call("POST", path) as response:
            if response.status_code not in (200, 202, 204):
                raise ConnectError("http_status", f"POST {path}: HTTP {response.status_code}{_error_detail(response)}")
            return response.status_code

    def _read_body(self, response: requests.Response, path: str, deadline: float) -> bytearray:
        """The whole body, at most max_response_bytes of it (after decompression), within the deadline.
        One growing buffer that json.loads reads as is: memory peaks near the cap, not at twice it."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_response_bytes:
            raise self._too_large(path)
        body = bytearray()
        while True:
            try:
                chunk = response.raw.read1(_CHUNK, decode_content=True)
            except ReadTimeoutError:
                raise ConnectError("timeout", f"GET {path}: no answer within {self.timeout:g} s") from None
            except (Urllib3Error, OSError) as error:
                raise ConnectError("connection", f"GET {path}: reading the body failed: {_cause(error)}") from None
            if not chunk:
                break
            if len(body) + len(chunk) > self.max_response_bytes:
                raise self._too_large(path)
            if self._clock() > deadline:
                raise ConnectError("timeout", f"GET {path}: body not complete within {self.timeout:g} s")
            body += chunk
        return body

    def _too_large(self, path: str) -> ConnectError:
        return ConnectError(
            "bad_response", f"GET {path}: response larger than the limit of {self.max_response_bytes} bytes"
        )


def _shut(response: requests.Response, expired: threading.Event) -> None:
    """The watchdog's move: end the call now by shutting its socket; the reader then sees an error or EOF."""
    expired.set()
    connection = response.raw.connection
    sock = getattr(connection, "sock", None)
    if sock is not None:
        # socket.socket's own shutdown, also for a TLS socket: no TLS close_notify exchange to wait for.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _worker_health(status: int, body: bytes) -> WorkerHealth:
    """A `/health` answer other than 404: healthy only when it is a 2xx AND says "healthy"."""
    try:
        doc = json.loads(body)
    except ValueError:
        return WorkerHealth("unresponsive", f"GET /health: HTTP {status}, unreadable answer")
    if not isinstance(doc, dict) or not isinstance(doc.get("status"), str):
        return WorkerHealth("unresponsive", f"GET /health: HTTP {status} without a status")
    state = doc["status"]
    message = doc["message"] if isinstance(doc.get("message"), str) else ""
    if not 200 <= status < 300 and state == "healthy":
        return WorkerHealth("unhealthy", f"GET /health: HTTP {status} although the body says healthy: {message}")
    return WorkerHealth(state, message)


def _cause(error: BaseException) -> str:
    """The root cause in a few words, not urllib3's nested reprs."""
    text = str(error)
    if "IncompleteRead" in text:
        return "the connection closed before the whole body arrived"
    match = _ERRNO.search(text)
    if match:
        return match.group(0).strip()
    return text if len(text) <= 200 else text[:200] + "..."


def _tls_cause(error: BaseException) -> str:
    """OpenSSL's reason, and what to check, instead of requests' nested reprs."""
    text = str(error)
    match = _SSL_REASON.search(text)
    if match:
        reason = match.group(0).strip()
    elif "EOF occurred" in text:
        reason = "the server closed the connection during the handshake"
    else:
        reason = _cause(error)
    if "EOF occurred" in text or "CERTIFICATE_REQUIRED" in text or "BAD_CERTIFICATE" in text:
        return f"{reason}; does Connect require a client certificate (--connect-client-cert)?"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return f"{reason}; is --connect-ca-file the CA that signed Connect's certificate?"
    return reason


def _error_detail(response: requests.Response) -> str:
    """Connect's error message ({"error_code": .., "message": ..}) if it sent one, kept short."""
    try:
        message = json.loads(response.raw.read(4096, decode_content=True)).get("message")
    except Exception:  # an error body is only a hint; its absence or garbage changes nothing
        return ""
    if not isinstance(message, str) or not message:
        return ""
    message = message.splitlines()[0]
    return ": " + (message if len(message) <= 300 else message[:300] + "...")
