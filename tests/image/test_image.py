"""The built container image, run with podman against a fake Connect on the host (`make test-image`)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.fake_connect import WORKER, FakeConnect, task
from tests.image.conftest import Container, Podman
from tests.waiting import wait_until

pytestmark = pytest.mark.image

FAST = {"HEALTHCHECK_POLL_INTERVAL": "0.5", "HEALTHCHECK_REQUEST_TIMEOUT": "2"}


def _status_becomes(container: Container, status: int, **fields: object) -> dict:
    """The JSON body of GET /, once it answers `status` with these `fields` (a poll may have to happen first)."""

    def answer() -> dict | None:
        response = container.get("/")
        if response.status_code != status:
            return None
        body = response.json()
        return body if all(body.get(name) == value for name, value in fields.items()) else None

    return wait_until(answer, timeout=20, what=f"GET / to answer {status}")


def _health(container: Container) -> str:
    return container.podman("inspect", "--format={{.State.Health.Status}}", container.name).stdout.strip()


def test_runs_as_a_non_root_user(start_container: Callable[..., Container], connect: FakeConnect) -> None:
    container = start_container({"HEALTHCHECK_CONNECT_URL": connect.url})
    assert container.podman("exec", container.name, "id", "-u").stdout.strip() == "10001"
    # Every process of the container (gunicorn's master and its worker) runs as that user.
    top = container.podman("top", container.name, "user").stdout.split()
    assert top[0] == "USER" and len(top) >= 3
    assert set(top[1:]) == {"healthcheck"}


def test_serves_ping_and_the_verdict_of_a_connect_on_the_host(
    start_container: Callable[..., Container], connect: FakeConnect
) -> None:
    connect.set_connector("orders-sink", "RUNNING", [task(0)])
    container = start_container({"HEALTHCHECK_CONNECT_URL": connect.url, **FAST})
    assert container.get("/ping").status_code == 200
    assert _status_becomes(container, 200)["healthy"] is True
    connect.set_connector("orders-sink", "RUNNING", [task(0, "FAILED", trace="boom")])
    failures = _status_becomes(container, 503)["failures"]
    assert [(f["connector"], f["type"], f["state"]) for f in failures] == [("orders-sink", "task", "FAILED")]
    # Package data made it into the image.
    assert container.get("/openapi.json").json()["openapi"].startswith("3.")


def test_settings_come_from_healthcheck_environment_variables(
    start_container: Callable[..., Container], connect: FakeConnect
) -> None:
    connect.set_connector("mine", "RUNNING", [task(0, worker_id=WORKER)], worker_id=WORKER)
    connect.set_connector("theirs", "FAILED", [task(0, "FAILED", worker_id="10.0.0.9:8083")], worker_id="10.0.0.9:8083")
    container = start_container(
        {"HEALTHCHECK_CONNECT_URL": connect.url, "HEALTHCHECK_CONNECT_WORKER_ID": WORKER, **FAST}
    )
    # Only this worker's connectors count, so the other worker's failures do not make it unhealthy.
    assert _status_becomes(container, 200)["failures"] == []
    logs = container.logs()
    assert f"serving on 127.0.0.1:{container.port}" in logs
    assert f"polls {connect.url}" in logs and f"on worker {WORKER}" in logs


def test_image_healthcheck_pings_the_server_whatever_connect_says(
    start_container: Callable[..., Container],
) -> None:
    # Connect unreachable: the verdict is 503, but the process is alive, so the container is healthy.
    container = start_container({"HEALTHCHECK_CONNECT_URL": "http://127.0.0.1:9", **FAST})
    # Before the first poll ends, / is 503 "no status yet"; then 503 for the failed connection.
    assert "cannot reach http://127.0.0.1:9" in _status_becomes(container, 503, reason="connection")["error"]
    result = container.podman("healthcheck", "run", container.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _health(container) == "healthy"  # what `podman ps` shows


def test_image_healthcheck_fails_when_the_server_hangs(
    start_container: Callable[..., Container], connect: FakeConnect
) -> None:
    container = start_container({"HEALTHCHECK_CONNECT_URL": connect.url})
    # Freeze gunicorn's worker (the process that answers): /ping now hangs, as in a deadlock.
    pids = container.podman("top", container.name, "pid").stdout.split()[1:]
    worker = next(pid for pid in pids if pid != "1")
    freeze = f"import os, signal; os.kill({worker}, signal.SIGSTOP)"
    assert container.podman("exec", container.name, "/opt/venv/bin/python", "-c", freeze).returncode == 0
    result = container.podman("healthcheck", "run", container.name)
    assert result.returncode == 1
    assert result.stdout.strip() == "unhealthy"
    # One failure is not yet "unhealthy": that takes 3 in a row (--retries) after the 10 s start period.
    assert _health(container) == "starting"


def test_sigterm_stops_it_within_seconds_with_exit_status_0(
    start_container: Callable[..., Container], connect: FakeConnect
) -> None:
    container = start_container({"HEALTHCHECK_CONNECT_URL": connect.url})
    assert container.podman("kill", "--signal=TERM", container.name).returncode == 0
    # `podman wait` prints the exit status; the deadline is what Kubernetes or `docker stop` would allow.
    assert container.podman("wait", container.name, timeout=10).stdout.strip() == "0"
    assert "Shutting down: Master" in container.logs()


@pytest.mark.parametrize(
    ("env", "error"),
    [
        (
            {"HEALTHCHECK_PORT": "99999"},
            "invalid HEALTHCHECK_PORT (flag --port) value '99999': must be an integer from 1 to 65535",
        ),
        (
            {"HEALTHCHECK_BASIC_AUTH": "s3cret-no-colon"},
            "invalid HEALTHCHECK_BASIC_AUTH (flag --basic-auth): must be user:password",
        ),
    ],
)
def test_a_bad_setting_exits_2_with_one_line(podman: Podman, env: dict[str, str], error: str) -> None:
    result = podman.run_once(env)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"kafka-connect-healthcheck: error: {error}"]
    assert result.stdout == ""
    assert "s3cret" not in result.stderr


def test_the_image_ships_no_pip_and_no_compiler(podman: Podman) -> None:
    probe = (
        "import importlib.util, shutil; print(importlib.util.find_spec('pip'), shutil.which('gcc'), shutil.which('cc'))"
    )
    result = podman.run_once({}, "-c", probe, options=["--entrypoint=/opt/venv/bin/python"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["None", "None", "None"]
