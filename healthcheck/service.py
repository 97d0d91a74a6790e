"""What one serving process owns: the snapshot store, the poller and its schedule, and the actions that
consume its snapshots (in the host's one actor process)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from apscheduler.schedulers.background import BackgroundScheduler

from healthcheck import scheduling
from healthcheck.actor import ActionStateFile, ActorLock, actor_paths
from healthcheck.answers import Answers
from healthcheck.changelog import ChangeLog
from healthcheck.connect_client import ConnectClient, quiet_insecure_warnings
from healthcheck.consumers import ConsumerRunner, SnapshotConsumer
from healthcheck.metrics import PollMetrics
from healthcheck.model import RestartStatus
from healthcheck.notify.build import build_notifier
from healthcheck.notify.notifier import Notifier
from healthcheck.parse import TracePolicy
from healthcheck.poller import Poller, no_restarts, utc_now_iso
from healthcheck.progress_check import OffsetsReader, ProgressCheck
from healthcheck.progress_reading import ProgressSource
from healthcheck.progress_report import ProgressStore
from healthcheck.render import View
from healthcheck.restarter import Restarter, restart_statuses
from healthcheck.settings import Settings
from healthcheck.snapshot import SnapshotStore
from healthcheck.verdict import Rules
from healthcheck.worker_identity import AUTO, own_worker_ids

log = logging.getLogger(__name__)


def rules_from(settings: Settings, resolve_own_ids: Callable[[str], frozenset[str]] = own_worker_ids) -> Rules:
    """The health rules; `--connect-worker-id auto` is resolved here, once, to this host's worker ids."""
    aliases: frozenset[str] = frozenset()
    if settings.connect_worker_id is not None and settings.connect_worker_id.lower() == AUTO:
        aliases = resolve_own_ids(settings.connect_url)
        log.info("--connect-worker-id auto: judging the worker with an id among %s", ", ".join(sorted(aliases)))
    return Rules(
        unhealthy_states=frozenset(settings.unhealthy_states),
        considered_containers=frozenset(settings.considered_containers),
        worker_id=settings.connect_worker_id,
        failure_threshold=settings.failure_threshold,
        include=settings.include_connectors,
        exclude=settings.exclude_connectors,
        unhealthy_after=settings.unhealthy_after,
        worker_aliases=aliases,
    )


def tls_verify(settings: Settings) -> bool | str:
    """What requests' `verify` gets: no verification, the configured CA bundle, or the system CAs."""
    if settings.connect_insecure:
        return False
    return settings.connect_ca_file or True


def client_cert(settings: Settings) -> str | tuple[str, str] | None:
    if settings.connect_client_cert and settings.connect_client_key:
        return (settings.connect_client_cert, settings.connect_client_key)
    return settings.connect_client_cert


def progress_max_age(settings: Settings) -> float:
    """How old a progress report may be before the poller calls progress unknown: two missed rounds, each
    allowed its three Kafka requests' timeouts, and one poll."""
    return 2 * settings.progress_interval + 3 * settings.request_timeout + settings.poll_interval


def connect_client(settings: Settings, clock: Callable[[], float]) -> ConnectClient:
    return ConnectClient(
        settings.connect_url,
        auth=settings.credentials,
        timeout=settings.request_timeout,
        max_response_bytes=settings.max_response_bytes,
        verify=tls_verify(settings),
        cert=client_cert(settings),
        clock=clock,
        traces=TracePolicy(hide=settings.hide_traces, max_bytes=settings.max_trace_bytes),
    )


class Service:
    """Built once per process. Tests drive `poller.poll_once()` directly; production calls `start()`.

    Actions are SnapshotConsumers: add one to `consumers` in __init__ (or call `add_consumer` before
    `start()`); each gets every published snapshot in its own thread, in the host's actor process only.
    """

    def __init__(
        self, settings: Settings, *, clock: Callable[[], float] = time.monotonic, kafka: OffsetsReader | None = None
    ) -> None:
        """`kafka`: the Kafka offsets reader to use instead of one made from the settings (tests)."""
        self.settings = settings
        self.clock = clock
        self.store = SnapshotStore()
        if settings.connect_insecure:
            log.warning(
                "INSECURE: the TLS certificate of Connect at %s is NOT verified (--connect-insecure): anyone on "
                "the network path can pose as Connect and read its credentials. Use --connect-ca-file instead.",
                settings.connect_url,
            )
        self.client = connect_client(settings, clock)
        # Actions talk to Connect on a session of their own: a hung restart holds none of the poller's connections.
        self.action_client = connect_client(settings, clock)
        self.metrics = PollMetrics()
        rules = rules_from(settings)
        view = View(settings.unhealthy_states, hide_traces=settings.hide_traces, rules=rules)
        lock_path, state_path = actor_paths(settings.state_dir or "", settings.connect_url, settings.port)
        self.actor = ActorLock(lock_path)
        self.action_state = ActionStateFile(state_path)
        consumers: list[SnapshotConsumer] = []
        restarts: Callable[[], Mapping[str, RestartStatus]] = no_restarts
        if settings.auto_restart:
            consumers.append(
                Restarter(
                    self.action_client,
                    rules,
                    backoff=settings.restart_backoff,
                    max_attempts=settings.restart_max_attempts,
                    skip=settings.restart_skip,
                    on_attempt=self.metrics.observe_restart,
                    on_skip=self.metrics.observe_restart_skip,
                    state=self.action_state,
                    clock=clock,
                )
            )
            restarts = self._restart_statuses
        self.notifier: Notifier | None = None
        if settings.notify:
            self.notifier = build_notifier(
                settings,
                record=self.metrics.observe_notification,
                cluster_id=self.action_client.fetch_cluster_id,
                source=self.store.current,  # its own tick reads the store: a stuck poller offers nothing
                may_act=lambda: self.actor.held,
                clock=clock,
                # beside the restart state, in a file of its own: each action writes only its own document
                state=ActionStateFile(lock_path.with_suffix(".incidents.json")),
            )
            self.metrics.expect_notifications([courier.target.name for courier in self.notifier.couriers])
            consumers.append(self.notifier)
        self.consumers = ConsumerRunner(consumers, may_act=self.actor.try_hold)
        self.changes = ChangeLog()
        self.progress_store = ProgressStore()
        self.progress_check = self._progress_check(settings, clock, kafka)
        progress = ProgressSource(self.progress_store, progress_max_age(settings)) if self.progress_check else None
        self.answers = Answers(self.store, settings.max_staleness, view)
        self.poller = Poller(
            self.client,
            rules,
            self.store,
            view,
            metrics=self.metrics,
            restarts=restarts,
            on_publish=(self.changes.record, self.consumers.offer),
            prepare=self.answers.prebuild,
            progress=progress,
            clock=clock,
        )
        self._scheduler: BackgroundScheduler | None = None
        self._progress_scheduler: BackgroundScheduler | None = None

    def _progress_check(
        self, settings: Settings, clock: Callable[[], float], kafka: OffsetsReader | None
    ) -> ProgressCheck | None:
        """The progress check, when it is on. It reads Connect (source offsets) on a session of its own."""
        self.kafka: OffsetsReader | None = None
        self.progress_client: ConnectClient | None = None
        if not settings.progress_enabled:
            return None
        if kafka is None and settings.kafka_bootstrap_servers is not None:
            from healthcheck.kafka_offsets import KafkaOffsetsReader  # librdkafka is loaded only when it is used

            kafka = KafkaOffsetsReader(
                settings.kafka_bootstrap_servers, settings.kafka_config, timeout=settings.request_timeout
            )
        self.kafka = kafka
        if settings.expect_progress is not None:
            self.progress_client = connect_client(settings, clock)
        return ProgressCheck(
            self.store,
            self.progress_store,
            stall_after=settings.stall_after,
            kafka=kafka,
            connect=self.progress_client,
            expect_progress=settings.expect_progress,
            clock=clock,
            wall_clock=utc_now_iso,
        )

    def _restart_statuses(self) -> Mapping[str, RestartStatus]:
        """What the actor (this process or another) last wrote: every worker shows the same restart state."""
        return restart_statuses(self.action_state.read())

    def add_consumer(self, consumer: SnapshotConsumer) -> None:
        """Register another action; call before start()."""
        self.consumers.add(consumer)

    def start(self) -> None:
        """Start polling in a background thread: first poll now, then every poll_interval.

        Call it in the process that serves (a gunicorn worker, after fork): threads do not survive fork().
        """
        if self._scheduler is not None:
            return
        if self.settings.connect_insecure:
            quiet_insecure_warnings()  # said once, loudly, in __init__; urllib3 would repeat it on every request
        self._scheduler = scheduling.start_every(self.settings.poll_interval, self.poller.poll_once, "poll-connect")
        if self.notifier is not None:
            self.notifier.start()  # in every process; it judges and sends only while this one is the actor
        if self.progress_check is not None:
            # Its own scheduler and thread: a slow Kafka never delays a poll. It starts a moment after the
            # first poll, which lists the connectors it judges.
            self._progress_scheduler = scheduling.start_every(
                self.settings.progress_interval,
                self.progress_check.check_once,
                "progress",
                first_run_in=min(1.0, self.settings.poll_interval),
            )
        log.info(
            "polling %s every %g s (request timeout %g s, max staleness %g s)",
            self.settings.connect_url,
            self.settings.poll_interval,
            self.settings.request_timeout,
            self.settings.max_staleness,
        )

    def stop(self) -> None:
        """Stop polling and acting; neither a poll nor an action stuck on Connect is waited for."""
        for scheduler in (self._scheduler, self._progress_scheduler):
            if scheduler is not None:
                scheduling.stop(scheduler)
        self._scheduler = self._progress_scheduler = None
        self.consumers.stop()
        if self.notifier is not None:
            self.notifier.stop()
        self.actor.release()
        self.client.close()
        self.action_client.close()
        if self.progress_client is not None:
            self.progress_client.close()
