"""The incident rule: pure, from what is wrong now and the time to which incidents open, repeat and resolve."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

EventKind = Literal["open", "repeat", "resolve"]
CONNECT_KEY = "connect"  # the one incident for "Connect unreadable, stale or unhealthy itself"


def connector_key(connector: str) -> str:
    return f"connector:{connector}"


def task_key(connector: str, task: int) -> str:
    # Unambiguous even when a name holds ':': the id is always the last field and always digits.
    return f"task:{connector}:{task}"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in one reading: a failing connector or task, or Connect itself."""

    key: str
    state: str
    cause: str  # the root cause line, one line
    connector: str | None = None
    task: int | None = None
    worker_id: str | None = None
    since: str | None = None  # ISO 8601 UTC, when this process first saw it
    counted: bool = True  # False while the verdict still waits out --unhealthy-after
    hold: float = 0.0  # seconds it must persist here before it counts (where the verdict did not judge it)


@dataclass(frozen=True, slots=True)
class Reading:
    """What is wrong at one moment. `connectors_known` is False when Connect could not be read (or the last
    reading is stale): the connectors' state is then unknown, so their incidents neither open nor resolve."""

    problems: tuple[Problem, ...]
    connectors_known: bool = True


@dataclass(frozen=True, slots=True)
class Incident:
    key: str
    state: str
    cause: str
    since: str  # ISO 8601 UTC: when the failure started (as first seen), kept for the incident's life
    connector: str | None = None
    task: int | None = None
    worker_id: str | None = None
    cluster: str | None = None  # Connect's kafka_cluster_id when the incident opened, kept for its life

    @property
    def subject(self) -> str:
        """What is failing, in words: `connector 'x'`, `connector 'x' task 2`, or `Kafka Connect`."""
        if self.connector is None:
            return "Kafka Connect"
        if self.task is None:
            return f"connector '{self.connector}'"
        return f"connector '{self.connector}' task {self.task}"

    @property
    def summary(self) -> str:
        return f"{self.subject} is {self.state}: {self.cause}"

    def details(self) -> dict[str, str | int | None]:
        """What the payloads that carry free-form fields (webhook, PagerDuty) say of the failing thing."""
        return {
            "connector": self.connector,
            "task": self.task,
            "state": self.state,
            "worker_id": self.worker_id,
            "since": self.since,
            "cause": self.cause,
            "cluster": self.cluster,
        }


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    incident: Incident
    at: str  # ISO 8601 UTC, when the event was decided
    previous: Incident | None = None  # on a repeat caused by a change of state or worker: what was last sent

    @property
    def changed(self) -> bool:
        return self.previous is not None


@dataclass(slots=True)
class OpenIncident:
    """An incident this tracker has opened and not yet resolved: what a new actor must carry on."""

    incident: Incident
    opened: str  # ISO 8601 UTC, when its "open" was decided
    last_sent: float  # monotonic: when an event for it was last decided (repeats count from here)
    healthy_since: float | None = None


class IncidentTracker:
    """Decides the events; sends nothing. Time is a parameter, so a test drives it with plain numbers.

    - An incident opens when its problem counts: a failure once the verdict counts it (after
      --unhealthy-after), Connect's own problem once it has lasted its `hold`.
    - While open, it repeats every `repeat` seconds (Alertmanager forgets alerts that are not re-sent), and
      at once when its state or worker changes.
    - It resolves only after its thing has been healthy for `settle` seconds without a break: a failure that
      comes back within that time continues the same incident, so a flapping task is one incident, not a
      stream of open/resolve pairs.
    - While Connect cannot be read, the connectors' state is unknown: their incidents stay open (and keep
      repeating) and none opens or resolves.
    """

    def __init__(self, *, repeat: float, settle: float) -> None:
        self._repeat = repeat
        self._settle = settle
        self._open: dict[str, OpenIncident] = {}
        self._first_seen: dict[str, float] = {}

    @property
    def open_incidents(self) -> tuple[Incident, ...]:
        return tuple(track.incident for track in self._open.values())

    def carried(self) -> tuple[OpenIncident, ...]:
        """The open incidents with their timing, to hand to the next actor."""
        return tuple(replace(track) for track in self._open.values())

    def carry_on(self, incidents: Iterable[OpenIncident]) -> None:
        """Take over incidents another tracker opened: they repeat and resolve here, and never open again."""
        for track in incidents:
            self._open.setdefault(track.incident.key, replace(track))

    def observe(self, reading: Reading, now: float, at: str, cluster: str | None = None) -> list[Event]:
        """The events that `reading`, taken at monotonic `now` (ISO `at`), calls for. `cluster` is stamped on
        incidents that open now."""
        events: list[Event] = []
        present = {problem.key: problem for problem in reading.problems}
        self._first_seen = {key: self._first_seen.get(key, now) for key in present}
        for key, problem in present.items():
            track = self._open.get(key)
            if track is None:
                if problem.counted and now - self._first_seen[key] >= problem.hold:
                    incident = _incident(problem, at, cluster)
                    self._open[key] = OpenIncident(incident, opened=at, last_sent=now)
                    events.append(Event("open", incident, at))
                continue
            track.healthy_since = None
            events.extend(self._follow(track, problem, now, at))
        for key, track in list(self._open.items()):
            if key in present:
                continue
            known = reading.connectors_known or key == CONNECT_KEY
            if known and track.healthy_since is None:
                track.healthy_since = now
            if known and now - track.healthy_since >= self._settle:  # type: ignore[operator]
                del self._open[key]
                events.append(Event("resolve", track.incident, at))
            elif now - track.last_sent >= self._repeat:
                track.last_sent = now
                events.append(Event("repeat", track.incident, at))
        return events

    def _follow(self, track: OpenIncident, problem: Problem, now: float, at: str) -> Iterable[Event]:
        before = track.incident
        after = replace(before, state=problem.state, cause=problem.cause, worker_id=problem.worker_id)
        track.incident = after
        if (after.state, after.worker_id) != (before.state, before.worker_id):
            track.last_sent = now
            return [Event("repeat", after, at, previous=before)]
        if now - track.last_sent >= self._repeat:
            track.last_sent = now
            return [Event("repeat", after, at)]
        return []


def _incident(problem: Problem, at: str, cluster: str | None) -> Incident:
    return Incident(
        key=problem.key,
        state=problem.state,
        cause=problem.cause,
        since=problem.since or at,
        connector=problem.connector,
        task=problem.task,
        worker_id=problem.worker_id,
        cluster=cluster,
    )
