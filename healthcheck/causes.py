"""The root cause of a Java stack trace, in one line: the innermost `Caused by:` (exception and message)."""

from __future__ import annotations

CAUSED_BY = "Caused by: "
MAX_CAUSE_CHARS = 500  # a message can embed a whole record; one line must stay one readable line


def _one_line(text: str) -> str:
    line = text.strip()
    return line if len(line) <= MAX_CAUSE_CHARS else line[: MAX_CAUSE_CHARS - 3] + "..."


def root_cause(trace: str | None) -> str | None:
    """The last top-level `Caused by:` line without its prefix, else the trace's first line, else None.

    Only unindented `Caused by:` lines count: indented ones belong to `Suppressed:` exceptions, which are
    side effects (a close() that failed too), not the cause. A multi-line message keeps its first line.
    """
    if not trace or not trace.strip():
        return None
    innermost = None
    for line in trace.splitlines():
        if line.startswith(CAUSED_BY):
            innermost = line[len(CAUSED_BY) :]
    if innermost is not None and innermost.strip():
        return _one_line(innermost)
    return _one_line(trace.strip().splitlines()[0])
