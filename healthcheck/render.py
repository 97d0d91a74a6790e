"""The JSON bodies we answer with, rendered to bytes once per poll (or once per snapshot, on first use)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from healthcheck.model import ConnectorStatus, RestartStatus, WorkerHealth
from healthcheck.progress_render import progress_doc, progress_error_doc, stall_fields
from healthcheck.progress_report import ProgressError, ProgressReport
from healthcheck.verdict import FAIL, Failure, Rules, Verdict

NO_STATUS_MESSAGE = "No status yet: the first poll of Kafka Connect has not finished."
POLL_ERROR_MESSAGE = "Could not read the status of Kafka Connect; assuming unhealthy."


@dataclass(frozen=True, slots=True)
class View:
    """How failures are shown: the settings that shape the body, fixed for the life of the process."""

    failure_states: tuple[str, ...]
    hide_traces: bool = False
    rules: Rules | None = None  # which parts the verdict considered, for the health+json checks; None: all


def to_json_bytes(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def failure_doc(failure: Failure, view: View, restart: RestartStatus | None = None) -> dict[str, Any]:
    """The original tool's failure entry: a task always has "trace", a connector only when Connect gave one.
    Ours adds "cause" (one line, shown even with traces hidden), "since", and the auto-restart fields when
    auto-restart manages the connector."""
    trace = None if view.hide_traces else failure.trace
    doc: dict[str, Any] = {"type": failure.type, "connector": failure.connector}
    if failure.type == "task":
        doc["id"] = failure.task_id
    doc["state"] = failure.state
    doc["worker_id"] = failure.worker_id
    if failure.type == "task" or trace is not None:
        doc["trace"] = trace
    doc["cause"] = failure.cause
    if failure.since is not None:
        doc["since"] = failure.since
    if failure.stall is not None:
        doc.update(stall_fields(failure.stall))
    if not failure.counted:
        doc["counted"] = False  # listed, but not yet long enough to turn / into 503 (unhealthy-after)
    if restart is not None:
        doc["restart_attempts"] = restart.attempts
        if restart.exhausted:
            doc["restarts_exhausted"] = True
        else:
            doc["next_restart"] = restart.next_restart
        if failure.state == "FAILED":  # what auto-restart does about this very failure, and why
            doc["restart"] = restart_word(restart, failure.task_id)
            if doc["restart"] == "persistent":
                doc["last_cause"] = restart.last_cause
    return doc


def restart_word(restart: RestartStatus, part: int | None) -> str:
    """ "skipped: <reason>", "persistent" (max attempts reached), or "scheduled" (next_restart says when)."""
    reason = restart.skipped.get(part)
    if reason is not None:
        return f"skipped: {reason}"
    return "persistent" if restart.exhausted else "scheduled"


def worker_failure_doc(worker: WorkerHealth) -> dict[str, Any]:
    return {"type": "worker", "state": worker.state, "message": worker.message, "cause": worker.message or worker.state}


def health_doc(
    verdict: Verdict,
    view: View,
    checked_at: str,
    restarts: Mapping[str, RestartStatus] | None = None,
    progress_error: ProgressError | None = None,
) -> dict[str, Any]:
    restarts = restarts or {}
    failures = [worker_failure_doc(verdict.worker)] if verdict.worker is not None else []
    failures += [failure_doc(f, view, restarts.get(f.connector)) for f in verdict.failures]
    doc: dict[str, Any] = {
        "failures": failures,
        "failure_states": list(view.failure_states),
        "failure_rate": verdict.failure_rate,
        "failure_threshold": verdict.failure_threshold,
        "healthy": verdict.healthy,
        "status": verdict.status,
        "checked_at": checked_at,
    }
    if progress_error is not None:
        doc["progress_error"] = progress_error_doc(progress_error)
    if verdict.warning is not None:
        doc["warning"] = verdict.warning
    return doc


def poll_error_doc(reason: str, error: str, view: View, checked_at: str) -> dict[str, Any]:
    return {
        "healthy": False,
        "status": FAIL,
        "message": POLL_ERROR_MESSAGE,
        "error": error,
        "reason": reason,
        "failure_states": list(view.failure_states),
        "checked_at": checked_at,
    }


def no_status_doc(view: View) -> dict[str, Any]:
    return {"healthy": False, "status": FAIL, "message": NO_STATUS_MESSAGE, "failure_states": list(view.failure_states)}


def stale_doc(age: float, max_staleness: float, view: View, checked_at: str) -> dict[str, Any]:
    return {
        "healthy": False,
        "status": FAIL,
        "message": (
            f"Status is stale: the last completed poll of Kafka Connect is {age:.1f} s old "
            f"(max staleness {max_staleness:g} s); assuming unhealthy."
        ),
        "error": "stale",
        "age_seconds": round(age, 3),
        "failure_states": list(view.failure_states),
        "checked_at": checked_at,
    }


def ready_doc(ready: bool, message: str, checked_at: str | None, warning: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"ready": ready, "message": message, "checked_at": checked_at}
    if warning is not None:
        doc["warning"] = warning
    return doc


def failures_by_connector(verdict: Verdict) -> dict[str, list[Failure]]:
    """The verdict's failures grouped by connector, in one pass (so /connectors is linear in its size)."""
    grouped: dict[str, list[Failure]] = {}
    for failure in verdict.failures:
        grouped.setdefault(failure.connector, []).append(failure)
    return grouped


def connector_summary(
    connector: ConnectorStatus, failing: Sequence[Failure], progress: ProgressReport | None = None
) -> dict[str, Any]:
    """One line of `GET /connectors`: states only (no traces), this connector's own verdict from its `failing`
    entries, and its progress when the progress check judges it."""
    doc = {
        "name": connector.name,
        "type": connector.type,
        "state": connector.state,
        "worker_id": connector.worker_id,
        "tasks": [{"id": t.id, "state": t.state, "worker_id": t.worker_id} for t in connector.tasks],
        "tasks_max": connector.tasks_max,
        "tasks_running": connector.tasks_running,
        "healthy": not any(f.counted for f in failing),
        "failures": len(failing),
    }
    judged = progress.connectors.get(connector.name) if progress is not None else None
    if judged is not None:
        doc["progress"] = progress_doc(judged)
    return doc


def connectors_doc(
    connectors: Sequence[ConnectorStatus], verdict: Verdict, checked_at: str, progress: ProgressReport | None = None
) -> dict[str, Any]:
    grouped = failures_by_connector(verdict)
    return {
        "connectors": [connector_summary(c, grouped.get(c.name, ()), progress) for c in connectors],
        "checked_at": checked_at,
    }


def connector_doc(
    connector: ConnectorStatus,
    verdict: Verdict,
    view: View,
    checked_at: str,
    restart: RestartStatus | None = None,
    progress: ProgressReport | None = None,
) -> dict[str, Any]:
    """`GET /connectors/<name>`: this connector's states and failures alone."""
    failing = [f for f in verdict.failures if f.connector == connector.name]  # one connector: one pass
    doc = connector_summary(connector, failing, progress)
    doc["failures"] = [failure_doc(f, view, restart) for f in failing]
    doc["failure_states"] = list(view.failure_states)
    doc["checked_at"] = checked_at
    return doc
