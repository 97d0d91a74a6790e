"""The healthcheck, run as users run it, against a real Kafka Connect worker: what GET / answers, state by state.

Each test makes its own connectors on the session's worker (see conftest.py) and starts the console script,
which judges only those connectors. The test that stops the worker runs last: it disturbs the shared worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import requests

from healthcheck.render import POLL_ERROR_MESSAGE
from tests.exposition import metric
from tests.integration.conftest import AccessLog, Connectors, answer_when
from tests.integration.kafka_stack import KafkaStack, recipes
from tests.server_process import ServerProcess

POLL_INTERVAL = 0.5
REQUEST_TIMEOUT = 3.0
P = "kafka_connect_healthcheck_"
CANNOT_CREATE_FILE = "org.apache.kafka.connect.errors.ConnectException: Couldn't find or create file"

Healthcheck = Callable[..., ServerProcess]

POLL = "GET /connectors?expand=status&expand=info"  # one poll, as the worker's access log shows it


def sink(kafka: KafkaStack, connectors: Connectors, file_name: str = "out.txt") -> dict[str, str]:
    """A FileStreamSink that runs: it writes into a file of its own in the stack's folder."""
    return recipes.running_sink(kafka.workdir, file_name=connectors.prefix + file_name)


def failures(response: requests.Response) -> list[dict[str, object]]:
    return response.json()["failures"]


def unhealthy_with_failures(response: requests.Response) -> bool:
    return response.status_code == 503 and bool(response.json().get("failures"))


def healthy(response: requests.Response) -> bool:
    return response.status_code == 200


def seen(server: ServerProcess, name: str, state: str, task_states: list[str]) -> requests.Response:
    """Wait until the healthcheck's last poll shows `name` in `state` with exactly `task_states`."""

    def shows(response: requests.Response) -> bool:
        if response.status_code not in (200, 503):
            return False
        doc = response.json()
        return doc.get("state") == state and [t["state"] for t in doc.get("tasks", [])] == task_states

    return answer_when(server, shows, f"{name} to show {state} {task_states}", path=f"/connectors/{name}")


def wait_for_polls(server: ServerProcess, access: AccessLog, count: int) -> None:
    """Until Connect's access log shows `count` polls (asking /ping, which never waits on Connect)."""
    answer_when(server, lambda _: access.requests(POLL) >= count, f"{count} polls", path="/ping", timeout=30)


def test_running_source_and_sink_are_healthy(
    kafka: KafkaStack, connectors: Connectors, healthcheck: Healthcheck
) -> None:
    sink_name = connectors.create("sink", sink(kafka, connectors))
    source_name = connectors.create("source", recipes.running_source(kafka.workdir, file_name=connectors.prefix + "in"))
    server = healthcheck()
    seen(server, sink_name, "RUNNING", ["RUNNING"])
    seen(server, source_name, "RUNNING", ["RUNNING"])
    response = server.get("/")
    assert response.status_code == 200
    body = response.json()
    assert (body["healthy"], body["failures"], body["failure_rate"]) == (True, [], 0.0)
    assert "ERROR" not in server.log()


def test_a_failing_task_is_a_503_with_the_workers_id_and_connects_stack_trace(
    kafka: KafkaStack, connectors: Connectors, healthcheck: Healthcheck
) -> None:
    name = connectors.create("bad", recipes.failing_task_sink())
    server = healthcheck()
    response = answer_when(server, unhealthy_with_failures, "the failed task")
    [failure] = failures(response)
    assert {k: failure[k] for k in ("type", "connector", "id", "state", "worker_id")} == {
        "type": "task",
        "connector": name,
        "id": 0,
        "state": "FAILED",
        "worker_id": kafka.worker_id,
    }
    trace = str(failure["trace"])
    assert trace.startswith(CANNOT_CREATE_FILE + " '/nonexistent-kc-hc-dir/sub/out.txt' for FileStreamSinkTask")
    assert "\tat org.apache.kafka.connect.file.FileStreamSinkTask.start(" in trace
    assert "Caused by: java.nio.file.NoSuchFileException: /nonexistent-kc-hc-dir/sub/out.txt" in trace
    assert response.json()["healthy"] is False
    cause = "java.nio.file.NoSuchFileException: /nonexistent-kc-hc-dir/sub/out.txt"  # the innermost Caused by
    assert failure["cause"] == cause
    assert f"connector '{name}' task 0 is unhealthy: FAILED on {kafka.worker_id}: {cause}" in server.log()


def test_a_connector_failing_in_start_is_a_503_with_a_connector_entry(
    kafka: KafkaStack, connectors: Connectors, healthcheck: Healthcheck
) -> None:
    name = connectors.create("bad", recipes.failing_connector())
    server = healthcheck()
    [failure] = failures(answer_when(server, unhealthy_with_failures, "the failed connector"))
    assert {k: failure[k] for k in ("type", "connector", "state", "worker_id")} == {
        "type": "connector",
        "connector": name,
        "state": "FAILED",
        "worker_id": kafka.worker_id,
    }
    assert "id" not in failure
    assert str(failure["trace"]).startswith(
        "org.apache.kafka.common.KafkaException: The constructor of "
        "org.apache.kafka.clients.admin.ForwardingAdmin threw an exception"
    )


def test_paused_and_stopped_are_healthy_by_default_and_unhealthy_when_listed(
    kafka: KafkaStack, connectors: Connectors, healthcheck: Healthcheck
) -> None:
    paused = connectors.create("paused", sink(kafka, connectors, "paused.txt"))
    stopped = connectors.create("stopped", sink(kafka, connectors, "stopped.txt")) if kafka.has_stopped_state else None
    for name in filter(None, (paused, stopped)):
        kafka.wait_for_state(name, "RUNNING", ["RUNNING"], timeout=60)
    kafka.pause(paused)
    expected = [("connector", paused, "PAUSED"), ("task", paused, "PAUSED")]
    if stopped is not None:  # STOPPED is Kafka 3.5+
        kafka.stop_connector(stopped)
        expected.append(("connector", stopped, "STOPPED"))
    default = healthcheck()
    strict = healthcheck("--unhealthy-states", "FAILED,PAUSED,STOPPED")
    for server in (default, strict):
        seen(server, paused, "PAUSED", ["PAUSED"])
        if stopped is not None:
            seen(server, stopped, "STOPPED", [])

    response = default.get("/")
    assert (response.status_code, failures(response)) == (200, [])
    response = strict.get("/")
    assert response.status_code == 503
    assert sorted((f["type"], f["connector"], f["state"]) for f in failures(response)) == sorted(expected)
    assert response.json()["failure_states"] == ["FAILED", "PAUSED", "STOPPED"]


def test_the_worker_filter_judges_only_the_named_worker(
    kafka: KafkaStack, connectors: Connectors, healthcheck: Healthcheck
) -> None:
    name = connectors.create("bad", recipes.failing_task_sink())
    here = healthcheck("--connect-worker-id", kafka.worker_id)
    elsewhere = healthcheck("--connect-worker-id", "127.0.0.1:1")
    [failure] = failures(answer_when(here, unhealthy_with_failures, "the failed task on the real worker"))
    assert (failure["connector"], failure["worker_id"]) == (name, kafka.worker_id)

    seen(elsewhere, name, "RUNNING", ["FAILED"])  # it has polled the failure, and judged it not its worker's
    response = elsewhere.get("/")
    assert (response.status_code, failures(response)) == (200, [])
    assert elsewhere.get(f"/connectors/{name}").json()["healthy"] is True


def test_a_connector_deleted_while_polling_is_no_failure(
    kafka: KafkaStack, connectors: Connectors, healthcheck: Healthcheck
) -> None:
    keep = connectors.create("keep", sink(kafka, connectors, "keep.txt"))
    doomed = connectors.create("doomed", sink(kafka, connectors, "doomed.txt"))
    server = healthcheck()
    seen(server, keep, "RUNNING", ["RUNNING"])
    seen(server, doomed, "RUNNING", ["RUNNING"])
    polls_before = metric(server.get("/metrics").text, P + "polls_total", result="ok")

    connectors.delete(doomed)
    answers: list[int] = []

    def gone_and_polled_again(response: requests.Response) -> bool:
        answers.append(server.get("/").status_code)
        listed = [c["name"] for c in server.get("/connectors").json()["connectors"]]
        return listed == [keep] and metric(response.text, P + "polls_total", result="ok") >= polls_before + 4

    answer_when(server, gone_and_polled_again, f"{doomed} to leave the answers", path="/metrics")
    assert set(answers) == {200}
    assert server.process is not None and server.process.poll() is None
    assert "ERROR" not in server.log()
    assert server.get("/connectors/" + doomed).status_code == 404


def test_a_failed_task_fixed_by_a_config_update_and_a_rest_restart_is_healthy_again(
    kafka: KafkaStack, connectors: Connectors, healthcheck: Healthcheck
) -> None:
    name = connectors.create("fixme", recipes.failing_task_sink())
    server = healthcheck()
    answer_when(server, unhealthy_with_failures, "the failed task")

    kafka.put_config(name, sink(kafka, connectors, "fixed.txt"))
    if kafka.has_restart_options:  # KIP-745, Kafka 3.0+
        kafka.restart(name, include_tasks=True, only_failed=True)
    else:
        kafka.restart_task(name, 0)
    response = answer_when(server, healthy, "recovery after the fix")
    assert failures(response) == []
    seen(server, name, "RUNNING", ["RUNNING"])
    assert f"connector '{name}' task 0 recovered (was FAILED)" in server.log()


def test_auto_restart_brings_back_a_task_once_its_cause_is_gone(
    kafka: KafkaStack, connectors: Connectors, healthcheck: Healthcheck
) -> None:
    missing = kafka.workdir / (connectors.prefix + "dir")  # the sink's folder, created only later
    name = connectors.create("autofix", recipes.running_sink(kafka.workdir, file_name=f"{missing.name}/out.txt"))
    kafka.wait_for_state(name, "RUNNING", ["FAILED"], timeout=60)
    access = AccessLog(kafka)
    server = healthcheck("--auto-restart", "true", "--restart-backoff", "1")

    # the worker's own log: the task failed once more after the healthcheck's first restart
    failed_again = f"WorkerSinkTask{{id={name}-0}} Task threw an uncaught and unrecoverable exception"
    kafka.wait_for(lambda: kafka.worker_log.read_text(errors="replace").count(failed_again) >= 2, 30, failed_again)
    missing.mkdir()
    response = answer_when(server, healthy, "the healthcheck's next restart to bring the task back")
    assert failures(response) == []
    assert kafka.wait_for_state(name, "RUNNING", ["RUNNING"])
    assert f"restarted connector '{name}' and its failed tasks [0]" in server.log()
    restarts = metric(server.get("/metrics").text, P + "restarts_total", connector=name, result="ok")
    assert restarts >= 2  # the one after which it failed again, and the one that worked
    assert access.requests(f"POST /connectors/{name}/restart?includeTasks=true&onlyFailed=true") == restarts


def test_ready_follows_the_poll_and_the_workers_own_health_is_read_where_it_exists(
    kafka: KafkaStack, connectors: Connectors, healthcheck: Healthcheck
) -> None:
    name = connectors.create("ok", sink(kafka, connectors))
    access = AccessLog(kafka)
    server = healthcheck()
    seen(server, name, "RUNNING", ["RUNNING"])
    wait_for_polls(server, access, 5)
    response = server.get("/ready")
    assert response.status_code == 200
    assert (response.json()["ready"], response.json()["message"]) == (True, "Connect answered the last poll.")
    polls = access.requests(POLL)
    asked = access.requests("GET /health")
    if kafka.has_health_endpoint:  # Kafka 3.9+: read on every poll, and "healthy" adds no failure
        assert asked >= polls - 1
        assert server.get("/").json()["failures"] == []
    else:  # a 404 there: asked once, never again, and the worker still counts as ready
        assert asked == 1, f"GET /health asked {asked} times in {polls} polls"


def test_connectors_and_metrics_show_the_real_states(
    kafka: KafkaStack, connectors: Connectors, healthcheck: Healthcheck
) -> None:
    ok = connectors.create("ok", sink(kafka, connectors, "ok.txt"))
    paused = connectors.create("paused", sink(kafka, connectors, "paused.txt"))
    bad_task = connectors.create("bad-task", recipes.failing_task_sink())
    bad_connector = connectors.create("bad-connector", recipes.failing_connector())
    kafka.wait_for_state(paused, "RUNNING", ["RUNNING"], timeout=60)
    kafka.pause(paused)
    expected = {
        ok: ("RUNNING", ["RUNNING"]),
        paused: ("PAUSED", ["PAUSED"]),
        bad_task: ("RUNNING", ["FAILED"]),
        bad_connector: ("FAILED", []),
    }
    server = healthcheck()
    for name, (state, tasks) in expected.items():
        seen(server, name, state, tasks)

    listing = server.get("/connectors").json()["connectors"]
    assert [c["name"] for c in listing] == sorted(expected)
    for entry in listing:
        real = kafka.status(entry["name"])  # what the worker itself says
        assert (entry["state"], entry["worker_id"], entry["type"]) == (
            real["connector"]["state"],
            real["connector"]["worker_id"],
            real["type"],
        )
        assert entry["tasks"] == [{k: t[k] for k in ("id", "state", "worker_id")} for t in real["tasks"]]
        assert entry["healthy"] is (entry["name"] in (ok, paused))

    assert server.get(f"/connectors/{ok}").status_code == 200
    one = server.get(f"/connectors/{bad_task}")
    assert one.status_code == 503
    assert [(f["type"], f["id"], f["state"]) for f in one.json()["failures"]] == [("task", 0, "FAILED")]
    assert server.get(f"/connectors/{connectors.prefix}no-such").status_code == 404

    text = server.get("/metrics").text
    worker = kafka.worker_id
    assert metric(text, P + "connector_state", connector=ok, worker_id=worker, state="RUNNING") == 1
    assert metric(text, P + "connector_state", connector=bad_connector, worker_id=worker, state="FAILED") == 1
    assert metric(text, P + "task_state", connector=bad_task, task="0", worker_id=worker, state="FAILED") == 1
    assert metric(text, P + "task_state", connector=paused, task="0", worker_id=worker, state="PAUSED") == 1
    assert [metric(text, P + "connectors", state=s) for s in ("RUNNING", "PAUSED", "FAILED")] == [2, 1, 1]
    assert [metric(text, P + "tasks", state=s) for s in ("RUNNING", "PAUSED", "FAILED")] == [1, 1, 1]
    assert (metric(text, P + "healthy"), metric(text, P + "up"), metric(text, P + "failures")) == (0, 1, 2)


# Near the end: it restarts the shared worker.
def test_the_workers_own_health_is_still_read_after_the_worker_restarts_under_us(
    kafka: KafkaStack, connectors: Connectors, healthcheck: Healthcheck
) -> None:
    name = connectors.create("ok", sink(kafka, connectors))
    server = healthcheck("--poll-interval", "0.2")  # polls often enough to catch the worker mid-start
    seen(server, name, "RUNNING", ["RUNNING"])
    try:
        kafka.stop_worker()
        answer_when(server, lambda r: r.status_code == 503, "the stopped worker to show")
    finally:
        if not kafka.is_worker_running():
            kafka.start_worker()  # returns once the worker's own /health (3.9+) says healthy
    answer_when(server, healthy, "the restarted worker to be read again")
    access = AccessLog(kafka)
    wait_for_polls(server, access, 10)
    polls, asked = access.requests(POLL), access.requests("GET /health")
    starting = "the Connect worker reports itself starting" in server.log()
    print(
        f"Kafka {kafka.version}: while the worker started, the harness saw /health answer "
        f"{sorted(kafka.health_while_starting)}; the healthcheck saw it starting: {starting}; after the restart "
        f"/health was asked {asked} times in {polls} polls"
    )
    if kafka.has_health_endpoint:  # 3.9+: whatever a start answered (404 included), /health is asked each poll
        assert asked >= polls - 1
    else:  # before 3.9: no /health; asked again at most every 10 s
        assert asked <= 1 + polls * 0.2 / 10
    assert server.get("/").json()["failures"] == []
    assert server.get("/ready").status_code == 200


# Last in the module: it stops and restarts the shared worker.
def test_the_worker_stopped_is_a_503_at_once_and_started_again_a_200_without_restarting_us(
    kafka: KafkaStack, connectors: Connectors, healthcheck: Healthcheck
) -> None:
    name = connectors.create("ok", sink(kafka, connectors))
    server = healthcheck()
    seen(server, name, "RUNNING", ["RUNNING"])
    assert server.get("/").status_code == 200
    assert server.process is not None
    pid = server.process.pid
    try:
        stopping_at = time.monotonic()
        kafka.stop_worker()
        stopped_at = time.monotonic()
        response = answer_when(
            server,
            lambda r: r.status_code == 503 and r.json().get("reason") == "connection",
            "the stopped worker to show",
            timeout=POLL_INTERVAL + REQUEST_TIMEOUT + 2.0,
        )
        print(
            f"Kafka {kafka.version}: the worker took {stopped_at - stopping_at:.2f} s to stop; GET / said 503 "
            f"{time.monotonic() - stopping_at:.2f} s after its SIGTERM"
        )
        body = response.json()
        assert (body["healthy"], body["message"]) == (False, POLL_ERROR_MESSAGE)
        assert body["error"].startswith(
            f"GET /connectors?expand=status&expand=info: cannot reach {kafka.connect_url}: "
        )
        assert server.get("/ready").status_code == 503
    finally:
        if not kafka.is_worker_running():
            kafka.start_worker()

    response = answer_when(server, healthy, "the restarted worker to be read again")
    assert failures(response) == []
    seen(server, name, "RUNNING", ["RUNNING"])
    assert server.process.pid == pid and server.process.poll() is None
    log = server.log()
    assert log.count("cannot read Connect status (connection)") == 1
    assert "Connect status readable again after" in log


@pytest.fixture(autouse=True)
def _worker_is_running(kafka: KafkaStack) -> None:
    """Every test starts with the shared worker up (the one that stops it restarts it, even when it fails)."""
    assert kafka.is_worker_running(), "the shared Connect worker is not running"
