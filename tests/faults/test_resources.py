"""A thousand failing polls in a row leak nothing: no threads, no file descriptors."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import replace

import pytest

from healthcheck.service import Service
from healthcheck.settings import Settings
from tests.fake_connect import FakeConnect, Fault
from tests.faults.conftest import open_fds, threads
from tests.waiting import wait_until

POLLS = 1000


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A port that accepts connections (the kernel completes them) and never answers: every request times out."""
    with socket.create_server(("127.0.0.1", 0), backlog=2 * POLLS) as listener:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.fixture
def refused_url() -> str:
    """A port nothing listens on."""
    gone = FakeConnect().start()
    gone.stop()
    return gone.url


@pytest.mark.parametrize(
    ("target", "fault", "reason"),
    [
        ("connect", Fault(status=500), "http_status"),
        ("connect", Fault(close_mid_body=True), "connection"),
        ("connect", Fault(body=b'{"a": [}'), "bad_response"),
        ("refused", None, "connection"),
        ("silent", None, "timeout"),
    ],
    ids=["http-500", "closed-mid-body", "malformed-json", "refused", "timeout"],
)
def test_a_thousand_failing_polls_leak_no_thread_and_no_file_descriptor(
    request: pytest.FixtureRequest,
    connect: FakeConnect,
    settings: Settings,
    target: str,
    fault: Fault | None,
    reason: str,
) -> None:
    url = {"connect": connect.url, "refused": "refused_url", "silent": "silent_url"}[target]
    if target != "connect":
        url = request.getfixturevalue(url)
    connect.set_connector("orders-sink")
    service = Service(replace(settings, connect_url=url, request_timeout=0.005 if target == "silent" else 1.0))
    try:
        with connect.faulty(fault) if fault else nullcontext():
            for _ in range(20):  # the session's pool and the fake's threads reach their steady state
                service.poller.poll_once()
            before = (threads(), open_fds())

            reasons = {service.poller.poll_once().error.reason for _ in range(POLLS)}  # type: ignore[union-attr]

            # the fake's handler threads and sockets end a moment after each answer
            wait_until(lambda: threads() <= before[0] and open_fds() <= before[1], timeout=10, what="no growth")
        assert reasons == {reason}
    finally:
        service.stop()
