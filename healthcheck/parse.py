"""Turn Connect's status JSON into typed statuses, rejecting any shape we do not understand."""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from typing import Any

from healthcheck.causes import root_cause
from healthcheck.model import ConnectorStatus, TaskStatus
from healthcheck.traces import DEFAULT_MAX_TRACE_BYTES, cap_trace


class BadResponse(ValueError):
    """Connect answered JSON of a shape we cannot read."""


@dataclass(frozen=True, slots=True)
class TracePolicy:
    """What parsing keeps of each trace: its one-line root cause alone (--hide-traces: the cause is still shown)
    or at most `max_bytes` (--max-trace-bytes). Applied as each status is read, so a trace we would not show is
    never held past the parse."""

    hide: bool = False
    max_bytes: int = DEFAULT_MAX_TRACE_BYTES

    def keep(self, trace: str | None) -> str | None:
        if trace is None:
            return None
        if self.hide:
            return root_cause(trace)
        return cap_trace(trace, self.max_bytes)

    def object_hook(self, doc: dict[str, Any]) -> dict[str, Any]:
        """For json.loads: apply `keep` to an object's "trace" string the moment the object is decoded."""
        trace = doc.get("trace")
        if isinstance(trace, str):
            doc["trace"] = self.keep(trace)
        return doc


DEFAULT_TRACES = TracePolicy()


def _field(doc: dict[str, Any], key: str, kind: type, where: str, optional: bool = False) -> Any:
    value = doc.get(key)
    if value is None and optional:
        return None
    # bool is an int in Python, never a valid task id or string here
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BadResponse(f"{where}: '{key}' should be {kind.__name__}, got {type(value).__name__}")
    return value


def _shared(text: str) -> str:
    """One copy of a string that repeats across thousands of statuses (a state, a worker id)."""
    return sys.intern(text)


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadResponse(f"{where}: expected an object, got {type(value).__name__}")
    return value


def parse_task(doc: Any, where: str, traces: TracePolicy = DEFAULT_TRACES) -> TaskStatus:
    doc = _object(doc, where)
    return TaskStatus(
        id=_field(doc, "id", int, where),
        state=_shared(_field(doc, "state", str, where).upper()),
        worker_id=_shared(_field(doc, "worker_id", str, where)),
        trace=traces.keep(_field(doc, "trace", str, where, optional=True)),
    )


def parse_connector_status(doc: Any, name: str, traces: TracePolicy = DEFAULT_TRACES) -> ConnectorStatus:
    """One `GET /connectors/<name>/status` body."""
    where = f"status of connector {name!r}"
    doc = _object(doc, where)
    connector = _object(doc.get("connector"), f"{where}, 'connector'")
    tasks = doc.get("tasks")
    if not isinstance(tasks, list):
        raise BadResponse(f"{where}: 'tasks' should be a list, got {type(tasks).__name__}")
    return ConnectorStatus(
        name=name,
        state=_shared(_field(connector, "state", str, where).upper()),
        worker_id=_shared(_field(connector, "worker_id", str, where)),
        trace=traces.keep(_field(connector, "trace", str, where, optional=True)),
        tasks=tuple(parse_task(task, f"{where}, task", traces) for task in tasks),
        type=_field(doc, "type", str, where, optional=True),
    )


def parse_info(doc: Any, name: str) -> tuple[dict[str, str], str | None]:
    """The `info` part of an expanded listing: the connector's config and its type. Config values that are
    not strings (Connect sends only strings) are dropped rather than guessed at."""
    where = f"info of connector {name!r}"
    doc = _object(doc, where)
    config = _object(doc.get("config", {}), f"{where}, 'config'")
    strings = {key: value for key, value in config.items() if isinstance(value, str)}
    return strings, _field(doc, "type", str, where, optional=True)


def parse_expanded(doc: dict[str, Any], traces: TracePolicy = DEFAULT_TRACES) -> tuple[ConnectorStatus, ...]:
    """A `GET /connectors?expand=status&expand=info` body: {name: {"status": {...}, "info": {...}}, ...};
    `info` is optional (a listing asked with `expand=status` alone has none). Consumes `doc`: each entry is
    dropped once parsed, so the decoded JSON and the typed statuses are never both whole in memory."""
    parsed = []
    while doc:
        name, entry = doc.popitem()  # from the end: Connect's order is restored below
        entry = _object(entry, f"connector {name!r}")
        status = parse_connector_status(entry.get("status"), name, traces)
        if entry.get("info") is not None:
            config, kind = parse_info(entry["info"], name)
            status = replace(status, config=config, type=status.type or kind)
        parsed.append(status)
    parsed.reverse()
    return tuple(parsed)


def parse_names(doc: list[Any]) -> tuple[str, ...]:
    """A plain `GET /connectors` body, as Connect before 2.3 answers even when asked to expand."""
    for name in doc:
        if not isinstance(name, str):
            raise BadResponse(f"connector list: expected names, got {type(name).__name__}")
    return tuple(doc)
