"""The one way tests (and the benchmark, and the demo) wait: poll a condition against a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The condition did not hold in time; the message says what was awaited and what was seen last."""


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    interval: float = 0.02,
    what: str = "condition",
    *,
    ignore: tuple[type[BaseException], ...] = (),
    describe: Callable[[], str] | None = None,
) -> T:
    """Call `predicate` until it returns something truthy and return that, or raise WaitTimeout.

    `ignore`: exceptions that mean "not yet" (e.g. OSError while a server is not listening).
    `describe`: called once on timeout, to add what was seen last (an answer, a log tail) to the message.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except ignore:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            detail = f": {describe()}" if describe is not None else ""
            raise WaitTimeout(f"timed out after {timeout:g} s waiting for {what}{detail}")
        time.sleep(interval)
