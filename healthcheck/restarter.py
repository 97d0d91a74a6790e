"""Auto-restart of FAILED connectors and tasks: a snapshot consumer, with per-connector backoff, a cap, and skip
rules for failures a restart cannot fix."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from healthcheck.connect_client import ConnectError
from healthcheck.model import ConnectorStatus, RestartStatus
from healthcheck.restart_rules import PartId, Plan, plan
from healthcheck.snapshot import Snapshot
from healthcheck.verdict import Rules

log = logging.getLogger(__name__)

MAX_DELAY = 3600.0
CONNECTOR_PART = "connector"  # the connector instance itself, as a key of the state file's "skipped"


class RestartClient(Protocol):
    def restart_failed(self, connector: str, failed_task_ids: list[int]) -> None: ...

    def restart_parts(self, connector: str, restart_connector: bool, task_ids: list[int]) -> None: ...


class StateFile(Protocol):
    def read(self) -> dict[str, Any]: ...

    def write(self, doc: dict[str, Any]) -> None: ...


@dataclass(slots=True)
class _Track:
    attempts: int = 0
    next_at: float = 0.0  # monotonic: no attempt before this
    healthy_since: float | None = None
    skipped: dict[PartId, str] = field(default_factory=dict)  # part -> reason, as last decided
    last_cause: str | None = None  # of the failure the last restart was for
    persistent_logged: bool = False


def delay_after(attempts: int, backoff: float) -> float:
    """Seconds to wait after the `attempts`-th restart: backoff, 2 x backoff, 4 x ..., at most an hour."""
    return min(backoff * 2 ** (attempts - 1), MAX_DELAY)


def _part(name: str, part: PartId) -> str:
    return f"connector '{name}'" + ("" if part is None else f" task {part}")


def _dump_parts(skipped: Mapping[PartId, str]) -> dict[str, str]:
    """JSON keys are strings: the connector is "connector", a task its id."""
    return {CONNECTOR_PART if part is None else str(part): reason for part, reason in skipped.items()}


def _load_parts(doc: Any) -> dict[PartId, str]:
    if not isinstance(doc, dict):
        raise TypeError("skipped is not an object")
    return {None if key == CONNECTOR_PART else int(key): str(reason) for key, reason in doc.items()}


def restart_statuses(doc: Mapping[str, Any]) -> dict[str, RestartStatus]:
    """The restart status of each connector with FAILED parts, from the actor's state document."""
    statuses = doc.get("statuses")
    if not isinstance(statuses, dict):
        return {}
    found = {}
    for name, status in statuses.items():
        try:
            found[name] = RestartStatus(
                int(status["attempts"]),
                status["next_restart"],
                bool(status["exhausted"]),
                _load_parts(status.get("skipped", {})),
                status.get("last_cause"),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            continue  # a document from another version, or damaged: show nothing rather than something wrong
    return found


class Restarter:
    """Decides and sends restarts, one published snapshot at a time (a SnapshotConsumer, in its own thread).

    The first restart goes out when a FAILED connector or task is first seen; the next only after
    `backoff` seconds, then 2 x, 4 x ... (capped at one hour), at most `max_attempts` times. A connector
    counts as recovered, and its count resets, once it has had nothing FAILED for as long as its next
    delay: a task that fails again right after each restart keeps backing off instead of restarting in a
    storm. A FAILED part that `skip` matches is never restarted (restart_rules.plan decides). Its state goes
    to `state` after each snapshot and is read back from there on its first one, so a process that takes over
    from a dead actor keeps the count, the backoff and what it already said, and every process shows it.
    """

    name = "auto-restart"

    def __init__(
        self,
        client: RestartClient,
        rules: Rules,
        *,
        backoff: float,
        max_attempts: int,
        skip: re.Pattern[str] | None = None,
        on_attempt: Callable[[str, str], None] = lambda connector, result: None,
        on_skip: Callable[[str, str], None] = lambda connector, reason: None,
        state: StateFile | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._rules = rules
        self._backoff = backoff
        self._max_attempts = max_attempts
        self._skip = skip
        self._on_attempt = on_attempt
        self._on_skip = on_skip
        self._state = state
        self._clock = clock
        self._wall_clock = wall_clock
        self._tracks: dict[str, _Track] | None = None  # None until the first snapshot: then read from `state`

    def consume(self, snapshot: Snapshot) -> None:
        if snapshot.error is not None:
            return  # the state of the connectors is unknown: nothing to restart, nothing recovered
        now = self._clock()
        if self._tracks is None:
            self._tracks = self._load(now)
        statuses = self.act(snapshot.connectors, now)
        if self._state is not None:
            self._state.write(self._dump(statuses, now))

    def act(self, connectors: Iterable[ConnectorStatus], now: float) -> dict[str, RestartStatus]:
        """Restart what is due; return the restart status of every connector that has FAILED parts."""
        tracks = self._tracks if self._tracks is not None else {}
        self._tracks = tracks
        statuses: dict[str, RestartStatus] = {}
        failing_now: set[str] = set()
        for connector in connectors:
            decided = plan(connector, self._rules, self._skip)
            if decided is None:
                continue
            failing_now.add(connector.name)
            track = tracks.setdefault(connector.name, _Track(next_at=now))
            track.healthy_since = None
            self._record_skips(connector.name, decided, track)
            if decided.anything and track.attempts < self._max_attempts and now >= track.next_at:
                self._restart(connector.name, decided, track, now)
            elif decided.anything and track.attempts >= self._max_attempts and not track.persistent_logged:
                track.persistent_logged = True
                self._on_skip(connector.name, "persistent")
            statuses[connector.name] = self._status(track, decided, now)
        self._forget_recovered(tracks, failing_now, now)
        return statuses

    def _record_skips(self, name: str, decided: Plan, track: _Track) -> None:
        """Say once per failure why it is not restarted (the log and the metric), not once per poll."""
        for part, reason in decided.skipped.items():
            if track.skipped.get(part) != reason:
                log.warning("not restarting %s: %s; cause: %s", _part(name, part), reason, decided.causes[part])
                self._on_skip(name, "restart_skip")
        track.skipped = dict(decided.skipped)

    def _restart(self, name: str, decided: Plan, track: _Track, now: float) -> None:
        track.attempts += 1
        track.next_at = now + delay_after(track.attempts, self._backoff)
        restarted = ([None] if decided.restart_connector else []) + list(decided.restart_tasks)
        track.last_cause = decided.causes[restarted[0]]
        failed_tasks = list(decided.restart_tasks)
        try:
            if decided.everything:  # one call restarts every FAILED part (Kafka 3.0+, KIP-745)
                self._client.restart_failed(name, failed_tasks)
            else:  # restarting all FAILED parts would restart the skipped ones too: one by one instead
                self._client.restart_parts(name, decided.restart_connector, failed_tasks)
        except ConnectError as error:
            # A failed attempt still counts: a 409 storm must not turn into a restart storm.
            log.error("restart %d/%d of connector '%s' failed: %s", track.attempts, self._max_attempts, name, error)
            self._on_attempt(name, "error")
            return
        log.warning(
            "restarted connector '%s' and its failed tasks %s (attempt %d of %d)",
            name,
            failed_tasks,
            track.attempts,
            self._max_attempts,
        )
        self._on_attempt(name, "ok")
        if track.attempts >= self._max_attempts:
            log.error(
                "connector '%s': %d restarts did not help; no more attempts (persistent); last cause: %s",
                name,
                track.attempts,
                track.last_cause,
            )

    def _status(self, track: _Track, decided: Plan, now: float) -> RestartStatus:
        skipped = dict(decided.skipped)
        if track.attempts >= self._max_attempts:
            return RestartStatus(track.attempts, None, True, skipped, track.last_cause)
        if not decided.anything:  # everything FAILED here is skipped: no restart is coming
            return RestartStatus(track.attempts, None, False, skipped, track.last_cause)
        next_restart = self._wall_clock() + timedelta(seconds=max(track.next_at - now, 0.0))
        iso = next_restart.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return RestartStatus(track.attempts, iso, False, skipped, track.last_cause)

    def _forget_recovered(self, tracks: dict[str, _Track], failing_now: set[str], now: float) -> None:
        for name in list(tracks):
            if name in failing_now:
                continue
            track = tracks[name]
            if track.healthy_since is None:
                track.healthy_since = now
            stable_for = delay_after(max(track.attempts, 1), self._backoff)
            if now - track.healthy_since >= stable_for:
                if track.attempts:
                    log.info("connector '%s' recovered; its restart count is reset", name)
                del tracks[name]

    # --- the state shared with the other processes, and with the next actor

    def _dump(self, statuses: Mapping[str, RestartStatus], now: float) -> dict[str, Any]:
        wall_now = self._wall_clock().timestamp()
        return {
            # wall-clock seconds: the monotonic clock of one process means nothing to another
            "tracks": {
                name: {
                    "attempts": track.attempts,
                    "next_at": wall_now + (track.next_at - now),
                    # what was already said (logged and counted), so the next actor does not say it again
                    "skipped": _dump_parts(track.skipped),
                    "last_cause": track.last_cause,
                    "persistent_logged": track.persistent_logged,
                }
                for name, track in (self._tracks or {}).items()
            },
            "statuses": {
                name: {
                    "attempts": s.attempts,
                    "next_restart": s.next_restart,
                    "exhausted": s.exhausted,
                    "skipped": _dump_parts(s.skipped),
                    "last_cause": s.last_cause,
                }
                for name, s in statuses.items()
            },
        }

    def _load(self, now: float) -> dict[str, _Track]:
        doc = self._state.read() if self._state is not None else {}
        tracks = doc.get("tracks")
        if not isinstance(tracks, dict):
            return {}
        wall_now = self._wall_clock().timestamp()
        loaded = {}
        for name, saved in tracks.items():
            try:
                loaded[name] = _Track(
                    int(saved["attempts"]),
                    now + (float(saved["next_at"]) - wall_now),
                    skipped=_load_parts(saved.get("skipped", {})),
                    last_cause=saved.get("last_cause"),
                    persistent_logged=bool(saved.get("persistent_logged", False)),
                )
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
        if loaded:
            log.info("carrying on the restart state of %d connector(s) from the previous actor", len(loaded))
        return loaded
