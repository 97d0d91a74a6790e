"""The harness's errors: a stack that cannot start or stop, a REST call that fails, a feature a version lacks."""

from __future__ import annotations

from typing import Any


class StackError(RuntimeError):
    """The stack could not be prepared, started or stopped (the message carries a log tail)."""


class UnsupportedFeatureError(StackError):
    """The requested REST feature does not exist in this Kafka version."""


class ConnectRestError(RuntimeError):
    """A Connect REST call returned an unexpected status code."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        super().__init__(f"{method} {path} -> HTTP {status}: {body!r}")
        self.method = method
        self.path = path
        self.status = status
        self.body = body
