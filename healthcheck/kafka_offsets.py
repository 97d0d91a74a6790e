"""Reads sink connectors' committed offsets and their topics' log-start/log-end offsets from Kafka.

confluent-kafka's AdminClient (librdkafka) speaks Kafka's admin protocol; every call is bounded by the
request timeout, and whatever goes wrong becomes data: a round-level `KafkaReadError`, or a per-sink error.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from healthcheck.kafka_config import KafkaConfig

log = logging.getLogger(__name__)

_AUTH_CODES = {
    KafkaError._AUTHENTICATION,
    KafkaError.SASL_AUTHENTICATION_FAILED,
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.GROUP_AUTHORIZATION_FAILED,
    KafkaError.CLUSTER_AUTHORIZATION_FAILED,
}
_TIMEOUT_CODES = {KafkaError._TIMED_OUT, KafkaError.REQUEST_TIMED_OUT, KafkaError._TIMED_OUT_QUEUE}


class KafkaReadError(Exception):
    """A whole round could not read Kafka. `reason`: connection, timeout, auth, or kafka (any other error)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class SinkQuery:
    """What one sink connector consumes: its group and its topics (from its config)."""

    connector: str
    group: str
    topics: tuple[str, ...] = ()
    topics_regex: re.Pattern[str] | None = None

    def consumes(self, topic: str) -> bool:
        if self.topics_regex is not None:
            return self.topics_regex.fullmatch(topic) is not None
        return topic in self.topics

    @property
    def knows_topics(self) -> bool:
        return bool(self.topics) or self.topics_regex is not None


@dataclass(frozen=True, slots=True)
class PartitionOffsets:
    topic: str
    partition: int
    committed: int | None  # None: the group never committed here
    start: int  # log-start offset (only read where nothing is committed; else 0)
    end: int  # log-end offset (the high watermark)

    @property
    def lag(self) -> int:
        """Records waiting: from the committed offset, or from the log start where nothing was committed."""
        return max(0, self.end - (self.committed if self.committed is not None else self.start))


@dataclass(frozen=True, slots=True)
class SinkOffsets:
    partitions: tuple[PartitionOffsets, ...] = ()
    error: str | None = None  # this sink could not be read (its group or a topic): unknown, never stalled


@dataclass(frozen=True, slots=True)
class ReadCounts:
    """Requests one round sent to Kafka (each a separate admin request from librdkafka's point of view)."""

    metadata: int = 0
    group_offsets: int = 0
    list_offsets: int = 0

    @property
    def total(self) -> int:
        return self.metadata + self.group_offsets + self.list_offsets


def _code(error: BaseException) -> KafkaError | None:
    if isinstance(error, KafkaException) and error.args and isinstance(error.args[0], KafkaError):
        return error.args[0]
    return None


class KafkaOffsetsReader:
    """One AdminClient for the life of the process; `read()` is one round (called from one thread at a time)."""

    def __init__(self, bootstrap_servers: str, config: KafkaConfig | None = None, *, timeout: float = 5.0) -> None:
        self._config = config or KafkaConfig({})
        self.bootstrap_servers = bootstrap_servers
        self.timeout = timeout
        self._last_client_error: str | None = None
        self._lock = threading.Lock()
        self.counts = ReadCounts()
        self._admin = AdminClient(
            {
                **self._config.properties,
                "bootstrap.servers": bootstrap_servers,
                "error_cb": self._on_client_error,
                "logger": logging.getLogger("healthcheck.librdkafka"),
                # librdkafka logs every reconnect attempt; the error callback says it once per round instead.
                "log_level": 2,
            }
        )

    def _on_client_error(self, error: KafkaError) -> None:
        """librdkafka's background errors (refused connections, SASL failures) explain a failed call."""
        with self._lock:
            self._last_client_error = self._config.scrub(error.str())

    def _take_client_error(self) -> str | None:
        self._admin.poll(0)  # serves the error callback: librdkafka calls it only from poll()
        with self._lock:
            message, self._last_client_error = self._last_client_error, None
        return message

    def close(self) -> None:
        self._admin = None  # type: ignore[assignment]  # librdkafka closes the client when it is collected

    # --- one round

    def read(self, sinks: Sequence[SinkQuery]) -> dict[str, SinkOffsets]:
        """Every sink's partitions with committed, start and end offsets; raises KafkaReadError when Kafka
        cannot be read at all. A sink whose group or topic fails gets its own error."""
        self._take_client_error()  # only errors of this round explain this round
        counts = {"metadata": 0, "group_offsets": 0, "list_offsets": 0}
        topics = self._topics()
        counts["metadata"] += 1
        committed, group_errors = self._committed(sinks)
        counts["group_offsets"] += len(sinks)
        partitions: dict[str, list[tuple[str, int]]] = {}
        errors: dict[str, str] = dict(group_errors)
        for sink in sinks:
            if sink.connector in errors:
                continue
            chosen, problem = _partitions_of(sink, topics, committed.get(sink.group, {}))
            if problem:
                errors[sink.connector] = problem
            else:
                partitions[sink.connector] = chosen
        wanted = {tp for chosen in partitions.values() for tp in chosen}
        without_commit = {
            tp for sink in sinks for tp in partitions.get(sink.connector, ()) if tp not in committed.get(sink.group, {})
        }
        ends, end_errors = self._offsets(wanted, OffsetSpec.latest())
        starts, start_errors = self._offsets(without_commit, OffsetSpec.earliest())
        counts["list_offsets"] += bool(wanted) + bool(without_commit)
        self.counts = ReadCounts(**counts)
        results: dict[str, SinkOffsets] = {}
        for sink in sinks:
            if sink.connector in errors:
                results[sink.connector] = SinkOffsets(error=errors[sink.connector])
                continue
            failed = [
                f"{topic}-{p}: {end_errors.get((topic, p)) or start_errors.get((topic, p))}"
                for topic, p in partitions[sink.connector]
                if (topic, p) in end_errors or (topic, p) in start_errors
            ]
            if failed:
                results[sink.connector] = SinkOffsets(error="cannot read the log offsets of " + "; ".join(failed[:3]))
                continue
            results[sink.connector] = SinkOffsets(
                tuple(
                    PartitionOffsets(
                        topic,
                        p,
                        committed.get(sink.group, {}).get((topic, p)),
                        starts.get((topic, p), 0),
                        ends[(topic, p)],
                    )
                    for topic, p in partitions[sink.connector]
                )
            )
        return results

    # --- the three kinds of request

    def _topics(self) -> dict[str, int]:
        """Topic -> number of partitions (one metadata request); internal topics left out."""
        try:
            metadata = self._admin.list_topics(timeout=self.timeout)
        except KafkaException as error:
            raise self._round_error(error, "reading the cluster's topics") from None
        return {
            name: len(topic.partitions)
            for name, topic in metadata.topics.items()
            if topic.error is None and not name.startswith("__")
        }

    def _committed(self, sinks: Sequence[SinkQuery]) -> tuple[dict[str, dict[tuple[str, int], int]], dict[str, str]]:
        """group -> {(topic, partition): committed offset}, and connector -> error for groups that failed.
        librdkafka asks one group per request; they all run at once."""
        groups = sorted({sink.group for sink in sinks})
        futures: dict[str, Future[Any]] = {}
        for group in groups:
            futures |= self._admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group)], request_timeout=self.timeout
            )
        results, failures = self._collect(futures, "the committed offsets of consumer group")
        committed = {
            group: {
                (tp.topic, tp.partition): tp.offset
                for tp in (result.topic_partitions or [])
                if tp.offset >= 0 and tp.error is None
            }
            for group, result in results.items()
        }
        errors = {sink.connector: failures[sink.group] for sink in sinks if sink.group in failures}
        return committed, errors

    def _offsets(
        self, partitions: Iterable[tuple[str, int]], spec: OffsetSpec
    ) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], str]]:
        wanted = {TopicPartition(topic, p): spec for topic, p in sorted(partitions)}
        if not wanted:
            return {}, {}
        futures = self._admin.list_offsets(wanted, request_timeout=self.timeout)
        results, failures = self._collect(futures, "the log offsets of")
        return (
            {(tp.topic, tp.partition): info.offset for tp, info in results.items()},
            {(tp.topic, tp.partition): message for tp, message in failures.items()},
        )

    def _collect(self, futures: Mapping[Any, Future[Any]], what: str) -> tuple[dict[Any, Any], dict[Any, str]]:
        """Wait for all `futures` within the request timeout. Every one failing the same local way (no broker,
        no answer, refused credentials) fails the round; otherwise each failure belongs to its key."""
        done, _ = wait(list(futures.values()), timeout=self.timeout + 1.0)
        results: dict[Any, Any] = {}
        failures: dict[Any, str] = {}
        local: list[KafkaException] = []
        for key, future in futures.items():
            if future not in done:
                failures[key] = f"no answer within {self.timeout:g} s"
                local.append(KafkaException(KafkaError(KafkaError._TIMED_OUT, failures[key])))
                continue
            error = future.exception()
            if error is None:
                results[key] = future.result()
                continue
            code = _code(error)
            failures[key] = self._config.scrub(code.str() if code is not None else str(error))
            if code is None or code.code() < 0 or code.code() in _AUTH_CODES:  # librdkafka's own (local) errors
                local.append(error)  # type: ignore[arg-type]
        if futures and len(local) == len(futures):
            raise self._round_error(local[0], f"reading {what} {next(iter(futures))}")
        return results, failures

    def _round_error(self, error: BaseException, doing: str) -> KafkaReadError:
        code = _code(error)
        detail = self._config.scrub(code.str() if code is not None else str(error))
        background = self._take_client_error()
        if background and background not in detail:
            detail = f"{detail} ({background})"
        elif not background:
            detail = f"{detail} (no answer from {self.bootstrap_servers} within {self.timeout:g} s)"
        if (code is not None and code.code() in _AUTH_CODES) or "uthenticat" in detail:
            reason = "auth"
        elif code is not None and code.code() in _TIMEOUT_CODES and not background:
            reason = "timeout"
        elif code is not None and code.code() < 0:
            reason = "connection"
        else:
            reason = "kafka"
        return KafkaReadError(reason, f"{doing}: {detail}")


def _partitions_of(
    sink: SinkQuery, topics: Mapping[str, int], committed: Mapping[tuple[str, int], int]
) -> tuple[list[tuple[str, int]], str | None]:
    """The partitions to judge for one sink: every partition of the topics it consumes (so one that holds data
    but no commit counts too), plus any it committed on; or an error naming a topic that does not exist."""
    if sink.knows_topics:
        missing = [topic for topic in sink.topics if topic not in topics]
        if missing:
            return [], f"topic {missing[0]!r} (in the connector's topics) does not exist"
        consumed = [topic for topic in topics if sink.consumes(topic)] if sink.topics_regex else sink.topics
        chosen = {(topic, p) for topic in consumed for p in range(topics[topic])}
        chosen |= {tp for tp in committed if sink.consumes(tp[0]) and tp[0] in topics}
    else:  # no config (Connect before 2.3): what the group committed on is all we know
        chosen = {tp for tp in committed if tp[0] in topics}
    return sorted(chosen), None
