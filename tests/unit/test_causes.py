"""The one-line root cause of a trace: a table of real shapes, a recorded Connect trace, and properties."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthcheck.causes import MAX_CAUSE_CHARS, root_cause
from healthcheck.verdict import Failure

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "connect"


@pytest.mark.parametrize(
    ("trace", "cause"),
    [
        # No trace at all: nothing to say (the failure falls back to its state).
        pytest.param(None, None, id="none"),
        pytest.param(" \n\t", None, id="blank"),
        # No Caused by: the exception itself is the cause.
        pytest.param("a.B: boom\n\tat x.Y.z(Y.java:1)", "a.B: boom", id="first-line"),
        # The innermost Caused by wins: the outer ones only wrap it.
        pytest.param(
            "a.Outer: wrap\n\tat x\nCaused by: b.Middle: m\n\tat y\nCaused by: c.Inner: disk full\n\t... 3 more",
            "c.Inner: disk full",
            id="innermost-caused-by",
        ),
        # A Suppressed exception's own Caused by is indented: it is not the cause of the failure.
        pytest.param(
            "a.Outer: wrap\nCaused by: b.Real: yes\n\tSuppressed: c.Close: no\n\t\tCaused by: d.Side: no",
            "b.Real: yes",
            id="suppressed-is-not-the-cause",
        ),
        # A message over several lines keeps its first line only.
        pytest.param("a.Outer: x\nCaused by: b.Bad: line one\nline two\n\tat z", "b.Bad: line one", id="multiline"),
        # A Caused by with nothing after it says nothing: the first line does.
        pytest.param("a.Outer: x\nCaused by: \n\tat z", "a.Outer: x", id="empty-caused-by"),
        # A capped trace keeps its first line and its last Caused by: the cause survives the cap.
        pytest.param("a.Outer: x\n...\nCaused by: b.Root: r", "b.Root: r", id="capped"),
    ],
)
def test_root_cause(trace: str | None, cause: str | None) -> None:
    assert root_cause(trace) == cause


def test_the_cause_of_a_real_config_failure_is_the_config_exception() -> None:
    # Recorded from a real Kafka 4.4 worker: MirrorHeartbeatConnector without bootstrap servers.
    doc = json.loads((FIXTURES / "4.4.0" / "connectors_expand_status_info.json").read_text())
    trace = doc["body"]["failed-connector"]["status"]["connector"]["trace"]
    assert root_cause(trace) == (
        "org.apache.kafka.common.config.ConfigException: You must set either bootstrap.servers or bootstrap.controllers"
    )


def test_a_huge_message_is_cut_to_one_readable_line() -> None:
    cause = root_cause("a.B: " + "x" * 10_000)
    assert cause is not None and len(cause) == MAX_CAUSE_CHARS and cause.endswith("...")


def test_a_failure_without_trace_reads_as_its_state() -> None:
    assert Failure("task", "c", "FAILED", "w", None, 0).cause == "FAILED"
    assert Failure("task", "c", "FAILED", "w", "a.B: boom\n\tat x", 0).cause == "a.B: boom"


@given(st.text())
def test_the_cause_is_one_line_of_the_trace(trace: str) -> None:
    cause = root_cause(trace)
    if not trace.strip():
        assert cause is None
        return
    assert cause is not None and cause.strip() == cause
    assert len(cause.splitlines()) <= 1 and len(cause) <= MAX_CAUSE_CHARS
    assert cause.removesuffix("...") in trace
