"""Issue 14 against a real Kafka Connect worker: a ConfigException's cause and its skipped restart, a RUNNING
connector with no tasks (NO_TASKS), application/health+json, and --connect-worker-id auto."""

from __future__ import annotations

from collections.abc import Callable

import requests

from tests.integration.conftest import AccessLog, Connectors, answer_when
from tests.integration.kafka_stack import KafkaStack, recipes
from tests.integration.kafka_stack.recipes import MIRROR_HEARTBEAT
from tests.server_process import ServerProcess

Healthcheck = Callable[..., ServerProcess]
# The admin client's complaint about its missing bootstrap servers, worded by each Kafka line in its own way.
CONFIG_CAUSES = {
    "org.apache.kafka.common.config.ConfigException: You must set either bootstrap.servers or bootstrap.controllers",
    'org.apache.kafka.common.config.ConfigException: Missing required configuration "bootstrap.servers" which has '
    "no default value.",
}
HEALTH_JSON = {"Accept": "application/health+json"}


def heartbeat_without_tasks(kafka: KafkaStack) -> dict[str, str]:
    """MirrorHeartbeatConnector with heartbeats off: it starts (RUNNING) and creates no task, by design."""
    return {
        "connector.class": MIRROR_HEARTBEAT,
        "tasks.max": "1",
        "source.cluster.alias": "a",
        "target.cluster.alias": "b",
        "source.cluster.bootstrap.servers": kafka.bootstrap,
        "target.cluster.bootstrap.servers": kafka.bootstrap,
        "emit.heartbeats.enabled": "false",
    }


def test_a_config_exception_reads_as_its_cause_and_is_not_restarted(
    kafka: KafkaStack, connectors: Connectors, healthcheck: Healthcheck
) -> None:
    access = AccessLog(kafka)
    name = connectors.create("config", recipes.failing_connector())
    server = healthcheck("--auto-restart", "true", "--restart-backoff", "0.5")
    # The restart decision shows from the snapshot after the one the actor decided on.
    response = answer_when(
        server,
        lambda r: r.status_code == 503 and any("restart" in f for f in r.json().get("failures", [])),
        "the failed connector and its restart decision",
    )
    [failure] = response.json()["failures"]
    assert failure["cause"] in CONFIG_CAUSES
    assert failure["restart"].startswith("skipped: org.apache.kafka.common.config.ConfigException matches")
    # Several polls later, still not one restart sent: a restart cannot fix a config.
    answer_when(server, lambda _: access.requests("GET /connectors?expand=status&expand=info") >= 4, "more polls")
    assert access.requests(f"POST /connectors/{name}/restart?includeTasks=true&onlyFailed=true") == 0
    assert access.requests(f"POST /connectors/{name}/restart") == 0
    assert server.log().count(f"not restarting connector '{name}'") == 1
    hj = requests.get(server.url + "/", headers=HEALTH_JSON, timeout=5)
    assert (hj.status_code, hj.headers["Content-Type"]) == (503, "application/health+json")
    assert hj.json()["checks"][f"connector:{name}"][0]["output"] == failure["cause"]


def test_a_running_connector_without_tasks_is_no_tasks(
    kafka: KafkaStack, connectors: Connectors, healthcheck: Healthcheck
) -> None:
    name = connectors.create("notasks", heartbeat_without_tasks(kafka))
    lenient = healthcheck()
    strict = healthcheck("--unhealthy-states", "FAILED,NO_TASKS")
    response = answer_when(strict, lambda r: r.status_code == 503 and r.json().get("failures"), "NO_TASKS")
    [failure] = response.json()["failures"]
    assert (failure["connector"], failure["state"], failure["worker_id"]) == (name, "NO_TASKS", kafka.worker_id)
    assert failure["cause"] == "the connector is RUNNING but has no tasks (tasks.max is 1)"
    detail = strict.get(f"/connectors/{name}").json()
    assert (detail["state"], detail["tasks"], detail["tasks_max"], detail["tasks_running"]) == ("RUNNING", [], 1, 0)
    # By default the same connector is healthy: some connectors run without tasks by design.
    assert answer_when(lenient, lambda r: r.status_code == 200, "healthy by default").json()["status"] == "pass"


def test_auto_finds_the_real_workers_id(kafka: KafkaStack, connectors: Connectors, healthcheck: Healthcheck) -> None:
    connectors.create("bad", recipes.failing_task_sink())
    server = healthcheck("--connect-worker-id", "auto")
    response = answer_when(server, lambda r: r.status_code == 503 and r.json().get("failures"), "the failed task")
    assert response.json()["failures"][0]["worker_id"] == kafka.worker_id
    assert "warning" not in response.json()
    mistyped = healthcheck("--connect-worker-id", "127.0.0.1:1")
    warned = answer_when(mistyped, lambda r: "warning" in r.json(), "the unmatched worker warning")
    assert (warned.status_code, warned.json()["status"]) == (200, "warn")
    assert warned.json()["warning"].endswith(f"run on: {kafka.worker_id}")
