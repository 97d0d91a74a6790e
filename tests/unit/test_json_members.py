"""The listing decoded member by member gives what json.loads gives, and fails where json.loads fails."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthcheck.json_members import members, starts_object
from healthcheck.parse import TracePolicy

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@given(st.dictionaries(st.text(max_size=8), values, max_size=6), st.sampled_from([None, 1, 2]))
def test_members_are_what_json_loads_gives(doc: dict[str, Any], indent: int | None) -> None:
    text = json.dumps(doc, indent=indent)
    assert dict(members(text)) == json.loads(text)
    assert list(members(text)) == list(json.loads(text).items())


def test_whitespace_anywhere_and_an_empty_object() -> None:
    assert list(members(' \n{ "a" :\t1 ,\r\n "b":{ } }\n ')) == [("a", 1), ("b", {})]
    assert list(members(" { } ")) == []
    assert starts_object(' \n{"a": 1}') and not starts_object('["a"]')
    with pytest.raises(json.JSONDecodeError, match=r"Expecting '\{'"):
        list(members('["a"]'))


@pytest.mark.parametrize("text", ['{"a": 1 "b": 2}', '{"a" 1}', '{"a": 1,}', '{"a": 1} x', '{"a": tru}', '{"a": 1'])
def test_malformed_json_fails_as_json_loads_does(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    with pytest.raises(json.JSONDecodeError):
        list(members(text))


def test_the_trace_hook_cuts_a_repeated_trace_once_and_a_new_one_again() -> None:
    long_a, long_b = "A: first\n" + "\tat a\n" * 400, "B: second\n" + "\tat b\n" * 400
    text = json.dumps({"c": {"tasks": [{"trace": long_a}, {"trace": long_a}, {"trace": long_b}, {"trace": long_a}]}})
    policy = TracePolicy(max_bytes=512)
    ((_, entry),) = members(text, policy.json_hook())
    traces = [task["trace"] for task in entry["tasks"]]
    assert traces == [policy.keep(long_a), policy.keep(long_a), policy.keep(long_b), policy.keep(long_a)]
    assert traces[0] is traces[1] is traces[3]  # one copy of each distinct trace is held
    assert all(len(trace) <= 512 for trace in traces)
