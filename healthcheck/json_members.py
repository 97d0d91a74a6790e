"""Decode a big JSON object one member at a time, so only one member's decoded objects are alive at once."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from json.decoder import WHITESPACE, scanstring  # type: ignore[attr-defined]
from typing import Any

# Why not json.loads: Connect's listing of 10,000 connectors decodes into ~150,000 small dicts and lists. They
# are garbage once parsed, but the typed statuses made meanwhile sit among them in CPython's small-object
# arenas, which are returned to the system only when wholly empty: measured, 57 MB of arenas stayed for 20 MB
# of live objects. Decoded member by member, the garbage of one connector is reused by the next.


def starts_object(text: str) -> bool:
    """The JSON text is an object (else json.loads it whole: a list, or an error to report)."""
    i = WHITESPACE.match(text, 0).end()
    return text[i : i + 1] == "{"


def members(text: str, object_hook: Callable[[dict[str, Any]], Any] | None = None) -> Iterator[tuple[str, Any]]:
    """The (name, value) pairs of the JSON object `text`, in order, each value decoded as json.loads would
    (with `object_hook`); raises json.JSONDecodeError where json.loads would, when the iteration reaches it."""
    decoder = json.JSONDecoder(object_hook=object_hook)
    skip = WHITESPACE.match
    i = skip(text, 0).end()
    if text[i : i + 1] != "{":
        raise json.JSONDecodeError("Expecting '{'", text, i)
    i = skip(text, i + 1).end()
    if text[i : i + 1] != "}":
        while True:
            if text[i : i + 1] != '"':
                raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, i)
            name, i = scanstring(text, i + 1)
            i = skip(text, i).end()
            if text[i : i + 1] != ":":
                raise json.JSONDecodeError("Expecting ':' delimiter", text, i)
            value, i = decoder.raw_decode(text, skip(text, i + 1).end())
            yield name, value
            i = skip(text, i).end()
            if text[i : i + 1] == "}":
                break
            if text[i : i + 1] != ",":
                raise json.JSONDecodeError("Expecting ',' delimiter", text, i)
            i = skip(text, i + 1).end()
    end = skip(text, i + 1).end()
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
