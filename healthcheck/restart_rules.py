"""The restart decision, as pure functions: which FAILED parts of a connector to restart and which to leave
alone because a restart cannot fix them (--restart-skip)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from healthcheck.causes import root_cause
from healthcheck.model import ConnectorStatus
from healthcheck.verdict import Rules

# Failures a restart cannot fix: the same config or credentials fail the same way again. Matched (re.search)
# against the cause and the trace; anchored to where an exception's class is named (a line's start or after
# "Caused by: "), so a stack frame such as ConfigDef.parse(...) does not match.
DEFAULT_RESTART_SKIP = (
    r"(?m)^(?:Caused by: )?[\w.$]*(?:ConfigException|InvalidConfigurationException|AuthenticationException"
    r"|AuthorizationException|SQLInvalidAuthorizationSpecException|LoginException)\b"
)

PartId = int | None  # a task id, or None for the connector itself


def skip_reason(cause: str, trace: str | None, skip: re.Pattern[str] | None) -> str | None:
    """Why a failure is not restarted, or None to restart it: the text `skip` found in its cause or trace."""
    if skip is None:
        return None
    match = skip.search(cause) or (skip.search(trace) if trace else None)
    if match is None:
        return None
    found = match.group(0).strip().removeprefix("Caused by: ") or match.group(0)
    return f"{found} matches --restart-skip (a restart cannot fix it)"


def failed_on_monitored_worker(connector: ConnectorStatus, rules: Rules) -> tuple[bool, list[int]]:
    """(is the connector itself FAILED here, ids of its FAILED tasks here)."""
    connector_failed = connector.state == "FAILED" and rules.on_monitored_worker(connector.worker_id)
    tasks = [t.id for t in connector.tasks if t.state == "FAILED" and rules.on_monitored_worker(t.worker_id)]
    return connector_failed, tasks


@dataclass(frozen=True, slots=True)
class Plan:
    """What one poll decides for one connector with FAILED parts (before backoff and the cap)."""

    restart_connector: bool
    restart_tasks: tuple[int, ...]
    skipped: dict[PartId, str]  # the FAILED parts left alone, and why
    causes: dict[PartId, str]  # every FAILED part's one-line cause

    @property
    def anything(self) -> bool:
        return self.restart_connector or bool(self.restart_tasks)

    @property
    def everything(self) -> bool:
        return not self.skipped


def plan(connector: ConnectorStatus, rules: Rules, skip: re.Pattern[str] | None) -> Plan | None:
    """The restart decision for one connector, a pure function: None when nothing of it is FAILED here."""
    connector_failed, failed_tasks = failed_on_monitored_worker(connector, rules)
    if not connector_failed and not failed_tasks:
        return None
    traces: dict[PartId, str | None] = {t.id: t.trace for t in connector.tasks if t.id in failed_tasks}
    if connector_failed:
        traces = {None: connector.trace, **traces}
    causes = {part: root_cause(trace) or "FAILED" for part, trace in traces.items()}
    skipped = {
        part: reason for part, trace in traces.items() if (reason := skip_reason(causes[part], trace, skip)) is not None
    }
    return Plan(
        restart_connector=connector_failed and None not in skipped,
        restart_tasks=tuple(t for t in failed_tasks if t not in skipped),
        skipped=skipped,
        causes=causes,
    )
