"""Connector configs (built-in plugins only) that drive a connector into a known state, and the demo's pair.

Used as a namespace: `recipes.running_sink(workdir)`.
"""

from __future__ import annotations

from pathlib import Path

from tests.integration.kafka_stack.rest import ConnectRest

FILE_SINK = "org.apache.kafka.connect.file.FileStreamSinkConnector"
FILE_SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"
MIRROR_HEARTBEAT = "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector"
STRING_CONVERTER = "org.apache.kafka.connect.storage.StringConverter"


def _file_stream(connector_class: str, topic_key: str, topic: str, file: str) -> dict[str, str]:
    """A FileStream connector with one task and plain strings for keys and values."""
    return {
        "connector.class": connector_class,
        "tasks.max": "1",
        topic_key: topic,
        "file": file,
        "key.converter": STRING_CONVERTER,
        "value.converter": STRING_CONVERTER,
    }


def running_sink(workdir: Path, topic: str = "hc-in", file_name: str = "ok-sink.txt") -> dict[str, str]:
    """FileStreamSink: connector RUNNING, task 0 RUNNING."""
    return _file_stream(FILE_SINK, "topics", topic, str(Path(workdir) / file_name))


def running_source(workdir: Path, topic: str = "hc-in", file_name: str = "in.txt") -> dict[str, str]:
    """FileStreamSource: connector RUNNING, task 0 RUNNING (a missing input file is only logged)."""
    return _file_stream(FILE_SOURCE, "topic", topic, str(Path(workdir) / file_name))


def failing_task_sink(topic: str = "hc-in") -> dict[str, str]:
    """FileStreamSink into a nonexistent directory: connector RUNNING, task 0 FAILED
    (``ConnectException: Couldn't find or create file ...`` from FileStreamSinkTask.start)."""
    return _file_stream(FILE_SINK, "topics", topic, "/nonexistent-kc-hc-dir/sub/out.txt")


def failing_connector() -> dict[str, str]:
    """MirrorHeartbeatConnector without ``target.cluster.bootstrap.servers``: start() throws while
    creating the target admin client, so the connector is FAILED with ``tasks: []``."""
    return {
        "connector.class": MIRROR_HEARTBEAT,
        "tasks.max": "1",
        "source.cluster.alias": "a",
    }


def create_demo_connectors(stack: ConnectRest) -> None:
    """demo-ok-sink (RUNNING/RUNNING) and demo-failing-sink (RUNNING/FAILED task)."""
    stack.create_connector("demo-ok-sink", running_sink(stack.workdir, topic="demo-in"))
    stack.create_connector("demo-failing-sink", failing_task_sink(topic="demo-in"))
    stack.wait_for_state("demo-ok-sink", "RUNNING", ["RUNNING"], timeout=60)
    stack.wait_for_state("demo-failing-sink", "RUNNING", ["FAILED"], timeout=60)
