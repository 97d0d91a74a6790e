"""STALLED against a real broker and worker: a sink blocked on a FIFO, a sink that keeps up, an idle sink, and
a FileStreamSource in --expect-progress whose file stops growing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import requests

from tests.integration.conftest import Connectors, answer_when
from tests.integration.kafka_stack import KafkaStack, recipes
from tests.integration.progress_recipes import INTERVAL, PROGRESS_FLAGS, STALL_AFTER, Feed, FifoReader, progress_of
from tests.server_process import ServerProcess

# The pipe holds 64 KiB and the sink's PrintStream buffers 8 KiB more: 500 KB blocks the sink for sure.
BLOCKING_LINES = 5000

Healthcheck = Callable[..., ServerProcess]


@pytest.fixture
def fifos(kafka: KafkaStack) -> Iterator[list[FifoReader]]:
    """FIFO readers made by the test; closed after its connectors are deleted (this fixture is set up first)."""
    made: list[FifoReader] = []
    yield made
    for reader in made:
        reader.close()


def stalled(name: str) -> Callable[[requests.Response], bool]:
    def check(response: requests.Response) -> bool:
        return response.status_code == 503 and any(
            f.get("connector") == name and f.get("state") == "STALLED" for f in response.json().get("failures", [])
        )

    return check


def test_a_sink_blocked_on_its_target_becomes_stalled_and_recovers_when_drained(
    fifos: list[FifoReader], kafka: KafkaStack, connectors: Connectors, healthcheck: Healthcheck
) -> None:
    topic = connectors.name("topic")
    feed = Feed(kafka.workdir / connectors.name("in.txt"))
    reader = FifoReader(kafka.workdir / connectors.name("fifo"))
    fifos.append(reader)
    sink = connectors.create("sink", reader.sink_config(topic))
    connectors.create("source", feed.source_config(topic))
    kafka.wait_for_state(sink, "RUNNING", ["RUNNING"])
    server = healthcheck("--kafka-bootstrap-servers", kafka.bootstrap, *PROGRESS_FLAGS)
    feed.append(BLOCKING_LINES)

    started = time.monotonic()
    answer = answer_when(server, stalled(sink), "the blocked sink to be STALLED", timeout=90)
    (failure,) = [f for f in answer.json()["failures"] if f["connector"] == sink]
    assert failure["lag"] > 0 and failure["stuck"] and failure["stuck"][0]["topic"] == topic
    assert kafka.status(sink)["tasks"][0]["state"] == "RUNNING"  # Connect says RUNNING all along
    first_lag = failure["lag"]
    feed.append(BLOCKING_LINES)  # more data while blocked: the lag grows, still STALLED
    answer = answer_when(
        server,
        lambda r: (
            stalled(sink)(r) and next(f for f in r.json()["failures"] if f["connector"] == sink)["lag"] > first_lag
        ),
        "the lag to grow",
    )
    progress = progress_of(server, sink)
    assert progress["status"] == "stalled" and progress["error"] is None
    metrics = server.get("/metrics").text
    assert f'kafka_connect_healthcheck_connector_state{{connector="{sink}",state="STALLED"' in metrics
    assert "kafka_connect_healthcheck_progress_up 1.0" in metrics

    reader.drain()
    answer_when(server, lambda r: r.status_code == 200, "the drained sink to be healthy again", timeout=60)
    assert progress_of(server, sink)["status"] in ("moving", "idle")
    assert "is STALLED" in server.log() and "makes progress again" in server.log()
    # how long it took, for docs/progress.md (stall_after + one interval + the pipe filling)
    print(f"blocked sink STALLED after {time.monotonic() - started:.1f} s")


def test_a_sink_that_keeps_up_and_an_idle_sink_are_never_stalled(
    kafka: KafkaStack, connectors: Connectors, healthcheck: Healthcheck
) -> None:
    busy_topic, idle_topic = connectors.name("busy"), connectors.name("idle")
    feed = Feed(kafka.workdir / connectors.name("in.txt"))
    busy = connectors.create("busy-sink", {**_file_sink(kafka, connectors, busy_topic, "busy.txt")})
    idle = connectors.create("idle-sink", {**_file_sink(kafka, connectors, idle_topic, "idle.txt")})
    connectors.create("source", feed.source_config(busy_topic))
    for name in (busy, idle):
        kafka.wait_for_state(name, "RUNNING", ["RUNNING"])
    server = healthcheck("--kafka-bootstrap-servers", kafka.bootstrap, *PROGRESS_FLAGS)
    answer_when(server, lambda r: "progress" in r.json(), "the first progress round", path=f"/connectors/{idle}")
    # watched for three stall periods while data flows into one sink and never into the other
    deadline = time.monotonic() + 3 * STALL_AFTER
    statuses: set[tuple[str, object]] = set()
    while time.monotonic() < deadline:
        feed.append(200)
        response = server.get("/", timeout=5)
        assert response.status_code == 200, response.text
        for name in (busy, idle):
            statuses.add((name, progress_of(server, name).get("status")))
        time.sleep(INTERVAL)  # the pace data is produced at, not a wait for a state
    assert (idle, "idle") in statuses and (idle, "stalled") not in statuses
    assert (busy, "stalled") not in statuses
    assert progress_of(server, idle)["lag"] == 0
    assert (busy, "moving") in statuses or (busy, "idle") in statuses


def _file_sink(kafka: KafkaStack, connectors: Connectors, topic: str, file_name: str) -> dict[str, str]:
    return recipes.running_sink(kafka.workdir, topic=topic, file_name=connectors.name(file_name))


def test_an_expected_source_whose_file_stops_growing_becomes_stalled_and_recovers(
    kafka: KafkaStack, connectors: Connectors, healthcheck: Healthcheck
) -> None:
    if not kafka.has_stopped_state:  # KIP-875's offsets endpoint came with STOPPED, in 3.5
        server_flags = ("--expect-progress", connectors.pattern, *PROGRESS_FLAGS)
        feed = Feed(kafka.workdir / connectors.name("in.txt"))
        source = connectors.create("source", feed.source_config(connectors.name("topic")))
        server = healthcheck(*server_flags)
        progress = answer_when(
            server, lambda r: bool(r.json().get("progress")), "progress", path=f"/connectors/{source}"
        ).json()["progress"]
        assert progress["error"] == "Connect has no GET /connectors/<name>/offsets (Kafka 3.5+): not judged"
        return
    feed = Feed(kafka.workdir / connectors.name("in.txt"))
    source = connectors.create("source", feed.source_config(connectors.name("topic")))
    kafka.wait_for_state(source, "RUNNING", ["RUNNING"])
    server = healthcheck("--expect-progress", connectors.pattern, *PROGRESS_FLAGS)
    feed.append(10)
    answer_when(server, stalled(source), "the source whose file stopped growing to be STALLED", timeout=60)
    stuck = next(f for f in server.get("/").json()["failures"] if f["connector"] == source)["stuck"]
    assert stuck == [{"partition": {"filename": str(feed.path)}}]

    def growing(response: requests.Response) -> bool:
        feed.append(10)
        return response.status_code == 200

    answer_when(server, growing, "the source to recover as its file grows", timeout=60)
