"""The open incidents as a JSON document in the actor's state, so a new actor carries them on instead of
opening them again."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from healthcheck.notify.incidents import Incident, OpenIncident

log = logging.getLogger(__name__)

VERSION = 1


def dump(incidents: Iterable[OpenIncident], now: float, wall_now: float) -> dict[str, Any]:
    """`now` is this process's monotonic clock, `wall_now` the same moment in epoch seconds: times are written
    as wall-clock seconds, since one process's monotonic clock means nothing to another."""
    return {
        "version": VERSION,
        "incidents": [
            {
                "key": track.incident.key,
                "state": track.incident.state,
                "cause": track.incident.cause,
                "since": track.incident.since,
                "connector": track.incident.connector,
                "task": track.incident.task,
                "worker_id": track.incident.worker_id,
                "cluster": track.incident.cluster,
                "opened": track.opened,
                "last_sent": wall_now - (now - track.last_sent),
                "healthy_since": None if track.healthy_since is None else wall_now - (now - track.healthy_since),
            }
            for track in incidents
        ],
    }


def _optional(value: Any, kind: type) -> Any:
    if value is not None and not isinstance(value, kind):
        raise TypeError(f"{value!r} is not a {kind.__name__}")
    return value


def _required(value: Any, kind: type) -> Any:
    if not isinstance(value, kind):
        raise TypeError(f"{value!r} is not a {kind.__name__}")
    return value


def _incident(saved: dict[str, Any], now: float, wall_now: float) -> OpenIncident:
    incident = Incident(
        key=_required(saved["key"], str),
        state=_required(saved["state"], str),
        cause=_required(saved["cause"], str),
        since=_required(saved["since"], str),
        connector=_optional(saved.get("connector"), str),
        task=_optional(saved.get("task"), int),
        worker_id=_optional(saved.get("worker_id"), str),
        cluster=_optional(saved.get("cluster"), str),
    )
    # A time in the future (a clock stepped back) counts as now: it must not hold back a repeat for long.
    last_sent = now - max(0.0, wall_now - float(saved["last_sent"]))
    healthy = saved.get("healthy_since")
    healthy_since = None if healthy is None else now - max(0.0, wall_now - float(healthy))
    return OpenIncident(incident, _required(saved["opened"], str), last_sent, healthy_since)


def load(doc: dict[str, Any], now: float, wall_now: float) -> list[OpenIncident]:
    """The open incidents in `doc` ({} when there is none); an entry that is damaged or from another version
    is left out (its failure, if still there, opens again: a duplicate, never a lost incident)."""
    entries = doc.get("incidents")
    if doc.get("version") != VERSION or not isinstance(entries, list):
        return []
    loaded = []
    for saved in entries:
        try:
            loaded.append(_incident(saved, now, wall_now))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            log.warning("an open incident in the actor's state is unreadable and is left out: %s", error)
    return loaded
