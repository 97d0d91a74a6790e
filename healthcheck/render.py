"""The JSON bodies we answer with, rendered to bytes (once per poll for the probe paths)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from healthcheck.verdict import Failure, Verdict


def to_json_bytes(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def failure_doc(failure: Failure) -> dict[str, Any]:
    """The original tool's failure entry: a task always has "trace", a connector only when Connect gave one."""
    doc: dict[str, Any] = {"type": failure.type, "connector": failure.connector}
    if failure.type == "task":
        doc["id"] = failure.task_id
    doc["state"] = failure.state
    doc["worker_id"] = failure.worker_id
    if failure.type == "task" or failure.trace is not None:
        doc["trace"] = failure.trace
    return doc


def health_body(verdict: Verdict, failure_states: Sequence[str], checked_at: str) -> bytes:
    return to_json_bytes(
        {
            "failures": [failure_doc(f) for f in verdict.failures],
            "failure_states": list(failure_states),
            "failure_rate": verdict.failure_rate,
            "failure_threshold": verdict.failure_threshold,
            "healthy": verdict.healthy,
            "checked_at": checked_at,
        }
    )


def poll_error_body(reason: str, error: str, failure_states: Sequence[str], checked_at: str) -> bytes:
    return to_json_bytes(
        {
            "healthy": False,
            "message": "Could not read the status of Kafka Connect; assuming unhealthy.",
            "error": error,
            "reason": reason,
            "failure_states": list(failure_states),
            "checked_at": checked_at,
        }
    )


def no_status_body(failure_states: Sequence[str]) -> bytes:
    return to_json_bytes(
        {
            "healthy": False,
            "message": "No status yet: the first poll of Kafka Connect has not finished.",
            "failure_states": list(failure_states),
        }
    )


def stale_body(age: float, max_staleness: float, failure_states: Sequence[str], checked_at: str) -> bytes:
    return to_json_bytes(
        {
            "healthy": False,
            "message": (
                f"Status is stale: the last completed poll of Kafka Connect is {age:.1f} s old "
                f"(max staleness {max_staleness:g} s); assuming unhealthy."
            ),
            "error": "stale",
            "age_seconds": round(age, 3),
            "failure_states": list(failure_states),
            "checked_at": checked_at,
        }
    )
