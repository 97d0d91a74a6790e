"""Whatever JSON (or bytes) Connect answers, a poll ends in a snapshot: a verdict or a poll error, never an
exception, never our catch-all "internal" error, never 200 without a healthy verdict."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from healthcheck.model import STATES
from healthcheck.service import Service
from healthcheck.settings import Settings
from tests.fake_connect import FakeConnect, Fault

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def right_or_not(right: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the right type, sometimes any JSON at all: gets the fuzzer past the first check."""
    return st.one_of(right, right, right, json_values)


states = right_or_not(st.sampled_from(STATES) | st.sampled_from([s.lower() for s in STATES]))
texts = right_or_not(st.text(max_size=10))
task_docs = st.fixed_dictionaries(
    {"id": right_or_not(st.integers(0, 3)), "state": states, "worker_id": texts}, optional={"trace": texts}
)
status_docs = st.fixed_dictionaries(
    {
        "connector": right_or_not(
            st.fixed_dictionaries({"state": states, "worker_id": texts}, optional={"trace": texts})
        ),
        "tasks": right_or_not(st.lists(right_or_not(task_docs), max_size=3)),
    },
    optional={"name": texts, "type": right_or_not(st.sampled_from(["sink", "source"]))},
)
expanded_docs = right_or_not(
    st.dictionaries(st.text(max_size=8), right_or_not(st.fixed_dictionaries({"status": right_or_not(status_docs)})))
)
name_lists = right_or_not(st.lists(right_or_not(st.sampled_from(["orders-sink", "audit-source", "gone"])), max_size=3))


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeConnect]:
    """One fake Connect for every example: starting a server per example would be most of the time spent."""
    server = FakeConnect().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def legacy_fake() -> Iterator[FakeConnect]:
    """A fake of Connect before 2.3 (a list of names, then one status request each), shared by every example."""
    server = FakeConnect(legacy=True).start()
    server.set_connector("orders-sink")
    server.set_connector("audit-source")
    yield server
    server.stop()


@contextmanager
def polling(connect: FakeConnect, body: bytes, path: str = "/connectors") -> Iterator[Service]:
    """A service (the test polls it) while `connect` answers `body` under `path`; stopped afterwards."""
    service = Service(Settings(connect_url=connect.url, request_timeout=5.0))
    try:
        with connect.faulty(Fault(body=body, paths=(path,))):
            yield service
    finally:
        service.stop()


def assert_snapshot_is_honest(service: Service) -> None:
    snapshot = service.poller.poll_once()  # must not raise
    event(snapshot.error.reason if snapshot.error else f"verdict {snapshot.status}")  # --hypothesis-show-statistics
    body = json.loads(snapshot.body)
    if snapshot.error is not None:
        assert snapshot.error.reason in ("bad_response", "http_status"), snapshot.error
        assert snapshot.status == 503 and body["healthy"] is False
    else:
        assert snapshot.verdict is not None
        assert snapshot.status == (200 if snapshot.verdict.healthy else 503)
        assert body["healthy"] is snapshot.verdict.healthy


@FUZZ
@given(doc=expanded_docs)
def test_any_expanded_listing(fake: FakeConnect, doc: Any) -> None:
    with polling(fake, json.dumps(doc).encode()) as service:
        assert_snapshot_is_honest(service)


@FUZZ
@given(names=name_lists)
def test_any_legacy_list_of_names(legacy_fake: FakeConnect, names: Any) -> None:
    with polling(legacy_fake, json.dumps(names).encode()) as service:
        snapshot = service.poller.poll_once()
    if snapshot.error is None:  # a list of names: each one's status was read (or it had vanished)
        assert {c.name for c in snapshot.connectors} <= {"orders-sink", "audit-source"}
    else:
        assert snapshot.error.reason in ("bad_response", "http_status")


@FUZZ
@given(doc=right_or_not(status_docs))
def test_any_status_of_one_connector(legacy_fake: FakeConnect, doc: Any) -> None:
    with polling(legacy_fake, json.dumps(doc).encode(), "/connectors/orders-sink/status") as service:
        assert_snapshot_is_honest(service)


@FUZZ
@given(body=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_at_all(fake: FakeConnect, body: bytes) -> None:
    with polling(fake, body) as service:
        assert_snapshot_is_honest(service)
