"""Real-Kafka recipes for the progress check: a topic fed by a FileStreamSource, a FileStreamSink that
writes into a FIFO whose reader the test controls (verified in /work/shared/REAL-KAFKA-CONNECT.md: a sink
RUNNING but stuck), and the admin acts of an operator (make, fill and delete topics, delete a group)."""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from pathlib import Path

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from tests.integration.kafka_stack import recipes
from tests.server_process import ServerProcess
from tests.waiting import wait_until

ADMIN_TIMEOUT = 15.0
# The healthcheck's progress flags in these tests: a stall within seconds, not minutes.
STALL_AFTER = 3.0
INTERVAL = 0.5
PROGRESS_FLAGS = ("--progress-interval", str(INTERVAL), "--stall-after", str(STALL_AFTER))


def progress_of(server: ServerProcess, name: str) -> dict[str, object]:
    """`"progress"` of one connector in the healthcheck's answer ({} while it has none)."""
    return server.get(f"/connectors/{name}", timeout=5).json().get("progress") or {}


class Feed:
    """A topic fed through a FileStreamSource reading a file this object appends to."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.touch()
        self.lines = 0

    def source_config(self, topic: str) -> dict[str, str]:
        config = recipes.running_source(self.path.parent, topic=topic, file_name=self.path.name)
        config["batch.size"] = "5000"
        return config

    def append(self, lines: int, width: int = 100) -> None:
        """`lines` lines of `width` bytes (newline included)."""
        with self.path.open("a") as out:
            for i in range(lines):
                out.write(f"{self.lines + i:0{width - 1}d}\n")
        self.lines += lines


class FifoReader:
    """The reading end of a FIFO a FileStreamSink writes into. Opened first (non-blocking), so the task's
    open-for-writing succeeds; it reads only while `draining`, so the pipe fills and the sink blocks in write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        os.mkfifo(path)
        self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.read_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sink_config(self, topic: str) -> dict[str, str]:
        return recipes.running_sink(self.path.parent, topic=topic, file_name=self.path.name)

    def drain(self) -> None:
        """Read everything, now and from now on, until close()."""

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    chunk = os.read(self._fd, 1 << 16)
                except OSError as error:
                    if error.errno != errno.EAGAIN:
                        return
                    chunk = b""
                self.read_bytes += len(chunk)
                if not chunk:
                    self._stop.wait(0.05)  # the pipe is empty: look again shortly

        self._thread = threading.Thread(target=loop, name="fifo-reader", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        with contextlib.suppress(OSError):
            os.close(self._fd)


class Operator:
    """What an operator does to the broker with Kafka's own admin API (confluent-kafka, as the healthcheck)."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._admin = AdminClient({"bootstrap.servers": bootstrap})

    def create_topic(self, topic: str) -> None:
        self._admin.create_topics([NewTopic(topic, 1, 1)], request_timeout=ADMIN_TIMEOUT)[topic].result()

    def produce(self, topic: str, records: int) -> None:
        producer = Producer({"bootstrap.servers": self._bootstrap})
        for i in range(records):
            producer.produce(topic, value=f"record {i}".encode())
        if producer.flush(ADMIN_TIMEOUT):
            raise AssertionError(f"records for {topic} not delivered within {ADMIN_TIMEOUT:g} s")

    def delete_topic(self, topic: str) -> None:
        self._admin.delete_topics([topic], request_timeout=ADMIN_TIMEOUT)[topic].result()

    def delete_group(self, group: str) -> None:
        """Delete `group` once its members have left (a group with members cannot be deleted)."""

        def deleted() -> bool:
            try:
                self._admin.delete_consumer_groups([group], request_timeout=ADMIN_TIMEOUT)[group].result()
            except KafkaException as error:
                if error.args[0].code() == KafkaError.NON_EMPTY_GROUP:
                    return False
                raise
            return True

        wait_until(deleted, 30, interval=0.2, what=f"consumer group {group} to be empty and deleted")
