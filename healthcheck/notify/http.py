"""One POST to a notification target within a whole-request deadline, its outcome described without secrets."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error

MAX_REPLY_BYTES = 64 * 1024
_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")\]]+")
_SSL_REASON = re.compile(r"\[(?:SSL|X509)(?:: [A-Z0-9_]+)?\] [^'\")]*?(?= \(_ssl\.c|['\")]|$)")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One request to send: everything a target decided, nothing left to compute in the delivery thread."""

    url: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, url: str, doc: Any) -> Outgoing:
        """A compact JSON body, which every target here sends."""
        return cls(url, json.dumps(doc, separators=(",", ":")).encode(), (("Content-Type", "application/json"),))


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    retry_after: float | None  # seconds, from a Retry-After header (delta or HTTP date)


class SendError(Exception):
    """The request got no HTTP answer. `retryable`: a timeout or a refused/reset connection may pass; a TLS
    certificate the receiver presents and we do not trust will not."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


# --- the deadline: requests' timeout applies to each socket operation, so a receiver that drips its answer
# a byte at a time could hold a call for ever. Every socket a call opens is registered (a dup of it, which
# survives TLS wrapping); a timer shuts them down when the call's time is up, which ends any blocked read.

_current = threading.local()


class _Watch:
    def __init__(self) -> None:
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.expired = False

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock.dup())
            if self.expired:
                self._shut(self._sockets[-1])

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                self._shut(sock)

    def close(self) -> None:
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):  # already closed by the other side: nothing left to interrupt
            sock.shutdown(socket.SHUT_RDWR)


def _register(sock: socket.socket) -> socket.socket:
    watch = getattr(_current, "watch", None)
    if watch is not None:
        watch.add(sock)
    return sock


class _WatchedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _register(super()._new_conn())


class _WatchedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _register(super()._new_conn())


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedTLSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _WatchedPool, "https": _WatchedTLSPool}


class _WatchedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float, verify: bool | str = True) -> Reply:
    """POST `body`; the whole call (connect, TLS, send, answer) ends within `timeout` seconds.

    A fresh session per call: notifications are rare, and a connection never outlives its watch.
    Redirects are not followed: one could carry a secret URL's request to a host nobody configured."""
    watch = _Watch()
    timer = threading.Timer(timeout, watch.expire)
    timer.daemon = True
    _current.watch = watch
    try:
        timer.start()
        with requests.Session() as session:
            session.mount("http://", _WatchedAdapter())
            session.mount("https://", _WatchedAdapter())
            with session.post(
                url, data=body, headers=headers, timeout=timeout, verify=verify, allow_redirects=False, stream=True
            ) as response:
                _drain(response)
                return Reply(response.status_code, retry_after_seconds(response.headers.get("Retry-After")))
    except requests.exceptions.SSLError as error:
        raise SendError(f"TLS failed: {tls_reason(error)}", retryable=False) from None
    except (requests.RequestException, Urllib3Error, OSError) as error:
        if watch.expired or isinstance(error, requests.Timeout):
            raise SendError(f"no complete answer within {timeout:g} s", retryable=True) from None
        raise SendError(f"cannot connect: {short_reason(error)}", retryable=True) from None
    finally:
        timer.cancel()
        _current.watch = None
        watch.close()


def _drain(response: requests.Response) -> None:
    """Read (and drop) the answer, at most MAX_REPLY_BYTES: the connection closes cleanly, and a receiver
    that streams without end is cut off."""
    read = 0
    while read < MAX_REPLY_BYTES:
        chunk = response.raw.read1(16 * 1024, decode_content=False)
        if not chunk:
            return
        read += len(chunk)


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: a delta (`120`) or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def short_reason(error: BaseException) -> str:
    """The errno line (`[Errno 111] Connection refused`), never requests' message, which quotes the URL."""
    match = _ERRNO.search(str(error))
    return match.group(0).strip() if match else type(error).__name__


def tls_reason(error: BaseException) -> str:
    text = str(error)
    match = _SSL_REASON.search(text)
    reason = match.group(0).strip() if match else "handshake failed"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        reason += " (is the receiver's CA in the trust store, or in REQUESTS_CA_BUNDLE?)"
    return reason
