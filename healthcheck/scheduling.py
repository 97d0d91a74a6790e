"""Interval jobs on APScheduler's public API, each in a daemon thread of its own, so none can hold up exit.

Each job gets its own BackgroundScheduler with the DebugExecutor, which runs the job in the scheduler's own
thread: a daemon thread (daemon=True), which the interpreter abandons at exit. A poll stuck in a hung Connect
therefore never holds SIGTERM; the default thread pool would be joined at exit and hold it until the request
gives up. One job per scheduler: a job runs in its scheduler's thread, so jobs that must not wait on each
other (the poll, a progress reader) each get their own. The scheduler's thread being busy is also what keeps
a slow run from being overlapped by the next one (coalesce folds the missed runs into one).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.debug import DebugExecutor
from apscheduler.schedulers.background import BackgroundScheduler


def start_every(
    seconds: float, job: Callable[[], object], name: str, *, first_run_in: float = 0.0
) -> BackgroundScheduler:
    """Run `job` in `first_run_in` seconds (now by default), then every `seconds`, in a daemon thread; return
    its scheduler (for `stop`)."""
    scheduler = BackgroundScheduler(daemon=True, timezone=UTC, executors={"default": DebugExecutor()})
    scheduler.add_job(
        job,
        "interval",
        seconds=seconds,
        next_run_time=datetime.now(UTC) + timedelta(seconds=first_run_in),
        id=name,
        name=name,
        max_instances=1,
        coalesce=True,  # missed runs collapse into one
        misfire_grace_time=None,
    )
    scheduler.start()
    return scheduler


def stop(scheduler: BackgroundScheduler) -> None:
    """Stop scheduling without waiting: BackgroundScheduler.shutdown joins its thread, which may be inside a
    run stuck on Connect; a daemon thread does that wait instead, and is abandoned if the process exits."""
    threading.Thread(target=scheduler.shutdown, kwargs={"wait": False}, name="scheduler-stop", daemon=True).start()
