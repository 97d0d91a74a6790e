"""Fixtures for the fault suite: a service on the real clock, its app, and what a user would read from it."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from flask.testing import FlaskClient

from healthcheck.app import create_app
from healthcheck.service import Service
from healthcheck.settings import Settings
from tests.fake_connect import FakeConnect
from tests.server_process import CONSOLE_SCRIPT, ServerProcess

MIB = 1024 * 1024


@pytest.fixture
def live(settings: Settings) -> Iterator[Service]:
    """A service on the fake with a 2 s request timeout, on the real clock (a body's deadline needs it)."""
    service = Service(replace(settings, request_timeout=2.0))
    yield service
    service.stop()


@pytest.fixture
def probe(live: Service) -> FlaskClient:
    """A test client for the app around `live`."""
    return create_app(live.settings, live).test_client()


@pytest.fixture
def poller_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """caplog, recording the service's own log lines from INFO up."""
    caplog.set_level(logging.INFO, logger="healthcheck")
    return caplog


def healthy_fake(connect: FakeConnect) -> FakeConnect:
    connect.set_connector("orders-sink")
    connect.set_connector("audit-source", type="source")
    return connect


def error_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("healthcheck")]


def polls(connect: FakeConnect) -> int:
    """How many polls reached the fake: one `?expand=status` listing each (a poll may also ask `/health`)."""
    return sum(1 for path in connect.requests if path.startswith("/connectors?"))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def threads() -> int:
    return threading.active_count()


Console = Callable[..., ServerProcess]


@pytest.fixture
def console() -> Iterator[Console]:
    """Start the console script on a free port with flags (polling every 0.2 s); stopped at the end."""
    servers: list[ServerProcess] = []

    def start(connect_url: str, *flags: str, env: dict[str, str] | None = None) -> ServerProcess:
        command = [CONSOLE_SCRIPT, "--host", "127.0.0.1", "--port", "{port}", "--poll-interval", "0.2", *flags]
        server = ServerProcess(command, env={"HEALTHCHECK_CONNECT_URL": connect_url, **(env or {})})
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()
