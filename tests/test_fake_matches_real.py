"""The fake Connect answers like the real workers we recorded (tests/fixtures/connect/<version>/): same codes, shapes.

The fixtures were recorded from real Kafka Connect workers by tests/integration/kafka_stack.py (--record). Here
the fake is given the same connectors in the same states and asked the same requests; its answers must have
the same status codes, the same keys at every level and the same JSON types, version by version. The
healthcheck's parser and client must read every recorded body and find the recorded states.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from healthcheck.connect_client import ConnectClient
from healthcheck.model import ConnectorStatus
from healthcheck.parse import parse_connector_status, parse_expanded
from tests.fake_connect import FakeConnect, task

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "connect"
VERSIONS = sorted(path.name for path in FIXTURES.iterdir() if (path / "_meta.json").is_file())
RESTART = "restart_failed_task_sink_include_tasks_only_failed.json"

# fixture file -> the request that recorded it (the connector names come from _meta.json)
REQUESTS = {
    "root.json": ("GET", "/"),
    "connectors.json": ("GET", "/connectors"),
    "connectors_expand_status.json": ("GET", "/connectors?expand=status"),
    "connectors_expand_status_info.json": ("GET", "/connectors?expand=status&expand=info"),
    "health.json": ("GET", "/health"),
    "error_404_status_unknown_connector.json": ("GET", "/connectors/no-such/status"),
    "error_404_unknown_connector.json": ("GET", "/connectors/no-such"),
    RESTART: ("POST", "/connectors/failed-task-sink/restart?includeTasks=true&onlyFailed=true"),
}
# recorded, but not imitated by the fake because the healthcheck never sends these requests
NOT_IMITATED = {
    "connectors_expand_info.json": "?expand=info (connector configs)",
    "error_409_create_existing.json": "POST /connectors (creating connectors)",
    "health_while_starting_404.json": "Jetty's 404 while the worker starts; tests set fake.health to what they need",
}


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("-")[0].split("."))


def load(version: str, name: str) -> Any:
    return json.loads((FIXTURES / version / name).read_text())


def meta(version: str) -> dict[str, Any]:
    return load(version, "_meta.json")


def recorded_requests(version: str) -> dict[str, tuple[str, str]]:
    """Every fixture file of this version that the fake must reproduce, with its request."""
    per_connector = {
        f"status_{name}.json": ("GET", f"/connectors/{quote(name, safe='')}/status")
        for name in meta(version)["expected_states"]
    }
    return {
        name: request for name, request in (REQUESTS | per_connector).items() if (FIXTURES / version / name).exists()
    }


def imitate(version: str) -> FakeConnect:
    """A fake set up the way the real worker of `version` was: its connectors, states, worker id and REST API."""
    info = meta(version)
    fake = FakeConnect(version=version, status_version=version_tuple(version) >= (4, 0, 0))
    if version_tuple(version) < (3, 9, 0):
        fake.health = None  # GET /health is Kafka 3.9+ (KIP-1017)
    worker = info["worker_id"]
    configs = load(version, "connectors_expand_status_info.json")["body"]
    for name, states in info["expected_states"].items():
        connector_state = states["connector"]
        fake.set_connector(
            name,
            connector_state,
            [task(i, state, worker, trace=failure_trace(state)) for i, state in enumerate(states["tasks"])],
            worker_id=worker,
            trace=failure_trace(connector_state),
            type=load(version, f"status_{name}.json")["body"]["type"],
            config=configs[name]["info"]["config"],
        )
    return fake


def failure_trace(state: str) -> str | None:
    return (
        "org.apache.kafka.connect.errors.ConnectException: boom\n\tat Foo.bar(Foo.java:1)"
        if state == "FAILED"
        else None
    )


def json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}.get(
        type(value), "null"
    )


def shape_differences(real: Any, fake: Any, where: str = "body") -> list[str]:
    """Where the fake's JSON differs from the real one in type or keys, recursively (values may differ)."""
    if json_type(real) != json_type(fake):
        return [f"{where}: real is {json_type(real)}, fake is {json_type(fake)}"]
    if isinstance(real, dict):
        differences = []
        if set(real) != set(fake):
            differences.append(
                f"{where}: keys only real {sorted(set(real) - set(fake))}, only fake {sorted(set(fake) - set(real))}"
            )
        for key in sorted(set(real) & set(fake)):
            differences += shape_differences(real[key], fake[key], f"{where}.{key}")
        return differences
    if isinstance(real, list):
        if len(real) != len(fake):
            return [f"{where}: real has {len(real)} items, fake {len(fake)}"]
        return [
            d for i, (r, f) in enumerate(zip(real, fake, strict=True)) for d in shape_differences(r, f, f"{where}[{i}]")
        ]
    return []


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    """A Kafka version whose real worker's answers are recorded."""
    return request.param


@pytest.fixture
def fake(version: str) -> Iterator[FakeConnect]:
    """The fake Connect imitating that version's recorded worker."""
    connect = imitate(version).start()
    yield connect
    connect.stop()


def test_the_fixtures_cover_the_newest_and_two_older_kafka_lines() -> None:
    assert {"4.4.0", "3.9.2", "3.4.1"} <= set(VERSIONS)


def test_every_recorded_answer_is_either_imitated_or_explicitly_not(version: str) -> None:
    recorded = {path.name for path in (FIXTURES / version).glob("*.json")} - {"_meta.json"}
    unclassified = recorded - set(recorded_requests(version)) - set(NOT_IMITATED)
    assert not unclassified, f"new fixtures for {version}: add them to REQUESTS or NOT_IMITATED: {unclassified}"


def test_the_fake_answers_with_the_real_status_codes_and_shapes(version: str, fake: FakeConnect) -> None:
    differences = []
    for name, (method, path) in sorted(recorded_requests(version).items()):
        real = load(version, name)
        response = requests.request(method, fake.url + path, timeout=5)
        answer = response.json() if response.content else None
        if response.status_code != real["status"]:
            differences.append(f"{name}: {method} {path}: real HTTP {real['status']}, fake HTTP {response.status_code}")
        differences += shape_differences(real["body"], answer, f"{name} body")
    assert not differences, f"the fake does not answer like Kafka {version}:\n" + "\n".join(differences)


def test_the_fake_lists_the_same_connectors_in_the_same_states(version: str, fake: FakeConnect) -> None:
    real = parse_expanded(load(version, "connectors_expand_status.json")["body"])
    imitation = parse_expanded(requests.get(fake.url + "/connectors?expand=status&expand=info", timeout=5).json())
    assert states_of(imitation) == states_of(real)
    listing = requests.get(fake.url + "/connectors", timeout=5).json()
    assert sorted(listing) == sorted(load(version, "connectors.json")["body"])  # Connect's order is not sorted


def test_the_fake_marks_what_a_restart_restarts_as_restarting_like_connect(version: str, fake: FakeConnect) -> None:
    method, path = REQUESTS[RESTART]
    real = parse_connector_status(load(version, RESTART)["body"], "failed-task-sink")
    imitation = parse_connector_status(requests.request(method, fake.url + path, timeout=5).json(), "failed-task-sink")
    assert (imitation.state, [t.state for t in imitation.tasks]) == ("RUNNING", ["RESTARTING"])
    assert (real.state, [t.state for t in real.tasks]) == ("RUNNING", ["RESTARTING"])
    assert real.tasks[0].trace and imitation.tasks[0].trace  # the old trace stays on a restarting task


def states_of(connectors: tuple[ConnectorStatus, ...]) -> dict[str, tuple[str, str, list[tuple[str, bool]]]]:
    """name -> (connector state, worker id, [(task state, has a trace)])."""
    return {
        c.name: (c.state, c.worker_id, [(t.state, bool(t.trace)) for t in sorted(c.tasks, key=lambda t: t.id)])
        for c in connectors
    }


# --- the healthcheck reads every recorded body


def test_the_parser_reads_every_recorded_status_with_the_recorded_states(version: str) -> None:
    info = meta(version)
    expected = info["expected_states"]
    listed = {c.name: c for c in parse_expanded(load(version, "connectors_expand_status.json")["body"])}
    assert set(listed) == set(expected)
    for name, states in expected.items():
        one = parse_connector_status(load(version, f"status_{name}.json")["body"], name)
        for status in (listed[name], one):
            assert status.state == states["connector"]
            assert [t.state for t in sorted(status.tasks, key=lambda t: t.id)] == states["tasks"]
            assert {status.worker_id, *(t.worker_id for t in status.tasks)} == {info["worker_id"]}
            failed_parts = [p for p in (status, *status.tasks) if p.state == "FAILED"]
            assert all(p.trace and p.trace.startswith("org.apache.kafka.") for p in failed_parts)
            assert all(p.trace is None for p in (status, *status.tasks) if p.state != "FAILED")


class Replay:
    """An HTTP server answering each request with the recorded real answer, byte for byte as recorded JSON."""

    def __init__(self, version: str) -> None:
        answers = {path: load(version, name) for name, (method, path) in recorded_requests(version).items()}
        self.asked: list[str] = []
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                replay.asked.append(self.path)
                recorded = answers.get(self.path, {"status": 404, "body": {"error_code": 404, "message": "HTTP 404"}})
                body = json.dumps(recorded["body"]).encode()
                self.send_response(recorded["status"])
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_client_reads_the_recorded_answers_and_asks_a_worker_without_health_only_once(version: str) -> None:
    replay = Replay(version)
    client = ConnectClient(replay.url, timeout=5)
    try:
        first = {c.name: c.state for c in client.fetch_statuses()}
        health = [client.fetch_worker_health() for _ in range(3)]
    finally:
        client.close()
        replay.stop()
    assert first == {name: s["connector"] for name, s in meta(version)["expected_states"].items()}
    if version_tuple(version) >= (3, 9, 0):
        assert all(h is not None and h.healthy for h in health)
        assert replay.asked.count("/health") == 3
    else:  # 404: Connect before 3.9 has no /health, and the client stops asking
        assert health == [None, None, None]
        assert replay.asked.count("/health") == 1
