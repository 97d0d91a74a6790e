"""STALLED enters the verdict through evaluate(), as every other state does: a table of cases that say why."""

from __future__ import annotations

import re
from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthcheck.model import STALLED, STATES, ConnectorStatus, TaskStatus
from healthcheck.progress import Judgement, Stuck
from healthcheck.progress_report import ConnectorProgress
from healthcheck.verdict import Rules, evaluate

A = "10.0.0.1:8083"
B = "10.0.0.2:8083"
BOTH = frozenset({"CONNECTOR", "TASK"})
WITH_STALLED = frozenset({"FAILED", STALLED})


def sink(
    name: str = "s", state: str = "RUNNING", tasks: tuple[str, ...] = ("RUNNING",), worker: str = A
) -> ConnectorStatus:
    return ConnectorStatus(
        name, state, worker, None, tuple(TaskStatus(i, s, worker) for i, s in enumerate(tasks)), "sink"
    )


def stalled_progress(name: str = "s") -> ConnectorProgress:
    return ConnectorProgress(
        name,
        "sink",
        Judgement.STALLED,
        "2026-01-01T00:05:00.000Z",
        lag=42,
        last_progress="2026-01-01T00:00:00.000Z",
        stuck=(Stuck("orders", 0, 42),),
    )


class Case(NamedTuple):
    connectors: tuple[ConnectorStatus, ...]
    rules: Rules
    failures: tuple[tuple[str, str, int | None], ...]  # (connector, state, task id)
    healthy: bool


CASES = [
    # RUNNING, a RUNNING task, found stalled, STALLED counts: one connector failure, unhealthy.
    pytest.param(Case((sink(),), Rules(WITH_STALLED, BOTH), (("s", STALLED, None),), False), id="stalled-fails"),
    # STALLED not in --unhealthy-states: the report is shown in /connectors, but / stays healthy.
    pytest.param(Case((sink(),), Rules(frozenset({"FAILED"}), BOTH), (), True), id="stalled-not-judged"),
    # Paused since the report was made: PAUSED is what it is, never STALLED.
    pytest.param(Case((sink(state="PAUSED", tasks=("PAUSED",)),), Rules(WITH_STALLED, BOTH), (), True), id="paused"),
    # Stopped (3.5+): no tasks, nothing to move.
    pytest.param(Case((sink(state="STOPPED", tasks=()),), Rules(WITH_STALLED, BOTH), (), True), id="stopped"),
    # FAILED since: one entry, FAILED, never a second STALLED entry for the same connector.
    pytest.param(
        Case((sink(state="FAILED"),), Rules(WITH_STALLED, BOTH), (("s", "FAILED", None),), False), id="failed-wins"
    ),
    # RUNNING connector whose only task FAILED: the task's failure is the truth, not a stall.
    pytest.param(
        Case((sink(tasks=("FAILED",)),), Rules(WITH_STALLED, BOTH), (("s", "FAILED", 0),), False), id="task-failed"
    ),
    # Only tasks judged: STALLED is a connector's state, so it does not count.
    pytest.param(Case((sink(),), Rules(WITH_STALLED, frozenset({"TASK"})), (), True), id="tasks-only"),
    # The connector runs on another worker than the one monitored.
    pytest.param(Case((sink(worker=B),), Rules(WITH_STALLED, BOTH, worker_id=A), (), True), id="other-worker"),
    # Filtered out by --exclude-connectors: counts nowhere.
    pytest.param(
        Case((sink(),), Rules(WITH_STALLED, BOTH, exclude=re.compile("s")), (), True), id="excluded-connector"
    ),
    # A threshold: 1 stalled out of 2 connectors + 2 tasks is 25 %, within 50 %.
    pytest.param(
        Case((sink(), sink("t")), Rules(WITH_STALLED, BOTH, failure_threshold=0.5), (("s", STALLED, None),), True),
        id="within-threshold",
    ),
]


@pytest.mark.parametrize("case", CASES)
def test_stalled_in_the_verdict(case: Case) -> None:
    verdict = evaluate(case.connectors, case.rules, stalled={"s": stalled_progress()})
    assert tuple((f.connector, f.state, f.task_id) for f in verdict.failures) == case.failures
    assert verdict.healthy is case.healthy


def test_a_stalled_failure_carries_its_lag_last_progress_and_stuck_partitions() -> None:
    (failure,) = evaluate((sink(),), Rules(WITH_STALLED, BOTH), stalled={"s": stalled_progress()}).failures
    assert failure.stall == stalled_progress()
    assert (failure.type, failure.worker_id) == ("connector", A)
    # the one-line cause that notifications, the status page and the log show
    assert failure.cause == (
        "the connector is RUNNING but moves no data (1 partition(s) stuck, lag 42; "
        "last progress 2026-01-01T00:00:00.000Z)"
    )


def test_a_connector_missing_from_the_report_is_not_stalled() -> None:
    verdict = evaluate((sink("other"),), Rules(WITH_STALLED, BOTH), stalled={"s": stalled_progress()})
    assert verdict.failures == () and verdict.healthy


connector_states = st.sampled_from(STATES)


@given(
    states=st.lists(st.tuples(connector_states, st.lists(connector_states, max_size=3)), min_size=1, max_size=6),
    unhealthy=st.sets(st.sampled_from((*STATES, STALLED)), min_size=1),
)
def test_no_stall_report_changes_nothing(states: list[tuple[str, list[str]]], unhealthy: set[str]) -> None:
    """Without stalled connectors the verdict is exactly what it is without a progress check."""
    connectors = tuple(sink(f"c{i}", state, tuple(tasks)) for i, (state, tasks) in enumerate(states))
    rules = Rules(frozenset(unhealthy), BOTH)
    assert evaluate(connectors, rules, stalled={}) == evaluate(connectors, rules)


@given(states=st.lists(st.tuples(connector_states, st.lists(connector_states, max_size=3)), min_size=1, max_size=6))
def test_stalled_is_only_ever_a_running_connector_with_a_running_task(states: list[tuple[str, list[str]]]) -> None:
    connectors = tuple(sink(f"c{i}", state, tuple(tasks)) for i, (state, tasks) in enumerate(states))
    stalled = {c.name: stalled_progress(c.name) for c in connectors}
    verdict = evaluate(connectors, Rules(WITH_STALLED, BOTH), stalled=stalled)
    by_name = {c.name: c for c in connectors}
    for failure in verdict.failures:
        if failure.state == STALLED:
            assert by_name[failure.connector].running and failure.task_id is None
