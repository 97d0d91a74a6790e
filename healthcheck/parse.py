"""Turn Connect's status JSON into typed statuses, rejecting any shape we do not understand."""

from __future__ import annotations

from typing import Any

from healthcheck.model import ConnectorStatus, TaskStatus


class BadResponse(ValueError):
    """Connect answered JSON of a shape we cannot read."""


def _field(doc: dict[str, Any], key: str, kind: type, where: str, optional: bool = False) -> Any:
    value = doc.get(key)
    if value is None and optional:
        return None
    # bool is an int in Python, never a valid task id or string here
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BadResponse(f"{where}: '{key}' should be {kind.__name__}, got {type(value).__name__}")
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadResponse(f"{where}: expected an object, got {type(value).__name__}")
    return value


def parse_task(doc: Any, where: str) -> TaskStatus:
    doc = _object(doc, where)
    return TaskStatus(
        id=_field(doc, "id", int, where),
        state=_field(doc, "state", str, where).upper(),
        worker_id=_field(doc, "worker_id", str, where),
        trace=_field(doc, "trace", str, where, optional=True),
    )


def parse_connector_status(doc: Any, name: str) -> ConnectorStatus:
    """One `GET /connectors/<name>/status` body."""
    where = f"status of connector {name!r}"
    doc = _object(doc, where)
    connector = _object(doc.get("connector"), f"{where}, 'connector'")
    tasks = doc.get("tasks")
    if not isinstance(tasks, list):
        raise BadResponse(f"{where}: 'tasks' should be a list, got {type(tasks).__name__}")
    return ConnectorStatus(
        name=name,
        state=_field(connector, "state", str, where).upper(),
        worker_id=_field(connector, "worker_id", str, where),
        trace=_field(connector, "trace", str, where, optional=True),
        tasks=tuple(parse_task(task, f"{where}, task") for task in tasks),
        type=_field(doc, "type", str, where, optional=True),
    )


def parse_expanded(doc: dict[str, Any]) -> tuple[ConnectorStatus, ...]:
    """A `GET /connectors?expand=status` body: {name: {"status": {...}}, ...}."""
    return tuple(
        parse_connector_status(_object(entry, f"connector {name!r}").get("status"), name) for name, entry in doc.items()
    )


def parse_names(doc: list[Any]) -> tuple[str, ...]:
    """A plain `GET /connectors` body, as Connect before 2.3 answers even when asked to expand."""
    for name in doc:
        if not isinstance(name, str):
            raise BadResponse(f"connector list: expected names, got {type(name).__name__}")
    return tuple(doc)
