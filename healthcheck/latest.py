"""The newest of something one job publishes and many threads read: a single reference, swapped, never locked."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Latest(Generic[T]):
    """Publishing rebinds one attribute, which is atomic in CPython, so readers take no lock and never see
    half a value; the value itself is immutable."""

    def __init__(self) -> None:
        self._current: T | None = None

    def publish(self, value: T) -> None:
        self._current = value

    def current(self) -> T | None:
        return self._current
