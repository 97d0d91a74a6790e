"""Turn Connect's status JSON into typed statuses, rejecting any shape we do not understand."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from healthcheck.causes import root_cause
from healthcheck.model import CONFIG_KEYS, ConnectorStatus, TaskStatus
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

    def json_hook(self) -> Callable[[dict[str, Any]], dict[str, Any]]:
        """For one json.loads: apply `keep` to an object's "trace" string the moment the object is decoded.
        Each distinct kept trace is held once, and a trace equal to the one before it (the tasks of a connector
        often fail alike, and Connect lists them together) is not cut again."""
        kept: dict[str, str] = {}
        last: list[str | None] = [None, None]  # the previous trace as Connect sent it, and what was kept of it

        def hook(doc: dict[str, Any]) -> dict[str, Any]:
            trace = doc.get("trace")
            if isinstance(trace, str):
                if trace != last[0]:
                    short = self.keep(trace)
                    last[0], last[1] = trace, kept.setdefault(short, short) if short is not None else None
                doc["trace"] = last[1]
            return doc

        return hook


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


def parse_connector_status(
    doc: Any,
    name: str,
    traces: TracePolicy = DEFAULT_TRACES,
    info: tuple[Mapping[str, str], str | None] | None = None,
) -> ConnectorStatus:
    """One `GET /connectors/<name>/status` body; `info`: the config and type from `parse_info`, if any."""
    where = f"status of connector {name!r}"
    doc = _object(doc, where)
    connector = _object(doc.get("connector"), f"{where}, 'connector'")
    tasks = doc.get("tasks")
    if not isinstance(tasks, list):
        raise BadResponse(f"{where}: 'tasks' should be a list, got {type(tasks).__name__}")
    kind = _field(doc, "type", str, where, optional=True)
    config = None
    if info is not None:
        config, kind = info[0], kind or info[1]
    return ConnectorStatus(
        name=name,
        state=_shared(_field(connector, "state", str, where).upper()),
        worker_id=_shared(_field(connector, "worker_id", str, where)),
        trace=traces.keep(_field(connector, "trace", str, where, optional=True)),
        tasks=tuple([parse_task(task, f"{where}, task", traces) for task in tasks]),
        type=_shared(kind) if kind is not None else None,
        config=config,
    )


def parse_info(
    doc: Any, name: str, configs: dict[tuple[tuple[str, str], ...], Mapping[str, str]] | None = None
) -> tuple[Mapping[str, str], str | None]:
    """The `info` part of an expanded listing: the CONFIG_KEYS of the connector's config, and its type. Config
    values that are not strings (Connect sends only strings) are dropped rather than guessed at. `configs`
    shares one mapping among connectors whose kept keys are equal (say, tasks.max alone) within one listing."""
    where = f"info of connector {name!r}"
    doc = _object(doc, where)
    config = _object(doc.get("config", {}), f"{where}, 'config'")
    kept = tuple(
        (key, _shared(value)) for key in sorted(CONFIG_KEYS & config.keys()) if isinstance(value := config[key], str)
    )
    shared = configs.get(kept) if configs is not None else None
    if shared is None:
        shared = dict(kept)
        if configs is not None:
            configs[kept] = shared
    return shared, _field(doc, "type", str, where, optional=True)


def parse_expanded(doc: dict[str, Any], traces: TracePolicy = DEFAULT_TRACES) -> tuple[ConnectorStatus, ...]:
    """A `GET /connectors?expand=status&expand=info` body: {name: {"status": {...}, "info": {...}}, ...};
    `info` is optional (a listing asked with `expand=status` alone has none). Consumes `doc`: each entry is
    dropped once parsed, so the decoded JSON and the typed statuses are never both whole in memory."""
    configs: dict[tuple[tuple[str, str], ...], Mapping[str, str]] = {}
    parsed = []
    while doc:
        name, entry = doc.popitem()  # from the end: Connect's order is restored below
        parsed.append(_parse_entry(name, entry, traces, configs))
    parsed.reverse()
    return tuple(parsed)


def parse_members(
    members: Iterable[tuple[str, Any]], traces: TracePolicy = DEFAULT_TRACES
) -> tuple[ConnectorStatus, ...]:
    """The same listing as (name, entry) pairs, decoded one at a time (json_members.members). A name listed
    twice keeps its first place and its last entry, as json.loads would."""
    configs: dict[tuple[tuple[str, str], ...], Mapping[str, str]] = {}
    parsed: dict[str, ConnectorStatus] = {}
    for name, entry in members:
        parsed[name] = _parse_entry(name, entry, traces, configs)
    return tuple(parsed.values())


def _parse_entry(
    name: str, entry: Any, traces: TracePolicy, configs: dict[tuple[tuple[str, str], ...], Mapping[str, str]]
) -> ConnectorStatus:
    entry = _object(entry, f"connector {name!r}")
    info = parse_info(entry["info"], name, configs) if entry.get("info") is not None else None
    return parse_connector_status(entry.get("status"), name, traces, info)


def parse_names(doc: list[Any]) -> tuple[str, ...]:
    """A plain `GET /connectors` body, as Connect before 2.3 answers even when asked to expand."""
    for name in doc:
        if not isinstance(name, str):
            raise BadResponse(f"connector list: expected names, got {type(name).__name__}")
    return tuple(doc)
