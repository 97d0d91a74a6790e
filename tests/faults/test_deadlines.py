"""Every call to Connect is bounded by one whole-request deadline: statuses, /health and restarts alike."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from healthcheck.connect_client import ConnectClient, ConnectError
from tests.fake_connect import FakeConnect, Fault, task


@pytest.fixture
def client(connect: FakeConnect) -> Iterator[ConnectClient]:
    """A client of the fake with a 1 s deadline per call."""
    client = ConnectClient(connect.url, timeout=1.0)
    yield client
    client.close()


def test_a_restart_whose_answer_trickles_in_ends_at_the_deadline(connect: FakeConnect, client: ConnectClient) -> None:
    connect.set_connector("bad", tasks=[task(0, "FAILED")])
    # an error body at one byte per 0.2 s: each read is quick, the whole would take ~10 s
    with connect.faulty(Fault(drip=0.2, paths=("/connectors/bad/restart",))), pytest.raises(ConnectError) as raised:
        client.restart_failed("bad", [0])
    assert raised.value.reason == "timeout"
    assert raised.value.message == (
        "POST /connectors/bad/restart?includeTasks=true&onlyFailed=true: body not complete within 1 s"
    )


def test_a_health_answer_that_trickles_in_is_an_unresponsive_worker(
    connect: FakeConnect, client: ConnectClient
) -> None:
    with connect.faulty(Fault(drip=0.2, paths=("/health",))):
        health = client.fetch_worker_health()
    assert health is not None
    assert (health.state, health.message) == ("unresponsive", "GET /health: body not complete within 1 s")
