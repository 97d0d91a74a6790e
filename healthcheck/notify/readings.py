"""What one published snapshot says is wrong, at a given time, as problems the incident tracker reads."""

from __future__ import annotations

from healthcheck.notify.incidents import CONNECT_KEY, Problem, Reading, connector_key, task_key
from healthcheck.snapshot import Snapshot
from healthcheck.verdict import Failure


def _failure_problem(failure: Failure) -> Problem:
    key = connector_key(failure.connector) if failure.task_id is None else task_key(failure.connector, failure.task_id)
    return Problem(
        key=key,
        state=failure.state,
        cause=failure.cause,
        connector=failure.connector,
        task=failure.task_id,
        worker_id=failure.worker_id,
        since=failure.since,
        counted=failure.counted,
    )


def read(snapshot: Snapshot | None, now: float, max_staleness: float, unhealthy_after: float) -> Reading:
    """The problems in `snapshot` as seen at monotonic `now`. No snapshot yet: nothing is known to be wrong.

    Connect's own problem (stale, unreadable, or its worker reporting itself unhealthy) is judged here, not by
    the verdict, so it gets `hold` = --unhealthy-after: one timed-out poll does not page anyone."""
    if snapshot is None:
        return Reading((), connectors_known=False)
    age = now - snapshot.taken_at
    if age > max_staleness:
        cause = f"no poll of Connect has completed for {age:.0f} s (at most {max_staleness:g} s allowed)"
        return Reading((Problem(CONNECT_KEY, "STALE", cause, hold=unhealthy_after),), connectors_known=False)
    if snapshot.error is not None:
        problem = Problem(CONNECT_KEY, "UNREADABLE", snapshot.error.message, hold=unhealthy_after)
        return Reading((problem,), connectors_known=False)
    verdict = snapshot.verdict
    problems = [_failure_problem(failure) for failure in verdict.failures] if verdict else []
    worker = verdict.worker if verdict else None
    if worker is not None:
        cause = f"the worker reports itself {worker.state}" + (f": {worker.message}" if worker.message else "")
        problems.append(Problem(CONNECT_KEY, "WORKER_UNHEALTHY", cause, hold=unhealthy_after))
    return Reading(tuple(problems))
