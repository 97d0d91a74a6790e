"""The progress check's Kafka side against the real broker: offsets read through its SASL/PLAIN listener with
--kafka-config-file, a wrong password, a deleted topic and a deleted consumer group. Unknown is never STALLED.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.conftest import Connectors, answer_when
from tests.integration.kafka_stack import KafkaStack, recipes
from tests.integration.progress_recipes import PROGRESS_FLAGS, STALL_AFTER, Operator, progress_of
from tests.server_process import ServerProcess
from tests.waiting import wait_until

Healthcheck = Callable[..., ServerProcess]
RECORDS = 20


def sink_config(kafka: KafkaStack, connectors: Connectors, topic: str, **overrides: str) -> dict[str, str]:
    config = recipes.running_sink(kafka.workdir, topic=topic, file_name=connectors.name("out.txt"))
    return {**config, **{f"consumer.override.{key.replace('_', '.')}": value for key, value in overrides.items()}}


def caught_up(name: str, committed: int) -> Callable[[requests.Response], bool]:
    def check(response: requests.Response) -> bool:
        partitions = (response.json().get("progress") or {}).get("partitions") or [{}]
        return partitions[0].get("committed") == committed and partitions[0].get("lag") == 0

    return check


def never_stalled_for(server: ServerProcess, seconds: float, check: Callable[[dict[str, Any]], None]) -> None:
    """Watch `/` for `seconds` (more than --stall-after): healthy every time, and `check` holds on each body."""
    until = time.monotonic() + seconds

    def watched_long_enough() -> bool:
        response = server.get("/", timeout=5)
        assert response.status_code == 200, response.text
        check(response.json())
        return time.monotonic() >= until

    wait_until(watched_long_enough, seconds + 30, interval=0.2, what=f"{seconds:g} s of answers without STALLED")


def test_offsets_are_read_through_sasl_plain_with_a_config_file_and_a_wrong_password_is_an_auth_error(
    kafka: KafkaStack, connectors: Connectors, healthcheck: Healthcheck, tmp_path: Path
) -> None:
    assert kafka.sasl is not None
    topic = connectors.name("topic")
    operator = Operator(kafka.bootstrap)
    operator.create_topic(topic)
    operator.produce(topic, RECORDS)
    sink = connectors.create("sink", sink_config(kafka, connectors, topic))
    kafka.wait_for_state(sink, "RUNNING", ["RUNNING"])
    right, wrong = tmp_path / "kafka.properties", tmp_path / "wrong.properties"
    wrong_password = "wrong-" + kafka.sasl.password[::-1]
    right.write_text(kafka.sasl.client_properties())
    wrong.write_text(kafka.sasl.client_properties(password=wrong_password))
    flags = ("--kafka-bootstrap-servers", kafka.sasl.bootstrap, *PROGRESS_FLAGS)
    server = healthcheck(*flags, "--kafka-config-file", str(right))
    refused = healthcheck(*flags, "--kafka-config-file", str(wrong))

    answer = answer_when(server, caught_up(sink, RECORDS), "offsets read over SASL", path=f"/connectors/{sink}")
    assert answer.json()["progress"]["partitions"] == [
        {"topic": topic, "partition": 0, "committed": RECORDS, "end": RECORDS, "lag": 0}
    ]
    assert "progress_error" not in server.get("/").json()

    def auth_refused(response: requests.Response) -> bool:
        return (response.json().get("progress_error") or {}).get("reason") == "auth"

    answer = answer_when(refused, auth_refused, "the wrong password to be an auth progress_error")
    assert answer.status_code == 200, answer.text  # the Connect part of the verdict stands
    assert "Authentication failed" in answer.json()["progress_error"]["message"]
    assert progress_of(refused, sink) == {}  # nothing judged from a round that could not log in
    assert 'kafka_connect_healthcheck_progress_error{reason="auth"} 1.0' in refused.get("/metrics").text

    for process in (server, refused):
        seen = [process.log(), *(process.get(path).text for path in ("/", "/connectors", f"/connectors/{sink}"))]
        seen.append(process.get("/metrics").text)
        for text in seen:
            assert kafka.sasl.password not in text and wrong_password not in text


def test_a_deleted_topic_is_a_clear_error_for_its_sink_never_stalled(
    kafka: KafkaStack, connectors: Connectors, healthcheck: Healthcheck
) -> None:
    topic = connectors.name("topic")
    operator = Operator(kafka.bootstrap)
    operator.create_topic(topic)
    operator.produce(topic, RECORDS)
    # as on clusters that do not create topics on demand: the sink's consumer must not bring it back
    sink = connectors.create("sink", sink_config(kafka, connectors, topic, allow_auto_create_topics="false"))
    kafka.wait_for_state(sink, "RUNNING", ["RUNNING"])
    server = healthcheck("--kafka-bootstrap-servers", kafka.bootstrap, *PROGRESS_FLAGS)
    answer_when(server, caught_up(sink, RECORDS), "the sink to catch up", path=f"/connectors/{sink}")

    operator.delete_topic(topic)
    missing = f"topic '{topic}' (in the connector's topics) does not exist"
    answer = answer_when(
        server, lambda r: (r.json().get("progress") or {}).get("error") == missing, missing, path=f"/connectors/{sink}"
    )
    assert answer.json()["state"] == "RUNNING"  # Connect still says RUNNING

    def named_and_not_stalled(body: dict[str, Any]) -> None:
        assert body["failures"] == []
        assert body["progress_error"] == {
            "reason": "connectors",
            "message": f"1 connector(s) could not be judged: {sink}: {missing}",
        }

    never_stalled_for(server, STALL_AFTER * 2, named_and_not_stalled)


def test_a_deleted_consumer_group_is_unknown_never_stalled_until_the_sink_commits_again(
    kafka: KafkaStack, connectors: Connectors, healthcheck: Healthcheck
) -> None:
    if not kafka.has_stopped_state:
        pytest.skip("a running sink's group has members and cannot be deleted; emptying it needs STOPPED (Kafka 3.5+)")
    topic = connectors.name("topic")
    operator = Operator(kafka.bootstrap)
    operator.create_topic(topic)
    # latest: after the group is gone the consumer sits at the log end and commits nothing, so lag counted
    # from the log start would stand still: exactly what must not be called STALLED
    sink = connectors.create("sink", sink_config(kafka, connectors, topic, auto_offset_reset="latest"))
    group = f"connect-{sink}"
    kafka.wait_for_state(sink, "RUNNING", ["RUNNING"])
    server = healthcheck("--kafka-bootstrap-servers", kafka.bootstrap, *PROGRESS_FLAGS)

    def commits_after_feeding(response: requests.Response) -> bool:
        partitions = (response.json().get("progress") or {}).get("partitions") or [{}]
        if partitions[0].get("committed"):
            return True
        operator.produce(topic, 1)  # the consumer may join after a record: feed it until it commits
        return False

    answer_when(server, commits_after_feeding, "the sink to commit", path=f"/connectors/{sink}")

    kafka.stop_connector(sink)
    kafka.wait_for_state(sink, "STOPPED", [])
    operator.delete_group(group)
    kafka.resume(sink)
    kafka.wait_for_state(sink, "RUNNING", ["RUNNING"])
    vanished = f"consumer group '{group}' no longer has committed offsets for {topic}-0"
    answer = answer_when(
        server,
        lambda r: vanished in ((r.json().get("progress") or {}).get("error") or ""),
        vanished,
        path=f"/connectors/{sink}",
    )
    assert answer.json()["progress"]["partitions"][0]["committed"] is None

    def unknown_not_stalled(body: dict[str, Any]) -> None:
        assert body["failures"] == []
        assert vanished in body["progress_error"]["message"]

    never_stalled_for(server, STALL_AFTER * 2, unknown_not_stalled)

    def judged_again_after_feeding(response: requests.Response) -> bool:
        if (response.json().get("progress") or {}).get("error") is None:
            return True
        operator.produce(topic, 1)
        return False

    answer = answer_when(server, judged_again_after_feeding, "the sink to commit again", path=f"/connectors/{sink}")
    assert answer.json()["progress"]["status"] in ("watching", "moving", "idle")
    assert "progress_error" not in server.get("/").json()
