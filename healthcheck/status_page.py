"""`GET /status`: the snapshot as one self-contained HTML page for people, rendered once per snapshot."""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from html import escape
from importlib import resources
from urllib.parse import quote

from healthcheck.model import ConnectorStatus, RestartStatus
from healthcheck.progress import Judgement
from healthcheck.progress_reading import ProgressReading
from healthcheck.render import NO_STATUS_MESSAGE, POLL_ERROR_MESSAGE
from healthcheck.responses import Answer
from healthcheck.snapshot import Snapshot, SnapshotStore
from healthcheck.timeline import RESOLUTION, WINDOW, TimelinePoint
from healthcheck.verdict import Failure, FailureKey

SCRIPT = resources.files("healthcheck").joinpath("status_page.js").read_text("utf-8")
STYLE = resources.files("healthcheck").joinpath("status_page.css").read_text("utf-8")


def _sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


# The page is the same bytes for every request of one snapshot, so its one inline script and one inline
# style are allowed by hash (computed once, here) rather than by a per-request nonce. Nothing else runs:
# no inline handlers, no eval, no external anything; fetch may only go back to us (the refresh).
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        f"script-src {_sha256_source(SCRIPT)}",
        f"style-src {_sha256_source(STYLE)}",
        "img-src data:",  # the empty favicon: without it the browser asks for /favicon.ico (a 404)
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("Referrer-Policy", "no-referrer"),
)
CONTENT_TYPE = "text/html; charset=utf-8"

PAGE_LIMIT_BYTES = 1_000_000  # failure details fill what the rows leave: 1,000 connectors stay under 1 MB
TRACE_MAX_CHARS = 8 * 1024  # of one trace shown; the whole one is at /connectors/<name>
CAUSE_MAX_CHARS = 300
MIN_REFRESH_SECONDS = 1.0  # a 0.2 s poll interval must not make every open page fetch five times a second


@dataclass(frozen=True, slots=True)
class PageContext:
    """What the page says about this process's setup: fixed for its life."""

    connect_url: str
    worker_id: str | None  # the monitored worker; None: every worker
    poll_interval: float
    max_staleness: float


class StatusPage:
    """The answer to `GET /status`: always 200 (it is a page, not a probe; a proxy may swap a 503's body for
    its own error page), with the verdict in words and in the title."""

    def __init__(self, store: SnapshotStore, context: PageContext) -> None:
        self._store = store
        self._context = context
        self._no_status = page_answer(render_no_status(context))

    def answer(self, now: float) -> Answer:
        snapshot = self._store.current()
        if snapshot is None:
            return self._no_status
        stale = now - snapshot.taken_at > self._context.max_staleness
        # Two variants at most per snapshot: fresh, and stale once the poller stops publishing.
        return snapshot.memo(("status-page", stale), lambda: page_answer(render(snapshot, self._context, stale)))


def page_answer(body: str) -> Answer:
    return Answer(200, body.encode(), extra_headers=HEADERS, content_type=CONTENT_TYPE)


# --- facts derived from the snapshot: each in one place, to swap when the verdict and progress carry them


def level_of(snapshot: Snapshot, stale: bool) -> str:
    """pass, warn or fail: the verdict's own level (Verdict.status); a stale snapshot or a failed poll fails."""
    if stale or snapshot.verdict is None:
        return "fail"
    return snapshot.verdict.status


def _cut(line: str) -> str:
    return line if len(line) <= CAUSE_MAX_CHARS else line[: CAUSE_MAX_CHARS - 1] + "…"


def cause_of(failure: Failure) -> str:
    """The one line that says why (`Failure.cause`), cut to what a row can show."""
    return _cut(failure.cause)


def progress_of(connector: ConnectorStatus, reading: ProgressReading | None, checked_at: str) -> str | None:
    """Lag and last progress (HTML, escaped), from the progress report this snapshot judged with; None for a
    connector the progress check does not judge (or without a fresh report). The Progress column appears as
    soon as one connector has a value."""
    report = reading.report if reading is not None else None
    judged = report.connectors.get(connector.name) if report is not None and report.error is None else None
    if judged is None:
        return None
    if judged.error is not None:
        return f'unknown: <span class="message">{_e(_cut(judged.error))}</span>'
    words = [_e(judged.judgement.value)]
    if judged.lag is not None:
        words.append(f"lag {judged.lag:,}")
    if judged.judgement is not Judgement.IDLE:  # idle: nothing waits, so when it last moved does not matter
        moved = _ticking_age(judged.last_progress, checked_at, "last progress ", " ago")
        words.append(moved or "no progress seen yet")
    return "; ".join(words)


# --- formatting


def _e(text: object) -> str:
    """Every string that reaches the page from Connect (or anywhere) goes through here."""
    return escape(str(text), quote=True)


def _parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """3 s, 4 min 5 s, 2 h 3 min, 3 d 4 h: two units at most, as a person reads an age."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _between(start: str | None, end: str) -> float | None:
    first, last = _parse_iso(start), _parse_iso(end)
    return None if first is None or last is None else (last - first).total_seconds()


def _ticking_age(since: str | None, checked_at: str, prefix: str = "", suffix: str = "") -> str:
    """An age the script keeps current in the browser; without the script it reads as of the poll."""
    seconds = _between(since, checked_at)
    if since is None or seconds is None:
        return ""
    return (
        f'<span class="age" data-since="{_e(since)}" data-prefix="{_e(prefix)}" data-suffix="{_e(suffix)}">'
        f"{_e(prefix)}{human_duration(seconds)}{_e(suffix)}</span>"
    )


def _time(iso: str | None) -> str:
    if not iso:
        return ""
    parsed = _parse_iso(iso)
    shown = parsed.strftime("%Y-%m-%d %H:%M:%S UTC") if parsed else iso
    return f'<time datetime="{_e(iso)}">{_e(shown)}</time>'


def _badge(state: str, label: str | None = None, title: str | None = None) -> str:
    """Color for the eye, the word for everyone: the state is always written out."""
    css = "".join(c for c in state.lower() if c.isalnum()) or "unknown"
    title_attr = f' title="{_e(title)}"' if title else ""
    return f'<span class="badge s-{css}"{title_attr}>{_e(label if label is not None else state)}</span>'


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.3g}%"


# --- the page


def _document(title: str, level: str, context: PageContext, main: str) -> str:
    refresh_ms = round(max(context.poll_interval, MIN_REFRESH_SECONDS) * 1000)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n"
        '<link rel="icon" href="data:,">\n'
        f"<style>{STYLE}</style>\n</head>\n"
        f'<body data-refresh-ms="{refresh_ms}">\n'
        '<header class="top">\n<h1>Kafka Connect health</h1>\n'
        '<nav aria-label="Machine-readable answers"><a href="/">/ verdict (JSON)</a> '
        '<a href="/connectors">/connectors</a> <a href="/metrics">/metrics</a></nav>\n'
        '<p class="filter"><label for="filter">Filter connectors</label> '
        '<input id="filter" type="search" placeholder="name, type, state or worker" autocomplete="off" '
        'spellcheck="false"></p>\n'
        '<p id="refresh-problem" role="status" hidden></p>\n'
        "</header>\n"
        f'<main id="main" data-level="{_e(level)}">\n{main}</main>\n'
        f"<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )


def _facts(rows: Iterable[tuple[str, str]]) -> str:
    return '<dl class="facts">' + "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in rows) + "</dl>\n"


def _setup_facts(context: PageContext) -> list[tuple[str, str]]:
    worker = f"<code>{_e(context.worker_id)}</code>" if context.worker_id else "every worker"
    return [
        ("Connect", f"<code>{_e(context.connect_url)}</code>"),
        ("Judging", worker),
        ("Polling", f"every {context.poll_interval:g} s; stale after {context.max_staleness:g} s"),
    ]


def _verdict_section(level: str, headline: str, detail: str, facts: list[tuple[str, str]]) -> str:
    return (
        f'<section class="verdict level-{level}" aria-label="Verdict">\n'
        f'<p class="headline">{_badge(level, level.upper())} {headline}</p>\n'
        + (f'<p class="detail">{detail}</p>\n' if detail else "")
        + _facts(facts)
        + "</section>\n"
    )


def render_no_status(context: PageContext) -> str:
    main = _verdict_section(
        "fail", "No status yet", _e(NO_STATUS_MESSAGE) + " This page refreshes by itself.", _setup_facts(context)
    )
    return _document("NO STATUS · Kafka Connect health", "fail", context, main)


def render(snapshot: Snapshot, context: PageContext, stale: bool) -> str:
    level = level_of(snapshot, stale)
    taken = [
        (
            "Checked",
            f"{_time(snapshot.checked_at)} "
            f'<span class="age" data-since="{_e(snapshot.checked_at)}" data-suffix=" ago"></span>',
        ),
        *_setup_facts(context),
    ]
    if snapshot.worker is not None:
        taken.append(("Worker health", f"{_badge(snapshot.worker.state)} {_e(snapshot.worker.message)}"))
    headline, detail, title = _headline(snapshot, context, stale)
    main = f'<div id="snapshot" data-checked-at="{_e(snapshot.checked_at)}" data-state="{_state(snapshot, stale)}">\n'
    main += _verdict_section(level, headline, detail, taken)
    main += _timeline_section(snapshot.timeline, snapshot.taken_at)
    title = f"{title} · Kafka Connect health"
    if snapshot.verdict is not None:
        # what the connectors may take: the rest of the page is known now
        room = PAGE_LIMIT_BYTES - len(_document(title, level, context, main + "</div>\n").encode())
        main += _connectors_section(snapshot, room)
    main += "</div>\n"
    return _document(title, level, context, main)


def _state(snapshot: Snapshot, stale: bool) -> str:
    if stale:
        return "stale"
    if snapshot.verdict is None:
        return "poll-error"
    return "healthy" if snapshot.verdict.healthy else "failing"


def _headline(snapshot: Snapshot, context: PageContext, stale: bool) -> tuple[str, str, str]:
    """(headline, detail, page title) in words."""
    stale_note = (
        f"<strong>Stale:</strong> no poll has finished for more than {context.max_staleness:g} s (the poller is "
        "stuck or stopped), so every answer says unhealthy. What follows is what Connect said then."
    )
    if snapshot.error is not None:
        detail = (
            f"{_e(POLL_ERROR_MESSAGE)} Reason: <code>{_e(snapshot.error.reason)}</code>: "
            f'<span class="message">{_e(snapshot.error.message)}</span>'
        )
        return "Connect unreachable", (stale_note + " " if stale else "") + detail, "CONNECT UNREACHABLE"
    verdict = snapshot.verdict
    assert verdict is not None
    counted = sum(1 for f in verdict.failures if f.counted)
    waiting = len(verdict.failures) - counted
    parts = [
        f"{counted} of {verdict.considered} considered connectors and tasks failing "
        f"({_percent(verdict.failure_rate)}; healthy up to {_percent(verdict.failure_threshold)})."
    ]
    if waiting:
        parts.append(f"{waiting} more failing for less than the unhealthy-after time: listed, not yet counted.")
    if verdict.worker is not None:
        parts.append(
            f"The Connect worker reports itself <strong>{_e(verdict.worker.state)}</strong>: "
            f"{_e(verdict.worker.message)}"
        )
    if stale:
        parts.insert(0, stale_note)
        return "Stale", " ".join(parts), "STALE"
    if verdict.healthy:
        return "Healthy", " ".join(parts), "HEALTHY" if not verdict.failures else "HEALTHY, WITH FAILURES"
    return "Unhealthy", " ".join(parts), f"UNHEALTHY ({len(verdict.failures)} failing)"


# --- the timeline: failing count per poll over the last hour, as inline SVG

TIMELINE_WIDTH = math.ceil(WINDOW / RESOLUTION)  # one unit per point
TIMELINE_HEIGHT = 40


def _timeline_section(points: tuple[TimelinePoint, ...], now: float) -> str:
    polls = sum(p.polls for p in points)
    errors = sum(p.poll_errors for p in points)
    worst = max((p.failing for p in points), default=0)
    with_failures = sum(p.polls for p in points if p.failing)
    span = human_duration(now - points[0].at + RESOLUTION) if points else "0 s"
    summary = (
        f"{polls} polls in the last {span}: {with_failures} with failures (at most {worst} failing at once), "
        f"{errors} that could not read Connect."
    )
    scale = TIMELINE_HEIGHT / max(worst, 1)
    bars: list[str] = []
    for point in points:
        x = TIMELINE_WIDTH - (now - point.at) / RESOLUTION - 1
        ago = human_duration(now - point.at)
        if point.poll_errors:
            bars.append(
                f'<rect class="poll-error" x="{x:.1f}" y="0" width="1" height="{TIMELINE_HEIGHT}">'
                f"<title>{ago} ago: {point.poll_errors} poll(s) could not read Connect</title></rect>"
            )
        if point.failing:
            height = point.failing * scale
            bars.append(
                f'<rect class="failing" x="{x:.1f}" y="{TIMELINE_HEIGHT - height:.1f}" width="1" '
                f'height="{height:.1f}"><title>{ago} ago: {point.failing} failing</title></rect>'
            )
    return (
        '<section class="timeline" aria-labelledby="timeline-title">\n'
        '<h2 id="timeline-title">Last hour</h2>\n'
        f'<svg viewBox="0 0 {TIMELINE_WIDTH} {TIMELINE_HEIGHT}" preserveAspectRatio="none" role="img" '
        f'aria-label="{_e(summary)}">'
        f'<rect class="ground" x="0" y="0" width="{TIMELINE_WIDTH}" height="{TIMELINE_HEIGHT}"></rect>'
        + "".join(bars)
        + "</svg>\n"
        f'<p class="axis"><span>1 h ago</span><span>most failing: {worst}</span><span>now</span></p>\n'
        f'<p class="summary">{_e(summary)} '
        f'<span class="key key-failing">failing</span> <span class="key key-error">poll error</span></p>\n'
        "</section>\n"
    )


# --- connectors


def _connectors_section(snapshot: Snapshot, room: int) -> str:
    """Every connector's row, failing ones first; then, within `room` bytes, the failure details: first
    every cause line, then traces, in the same order. What does not fit links to the connector's JSON, so
    even a cluster failing whole (when this page matters most) stays under the limit."""
    verdict = snapshot.verdict
    assert verdict is not None
    failures: dict[str, list[Failure]] = {}
    for failure in verdict.failures:
        failures.setdefault(failure.connector, []).append(failure)
    ordered = sorted(snapshot.connectors, key=lambda c: (c.name not in failures, c.name))
    progress = {c.name: progress_of(c, snapshot.progress, snapshot.checked_at) for c in ordered}
    columns = ["Connector", "State", "Tasks", "Failing", "Auto-restart"]
    if any(value is not None for value in progress.values()):
        columns.append("Progress")
    rows = [
        _connector_row(
            c, failures.get(c.name, []), snapshot.restarts.get(c.name), snapshot.checked_at, progress, len(columns) > 5
        )
        for c in ordered
    ]
    rows = [
        f'<tbody class="connector{" failing" if c.name in failures else ""}">{row}'
        for c, row in zip(ordered, rows, strict=True)
    ]
    room -= sum(len(row.encode()) + len("</tbody>\n") for row in rows) + 1000  # 1000: the section's own markup
    # each failing connector's detail row at its largest, without the parts that must fit in what is left
    room -= sum(
        len(_details(name, fs, {}, {}, len(columns)).encode()) + len('<ul class="failures"></ul>') + 9 * len(fs)
        for name, fs in failures.items()
    )
    worker_of = {c.name: c.worker_id for c in ordered}
    in_order = sorted(verdict.failures, key=lambda f: (f.connector, f.task_id is not None, f.task_id or 0))
    causes: dict[FailureKey, str] = {}
    traces: dict[FailureKey, str] = {}
    for parts, render_part in ((causes, _cause_line), (traces, _trace)):
        for failure in in_order:
            if parts is traces and failure.key not in causes:
                continue
            part = render_part(failure, worker_of.get(failure.connector, ""))
            size = len(part.encode())
            if size <= room:
                parts[failure.key] = part
                room -= size
    body = []
    for connector, row in zip(ordered, rows, strict=True):
        body.append(row)
        if connector.name in failures:
            body.append(_details(connector.name, failures[connector.name], causes, traces, len(columns)))
        body.append("</tbody>\n")
    header = "".join(f"<th>{column}</th>" for column in columns)
    return (
        '<section class="connectors" aria-labelledby="connectors-title">\n'
        f'<h2 id="connectors-title">Connectors <small>{len(ordered)} shown, {len(failures)} with failures'
        '<span id="match-count"></span></small></h2>\n'
        f"<table>\n<thead><tr>{header}</tr></thead>\n{''.join(body)}</table>\n"
        + ("<p>No connectors (after the include/exclude filters).</p>\n" if not ordered else "")
        + '<p id="no-match" hidden>No connector matches the filter.</p>\n'
        "</section>\n"
    )


def _task_badges(connector: ConnectorStatus) -> str:
    if not connector.tasks:
        return '<span class="none">no tasks</span>'
    return " ".join(
        # the worker only where it differs from the connector's: 1,000 connectors x tasks add up
        _badge(t.state, f"{t.id} {t.state}", None if t.worker_id == connector.worker_id else f"on {t.worker_id}")
        for t in connector.tasks
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _part_name(part: int | None) -> str:
    return "connector" if part is None else f"task {part}"


def _restart_cell(restart: RestartStatus | None, failures: list[Failure]) -> str:
    """What auto-restart decided for this connector's FAILED parts, as the actor last wrote it: skipped (and
    why), persistent (after how many attempts, and the last cause), or the attempts so far and the next one."""
    if restart is None:
        return ""
    failed = [f.task_id for f in failures if f.state == "FAILED"]
    skipped: dict[str, list[int | None]] = {}
    for part in failed:
        if part in restart.skipped:
            skipped.setdefault(restart.skipped[part], []).append(part)
    lines = []
    for reason, parts in skipped.items():
        # which parts only when others of the connector are restarted: "skipped" alone reads as all of them
        which = "" if len(parts) == len(failed) else ", ".join(_part_name(p) for p in parts) + ": "
        lines.append(f'<span class="restart-skipped">{_e(which)}skipped: {_e(_cut(reason))}</span>')
    attempts = _plural(restart.attempts, "attempt")
    if restart.exhausted:
        cause = (
            f'; last cause: <span class="last-cause">{_e(_cut(restart.last_cause))}</span>'
            if restart.last_cause
            else ""
        )
        lines.append(f'<strong class="restart-persistent">persistent</strong>: gave up after {attempts}{cause}')
    elif restart.next_restart is not None:
        lines.append(f"{attempts}; next {_time(restart.next_restart)}")
    elif restart.attempts:
        lines.append(attempts)
    return "<br>".join(lines)


def _connector_href(name: str) -> str:
    return "/connectors/" + _e(quote(name, safe=""))


def _connector_row(
    connector: ConnectorStatus,
    failures: list[Failure],
    restart: RestartStatus | None,
    checked_at: str,
    progress: dict[str, str | None],
    with_progress: bool,
) -> str:
    since = min((f.since for f in failures if f.since), default=None)
    cells = (
        f'<td><a class="name" href="{_connector_href(connector.name)}">{_e(connector.name)}</a> '
        f'<small>{_e(connector.type or "")}</small><br><small class="worker">{_e(connector.worker_id)}</small></td>'
        f"<td>{_badge(connector.state)}</td>"
        f"<td>{_task_badges(connector)}</td>"
        f"<td>{_ticking_age(since, checked_at, 'for ') if failures else ''}</td>"
        f"<td>{_restart_cell(restart, failures)}</td>"
    )
    if with_progress:
        cells += f'<td class="progress">{progress[connector.name] or ""}</td>'
    return f"<tr>{cells}</tr>"


def _details(
    name: str,
    failures: list[Failure],
    causes: dict[FailureKey, str],
    traces: dict[FailureKey, str],
    columns: int,
) -> str:
    items = "".join(f"<li>{causes[f.key]}{traces.get(f.key, '')}</li>" for f in failures if f.key in causes)
    left_out = sum(1 for f in failures if f.key not in causes or (f.trace and f.key not in traces))
    note = (
        f'<p class="left-out">Some details are left out to keep this page small: '
        f'<a href="{_connector_href(name)}">all of them</a>.</p>'
        if left_out
        else ""
    )
    inner = (f'<ul class="failures">{items}</ul>' if items else "") + note
    return f'<tr class="detail"><td colspan="{columns}">{inner}</td></tr>'


def _cause_line(failure: Failure, connector_worker: str) -> str:
    what = "connector" if failure.task_id is None else f"task {failure.task_id}"
    where = "" if failure.worker_id == connector_worker else f" on <code>{_e(failure.worker_id)}</code>"
    counted = "" if failure.counted else ' <span class="not-counted">(not counted yet)</span>'
    since = f" since {_time(failure.since)}" if failure.since else ""
    return (
        f"{_badge(failure.state)} <strong>{what}</strong>{where}{since}{counted}"
        f'<br><span class="cause">{_e(cause_of(failure))}</span>'
    )


def _trace(failure: Failure, connector_worker: str) -> str:
    """The trace folded away, cut to TRACE_MAX_CHARS (the whole one is in the connector's JSON)."""
    if not failure.trace:
        return ""
    trace = failure.trace
    note = ""
    if len(trace) > TRACE_MAX_CHARS:
        trace = trace[:TRACE_MAX_CHARS]
        note = (
            f'<p class="left-out">Trace cut at {TRACE_MAX_CHARS} characters: '
            f'<a href="{_connector_href(failure.connector)}">the whole one</a>.</p>'
        )
    key = f"{'' if failure.task_id is None else failure.task_id}|{failure.connector}"  # task id first: unambiguous
    return f'<details data-key="{_e(key)}"><summary>Stack trace</summary><pre>{_e(trace)}</pre>{note}</details>'
