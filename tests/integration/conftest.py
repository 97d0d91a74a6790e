"""Real Kafka: one broker + Connect worker per Kafka version for the session, and the healthcheck run against it.

Every test in this folder is marked `integration`. KC_HC_KAFKA_VERSIONS chooses the versions: unset, the newest
(4.4.0); `all`, every version we cover; or a comma list. Tests share a stack, so each one names its connectors
with its own prefix, deletes them at the end, and runs the healthcheck with `--include-connectors` on that prefix.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.kafka_stack import (
    DEFAULT_VERSION,
    SUPPORTED_VERSIONS,
    ConnectRestError,
    KafkaStack,
)
from tests.server_process import CONSOLE_SCRIPT, ServerProcess
from tests.waiting import wait_until

HERE = Path(__file__).resolve().parent
HEALTHCHECK_FLAGS = ("--poll-interval", "0.5", "--request-timeout", "3", "--max-staleness", "30")
USER_AGENT = "kafka-connect-healthcheck"  # what the healthcheck sends; the worker's access log shows it
_timings: dict[str, dict[str, float]] = {}


def kafka_versions(environ: Mapping[str, str] = os.environ) -> list[str]:
    """KC_HC_KAFKA_VERSIONS: unset -> the newest only; `all` -> every covered version; else a comma list."""
    raw = environ.get("KC_HC_KAFKA_VERSIONS", "").strip()
    if not raw:
        return [DEFAULT_VERSION]
    if raw.lower() == "all":
        return list(SUPPORTED_VERSIONS)
    return [version.strip() for version in raw.split(",") if version.strip()]


def _in_this_folder(item: pytest.Item) -> bool:
    return HERE in item.path.parents


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark this folder's tests `integration` (before -m deselects), and run the tests that start a stack of
    their own before the shared stacks exist, so that only one broker and one worker run at a time."""
    for item in items:
        if _in_this_folder(item):
            item.add_marker(pytest.mark.integration)
    items.sort(key=lambda item: _in_this_folder(item) and "kafka" in getattr(item, "fixturenames", ()))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How long each Kafka stack took to start (and stop): the numbers docs/real-kafka-connect.md records."""
    for version, timings in _timings.items():
        shown = ", ".join(f"{step} {seconds:.1f}" for step, seconds in timings.items())
        terminalreporter.write_line(f"Kafka {version} stack (s): {shown}")


def require_java_and_maven(stack: KafkaStack) -> None:
    """Fail (never skip) without Java or Maven: `make test` installs them (`make system-deps`)."""
    missing = [tool for tool in (stack.java, "mvn") if not shutil.which(tool)]
    if missing:
        pytest.fail(
            f"the real Kafka tests need Java 17+ and Maven; not found: {', '.join(missing)}. Install them with "
            "`make system-deps` (Debian packages openjdk-17-jdk-headless and maven), or leave these tests out "
            "with -m 'not integration'",
            pytrace=False,
        )


@pytest.fixture(scope="session", params=kafka_versions(), ids=lambda version: f"kafka-{version}")
def kafka(request: pytest.FixtureRequest) -> Iterator[KafkaStack]:
    """A real Kafka broker (KRaft) and Connect worker of one version, started once for the session."""
    stack = KafkaStack(request.param)
    require_java_and_maven(stack)
    started = time.monotonic()
    stack.start()
    _timings[stack.version] = {"start": time.monotonic() - started}
    yield stack
    started = time.monotonic()
    stack.stop()
    _timings[stack.version]["stop"] = time.monotonic() - started


class Connectors:
    """Creates connectors named `<prefix><suffix>` for one test, and deletes them when the test ends."""

    def __init__(self, stack: KafkaStack, prefix: str) -> None:
        self.stack = stack
        self.prefix = prefix
        self.created: list[str] = []

    @property
    def pattern(self) -> str:
        """A regular expression for --include-connectors that matches this test's connectors only."""
        return re.escape(self.prefix) + ".*"

    def name(self, suffix: str) -> str:
        return self.prefix + suffix

    def create(self, suffix: str, config: Mapping[str, str]) -> str:
        name = self.name(suffix)
        self.stack.create_connector(name, config)
        self.created.append(name)
        return name

    def delete(self, name: str) -> None:
        self.stack.delete_connector(name)
        self.created.remove(name)

    def delete_all(self) -> None:
        for name in self.created:
            try:
                self.stack.delete_connector(name)
            except ConnectRestError as error:
                if error.status != 404:
                    raise
        self.created.clear()


@pytest.fixture
def connectors(kafka: KafkaStack, request: pytest.FixtureRequest) -> Iterator[Connectors]:
    """This test's connectors on the shared worker, with a unique name prefix; deleted after the test."""
    label = re.sub(r"[^a-z0-9]+", "-", request.node.originalname.removeprefix("test_").lower())[:24]
    made = Connectors(kafka, f"{label}-{uuid.uuid4().hex[:6]}-")
    yield made
    if kafka.is_worker_running():
        made.delete_all()


@pytest.fixture
def healthcheck(kafka: KafkaStack, connectors: Connectors) -> Iterator[Callable[..., ServerProcess]]:
    """Start the console script against the real worker (extra flags as arguments); it judges this test's
    connectors only. Stopped at the end of the test."""
    started: list[ServerProcess] = []

    def start(*flags: str) -> ServerProcess:
        server = ServerProcess(
            [
                CONSOLE_SCRIPT,
                *("--host", "127.0.0.1", "--port", "{port}", "--connect-url", kafka.connect_url),
                *HEALTHCHECK_FLAGS,
                *("--include-connectors", connectors.pattern),
                *flags,
            ]
        )
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


def answer_when(
    server: ServerProcess,
    condition: Callable[[requests.Response], object],
    what: str,
    path: str = "/",
    timeout: float = 60.0,
) -> requests.Response:
    """GET `path` until `condition(response)` holds, and return that response; fail after `timeout` seconds
    with the last answer and the healthcheck's log."""
    last: list[requests.Response] = []

    def holds() -> bool:
        last[:] = [server.get(path, timeout=5)]
        return bool(condition(last[0]))  # not the response itself: a 503 response is falsy

    def seen() -> str:
        response = last[0]
        return (
            f"last answer to GET {path}: {response.status_code} {response.text[:2000]}\n"
            f"healthcheck log:\n{server.log()[-4000:]}"
        )

    wait_until(holds, timeout, interval=0.1, what=what, describe=seen)
    return last[0]


class AccessLog:
    """The worker's own request log (Connect logs every REST request with its User-Agent)."""

    def __init__(self, stack: KafkaStack) -> None:
        self.path = stack.worker_log
        self.start = self.path.stat().st_size

    def requests(self, request_line: str, agent: str = USER_AGENT) -> int:
        """How many `request_line` requests (e.g. "GET /health") `agent` sent since this object was made."""
        with self.path.open("rb") as log:
            log.seek(self.start)
            text = log.read().decode(errors="replace")
        return sum(1 for line in text.splitlines() if f'"{request_line} HTTP/1.1"' in line and f'"{agent}"' in line)
