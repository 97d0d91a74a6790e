"""Hand the C allocator's free memory back to the system: a poll of a big cluster frees tens of MB at once."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

_M_ARENA_MAX = -8  # glibc's mallopt parameter number

try:
    _libc: ctypes.CDLL | None = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    _libc.malloc_trim  # noqa: B018 - glibc only (musl has none): probe for it once
    _libc.mallopt  # noqa: B018
except (OSError, AttributeError):
    _libc = None


def use_one_arena() -> None:
    """Let every thread allocate from one glibc arena. glibc gives threads arenas of their own, and each new
    poll thread's arena keeps the last big poll's freed pages: measured at 10,000 connectors with 3,000 traces,
    the worker grew to 115 MB with per-thread arenas and stayed at 83 MB with one. Call before threads start;
    the GIL already serializes what would contend for it."""
    if _libc is not None:
        _libc.mallopt(_M_ARENA_MAX, 1)


def release_free_memory() -> None:
    """Return free heap pages to the system (glibc malloc_trim); a no-op elsewhere."""
    if _libc is not None:
        _libc.malloc_trim(0)
