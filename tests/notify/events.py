"""Events and snapshots built directly, for tests that start after the tracker."""

from __future__ import annotations

from healthcheck.notify.incidents import Event, Incident

AT = "2025-01-01T12:00:00.000Z"


def incident(connector: str = "orders-sink", task: int | None = 1, state: str = "FAILED") -> Incident:
    key = f"connector:{connector}" if task is None else f"task:{connector}:{task}"
    return Incident(
        key=key,
        state=state,
        cause="java.io.IOException: disk full",
        since="2025-01-01T11:58:00.000Z",
        connector=connector,
        task=task,
        worker_id="10.0.0.7:8083",
        cluster="lkc-1",
    )


def event(kind: str = "open", **fields: object) -> Event:
    return Event(kind, incident(**fields), AT)  # type: ignore[arg-type]
