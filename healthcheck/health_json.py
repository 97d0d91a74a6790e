"""The `application/health+json` bodies (IETF draft-inadarei-api-health-check) of `/`, `/ready` and
`/connectors/<name>`, built from one snapshot's verdict."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import Any

from healthcheck import __version__
from healthcheck.model import ConnectorStatus, WorkerHealth
from healthcheck.verdict import FAIL, PASS, WARN, Failure, FailureKey, Rules, Verdict

CONTENT_TYPE = "application/health+json"
DESCRIPTION = "Health of a Kafka Connect cluster, from the last poll of its REST API"


def wants_health_json(accept: str | None) -> bool:
    """Does an Accept header ask for health+json ahead of plain JSON? Probes send none or `*/*`, so the
    common case is one substring test; only a header that names health+json is parsed (once per distinct
    header: a monitor sends the same one every time)."""
    if not accept or "health+json" not in accept:
        return False
    return _prefers_health_json(accept)


@functools.lru_cache(maxsize=256)  # bounded: any client can send any header
def _prefers_health_json(accept: str) -> bool:
    quality: dict[str, float] = {}
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        quality[media.lower()] = max(q, quality.get(media.lower(), 0.0))
    wanted = quality.get(CONTENT_TYPE, 0.0)
    return wanted > 0 and wanted >= quality.get("application/json", 0.0)


def _check(kind: str, component: str, observed: str, status: str, time: str | None, output: str | None) -> dict:
    check: dict[str, Any] = {
        "componentId": component,
        "componentType": kind,
        "observedValue": observed,
        "status": status,
        "time": time,
    }
    if output:
        check["output"] = output
    return check


def _part_status(failure: Failure | None) -> str:
    if failure is None:
        return PASS
    return FAIL if failure.counted else WARN  # listed, but not yet lasted --unhealthy-after


def connector_checks(
    connectors: Iterable[ConnectorStatus], failures: dict[FailureKey, Failure], rules: Rules, time: str
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """One check per connector and task the verdict considered, in the verdict's order (by name, then id)."""
    judge_connectors = "CONNECTOR" in rules.considered_containers
    judge_tasks = "TASK" in rules.considered_containers
    for connector in connectors:
        if judge_connectors and rules.on_monitored_worker(connector.worker_id):
            failure = failures.get((connector.name, None))
            observed = failure.state if failure is not None else connector.state  # NO_TASKS is ours, not Connect's
            output = failure.cause if failure is not None else None
            check = _check("connector", connector.name, observed, _part_status(failure), time, output)
            yield f"connector:{connector.name}", [check]
        if not judge_tasks:
            continue
        for task in sorted(connector.tasks, key=lambda t: t.id):
            if rules.on_monitored_worker(task.worker_id):
                failure = failures.get((connector.name, task.id))
                output = failure.cause if failure is not None else None
                check = _check("task", f"{connector.name}-{task.id}", task.state, _part_status(failure), time, output)
                yield f"task:{connector.name}-{task.id}", [check]


def worker_check(worker: WorkerHealth | None, time: str) -> dict[str, list[dict[str, Any]]]:
    """The worker's own GET /health, where Connect has one (3.9+)."""
    if worker is None:
        return {}
    status = PASS if worker.healthy else FAIL
    return {"worker:health": [_check("worker", "health", worker.state, status, time, worker.message or None)]}


def _doc(status: str, output: str | None, checks: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    doc: dict[str, Any] = {"status": status, "releaseId": __version__, "description": DESCRIPTION}
    if output:
        doc["output"] = output
    if checks:
        doc["checks"] = checks
    return doc


def _summary(verdict: Verdict) -> str | None:
    """What is wrong, in one line, for a warn or fail."""
    parts = []
    if verdict.failures:
        counted = sum(1 for f in verdict.failures if f.counted)
        text = (
            f"{counted} of {verdict.considered} considered failing "
            f"(rate {verdict.failure_rate:.3f}, threshold {verdict.failure_threshold:.3f})"
        )
        if counted < len(verdict.failures):
            text += f"; {len(verdict.failures) - counted} more listed, not yet lasted --unhealthy-after"
        parts.append(text)
    if verdict.worker is not None:
        parts.append(f"the Connect worker reports itself {verdict.worker.state}: {verdict.worker.message}")
    if verdict.warning is not None:
        parts.append(verdict.warning)
    return "; ".join(parts) or None


def health_doc(
    connectors: Iterable[ConnectorStatus],
    verdict: Verdict,
    rules: Rules,
    worker: WorkerHealth | None,
    checked_at: str,
) -> dict[str, Any]:
    """`GET /` as health+json: the verdict's level, and a check per considered connector and task."""
    failures = {f.key: f for f in verdict.failures}
    checks = dict(connector_checks(connectors, failures, rules, checked_at))
    checks.update(worker_check(worker, checked_at))
    return _doc(verdict.status, _summary(verdict), checks)


def connector_doc(connector: ConnectorStatus, verdict: Verdict, rules: Rules, checked_at: str) -> dict[str, Any]:
    """`GET /connectors/<name>` as health+json: this connector's own level (the threshold does not apply)."""
    failures = {f.key: f for f in verdict.failures if f.connector == connector.name}
    checks = dict(connector_checks((connector,), failures, rules, checked_at))
    status = FAIL if any(f.counted for f in failures.values()) else WARN if failures else PASS
    output = "; ".join(f.cause for f in failures.values()) or None
    return _doc(status, output, checks)


def ready_doc(ready: bool, message: str, worker: WorkerHealth | None, checked_at: str | None) -> dict[str, Any]:
    """`GET /ready` as health+json: did the last poll read Connect (and does the worker call itself healthy)."""
    return _doc(PASS if ready else FAIL, message, worker_check(worker, checked_at) if checked_at else {})


def failing_doc(output: str) -> dict[str, Any]:
    """No status to judge (no poll yet, Connect unreadable, a stale snapshot): fail, and why."""
    return _doc(FAIL, output, {})
