"""Reading Connect's status JSON: real bodies parse, any other shape is a BadResponse naming the connector."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthcheck.model import ConnectorStatus, TaskStatus
from healthcheck.parse import BadResponse, parse_connector_status, parse_expanded, parse_names

WORKER = "172.18.0.5:8083"
TRACE = (
    "org.apache.kafka.connect.errors.ConnectException: Exiting WorkerSinkTask due to unrecoverable exception.\n"
    "\tat org.apache.kafka.connect.runtime.WorkerSinkTask.deliverMessages(WorkerSinkTask.java:636)\n"
)

# `GET /connectors?expand=status&expand=info` as Kafka Connect 4.4 answers it: a failed sink task carries a trace,
# a running one none (Connect leaves an empty trace out), and every status carries the plugin version.
CONNECT_44_BODY = """
{
  "orders-sink": {
    "status": {
      "name": "orders-sink",
      "connector": {"state": "RUNNING", "worker_id": "172.18.0.5:8083", "version": "4.4.0"},
      "tasks": [
        {"id": 0, "state": "RUNNING", "worker_id": "172.18.0.5:8083", "version": "4.4.0"},
        {"id": 1, "state": "FAILED", "worker_id": "172.18.0.6:8083", "trace": TRACE_JSON, "version": "4.4.0"}
      ],
      "type": "sink"
    }
  },
  "clicks-source": {
    "status": {
      "name": "clicks-source",
      "connector": {"state": "PAUSED", "worker_id": "172.18.0.6:8083", "version": "4.4.0"},
      "tasks": [],
      "type": "source"
    }
  }
}
""".replace("TRACE_JSON", json.dumps(TRACE))


def orders_doc() -> dict[str, Any]:
    """A fresh copy of one good expanded body with a single connector, for a test to break."""
    return {"orders-sink": copy.deepcopy(json.loads(CONNECT_44_BODY)["orders-sink"])}


def test_real_connect_44_body_parses() -> None:
    statuses = parse_expanded(json.loads(CONNECT_44_BODY))

    assert statuses == (
        ConnectorStatus(
            name="orders-sink",
            state="RUNNING",
            worker_id=WORKER,
            trace=None,
            tasks=(TaskStatus(0, "RUNNING", WORKER), TaskStatus(1, "FAILED", "172.18.0.6:8083", TRACE)),
            type="sink",
        ),
        ConnectorStatus("clicks-source", "PAUSED", "172.18.0.6:8083", None, (), "source"),
    )


def test_unknown_fields_are_ignored() -> None:
    doc = orders_doc()
    doc["orders-sink"]["info"] = {"name": "orders-sink", "config": {}, "tasks": [], "type": "sink"}
    status = doc["orders-sink"]["status"]
    status["generation"] = 7
    status["connector"]["since"] = {"nested": [1, 2]}
    status["tasks"][0]["restarts"] = None
    plain = orders_doc()
    plain["orders-sink"]["info"] = {"config": {}}

    assert parse_expanded(doc) == parse_expanded(plain)


def test_missing_trace_and_type_are_none() -> None:
    doc = orders_doc()["orders-sink"]["status"]
    del doc["type"]
    del doc["tasks"][1]["trace"]

    status = parse_connector_status(doc, "orders-sink")

    assert status.type is None
    assert status.trace is None
    assert status.tasks[1].trace is None


def test_lower_case_states_are_upper_cased() -> None:
    doc = orders_doc()
    doc["orders-sink"]["status"]["connector"]["state"] = "running"
    doc["orders-sink"]["status"]["tasks"][1]["state"] = "Failed"

    (status,) = parse_expanded(doc)

    assert status.state == "RUNNING"
    assert [t.state for t in status.tasks] == ["RUNNING", "FAILED"]


def _set(path: tuple[Any, ...], value: Any) -> Any:
    """A change to orders_doc(): set the value at `path` (under the connector's entry)."""

    def change(doc: dict[str, Any]) -> None:
        target = doc["orders-sink"]
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _delete(path: tuple[Any, ...]) -> Any:
    """A change to orders_doc(): delete the key at `path` (under the connector's entry)."""

    def change(doc: dict[str, Any]) -> None:
        target = doc["orders-sink"]
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return change


BAD_SHAPES = [
    # (change, a word the message must contain besides the connector's name)
    pytest.param(_set(("status", "connector", "state"), 1), "'state'", id="number-for-connector-state"),
    pytest.param(_set(("status", "tasks", 0, "worker_id"), 8083), "'worker_id'", id="number-for-task-worker"),
    pytest.param(_set(("status", "tasks", 1, "trace"), ["at x"]), "'trace'", id="list-for-trace"),
    pytest.param(_set(("status", "type"), 0), "'type'", id="number-for-type"),
    pytest.param(_delete(("status", "connector", "worker_id")), "'worker_id'", id="missing-connector-worker"),
    pytest.param(_delete(("status", "tasks", 0, "worker_id")), "'worker_id'", id="missing-task-worker"),
    pytest.param(_delete(("status", "connector", "state")), "'state'", id="missing-connector-state"),
    pytest.param(_delete(("status", "tasks")), "'tasks'", id="missing-tasks"),
    pytest.param(_set(("status", "tasks"), {"0": {"id": 0}}), "'tasks'", id="tasks-an-object"),
    pytest.param(_set(("status", "tasks"), "none"), "'tasks'", id="tasks-a-string"),
    pytest.param(_set(("status", "tasks", 0, "id"), True), "'id'", id="task-id-a-bool"),
    pytest.param(_set(("status", "tasks", 0, "id"), "0"), "'id'", id="task-id-a-string"),
    pytest.param(_set(("status", "tasks", 0, "id"), 0.0), "'id'", id="task-id-a-float"),
    pytest.param(_set(("status", "tasks", 0), [0, "RUNNING"]), "expected an object", id="list-for-task"),
    pytest.param(_set(("status", "connector"), ["RUNNING"]), "expected an object", id="list-for-connector"),
    pytest.param(_set(("status",), [{"state": "RUNNING"}]), "expected an object", id="list-for-status"),
    pytest.param(_set(("status",), None), "expected an object", id="null-status"),
    pytest.param(_delete(("status",)), "expected an object", id="missing-status"),
]


@pytest.mark.parametrize(("change", "word"), BAD_SHAPES)
def test_wrong_shape_is_a_bad_response_naming_the_connector(change: Any, word: str) -> None:
    doc = orders_doc()
    change(doc)

    with pytest.raises(BadResponse) as raised:
        parse_expanded(doc)

    assert "'orders-sink'" in str(raised.value)
    assert word in str(raised.value)


@pytest.mark.parametrize("entry", [None, [], "RUNNING", 3], ids=["null", "list", "string", "number"])
def test_entry_that_is_not_an_object_names_the_connector(entry: Any) -> None:
    with pytest.raises(BadResponse, match="'orders-sink'"):
        parse_expanded({"orders-sink": entry})


def test_names_parse() -> None:
    assert parse_names(["orders-sink", "clicks-source"]) == ("orders-sink", "clicks-source")
    assert parse_names([]) == ()


@pytest.mark.parametrize("name", [1, None, True, ["a"], {"name": "a"}], ids=["int", "null", "bool", "list", "object"])
def test_names_must_be_strings(name: Any) -> None:
    with pytest.raises(BadResponse, match="connector list"):
        parse_names(["orders-sink", name])


# --- any JSON at all: a value or BadResponse, never another exception

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12,
)


def mostly(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`valid` nine times in ten, any JSON otherwise: bodies close to Connect's, wrong in a place or two."""
    return st.integers(0, 9).flatmap(lambda n: valid if n else JSON)


TEXT = st.text(max_size=3)
TASK = mostly(
    st.fixed_dictionaries(
        {"id": mostly(st.integers()), "state": mostly(TEXT), "worker_id": mostly(TEXT)},
        optional={"trace": mostly(TEXT)},
    )
)
CONNECTOR = mostly(
    st.fixed_dictionaries({"state": mostly(TEXT), "worker_id": mostly(TEXT)}, optional={"trace": mostly(TEXT)})
)
STATUS = mostly(
    st.fixed_dictionaries(
        {"connector": CONNECTOR, "tasks": mostly(st.lists(TASK, max_size=3))}, optional={"type": mostly(TEXT)}
    )
)
EXPANDED = st.dictionaries(TEXT, mostly(st.fixed_dictionaries({"status": STATUS})), max_size=3)


def _check_parsed(statuses: tuple[ConnectorStatus, ...]) -> None:
    for status in statuses:
        assert isinstance(status.state, str) and status.state == status.state.upper()
        assert isinstance(status.worker_id, str)
        for task in status.tasks:
            assert type(task.id) is int
            assert isinstance(task.worker_id, str)


# No deadline: a loaded CI box must not turn a slow example into a failure.
PROPERTY = settings(deadline=None)


@PROPERTY
@given(st.dictionaries(st.text(max_size=5), JSON, max_size=4) | EXPANDED)
def test_any_json_object_parses_or_is_a_bad_response(doc: dict[str, Any]) -> None:
    try:
        statuses = parse_expanded(doc)
    except BadResponse:
        return
    _check_parsed(statuses)


@PROPERTY
@given(st.lists(JSON | st.text(max_size=5), max_size=5))
def test_any_json_list_parses_as_names_or_is_a_bad_response(doc: list[Any]) -> None:
    try:
        names = parse_names(doc)
    except BadResponse:
        return
    assert names == tuple(doc)
    assert all(isinstance(name, str) for name in names)


# --- tasks.max, from the config that ?expand=info carries


def with_info(config: Any) -> dict[str, Any]:
    doc = orders_doc()
    doc["orders-sink"]["info"] = {"name": "orders-sink", "config": config, "tasks": [], "type": "sink"}
    return doc


@pytest.mark.parametrize(
    ("config", "tasks_max"),
    [
        ({"connector.class": "x.Sink", "tasks.max": "4"}, 4),
        ({"connector.class": "x.Sink"}, 1),  # Connect's own default when tasks.max is not set
        ({"tasks.max": " 2 "}, 2),
        ({"tasks.max": "many"}, None),  # garbled: unknown, so never a reason to report a failure
        ({"connector.class": "x.Sink", "tasks.max": 3}, 1),  # a non-string value is left out: Connect sends none
    ],
)
def test_tasks_max(config: dict[str, Any], tasks_max: int | None) -> None:
    (status,) = parse_expanded(with_info(config))
    assert status.tasks_max == tasks_max


def test_without_info_tasks_max_is_unknown() -> None:
    (status,) = parse_expanded(orders_doc())
    assert status.tasks_max is None
