"""The health rule: a table of cases that say why, and properties that hold for any cluster."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthcheck.model import CONTAINERS, JUDGED_STATES, STATES, ConnectorStatus, TaskStatus
from healthcheck.verdict import Failure, Rules, evaluate

A = "10.0.0.1:8083"
B = "10.0.0.2:8083"
BOTH = frozenset(CONTAINERS)


def task(id: int, state: str = "RUNNING", worker_id: str = A, trace: str | None = None) -> TaskStatus:
    return TaskStatus(id, state, worker_id, trace)


def connector(
    name: str, state: str = "RUNNING", worker_id: str = A, tasks: tuple[TaskStatus, ...] = (), trace: str | None = None
) -> ConnectorStatus:
    return ConnectorStatus(name, state, worker_id, trace, tasks, "sink")


def rules(
    unhealthy: tuple[str, ...] = ("FAILED",),
    considered: frozenset[str] = BOTH,
    worker_id: str | None = None,
    threshold: float = 0.0,
) -> Rules:
    return Rules(frozenset(unhealthy), considered, worker_id, threshold)


def ten_connectors(failing: int) -> tuple[ConnectorStatus, ...]:
    return tuple(connector(f"c{i}", "FAILED" if i < failing else "RUNNING") for i in range(10))


class Case(NamedTuple):
    connectors: tuple[ConnectorStatus, ...]
    rules: Rules
    healthy: bool
    considered: int
    failures: tuple[tuple[str, str, int | None], ...]  # (type, connector, task id)


CASES = [
    # Everything running: nothing fails, so the cluster is healthy.
    pytest.param(
        Case((connector("c", tasks=(task(0), task(1))),), rules(), True, 3, ()),
        id="all-running-is-healthy",
    ),
    # One failed task out of a connector and two tasks fails the check at the default threshold 0.
    pytest.param(
        Case((connector("c", tasks=(task(0, "FAILED"), task(1))),), rules(), False, 3, (("task", "c", 0),)),
        id="failed-task-is-unhealthy",
    ),
    # A failed connector counts even when it has no tasks left.
    pytest.param(
        Case((connector("c", "FAILED"),), rules(), False, 1, (("connector", "c", None),)),
        id="failed-connector-is-unhealthy",
    ),
    # PAUSED is an operator's choice, not a fault: healthy unless the operator lists it.
    pytest.param(
        Case((connector("c", "PAUSED", tasks=(task(0, "PAUSED"),)),), rules(), True, 2, ()),
        id="paused-is-healthy-by-default",
    ),
    pytest.param(
        Case(
            (connector("c", "PAUSED", tasks=(task(0, "PAUSED"),)),),
            rules(unhealthy=("FAILED", "PAUSED")),
            False,
            2,
            (("connector", "c", None), ("task", "c", 0)),
        ),
        id="paused-is-unhealthy-when-listed",
    ),
    # A state not listed (UNASSIGNED, RESTARTING, STOPPED) is not a failure either.
    pytest.param(
        Case((connector("c", "STOPPED", tasks=(task(0, "UNASSIGNED"), task(1, "RESTARTING"))),), rules(), True, 3, ()),
        id="unlisted-states-are-healthy",
    ),
    # The worker filter looks at each connector and each task on its own: the connector runs on A,
    # its task on B. Watching A judges the failed connector but not its task ...
    pytest.param(
        Case(
            (connector("c", "FAILED", A, tasks=(task(0, "FAILED", B),)),),
            rules(worker_id=A),
            False,
            1,
            (("connector", "c", None),),
        ),
        id="worker-filter-connector-on-this-worker",
    ),
    # ... and watching B judges the task but not the connector.
    pytest.param(
        Case(
            (connector("c", "FAILED", A, tasks=(task(0, "FAILED", B),)),),
            rules(worker_id=B),
            False,
            1,
            (("task", "c", 0),),
        ),
        id="worker-filter-task-on-this-worker",
    ),
    # A failure on another worker is that worker's problem: healthy here.
    pytest.param(
        Case((connector("c", "RUNNING", A, tasks=(task(0, "FAILED", B),)),), rules(worker_id=A), True, 1, ()),
        id="worker-filter-ignores-other-workers",
    ),
    # Worker ids compare case-insensitively (host names are).
    pytest.param(
        Case(
            (connector("c", "FAILED", "Connect-1.Example:8083"),),
            rules(worker_id="connect-1.example:8083"),
            False,
            1,
            (("connector", "c", None),),
        ),
        id="worker-filter-ignores-case",
    ),
    # TASK only: a failed connector is not judged, only its tasks are counted.
    pytest.param(
        Case((connector("c", "FAILED", tasks=(task(0), task(1))),), rules(considered=frozenset({"TASK"})), True, 2, ()),
        id="tasks-only-ignores-connector",
    ),
    # CONNECTOR only: a failed task is not judged, only the connector is counted.
    pytest.param(
        Case((connector("c", tasks=(task(0, "FAILED"),)),), rules(considered=frozenset({"CONNECTOR"})), True, 1, ()),
        id="connectors-only-ignores-tasks",
    ),
    # Threshold 10 %: 1 of 10 failing is a rate of 0.1, at most 0.1, so healthy ...
    pytest.param(
        Case(ten_connectors(1), rules(threshold=0.1), True, 10, (("connector", "c0", None),)),
        id="threshold-1-of-10-at-10-percent-is-healthy",
    ),
    # ... and 2 of 10 is 0.2, over it.
    pytest.param(
        Case(
            ten_connectors(2), rules(threshold=0.1), False, 10, (("connector", "c0", None), ("connector", "c1", None))
        ),
        id="threshold-2-of-10-at-10-percent-is-unhealthy",
    ),
    # A RUNNING connector without tasks processes nothing. By default that is not a failure (connectors such
    # as MirrorMaker's can run with no tasks by design) ...
    pytest.param(Case((connector("c"),), rules(), True, 1, ()), id="no-tasks-is-healthy-by-default"),
    # ... and it is one (NO_TASKS, a connector entry) when the operator lists NO_TASKS.
    pytest.param(
        Case((connector("c"),), rules(unhealthy=("FAILED", "NO_TASKS")), False, 1, (("connector", "c", None),)),
        id="no-tasks-is-unhealthy-when-listed",
    ),
    # Only RUNNING without tasks is NO_TASKS: a STOPPED or PAUSED connector has none because it was told so.
    pytest.param(
        Case((connector("c", "STOPPED"), connector("d", "PAUSED")), rules(unhealthy=("NO_TASKS",)), True, 2, ()),
        id="stopped-without-tasks-is-not-no-tasks",
    ),
    # A failed connector is FAILED, not NO_TASKS, though it has no tasks either.
    pytest.param(
        Case((connector("c", "FAILED"),), rules(unhealthy=("NO_TASKS",)), True, 1, ()),
        id="failed-without-tasks-is-failed-not-no-tasks",
    ),
    # Fewer tasks than tasks.max is not NO_TASKS: connectors create fewer by design.
    pytest.param(
        Case((connector("c", tasks=(task(0),)),), rules(unhealthy=("NO_TASKS",)), True, 2, ()),
        id="one-task-is-enough",
    ),
    # NO_TASKS is the connector's: judged on the connector's worker, and only when connectors are considered.
    pytest.param(
        Case((connector("c", worker_id=B),), rules(unhealthy=("NO_TASKS",), worker_id=A), True, 0, ()),
        id="no-tasks-on-another-worker",
    ),
    pytest.param(
        Case((connector("c"),), rules(unhealthy=("NO_TASKS",), considered=frozenset({"TASK"})), True, 0, ()),
        id="no-tasks-needs-connectors-considered",
    ),
    # Nothing to judge (no connectors) is not a failure.
    pytest.param(Case((), rules(), True, 0, ()), id="no-connectors-is-healthy"),
    # Nothing on the watched worker: nothing considered, rate 0.0, healthy.
    pytest.param(
        Case((connector("c", "FAILED", B, tasks=(task(0, "FAILED", B),)),), rules(worker_id=A), True, 0, ()),
        id="nothing-on-this-worker-is-healthy",
    ),
]


@pytest.mark.parametrize("case", CASES)
def test_verdict_table(case: Case) -> None:
    verdict = evaluate(case.connectors, case.rules)

    assert verdict.healthy is case.healthy
    assert verdict.considered == case.considered
    assert tuple((f.type, f.connector, f.task_id) for f in verdict.failures) == case.failures
    assert verdict.failure_rate == (len(case.failures) / case.considered if case.considered else 0.0)
    assert verdict.failure_threshold == case.rules.failure_threshold


def test_failed_task_carries_its_trace_and_worker() -> None:
    trace = "org.apache.kafka.connect.errors.ConnectException: boom\n\tat Worker.run"
    connectors = [connector("orders-sink", tasks=(task(0), task(1, "FAILED", B, trace)))]

    verdict = evaluate(connectors, rules())

    assert verdict.failures == (Failure("task", "orders-sink", "FAILED", B, trace, 1),)
    assert verdict.failure_rate == pytest.approx(1 / 3)


def test_failed_connector_carries_its_trace() -> None:
    connectors = [connector("orders-sink", "FAILED", trace="ConnectException: no such topic")]

    verdict = evaluate(connectors, rules())

    assert verdict.failures == (Failure("connector", "orders-sink", "FAILED", A, "ConnectException: no such topic"),)


def test_no_tasks_says_what_was_expected_in_its_cause() -> None:
    config = {"connector.class": "x.MirrorSourceConnector", "tasks.max": "3"}
    connectors = [replace(connector("mirror"), config=config), connector("legacy")]

    verdict = evaluate(connectors, rules(unhealthy=("NO_TASKS",)))

    assert [(f.connector, f.state, f.cause) for f in verdict.failures] == [
        ("legacy", "NO_TASKS", "the connector is RUNNING but has no tasks (tasks.max unknown)"),
        ("mirror", "NO_TASKS", "the connector is RUNNING but has no tasks (tasks.max is 3)"),
    ]


def test_failures_sorted_by_connector_then_connector_first_then_task_id() -> None:
    def broken(name: str) -> ConnectorStatus:
        return connector(name, "FAILED", tasks=(task(2, "FAILED"), task(0, "FAILED"), task(10, "FAILED")))

    verdict = evaluate([broken("b"), broken("a")], rules())

    assert [(f.connector, f.task_id) for f in verdict.failures] == [
        ("a", None),
        ("a", 0),
        ("a", 2),
        ("a", 10),
        ("b", None),
        ("b", 0),
        ("b", 2),
        ("b", 10),
    ]


# --- properties over generated clusters

WORKERS = st.sampled_from([A, B, "Host-A:8083", "host-a:8083"])  # the last two: one worker, two spellings
STATE = st.sampled_from(STATES)
TRACE = st.none() | st.sampled_from(["", "ConnectException: boom"])
TASKS = st.lists(
    st.builds(TaskStatus, id=st.integers(0, 30), state=STATE, worker_id=WORKERS, trace=TRACE),
    max_size=4,
    unique_by=lambda t: t.id,  # Connect numbers a connector's tasks 0..n-1, never twice
).map(tuple)
CONNECTORS = st.lists(
    st.builds(
        ConnectorStatus,
        name=st.text("abcd", min_size=1, max_size=3),
        state=STATE,
        worker_id=WORKERS,
        trace=TRACE,
        tasks=TASKS,
    ),
    max_size=6,
    unique_by=lambda c: c.name,  # connector names are unique in a cluster
)
RULES = st.builds(
    Rules,
    unhealthy_states=st.frozensets(st.sampled_from(JUDGED_STATES), min_size=1),
    considered_containers=st.frozensets(st.sampled_from(CONTAINERS), min_size=1),
    worker_id=st.none() | WORKERS,
    failure_threshold=st.floats(0.0, 1.0),
)

# Small clusters over 6 states and 3 workers: 50 examples cover them; no deadline on a loaded CI box.
PROPERTY = settings(max_examples=50, deadline=None)


@PROPERTY
@given(CONNECTORS, RULES, WORKERS)
def test_worker_filter_never_adds_failures(connectors: list[ConnectorStatus], rules: Rules, worker: str) -> None:
    everywhere = evaluate(connectors, replace(rules, worker_id=None))
    one_worker = evaluate(connectors, replace(rules, worker_id=worker))

    assert set(one_worker.failures) <= set(everywhere.failures)
    assert one_worker.considered <= everywhere.considered
    assert all(f.worker_id.lower() == worker.lower() for f in one_worker.failures)


@PROPERTY
@given(CONNECTORS, RULES)
def test_threshold_100_percent_is_always_healthy(connectors: list[ConnectorStatus], rules: Rules) -> None:
    assert evaluate(connectors, replace(rules, failure_threshold=1.0)).healthy


@PROPERTY
@given(CONNECTORS, RULES, st.randoms(use_true_random=False))
def test_order_of_connectors_and_tasks_does_not_change_the_verdict(
    connectors: list[ConnectorStatus], rules: Rules, rng: random.Random
) -> None:
    shuffled = [replace(c, tasks=tuple(rng.sample(c.tasks, len(c.tasks)))) for c in connectors]
    rng.shuffle(shuffled)

    assert evaluate(shuffled, rules) == evaluate(connectors, rules)


@PROPERTY
@given(CONNECTORS, RULES)
def test_failure_rate_is_failures_over_considered(connectors: list[ConnectorStatus], rules: Rules) -> None:
    verdict = evaluate(connectors, rules)

    assert len(verdict.failures) <= verdict.considered
    assert verdict.failure_rate == (len(verdict.failures) / verdict.considered if verdict.considered else 0.0)
    assert verdict.healthy is (verdict.failure_rate <= rules.failure_threshold)


@PROPERTY
@given(CONNECTORS, RULES)
def test_threshold_0_is_healthy_iff_nothing_fails(connectors: list[ConnectorStatus], rules: Rules) -> None:
    verdict = evaluate(connectors, replace(rules, failure_threshold=0.0))

    assert verdict.healthy is (verdict.failures == ())


@PROPERTY
@given(CONNECTORS, RULES)
def test_every_failure_is_in_an_unhealthy_state_and_a_considered_container(
    connectors: list[ConnectorStatus], rules: Rules
) -> None:
    verdict = evaluate(connectors, rules)

    for failure in verdict.failures:
        assert failure.state in rules.unhealthy_states
        assert failure.type.upper() in rules.considered_containers
        assert (failure.task_id is None) is (failure.type == "connector")


# --- the level: pass, warn, fail


@pytest.mark.parametrize(
    ("connectors", "rules_", "status"),
    [
        # Nothing failing: pass.
        pytest.param((connector("c"),), rules(), "pass", id="pass"),
        # Failing, within the threshold: still 200, but not all is well.
        pytest.param(ten_connectors(1), rules(threshold=0.1), "warn", id="warn-under-threshold"),
        # Failing over the threshold: fail.
        pytest.param(ten_connectors(2), rules(threshold=0.1), "fail", id="fail-over-threshold"),
        # A worker id that matches nothing judges nothing: that is no pass.
        pytest.param((connector("c", "FAILED", B),), rules(worker_id=A), "warn", id="warn-worker-id-unmatched"),
    ],
)
def test_status_level(connectors: tuple[ConnectorStatus, ...], rules_: Rules, status: str) -> None:
    assert evaluate(connectors, rules_).status == status


def test_a_failure_not_yet_counted_is_a_warning() -> None:
    verdict = evaluate((connector("c", "FAILED"),), replace(rules(), unhealthy_after=30.0))
    assert (verdict.healthy, verdict.status, verdict.failures[0].counted) == (True, "warn", False)


@PROPERTY
@given(CONNECTORS, RULES)
def test_status_is_fail_exactly_when_unhealthy_and_pass_only_when_nothing_is_listed(
    connectors: list[ConnectorStatus], rules: Rules
) -> None:
    verdict = evaluate(connectors, rules)

    assert (verdict.status == "fail") is not verdict.healthy
    if verdict.status == "pass":
        assert verdict.failures == () and verdict.warning is None
