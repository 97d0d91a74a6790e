"""Kafka faults for the progress check, with the real client (librdkafka) against real sockets: nobody
listening, a listener that never answers. Each is a bounded, clear progress_error; never a crash, never a
STALLED; the Connect part of the verdict stays fresh."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from healthcheck.kafka_offsets import KafkaOffsetsReader, KafkaReadError, SinkQuery
from healthcheck.service import Service
from healthcheck.settings import Settings
from tests.conftest import FakeClock
from tests.fake_connect import FakeConnect, task

TIMEOUT = 1.0


@pytest.fixture
def dead_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def silent_broker() -> Iterator[int]:
    """A loopback port that accepts connections and never answers a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


@pytest.fixture
def kafka_service(settings: Settings, clock: FakeClock) -> Iterator[Callable[[int], Service]]:
    """A Service whose progress check reads Kafka at 127.0.0.1:<port> with the real client."""
    made: list[Service] = []

    def make(port: int) -> Service:
        values = {
            "kafka_bootstrap_servers": f"127.0.0.1:{port}",
            "request_timeout": TIMEOUT,
            "progress_interval": 1.0,
            "stall_after": 3.0,
        }
        made.append(Service(replace(settings, **values), clock=clock))
        return made[-1]

    yield make
    for service in made:
        service.stop()


@pytest.mark.parametrize("fault", ["dead_port", "silent_broker"])
def test_kafka_unreachable_or_silent_is_a_bounded_progress_error(
    fault: str, request: pytest.FixtureRequest, connect: FakeConnect, kafka_service: Callable[[int], Service]
) -> None:
    port = request.getfixturevalue(fault)
    connect.set_connector("s", config={"topics": "t"})
    connect.set_connector("broken", "RUNNING", [task(0, "FAILED", trace="java.lang.Boom")], config={"topics": "t"})
    service = kafka_service(port)
    service.poller.poll_once()
    started = time.monotonic()
    report = service.progress_check.check_once()  # type: ignore[union-attr]
    took = time.monotonic() - started
    assert report is not None and report.error is not None
    assert took < 3 * TIMEOUT + 1  # bounded by the request timeout, whatever the broker does
    assert report.error.reason == "connection"
    assert f"127.0.0.1:{port}" in report.error.message
    service.poller.poll_once()
    body = json.loads(service.answers.health(service.clock()).body)
    assert body["progress_error"] == {"reason": "connection", "message": report.error.message}
    assert [(f["connector"], f["state"]) for f in body["failures"]] == [("broken", "FAILED")]  # Connect's part
    metrics = service.answers.metrics(service.clock()).body.decode()
    assert "kafka_connect_healthcheck_progress_up 0.0" in metrics
    assert 'kafka_connect_healthcheck_progress_error{reason="connection"} 1.0' in metrics


def test_a_slow_kafka_never_delays_the_status_poll(
    silent_broker: int, connect: FakeConnect, kafka_service: Callable[[int], Service]
) -> None:
    connect.set_connector("s", config={"topics": "t"})
    service = kafka_service(silent_broker)
    service.poller.poll_once()
    progress = threading.Thread(target=service.progress_check.check_once)  # type: ignore[union-attr]
    progress.start()
    try:
        started = time.monotonic()
        for _ in range(5):
            service.poller.poll_once()
        assert time.monotonic() - started < TIMEOUT  # five polls while the progress round hangs on Kafka
        assert progress.is_alive()
    finally:
        progress.join(10)


def test_the_reader_names_the_round_it_could_not_read(dead_port: int) -> None:
    reader = KafkaOffsetsReader(f"127.0.0.1:{dead_port}", timeout=TIMEOUT)
    with pytest.raises(KafkaReadError) as raised:
        reader.read([SinkQuery("s", "connect-s", ("t",))])
    assert raised.value.reason == "connection"
    assert raised.value.message.startswith("reading the cluster's topics: ")
