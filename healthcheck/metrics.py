"""Prometheus metrics: counters that live across polls, and gauges rendered from one snapshot.

prometheus-client writes the text exposition format (escaping, HELP/TYPE, histogram buckets) correctly;
it is the one dependency we add on top of flask, gunicorn, requests and APScheduler.
"""

from __future__ import annotations

import threading
from collections import Counter as Tally
from collections.abc import Collection, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from healthcheck.connect_client import ConnectError
from healthcheck.model import STALLED, STATES, ConnectorStatus
from healthcheck.progress_reading import ProgressReading
from healthcheck.verdict import FAIL, PASS, WARN, Verdict

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "kafka_connect_healthcheck_"
FROM_LAST_POLL = " (from the last poll)"
POLL_ERROR_REASONS = (*ConnectError.REASONS, "internal")

# No `*_created` series: they double what a scrape carries and say only when this process started counting,
# which process_start_time_seconds-style tooling does not need from us. prometheus_client decides this
# process-wide; this process serves only our registry.
disable_created_metrics()

AGE_HEADER = (
    f"# HELP {PREFIX}snapshot_age_seconds Seconds since the last poll of Connect started.\n"
    f"# TYPE {PREFIX}snapshot_age_seconds gauge\n"
).encode()


def age_line(age: float | None) -> bytes:
    value = "NaN" if age is None else f"{age:.3f}"
    return AGE_HEADER + f"{PREFIX}snapshot_age_seconds {value}\n".encode()


class PollMetrics:
    """What accumulates across polls. Updated by the poller only; rendered once per poll."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.poll_duration = Histogram(
            PREFIX + "poll_duration_seconds",
            "Wall time of one poll of Connect (fetch, parse, verdict, render).",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.polls = Counter(PREFIX + "polls", "Polls of Connect, by result.", ["result"], registry=self.registry)
        self.poll_errors = Counter(
            PREFIX + "poll_errors", "Polls that could not read Connect, by reason.", ["reason"], registry=self.registry
        )
        self.restarts = Counter(
            PREFIX + "restarts",
            "Restarts of FAILED connectors and tasks sent to Connect, by connector and result (ok, error).",
            ["connector", "result"],
            registry=self.registry,
        )
        self.notifications = Counter(
            PREFIX + "notifications",
            "Notifications by target, event (open, repeat, resolve) and result (sent, failed, dropped).",
            ["target", "event", "result"],
            registry=self.registry,
        )
        self.restart_skips = Counter(
            PREFIX + "restart_skips",
            "FAILED connectors and tasks auto-restart decided not to restart, by connector and reason "
            "(restart_skip: the failure matches --restart-skip; persistent: --restart-max-attempts reached), "
            "counted once per failure.",
            ["connector", "reason"],
            registry=self.registry,
        )
        # (series, labels) of the per-connector counters: the actor's thread adds, the poller's thread forgets
        self._restart_labels: set[tuple[Counter, tuple[str, str]]] = set()
        self._restart_labels_lock = threading.Lock()
        for reason in POLL_ERROR_REASONS:  # every series exists from the start, so rate() sees the first error
            self.poll_errors.labels(reason)
        for result in ("ok", "error"):
            self.polls.labels(result)

    def observe_poll(self, duration: float, error_reason: str | None) -> None:
        self.poll_duration.observe(duration)
        self.polls.labels("error" if error_reason else "ok").inc()
        if error_reason:
            self.poll_errors.labels(error_reason).inc()

    def observe_restart(self, connector: str, result: str) -> None:
        with self._restart_labels_lock:
            self._restart_labels.add((self.restarts, (connector, result)))
            self.restarts.labels(connector, result).inc()

    def forget_connectors_except(self, names: Collection[str]) -> None:
        """Drop the per-connector series of connectors that are gone, so label cardinality stays bounded."""
        with self._restart_labels_lock:
            for series, labels in [gone for gone in self._restart_labels if gone[1][0] not in names]:
                series.remove(*labels)
                self._restart_labels.discard((series, labels))

    def observe_restart_skip(self, connector: str, reason: str) -> None:
        with self._restart_labels_lock:
            self._restart_labels.add((self.restart_skips, (connector, reason)))
            self.restart_skips.labels(connector, reason).inc()

    def observe_notification(self, target: str, event: str, result: str) -> None:
        self.notifications.labels(target, event, result).inc()

    def expect_notifications(self, targets: list[str]) -> None:
        """Create every series of these targets at 0, so rate() sees their first failure."""
        for target in targets:
            for event in ("open", "repeat", "resolve"):
                for result in ("sent", "failed", "dropped"):
                    self.notifications.labels(target, event, result)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Families:
    """Adapts a list of metric families to what generate_latest() reads: anything with collect()."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def render_state(
    connectors: tuple[ConnectorStatus, ...],
    verdict: Verdict | None,
    up: bool,
    fresh: bool,
    progress: ProgressReading | None = None,
) -> bytes:
    """The gauges of one snapshot. `up`: the poll read Connect; `fresh`: the snapshot is not stale.
    A connector the progress check finds stalled shows as STALLED (instead of RUNNING) in the state series."""
    healthy = GaugeMetricFamily(
        PREFIX + "healthy", "1 if GET / answers 200 (healthy and fresh), else 0" + FROM_LAST_POLL + "."
    )
    healthy.add_metric([], 1.0 if (verdict is not None and verdict.healthy and up and fresh) else 0.0)
    status = GaugeMetricFamily(
        PREFIX + "status",
        "1 for the level GET / reports (pass, warn, fail), 0 for the others" + FROM_LAST_POLL + ".",
        labels=["status"],
    )
    current = verdict.status if (verdict is not None and up and fresh) else FAIL
    for level in (PASS, WARN, FAIL):
        status.add_metric([level], 1.0 if level == current else 0.0)
    unmatched = GaugeMetricFamily(
        PREFIX + "worker_id_unmatched",
        "1 if --connect-worker-id matches no connector or task while the cluster has some, else 0"
        + FROM_LAST_POLL
        + ".",
    )
    unmatched.add_metric([], 1.0 if verdict is not None and verdict.warning is not None else 0.0)
    up_family = GaugeMetricFamily(PREFIX + "up", "1 if the last poll read Connect's status, else 0.")
    up_family.add_metric([], 1.0 if up else 0.0)
    connector_state = GaugeMetricFamily(
        PREFIX + "connector_state",
        "1 for each connector's current state" + FROM_LAST_POLL + ".",
        labels=["connector", "worker_id", "state"],
    )
    task_state = GaugeMetricFamily(
        PREFIX + "task_state",
        "1 for each task's current state" + FROM_LAST_POLL + ".",
        labels=["connector", "task", "worker_id", "state"],
    )
    connector_counts: Tally[str] = Tally()
    task_counts: Tally[str] = Tally()
    stalled = progress.stalled if progress is not None else {}
    for connector in connectors:
        state = STALLED if connector.name in stalled and connector.running else connector.state
        connector_state.add_metric([connector.name, connector.worker_id, state], 1.0)
        connector_counts[state] += 1
        for task in connector.tasks:
            task_state.add_metric([connector.name, str(task.id), task.worker_id, task.state], 1.0)
            task_counts[task.state] += 1
    by_state = []
    for name, tally in (("connectors", connector_counts), ("tasks", task_counts)):
        family = GaugeMetricFamily(PREFIX + name, f"Number of {name} by state" + FROM_LAST_POLL + ".", labels=["state"])
        for state in sorted(set((*STATES, STALLED) if name == "connectors" else STATES) | set(tally)):
            family.add_metric([state], float(tally[state]))
        by_state.append(family)
    failures = GaugeMetricFamily(PREFIX + "failures", "Failures listed by GET /" + FROM_LAST_POLL + ".")
    failures.add_metric([], float(len(verdict.failures)) if verdict is not None else 0.0)
    families: list[Metric] = [healthy, status, up_family, failures, unmatched, *by_state, connector_state, task_state]
    if progress is not None:
        families += progress_families(progress, connectors)
    return generate_latest(_Families(families))


def progress_families(progress: ProgressReading, connectors: tuple[ConnectorStatus, ...]) -> list[Metric]:
    """The progress check's gauges, from the report the snapshot was judged with."""
    report = progress.report
    round_ok = (
        report is not None
        and report.error is None
        and (progress.error is None or progress.error.reason == "connectors")
    )
    up = GaugeMetricFamily(
        PREFIX + "progress_up", "1 if the last progress round read the offsets (Kafka, Connect) in time, else 0."
    )
    up.add_metric([], 1.0 if round_ok else 0.0)
    error = GaugeMetricFamily(
        PREFIX + "progress_error",
        "1 while the progress check cannot judge, by reason (connection, timeout, auth, kafka, connect, stale, "
        "internal; connectors: some connectors only).",
        labels=["reason"],
    )
    if progress.error is not None:
        error.add_metric([progress.error.reason], 1.0)
    lag = GaugeMetricFamily(
        PREFIX + "connector_lag",
        "Records waiting for a sink connector, summed over its partitions.",
        labels=["connector"],
    )
    last = GaugeMetricFamily(
        PREFIX + "connector_last_progress_timestamp_seconds",
        "Unix time of a judged connector's last progress (a commit advanced, lag 0, or a source offset moved).",
        labels=["connector"],
    )
    listed = {c.name for c in connectors}
    if report is not None and report.error is None:
        for name, judged in sorted(report.connectors.items()):
            if name not in listed or judged.error is not None:
                continue
            if judged.lag is not None:
                lag.add_metric([name], float(judged.lag))
            if judged.last_progress_epoch is not None:
                last.add_metric([name], judged.last_progress_epoch)
    return [up, error, lag, last]
