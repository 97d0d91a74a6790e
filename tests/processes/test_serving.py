"""The service as users run it: the console script and `gunicorn -c gunicorn.conf.py wsgi:app`, as processes."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
import requests

from tests.fake_connect import TRACE, FakeConnect, Fault, task
from tests.server_process import BIN, CONSOLE_SCRIPT, ServerProcess
from tests.waiting import wait_until


@pytest.fixture
def console(connect: FakeConnect) -> Iterator[ServerProcess]:
    """The console script polling the fake every 0.2 s, configured by flags and env together.

    Starting it proves flag > env as a process: HEALTHCHECK_PORT=1 is in its environment, and ServerProcess
    waits for /ping on the port that --port chose."""
    server = ServerProcess(
        [CONSOLE_SCRIPT, "--port", "{port}", "--host", "127.0.0.1", "--poll-interval", "0.2", "--max-staleness", "10"],
        env={"HEALTHCHECK_CONNECT_URL": connect.url, "HEALTHCHECK_PORT": "1", "HEALTHCHECK_REQUEST_TIMEOUT": "1"},
    )
    with server:
        yield server


def status_of(server: ServerProcess) -> int:
    return server.get("/").status_code


def test_console_script_serves_the_verdict_and_follows_connect(connect: FakeConnect, console: ServerProcess) -> None:
    connect.set_connector("ok")
    wait_until(lambda: status_of(console) == 200, what="a healthy answer")
    connect.set_connector("bad", tasks=[task(0, "FAILED", trace=TRACE)])
    wait_until(lambda: status_of(console) == 503, what="the failed task to show")
    body = console.get("/").json()
    assert body["failures"][0]["connector"] == "bad"
    assert body["failures"][0]["trace"] == TRACE
    connect.set_connector("bad")
    wait_until(lambda: status_of(console) == 200, what="recovery")
    assert console.get("/ping").json() == {"status": "UP"}


def test_log_says_what_changed_once_and_nothing_per_probe(connect: FakeConnect, console: ServerProcess) -> None:
    connect.set_connector("bad", tasks=[task(0, "FAILED", trace=TRACE)])
    wait_until(lambda: console.get("/").json().get("failures"), what="the failed task to show")
    polls_before = connect.request_count()
    for _ in range(50):
        console.get("/")
        console.get("/ping")
    wait_until(lambda: connect.request_count() >= polls_before + 3, what="a few more polls")
    log = console.log()
    assert log.count("connector 'bad' task 0 is unhealthy: FAILED on 127.0.0.1:8083: " + TRACE.splitlines()[0]) == 1
    assert "GET /ping" not in log and "GET / " not in log
    connect.set_connector("bad")
    wait_until(lambda: "connector 'bad' task 0 recovered (was FAILED)" in console.log(), what="a recovery line")


def test_connect_errors_are_logged_when_they_start_and_when_they_end(
    connect: FakeConnect, console: ServerProcess
) -> None:
    connect.set_connector("x")
    wait_until(lambda: status_of(console) == 200, what="a healthy answer")
    with connect.faulty(Fault(status=500)):
        wait_until(lambda: status_of(console) == 503, what="the error to show")
        start = connect.request_count()
        wait_until(lambda: connect.request_count() >= start + 3, what="more failing polls")
    wait_until(lambda: status_of(console) == 200, what="recovery")
    log = console.log()
    assert log.count("ERROR") == 1
    assert "cannot read Connect status (http_status): GET /connectors?expand=status&expand=info: HTTP 500" in log
    assert "Connect status readable again after" in log


def test_probes_stay_fast_while_connect_hangs(connect: FakeConnect) -> None:
    connect.set_connector("x")
    server = ServerProcess(
        [CONSOLE_SCRIPT, "--port", "{port}", "--host", "127.0.0.1", "--poll-interval", "0.2", "--max-staleness", "10"],
        env={"HEALTHCHECK_CONNECT_URL": connect.url, "HEALTHCHECK_REQUEST_TIMEOUT": "30"},
    )
    with connect.faulty(Fault(hang=True)), server:
        wait_until(lambda: connect.request_count() >= 1, what="the poll to be stuck in Connect")
        with requests.Session() as session:
            for _ in range(100):  # each would take 30 s if a probe waited for Connect
                assert session.get(server.url + "/", timeout=2).status_code == 503
                assert session.get(server.url + "/ping", timeout=2).status_code == 200
        assert connect.request_count() == 1


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_console_script_exits_0_on_sigterm_and_sigint(console: ServerProcess, signum: int) -> None:
    assert console.signal(signum) == 0


@pytest.mark.parametrize("preload", [False, True], ids=["no-preload", "preload"])
def test_gunicorn_with_the_shipped_config_polls_in_its_worker(connect: FakeConnect, preload: bool) -> None:
    connect.set_connector("bad", tasks=[task(0, "FAILED")])
    command = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"] + (["--preload"] if preload else [])
    env = {
        "HEALTHCHECK_HOST": "127.0.0.1",
        "HEALTHCHECK_PORT": "{port}",
        "HEALTHCHECK_CONNECT_URL": connect.url,
        "HEALTHCHECK_POLL_INTERVAL": "0.2",
        "HEALTHCHECK_MAX_STALENESS": "10",  # a busy CI machine must not turn a slow poll into a stale 503
    }
    server = ServerProcess(command)
    server.env.update({k: v.replace("{port}", str(server.port)) for k, v in env.items()})
    with server:
        wait_until(lambda: server.get("/").json().get("failures"), what="the failed task to show")
        assert server.get("/").status_code == 503
        assert server.get("/").json()["failures"][0]["connector"] == "bad"
        polls = connect.request_count()
        wait_until(lambda: connect.request_count() > polls + 2, what="polling to go on")
        assert server.signal(signal.SIGTERM) == 0


def test_gunicorn_config_rejects_a_bad_setting_with_exit_2(connect: FakeConnect) -> None:
    server = ServerProcess(
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], env={"HEALTHCHECK_POLL_INTERVAL": "soon"}
    )
    server.start(wait=False)
    assert server.process is not None
    assert server.process.wait(timeout=20) == 2
    lines = server.log().strip().splitlines()
    assert lines == [
        "kafka-connect-healthcheck: error: invalid HEALTHCHECK_POLL_INTERVAL (flag --poll-interval) value 'soon': "
        "must be a number of seconds greater than 0 (fractions allowed)"
    ]
    server.stop()


def test_the_server_banner_has_no_version(console: ServerProcess) -> None:
    response = requests.get(console.url + "/ping", timeout=2)
    assert "/" not in response.headers.get("Server", "")
