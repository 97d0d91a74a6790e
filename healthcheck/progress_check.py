"""One progress round: sample the offsets of running sinks (Kafka) and expected sources (Connect), judge
each window, and publish an immutable ProgressReport. Its own job runs it; never the poll thread, never a probe.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from healthcheck.connect_client import ConnectError
from healthcheck.kafka_offsets import KafkaReadError, PartitionOffsets, SinkOffsets, SinkQuery
from healthcheck.model import ConnectorStatus
from healthcheck.progress import (
    Judgement,
    Sample,
    Stuck,
    Track,
    connector_judgement,
    connector_last_progress,
    judge,
    observe,
)
from healthcheck.progress_report import (
    ConnectorProgress,
    PartitionProgress,
    ProgressError,
    ProgressReport,
    ProgressStore,
)

log = logging.getLogger(__name__)

PartitionKey = tuple[str | None, int | None]  # (topic, partition) of a sink; a source's one window: (None, None)
SOURCE_KEY: PartitionKey = (None, None)


class ConnectorList(Protocol):
    """Where the newest connector statuses (with configs) come from: the status poller's store."""

    def current(self) -> Any: ...


class OffsetsReader(Protocol):
    def read(self, sinks: Sequence[SinkQuery]) -> dict[str, SinkOffsets]: ...


class SourceOffsets(Protocol):
    def fetch_source_offsets(self, connector: str) -> Any | None: ...


def consumer_group(connector: ConnectorStatus) -> str:
    """Connect's sink consumer group: `connect-<name>` unless the config overrides it."""
    return (connector.config or {}).get("consumer.override.group.id") or f"connect-{connector.name}"


def sink_query(connector: ConnectorStatus) -> SinkQuery:
    config = connector.config or {}
    topics = tuple(t.strip() for t in config.get("topics", "").split(",") if t.strip())
    pattern = config.get("topics.regex", "").strip()
    return SinkQuery(connector.name, consumer_group(connector), topics, re.compile(pattern) if pattern else None)


def is_running(connector: ConnectorStatus) -> bool:
    """Only RUNNING connectors with a RUNNING task are judged: PAUSED, STOPPED, FAILED are what they are."""
    return connector.state == "RUNNING" and any(task.state == "RUNNING" for task in connector.tasks)


def _epoch(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() if iso else None


def _frozen(doc: Any) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def parse_source_offsets(doc: Any) -> tuple[tuple[Mapping[str, Any], Mapping[str, Any]], ...]:
    """`{"offsets": [{"partition": {...}, "offset": {...}}, ...]}` as (partition, offset) pairs."""
    if not isinstance(doc, dict) or not isinstance(doc.get("offsets"), list):
        raise ValueError("expected an object with an 'offsets' list")
    pairs = []
    for entry in doc["offsets"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("partition"), dict):
            raise ValueError("each offset needs a 'partition' object")
        offset = entry.get("offset")
        pairs.append((entry["partition"], offset if isinstance(offset, dict) else {}))
    return tuple(sorted(pairs, key=lambda pair: _frozen(pair[0])))


class ProgressCheck:
    """Keeps each judged partition's window across rounds. Only its job's one thread calls check_once."""

    def __init__(
        self,
        connectors: ConnectorList,
        store: ProgressStore,
        *,
        stall_after: float,
        kafka: OffsetsReader | None = None,
        connect: SourceOffsets | None = None,
        expect_progress: re.Pattern[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], str],
    ) -> None:
        self._connectors = connectors
        self._store = store
        self._kafka = kafka
        self._connect = connect
        self._expect_progress = expect_progress
        self._stall_after = stall_after
        self._clock = clock
        self._wall_clock = wall_clock
        # Per connector, so one connector's windows are found without looking through every other's.
        self._tracks: dict[str, dict[PartitionKey, Track]] = {}
        # Sink partitions on which a commit was seen, kept while the connector exists (even while it is not
        # judged, e.g. STOPPED): commits that vanish there were deleted, and mean "unknown", never "stalled".
        self._committed_seen: dict[str, set[PartitionKey]] = {}
        self._changes = ProgressLog()

    def check_once(self) -> ProgressReport | None:
        """One round, published; None (nothing published) before the first poll of Connect has finished."""
        if self._connectors.current() is None:
            return None
        started = self._clock()
        checked_at = self._wall_clock()
        try:
            report = self._round(started, checked_at)
        except KafkaReadError as error:
            report = ProgressReport(
                started, checked_at, self._clock() - started, error=ProgressError(error.reason, error.message)
            )
        except Exception as error:  # our own bug must end as an error report, never a dead job or a stale report
            log.exception("progress round failed unexpectedly")
            report = ProgressReport(
                started,
                checked_at,
                self._clock() - started,
                error=ProgressError("internal", f"{type(error).__name__}: {error}"),
            )
        self._store.publish(report)
        self._changes.record(report)
        return report

    def _round(self, started: float, checked_at: str) -> ProgressReport:
        snapshot = self._connectors.current()
        if snapshot is None or getattr(snapshot, "error", None) is not None:
            return ProgressReport(
                started, checked_at, error=ProgressError("connect", "no connector list from Connect yet")
            )
        running = [c for c in snapshot.connectors if is_running(c)]
        sinks = [c for c in running if c.type == "sink"] if self._kafka is not None else []
        sources = [
            c
            for c in running
            if c.type == "source" and self._expect_progress is not None and self._expect_progress.fullmatch(c.name)
        ]
        results: dict[str, ConnectorProgress] = {}
        kafka_requests = 0
        if sinks:
            assert self._kafka is not None
            queries, bad = [], {}
            for connector in sinks:
                try:
                    queries.append(sink_query(connector))
                except re.error as error:
                    bad[connector.name] = f"topics.regex is not a valid regular expression ({error})"
            offsets = self._kafka.read(queries)
            kafka_requests = getattr(getattr(self._kafka, "counts", None), "total", 0)
            for name, error in bad.items():
                results[name] = ConnectorProgress(name, "sink", Judgement.WATCHING, checked_at, error=error)
            for query in queries:
                results[query.connector] = self._judge_sink(query, offsets[query.connector], started, checked_at)
        for connector in sources:
            results[connector.name] = self._judge_source(connector.name, started, checked_at)
        judged = set(results)
        self._tracks = {name: tracks for name, tracks in self._tracks.items() if name in judged}
        listed = {c.name for c in snapshot.connectors}
        self._committed_seen = {name: seen for name, seen in self._committed_seen.items() if name in listed}
        return ProgressReport(
            started,
            checked_at,
            self._clock() - started,
            connectors=results,
            kafka_requests=kafka_requests,
            connect_requests=len(sources),
        )

    def _judge_sink(self, query: SinkQuery, read: SinkOffsets, now: float, checked_at: str) -> ConnectorProgress:
        name = query.connector
        if read.error is not None:
            return ConnectorProgress(name, "sink", Judgement.WATCHING, checked_at, error=read.error)
        vanished = self._vanished_commits(name, read)
        if vanished:
            return vanished_progress(query, read, vanished, checked_at)
        before = self._tracks.get(name, {})
        tracks: dict[PartitionKey, Track] = {}
        partitions = []
        for p in read.partitions:
            key = (p.topic, p.partition)
            sample = Sample(now, p.committed, p.lag, checked_at)
            tracks[key] = observe(before.get(key, Track()), sample, self._stall_after)
            partitions.append(PartitionProgress(p.topic, p.partition, p.committed, p.end, p.lag))
        # A partition no longer consumed (topics changed) leaves no window behind, nor a commit seen.
        self._tracks[name] = tracks
        self._committed_seen.get(name, set()).intersection_update(tracks)
        judgements = {key: judge(track, now, self._stall_after) for key, track in tracks.items()}
        stalled = [key for key, judgement in judgements.items() if judgement is Judgement.STALLED]
        by_key = {(p.topic, p.partition): p for p in partitions}
        last = connector_last_progress(tracks, stalled)
        return ConnectorProgress(
            name,
            "sink",
            connector_judgement(judgements.values()),
            checked_at,
            lag=sum(p.lag or 0 for p in partitions),
            last_progress=last,
            last_progress_epoch=_epoch(last),
            partitions=tuple(partitions),
            stuck=tuple(Stuck(key[0], key[1], by_key[key].lag) for key in stalled),
        )

    def _judge_source(self, name: str, now: float, checked_at: str) -> ConnectorProgress:
        assert self._connect is not None
        try:
            doc = self._connect.fetch_source_offsets(name)
            if doc is None:  # logged once, as each connector error is, by ProgressLog
                message = "Connect has no GET /connectors/<name>/offsets (Kafka 3.5+): not judged"
                return ConnectorProgress(name, "source", Judgement.WATCHING, checked_at, error=message)
            pairs = parse_source_offsets(doc)
        except ConnectError as error:
            return ConnectorProgress(name, "source", Judgement.WATCHING, checked_at, error=error.message)
        except ValueError as error:
            message = f"GET /connectors/{name}/offsets: {error}"
            return ConnectorProgress(name, "source", Judgement.WATCHING, checked_at, error=message)
        position: Hashable = tuple((_frozen(part), _frozen(offset)) for part, offset in pairs)
        before = self._tracks.get(name, {}).get(SOURCE_KEY, Track())
        track = observe(before, Sample(now, position, None, checked_at), self._stall_after)
        self._tracks[name] = {SOURCE_KEY: track}
        judgement = judge(track, now, self._stall_after)
        last = track.last_progress.wall if track.last_progress is not None else None
        partitions = tuple(PartitionProgress(source_partition=part, source_offset=offset) for part, offset in pairs)
        stuck = (
            tuple(Stuck(None, None, None, source_partition=part) for part, _ in pairs)
            if judgement is Judgement.STALLED
            else ()
        )
        return ConnectorProgress(
            name,
            "source",
            judgement,
            checked_at,
            last_progress=last,
            last_progress_epoch=_epoch(last),
            partitions=partitions,
            stuck=stuck,
        )

    def _vanished_commits(self, name: str, read: SinkOffsets) -> list[PartitionOffsets]:
        """The partitions whose committed offset was seen before and is gone now (the group or its offsets
        were deleted). Their windows are dropped: once the sink commits again, it is watched afresh."""
        vanished = []
        seen = self._committed_seen.setdefault(name, set())
        tracks = self._tracks.get(name, {})
        for p in read.partitions:
            key = (p.topic, p.partition)
            if p.committed is not None:
                seen.add(key)
            elif key in seen:
                vanished.append(p)
                tracks.pop(key, None)
        return vanished


def vanished_progress(
    query: SinkQuery, read: SinkOffsets, vanished: list[PartitionOffsets], checked_at: str
) -> ConnectorProgress:
    """Unknown, not stalled: with its commits gone, a sink's lag would count from the log start although its
    consumer may well sit at the log end (auto.offset.reset=latest), so no stall can be told apart."""
    where = ", ".join(f"{p.topic}-{p.partition}" for p in vanished[:3]) + (" ..." if len(vanished) > 3 else "")
    message = (
        f"consumer group '{query.group}' no longer has committed offsets for {where} (the group or its offsets "
        "were deleted): progress unknown until the connector commits again"
    )
    partitions = tuple(PartitionProgress(p.topic, p.partition, p.committed, p.end, p.lag) for p in read.partitions)
    return ConnectorProgress(
        query.connector, "sink", Judgement.WATCHING, checked_at, partitions=partitions, error=message
    )


class ProgressLog:
    """A log line per change: a round error and its end, a connector stalled or moving again."""

    def __init__(self) -> None:
        self._error: ProgressError | None = None
        self._stalled: set[str] = set()
        self._errors: dict[str, str] = {}

    def record(self, report: ProgressReport) -> None:
        if report.error is not None:
            if self._error is None or self._error.reason != report.error.reason:
                log.error("cannot read progress (%s): %s", report.error.reason, report.error.message)
            self._error = report.error
            return
        if self._error is not None:
            log.info("progress readable again")
            self._error = None
        stalled = {name for name, p in report.connectors.items() if p.stalled}
        for name in sorted(stalled - self._stalled):
            p = report.connectors[name]
            log.warning(
                "connector '%s' is STALLED: lag %s, no progress since %s", name, p.lag, p.last_progress or "watched"
            )
        for name in sorted(self._stalled - stalled):
            if name in report.connectors:
                log.info("connector '%s' makes progress again", name)
        self._stalled = stalled
        errors = report.connector_errors()
        for name, message in sorted(errors.items()):
            if self._errors.get(name) != message:
                log.warning("cannot judge the progress of connector '%s': %s", name, message)
        self._errors = errors
