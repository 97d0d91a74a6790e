"""Events and snapshots built directly, for tests that start after the tracker; a notifier the test drives."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from healthcheck.notify.courier import Courier, Target
from healthcheck.notify.incidents import Event, Incident
from healthcheck.notify.notifier import Notifier

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


def driven_notifier(
    targets: Sequence[Target],
    clock: Callable[[], float],
    results: list[tuple[str, str, str]],
    *,
    settle: float,
    cluster: str,
    timeout: float | None = None,
) -> Notifier:
    """A Notifier over started couriers whose timer never fires (tick 1 h): the test calls consume() and
    evaluate() itself. Every delivery's (target, event, result) goes into `results`. Stop it with stop()."""
    options = {} if timeout is None else {"timeout": timeout}
    couriers = [Courier(target, record=lambda *result: results.append(result), **options) for target in targets]
    notifier = Notifier(
        couriers,
        repeat=60,
        settle=settle,
        max_staleness=15,
        unhealthy_after=0,
        tick=3600,
        cluster_id=lambda: cluster,
        clock=clock,
    )
    for courier in couriers:
        courier.start()
    return notifier
