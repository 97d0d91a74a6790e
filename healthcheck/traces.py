"""Cap a Java stack trace to a byte budget, keeping the lines that say what failed and why."""

from __future__ import annotations

DEFAULT_MAX_TRACE_BYTES = 2048
MIN_TRACE_BYTES = 256  # room for a first line, the marker and a `Caused by:` line
# Between the kept head and the kept `Caused by:` line. A tab and "..." like Java's own "\t... 12 more", so a
# reader (or a log parser) sees a trace that was shortened, and by how much.
MARKER = "\n\t... [{cut} bytes cut by kafka-connect-healthcheck, --max-trace-bytes] ...\n"


def _clip(data: bytes, size: int) -> str:
    """The first `size` bytes of UTF-8 `data` as text, never splitting a character."""
    return data[:size].decode("utf-8", "ignore")


def _last_cause(lines: list[str]) -> str:
    """The last `Caused by:` line (the innermost cause Java prints), else ''."""
    for line in reversed(lines):
        if line.lstrip().startswith("Caused by:"):
            return line.strip()
    return ""


def cap_trace(trace: str, max_bytes: int) -> str:
    """`trace` if its UTF-8 form fits in `max_bytes`; else as many of its first lines as fit (at least the first,
    clipped if it alone is too long), the marker, and its last `Caused by:` line. The result never exceeds
    `max_bytes` (at least MIN_TRACE_BYTES)."""
    if len(trace) <= max_bytes and (trace.isascii() or len(trace.encode()) <= max_bytes):
        return trace
    data = trace.encode()
    if len(data) <= max_bytes:
        return trace
    lines = trace.splitlines()
    room = max_bytes - len(MARKER.format(cut=len(data)).encode())
    cause = _last_cause(lines[1:]).encode()
    if len(cause) > room // 2:
        cause = _clip(cause, room // 2).encode()
    head_room = room - len(cause)
    head = lines[0].encode()
    if len(head) > head_room:
        head = _clip(head, head_room).encode()
    else:
        for line in lines[1:]:
            more = b"\n" + line.encode()
            if len(head) + len(more) > head_room:
                break
            head += more
    cut = len(data) - len(head) - len(cause)
    return head.decode() + MARKER.format(cut=cut) + cause.decode()
