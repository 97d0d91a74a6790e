"""Traces are capped (--max-trace-bytes) or dropped (--hide-traces) as Connect's answer is parsed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthcheck.app import create_app
from healthcheck.parse import TracePolicy, parse_expanded
from healthcheck.service import Service
from healthcheck.settings import Settings
from healthcheck.traces import MIN_TRACE_BYTES, cap_trace
from tests.fake_connect import FakeConnect, task

FIRST = "org.apache.kafka.connect.errors.ConnectException: Exiting WorkerSinkTask due to unrecoverable exception."
FRAME = "\tat org.apache.kafka.connect.runtime.WorkerSinkTask.deliverMessages(WorkerSinkTask.java:632)"
OUTER_CAUSE = "Caused by: org.apache.kafka.connect.errors.DataException: Converting byte[] to Kafka Connect data failed"
ROOT_CAUSE = "Caused by: org.apache.kafka.common.errors.SerializationException: Unknown magic byte!"


def java_trace(frames: int = 60) -> str:
    """A trace shaped like Connect's: the exception, frames, two causes each with frames; about 18 KB."""
    block = [FRAME] * frames
    return "\n".join([FIRST, *block, OUTER_CAUSE, *block, "\t... 12 more", ROOT_CAUSE, *block, "\t... 14 more"])


def test_a_short_trace_is_kept_whole() -> None:
    trace = f"{FIRST}\n{FRAME}\n{ROOT_CAUSE}"
    assert cap_trace(trace, 2048) is trace


def test_a_long_trace_keeps_its_first_lines_the_marker_and_the_innermost_cause() -> None:
    trace = java_trace()
    capped = cap_trace(trace, 2048)
    assert len(capped.encode()) <= 2048
    assert capped.startswith(FIRST + "\n" + FRAME)  # the head: as many whole lines as fit
    assert capped.endswith("\n" + ROOT_CAUSE)  # the last `Caused by:`, the one that says why
    head, cut, _ = capped.partition("\n\t... [")
    assert cut and "bytes cut by kafka-connect-healthcheck, --max-trace-bytes] ...\n" in capped
    cut_bytes = int(capped.split("\t... [", 1)[1].split(" ", 1)[0])
    assert cut_bytes == len(trace.encode()) - len(head.encode()) - len(ROOT_CAUSE.encode())
    assert OUTER_CAUSE not in capped


def test_a_trace_without_a_cause_keeps_its_head() -> None:
    trace = "\n".join([FIRST] + [FRAME] * 100)
    capped = cap_trace(trace, 1024)
    assert capped.startswith(FIRST) and len(capped.encode()) <= 1024
    assert capped.endswith("--max-trace-bytes] ...\n")


def test_one_enormous_line_is_clipped_without_splitting_a_character() -> None:
    trace = "java.lang.IllegalStateException: " + "é" * 5000 + "\n" + "Caused by: x: " + "ü" * 5000
    capped = cap_trace(trace, 512)
    assert len(capped.encode()) <= 512
    assert capped.startswith("java.lang.IllegalStateException: ééé")
    assert "\nCaused by: x: üü" in capped


@given(
    lines=st.lists(st.text(st.characters(blacklist_categories=("Cs",)), max_size=300), min_size=1, max_size=40),
    causes=st.lists(st.integers(0, 39), max_size=3),
    limit=st.integers(MIN_TRACE_BYTES, 4096),
)
def test_any_trace_fits_its_cap_and_keeps_its_start(lines: list[str], causes: list[int], limit: int) -> None:
    for i in causes:
        if i < len(lines):
            lines[i] = "Caused by: " + lines[i]
    trace = "\n".join(lines)
    capped = cap_trace(trace, limit)
    assert len(capped.encode()) <= limit
    if len(trace.encode()) <= limit:
        assert capped == trace
    else:
        first = trace.splitlines()[0] if trace.splitlines() else ""
        assert "bytes cut by kafka-connect-healthcheck" in capped
        # At least ~88 bytes of head room at the smallest cap: 20 characters of even 4-byte UTF-8 fit.
        assert capped.startswith(first[:20])


def expanded(trace: str) -> dict[str, object]:
    return {
        "sink": {
            "status": {
                "name": "sink",
                "connector": {"state": "FAILED", "worker_id": "w:8083", "trace": trace},
                "tasks": [task(0, "FAILED", "w:8083", trace), task(1, "RUNNING", "w:8083")],
                "type": "sink",
            }
        }
    }


def test_parsing_caps_every_trace() -> None:
    (connector,) = parse_expanded(expanded(java_trace()), TracePolicy(max_bytes=1000))
    assert connector.trace is not None and len(connector.trace.encode()) <= 1000
    assert connector.tasks[0].trace == connector.trace
    assert connector.tasks[1].trace is None


def test_parsing_keeps_only_the_one_line_cause_for_hide_traces() -> None:
    """--hide-traces: the trace is never kept, but its root cause is (every failure shows a "cause")."""
    (connector,) = parse_expanded(expanded(java_trace()), TracePolicy(hide=True))
    cause = ROOT_CAUSE.removeprefix("Caused by: ")
    assert connector.trace == cause
    assert [t.trace for t in connector.tasks] == [cause, None]


@pytest.mark.parametrize("limit", [2048, 300])
def test_every_answer_carries_the_capped_trace(
    connect: FakeConnect, settings: Settings, make_service: Callable[..., Service], limit: int
) -> None:
    trace = java_trace()
    connect.set_connector("sink", "FAILED", tasks=[task(0, "FAILED", trace=trace)], trace=trace)
    service = make_service(settings, max_trace_bytes=limit)
    service.poller.poll_once()
    client = create_app(service.settings, service).test_client()
    for path in ("/", "/connectors/sink"):
        failures = client.get(path).json["failures"]
        assert [f["type"] for f in failures] == ["connector", "task"]
        for failure in failures:
            assert len(failure["trace"].encode()) <= limit
            assert failure["trace"].startswith(FIRST)
            assert failure["trace"].endswith(ROOT_CAUSE)
    # What the service holds is the capped trace: the whole one was never kept past the parse.
    (held,) = service.store.current().connectors  # type: ignore[union-attr]
    assert held.trace is not None and len(held.trace.encode()) <= limit
