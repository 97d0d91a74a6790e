"""STALLED end to end on the fast path: the fake Connect, scripted sink offsets, the real answers and metrics.

The Kafka side here is a scripted stand-in for the offsets reader (its interface, not a transport); the real
reader is proven against a real broker in tests/integration/test_progress_real.py and against dead and
silent sockets in tests/faults/test_progress_faults.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import pytest

from healthcheck.kafka_offsets import PartitionOffsets, SinkOffsets, SinkQuery
from healthcheck.service import Service
from healthcheck.settings import Settings
from tests.conftest import FakeClock
from tests.fake_connect import FakeConnect, task

STALL_AFTER = 3.0
INTERVAL = 1.0


class ScriptedKafka:
    """Answers `read()` from what the test set: per consumer group, per partition, (committed, end)."""

    def __init__(self) -> None:
        self.offsets: dict[str, dict[tuple[str, int], tuple[int | None, int]]] = {}
        self.errors: dict[str, str] = {}
        self.queries: list[SinkQuery] = []

    def set(self, group: str, topic: str, partition: int, committed: int | None, end: int) -> None:
        self.offsets.setdefault(group, {})[(topic, partition)] = (committed, end)

    def read(self, sinks: Sequence[SinkQuery]) -> dict[str, SinkOffsets]:
        self.queries = list(sinks)
        result = {}
        for sink in sinks:
            if sink.connector in self.errors:
                result[sink.connector] = SinkOffsets(error=self.errors[sink.connector])
                continue
            parts = self.offsets.get(sink.group, {})
            result[sink.connector] = SinkOffsets(
                tuple(PartitionOffsets(t, p, c, 0, e) for (t, p), (c, e) in sorted(parts.items()))
            )
        return result


@pytest.fixture
def kafka() -> ScriptedKafka:
    """Scripted sink offsets."""
    return ScriptedKafka()


@pytest.fixture
def progress_service(settings: Settings, kafka: ScriptedKafka, clock: FakeClock) -> Iterator[Callable[..., Service]]:
    """A Service with the progress check on (3 s stall, 1 s rounds), reading `kafka`; stopped at the end."""
    made: list[Service] = []

    def make(**overrides: Any) -> Service:
        values = {
            "kafka_bootstrap_servers": "127.0.0.1:9",
            "progress_interval": INTERVAL,
            "stall_after": STALL_AFTER,
            "unhealthy_states": ("FAILED", "STALLED"),
            **overrides,
        }
        made.append(Service(replace(settings, **values), clock=clock, kafka=kafka))
        return made[-1]

    yield make
    for service in made:
        service.stop()


def round_trip(service: Service, clock: FakeClock, seconds: float = INTERVAL) -> dict[str, Any]:
    """One progress round then one poll, as the two jobs would run them; `seconds` pass first. GET / body."""
    clock.advance(seconds)
    service.progress_check.check_once()  # type: ignore[union-attr]
    service.poller.poll_once()
    return json.loads(service.answers.health(clock()).body)


def one_sink(
    connect: FakeConnect,
    kafka: ScriptedKafka,
    progress_service: Callable[..., Service],
    committed: int | None = 1,
    **settings: Any,
) -> Service:
    """Sink "s" reading topic "t", its group committed at `committed` of 100, and the service's first poll."""
    connect.set_connector("s", config={"topics": "t"})
    kafka.set("connect-s", "t", 0, committed, 100)
    service = progress_service(**settings)
    service.poller.poll_once()
    return service


def test_a_sink_whose_offset_stands_still_while_lag_grows_becomes_stalled(
    connect: FakeConnect, progress_service: Callable[..., Service], kafka: ScriptedKafka, clock: FakeClock
) -> None:
    connect.set_connector("blocked", config={"topics": "orders"})
    service = progress_service()
    service.poller.poll_once()
    bodies = []
    for second in range(5):
        kafka.set("connect-blocked", "orders", 0, 20, 30 + 100 * second)
        bodies.append(round_trip(service, clock))
    assert [b["healthy"] for b in bodies] == [True, True, True, False, False]  # watched 3 s: stalled
    (failure,) = bodies[-1]["failures"]
    assert failure == {
        "type": "connector",
        "connector": "blocked",
        "state": "STALLED",
        "worker_id": "127.0.0.1:8083",
        "cause": "the connector is RUNNING but moves no data (1 partition(s) stuck, lag 410)",
        "since": failure["since"],
        "lag": 410,
        "last_progress": None,  # never seen moving while watched
        "stuck": [{"topic": "orders", "partition": 0, "lag": 410}],
    }
    assert service.answers.health(clock()).status == 503
    progress = json.loads(service.answers.connector("blocked", clock()).body)["progress"]
    assert progress["status"] == "stalled"
    assert progress["partitions"] == [{"topic": "orders", "partition": 0, "committed": 20, "end": 430, "lag": 410}]
    assert progress["error"] is None
    metrics = service.answers.metrics(clock()).body.decode()
    assert 'kafka_connect_healthcheck_connector_lag{connector="blocked"} 410.0' in metrics
    assert 'kafka_connect_healthcheck_connector_state{connector="blocked",state="STALLED",worker_id=' in metrics
    assert 'kafka_connect_healthcheck_connectors{state="STALLED"} 1.0' in metrics
    assert "kafka_connect_healthcheck_progress_up 1.0" in metrics

    kafka.set("connect-blocked", "orders", 0, 300, 430)  # the reader drains: commits move again
    body = round_trip(service, clock)
    assert body["healthy"] is True and body["failures"] == []
    progress = json.loads(service.answers.connector("blocked", clock()).body)["progress"]
    assert progress["status"] == "moving" and progress["last_progress"] is not None
    assert 'last_progress_timestamp_seconds{connector="blocked"}' in service.answers.metrics(clock()).body.decode()


def test_a_sink_with_nothing_to_do_is_idle_forever(
    connect: FakeConnect, progress_service: Callable[..., Service], kafka: ScriptedKafka, clock: FakeClock
) -> None:
    connect.set_connector("quiet", config={"topics": "orders"})
    service = progress_service()
    kafka.set("connect-quiet", "orders", 0, 500, 500)
    service.poller.poll_once()
    for _ in range(20):
        assert round_trip(service, clock)["healthy"] is True
    progress = json.loads(service.answers.connector("quiet", clock()).body)["progress"]
    assert (progress["status"], progress["lag"]) == ("idle", 0)


def test_a_sink_that_keeps_up_with_lag_is_moving_not_stalled(
    connect: FakeConnect, progress_service: Callable[..., Service], kafka: ScriptedKafka, clock: FakeClock
) -> None:
    connect.set_connector("busy", config={"topics": "orders"})
    service = progress_service()
    service.poller.poll_once()
    for second in range(20):
        kafka.set("connect-busy", "orders", 0, 1000 * second, 1000 * second + 700)  # always 700 behind, moving
        assert round_trip(service, clock)["healthy"] is True


def test_a_group_override_and_topics_regex_come_from_the_connector_config(
    connect: FakeConnect, progress_service: Callable[..., Service], kafka: ScriptedKafka
) -> None:
    connect.set_connector("a", config={"topics.regex": "orders-.*", "consumer.override.group.id": "team-a"})
    connect.set_connector("b", config={"topics": "x, y"})
    service = progress_service()
    service.poller.poll_once()
    service.progress_check.check_once()  # type: ignore[union-attr]
    queries = {q.connector: q for q in kafka.queries}
    assert queries["a"].group == "team-a" and queries["a"].consumes("orders-eu") and not queries["a"].consumes("x")
    assert (queries["b"].group, queries["b"].topics) == ("connect-b", ("x", "y"))


@pytest.mark.parametrize("state", ["PAUSED", "STOPPED", "FAILED"])
def test_paused_stopped_and_failed_connectors_are_never_stalled(
    state: str,
    connect: FakeConnect,
    progress_service: Callable[..., Service],
    kafka: ScriptedKafka,
    clock: FakeClock,
) -> None:
    service = one_sink(connect, kafka, progress_service)
    for _ in range(4):
        body = round_trip(service, clock)
    assert [f["state"] for f in body["failures"]] == ["STALLED"]
    tasks = [] if state == "STOPPED" else [task(0, state)]
    connect.set_connector("s", state, tasks, config={"topics": "t"})
    service.poller.poll_once()  # the report still says stalled; the connector's own state wins at once
    body = json.loads(service.answers.health(clock()).body)
    assert "STALLED" not in [f["state"] for f in body["failures"]]
    for _ in range(6):  # and it is not judged while it is not running
        body = round_trip(service, clock)
        assert "STALLED" not in [f["state"] for f in body["failures"]]


def test_a_resumed_connector_is_watched_afresh(
    connect: FakeConnect, progress_service: Callable[..., Service], kafka: ScriptedKafka, clock: FakeClock
) -> None:
    connect.set_connector("s", "PAUSED", [task(0, "PAUSED")], config={"topics": "t"})
    kafka.set("connect-s", "t", 0, 1, 100)
    service = progress_service()
    service.poller.poll_once()
    for _ in range(5):
        round_trip(service, clock)
    connect.set_connector("s", config={"topics": "t"})
    service.poller.poll_once()
    bodies = [round_trip(service, clock) for _ in range(5)]
    assert [b["healthy"] for b in bodies] == [True, True, True, False, False]  # stall_after counted from RUNNING


def test_stalled_counts_only_when_listed_in_unhealthy_states(
    connect: FakeConnect, progress_service: Callable[..., Service], kafka: ScriptedKafka, clock: FakeClock
) -> None:
    service = one_sink(connect, kafka, progress_service, unhealthy_states=("FAILED",))
    for _ in range(5):
        body = round_trip(service, clock)
    assert body["healthy"] is True and body["failures"] == []
    # still visible: progress and the state series say so
    assert json.loads(service.answers.connector("s", clock()).body)["progress"]["status"] == "stalled"
    assert 'state="STALLED"' in service.answers.metrics(clock()).body.decode()


def test_a_connector_that_cannot_be_read_is_unknown_never_stalled(
    connect: FakeConnect, progress_service: Callable[..., Service], kafka: ScriptedKafka, clock: FakeClock
) -> None:
    service = one_sink(connect, kafka, progress_service)
    for _ in range(2):
        round_trip(service, clock)
    kafka.errors["s"] = "topic 't' (in the connector's topics) does not exist"
    for _ in range(5):
        body = round_trip(service, clock)
    assert body["healthy"] is True and body["failures"] == []
    assert body["progress_error"] == {
        "reason": "connectors",
        "message": "1 connector(s) could not be judged: s: topic 't' (in the connector's topics) does not exist",
    }
    progress = json.loads(service.answers.connector("s", clock()).body)["progress"]
    assert progress["error"] == "topic 't' (in the connector's topics) does not exist"
    assert 'kafka_connect_healthcheck_progress_error{reason="connectors"} 1.0' in (
        service.answers.metrics(clock()).body.decode()
    )


def test_commits_deleted_while_stopped_are_unknown_never_stalled_until_the_sink_commits_again(
    connect: FakeConnect, progress_service: Callable[..., Service], kafka: ScriptedKafka, clock: FakeClock
) -> None:
    """Stop, delete the group (KIP-875's offset reset does), resume: with auto.offset.reset=latest the sink sits
    at the log end and commits nothing, so lag counted from the log start would stand still: a false stall."""
    service = one_sink(connect, kafka, progress_service, committed=100)  # caught up
    for _ in range(2):
        round_trip(service, clock)
    connect.set_connector("s", "STOPPED", [], config={"topics": "t"})
    service.poller.poll_once()
    round_trip(service, clock)
    kafka.set("connect-s", "t", 0, None, 100)  # the group is gone
    connect.set_connector("s", config={"topics": "t"})
    service.poller.poll_once()
    for _ in range(6):  # twice stall_after
        body = round_trip(service, clock)
        assert body["failures"] == [] and body["healthy"] is True
    message = (
        "consumer group 'connect-s' no longer has committed offsets for t-0 (the group or its offsets were "
        "deleted): progress unknown until the connector commits again"
    )
    assert body["progress_error"] == {
        "reason": "connectors",
        "message": f"1 connector(s) could not be judged: s: {message}",
    }
    progress = json.loads(service.answers.connector("s", clock()).body)["progress"]
    assert progress["error"] == message
    assert progress["partitions"] == [{"topic": "t", "partition": 0, "committed": None, "end": 100, "lag": 100}]
    kafka.set("connect-s", "t", 0, 150, 150)  # it commits again: judged afresh
    body = round_trip(service, clock)
    assert "progress_error" not in body
    assert json.loads(service.answers.connector("s", clock()).body)["progress"]["status"] == "idle"


def test_a_sink_that_never_committed_is_judged_from_the_log_start(
    connect: FakeConnect, progress_service: Callable[..., Service], kafka: ScriptedKafka, clock: FakeClock
) -> None:
    """Only commits seen and then lost are unknown: a sink blocked on its very first record is STALLED."""
    service = one_sink(connect, kafka, progress_service, committed=None)
    bodies = [round_trip(service, clock) for _ in range(5)]
    assert [b["healthy"] for b in bodies] == [True, True, True, False, False]
    assert bodies[-1]["failures"][0]["lag"] == 100 and "progress_error" not in bodies[-1]


def test_a_report_older_than_two_rounds_is_progress_unknown_not_a_stale_stall(
    connect: FakeConnect, progress_service: Callable[..., Service], kafka: ScriptedKafka, clock: FakeClock
) -> None:
    service = one_sink(connect, kafka, progress_service)
    for _ in range(5):
        body = round_trip(service, clock)
    assert body["healthy"] is False
    clock.advance(60)  # the progress job stopped publishing
    service.poller.poll_once()
    body = json.loads(service.answers.health(clock()).body)
    assert body["healthy"] is True and body["failures"] == []
    assert body["progress_error"]["reason"] == "stale"
    metrics = service.answers.metrics(clock()).body.decode()
    assert "kafka_connect_healthcheck_progress_up 0.0" in metrics
    assert 'state="STALLED"' not in metrics.split("connector_state")[-1]


def test_sink_rounds_ask_connect_nothing_whatever_the_number_of_sinks(
    connect: FakeConnect, progress_service: Callable[..., Service], kafka: ScriptedKafka
) -> None:
    for i in range(200):
        connect.set_connector(f"sink-{i:03d}", config={"topics": f"t{i}"})
    service = progress_service()
    service.poller.poll_once()
    before = connect.request_count()
    report = service.progress_check.check_once()  # type: ignore[union-attr]
    assert connect.request_count() == before
    assert report is not None and len(report.connectors) == 200 and report.connect_requests == 0


def test_the_first_round_waits_for_the_first_poll(progress_service: Callable[..., Service]) -> None:
    service = progress_service()
    assert service.progress_check.check_once() is None  # type: ignore[union-attr]
    assert service.progress_store.current() is None


# --- sources in --expect-progress, through the fake Connect's GET /connectors/<name>/offsets


def source_service(progress_service: Callable[..., Service]) -> Service:
    return progress_service(kafka_bootstrap_servers=None, expect_progress=re.compile("cdc-.*"))


def test_an_expected_source_whose_offsets_stand_still_is_stalled_and_recovers(
    connect: FakeConnect, progress_service: Callable[..., Service], clock: FakeClock
) -> None:
    connect.set_connector("cdc-orders", type="source")
    connect.set_connector("files", type="source")  # not expected to move: never judged
    connect.set_offsets("cdc-orders", {'{"filename": "/in.txt"}': {"position": 10}})
    service = source_service(progress_service)
    service.poller.poll_once()
    bodies = [round_trip(service, clock) for _ in range(5)]
    assert [b["healthy"] for b in bodies] == [True, True, True, False, False]
    (failure,) = bodies[-1]["failures"]
    assert (failure["connector"], failure["state"], failure["lag"]) == ("cdc-orders", "STALLED", None)
    assert failure["stuck"] == [{"partition": {"filename": "/in.txt"}}]
    progress = json.loads(service.answers.connector("cdc-orders", clock()).body)["progress"]
    assert progress["partitions"] == [{"partition": {"filename": "/in.txt"}, "offset": {"position": 10}}]
    assert "progress" not in json.loads(service.answers.connector("files", clock()).body)
    connect.set_offsets("cdc-orders", {'{"filename": "/in.txt"}': {"position": 11}})
    assert round_trip(service, clock)["healthy"] is True
    assert connect.path_counts()["/connectors/cdc-orders/offsets"] == 6  # one per round, for it alone
    assert not any("/connectors/files/offsets" in path for path in connect.requests)


def test_connect_without_the_offsets_endpoint_is_said_once_and_the_source_skipped(
    settings: Settings, make_service: Callable[..., Service], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    old = FakeConnect(version="3.4.1").start()
    try:
        old.set_connector("cdc-orders", type="source")
        service = make_service(
            settings,
            connect_url=old.url,
            expect_progress=re.compile("cdc-.*"),
            progress_interval=INTERVAL,
            stall_after=STALL_AFTER,
            unhealthy_states=("FAILED", "STALLED"),
        )
        service.poller.poll_once()
        for _ in range(6):
            body = round_trip(service, clock)
        assert body["healthy"] is True
        progress = json.loads(service.answers.connector("cdc-orders", clock()).body)["progress"]
        assert progress["error"] == "Connect has no GET /connectors/<name>/offsets (Kafka 3.5+): not judged"
        said = [r.getMessage() for r in caplog.records if "offsets (Kafka 3.5+)" in r.getMessage()]
        assert len(said) == 1
    finally:
        old.stop()


def test_a_partition_the_sink_stops_consuming_leaves_no_window_behind(
    connect: FakeConnect, progress_service: Callable[..., Service], kafka: ScriptedKafka, clock: FakeClock
) -> None:
    """Topics changed away from t and back: t-0 is watched afresh, never judged on the samples from before."""
    connect.set_connector("s", config={"topics": "t"})
    kafka.set("connect-s", "t", 0, 1, 100)  # stuck
    service = progress_service()
    service.poller.poll_once()
    assert [round_trip(service, clock)["healthy"] for _ in range(2)] == [True, True]
    kafka.offsets["connect-s"] = {("u", 0): (5, 5)}  # now it consumes u alone
    assert round_trip(service, clock)["healthy"] is True
    kafka.offsets["connect-s"] = {("t", 0): (1, 100)}  # and t again, still stuck
    bodies = [round_trip(service, clock) for _ in range(4)]
    assert [b["healthy"] for b in bodies] == [True, True, True, False]  # stall_after (3 s) from its return
    assert bodies[-1]["failures"][0]["stuck"] == [{"topic": "t", "partition": 0, "lag": 99}]
