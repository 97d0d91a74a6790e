"""All settings as one frozen object: each declared once, checked the same way however it is built.

Each setting is a field of `Settings` made by `setting()`: its flag (`--field-name`), its variable
(`HEALTHCHECK_FIELD_NAME`), the parser (command_line.py), the help, the error wording and the README check are
all derived from that declaration. Rules between settings run in `Settings.__post_init__`, so a `Settings(...)`
built directly (tests, the benchmark) is checked exactly like one built from the command line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import partial
from typing import Any

from healthcheck import setting_rules as rules
from healthcheck import setting_types as kinds
from healthcheck.kafka_config import KafkaConfig, bootstrap_servers
from healthcheck.model import CONTAINERS, JUDGED_STATES
from healthcheck.restart_rules import DEFAULT_RESTART_SKIP
from healthcheck.setting_types import LOG_LEVELS, BasicAuth, NotifyTarget, Secret, SettingsError
from healthcheck.traces import DEFAULT_MAX_TRACE_BYTES

__all__ = ["OPTIONS", "BasicAuth", "Option", "Settings", "SettingsError", "setting"]


@dataclass(frozen=True)
class Option:
    """What the command line and the environment know of one setting."""

    field: str
    convert: Callable[[str], Any]
    help: str
    secret: bool = False
    shown_default: str | None = None  # for --help and the README, where the default is not a plain value

    @property
    def flag(self) -> str:
        return kinds.flag_of(self.field)

    @property
    def env(self) -> str:
        return kinds.env_of(self.field)

    @property
    def where(self) -> str:
        return kinds.where(self.field)


def setting(
    default: Any, convert: Callable[[str], Any], help: str, *, secret: bool = False, shown_default: str | None = None
) -> Any:
    """Declare one setting of `Settings`; everything else about it is derived from the field's name."""
    return field(default=default, metadata={"option": (convert, help, secret, shown_default)})


@dataclass(frozen=True)
class Settings:
    host: str = setting("0.0.0.0", kinds.host, "address to listen on")
    port: int = setting(18083, kinds.port, "port to listen on")
    connect_url: str = setting("http://localhost:8083", kinds.url, "base URL of the Kafka Connect REST API")
    connect_worker_id: str | None = setting(
        None,
        kinds.worker_id,
        "only judge connectors and tasks on this worker (host:port as Connect reports it); auto: this host's own",
    )
    # None until __post_init__ picks it: FAILED, or FAILED,STALLED when a progress check is on.
    unhealthy_states: tuple[str, ...] = setting(
        None,
        kinds.choices(JUDGED_STATES),
        f"comma list of states that count as failing ({', '.join(JUDGED_STATES)})",
        shown_default="FAILED (FAILED,STALLED with a progress check on)",
    )
    considered_containers: tuple[str, ...] = setting(
        ("CONNECTOR", "TASK"), kinds.choices(CONTAINERS), "comma list of what is judged: CONNECTOR, TASK"
    )
    failure_threshold_percentage: float = setting(
        0.0, kinds.percentage, "healthy while failing/considered is at most this %"
    )
    basic_auth: BasicAuth | None = setting(
        None, kinds.basic_auth, "user:password for Connect's basic auth", secret=True
    )
    log_level: str = setting("INFO", kinds.log_level, f"one of {', '.join(LOG_LEVELS)}")
    poll_interval: float = setting(5.0, kinds.seconds, "seconds between polls of Connect")
    # None until __post_init__ derives it from the poll interval; a float from then on.
    max_staleness: float = setting(
        None,
        kinds.seconds,
        "answer 503 when the last poll is older than this many seconds",
        shown_default="3 x poll interval",
    )
    request_timeout: float = setting(5.0, kinds.seconds, "seconds allowed for each whole request to Connect")
    workers: int = setting(1, kinds.positive_int, "gunicorn worker processes; each one polls Connect")
    threads: int = setting(4, kinds.positive_int, "threads per worker process for paths other than the probes")
    max_response_bytes: int = setting(
        64 * 1024 * 1024, kinds.positive_int, "largest Connect response read, in bytes; a larger one is an error"
    )
    connect_ca_file: str | None = setting(
        None, kinds.readable_file, "PEM file of the CA(s) that sign Connect's TLS certificate"
    )
    connect_client_cert: str | None = setting(
        None, kinds.readable_file, "PEM client certificate for Connect (mTLS); may hold the key too"
    )
    connect_client_key: str | None = setting(
        None, kinds.readable_file, "PEM private key of --connect-client-cert, if not in that file"
    )
    connect_insecure: bool = setting(False, kinds.boolean, "do not verify Connect's TLS certificate (testing only!)")
    basic_auth_file: str | None = setting(
        None, kinds.readable_file, "file whose first line is user:password (instead of --basic-auth)"
    )
    include_connectors: re.Pattern[str] | None = setting(
        None, kinds.regex, "judge only connectors whose whole name matches this regular expression"
    )
    exclude_connectors: re.Pattern[str] | None = setting(
        None, kinds.regex, "ignore connectors whose whole name matches this (wins over include)"
    )
    unhealthy_after: float = setting(
        0.0, kinds.non_negative_seconds, "seconds a failure must last before it turns / into 503"
    )
    hide_traces: bool = setting(False, kinds.boolean, "leave Connect's stack traces out of responses")
    max_trace_bytes: int = setting(
        DEFAULT_MAX_TRACE_BYTES,
        kinds.trace_bytes,
        "longest stack trace kept per failure, in bytes; a longer one keeps its first lines and its last "
        "'Caused by:' line",
    )
    auto_restart: bool = setting(False, kinds.boolean, "restart FAILED connectors and tasks through Connect's REST API")
    restart_backoff: float = setting(
        10.0, kinds.seconds, "seconds before the 2nd restart of a connector; doubles each time, max 1 h"
    )
    restart_max_attempts: int = setting(
        5, kinds.positive_int, "restarts of one connector before giving up until it recovers"
    )
    state_dir: str | None = setting(
        None,
        kinds.writable_dir,
        "directory for the lock that picks the one process per host that acts (restarts), and its state file; "
        "default $XDG_RUNTIME_DIR, else the system temp directory",
    )
    restart_skip: re.Pattern[str] | None = setting(
        re.compile(DEFAULT_RESTART_SKIP),
        kinds.regex,
        "never auto-restart a FAILED connector or task whose cause or trace matches this regular expression "
        "(empty: restart everything)",
        shown_default="config, authentication and authorization exceptions (README)",
    )
    notify: tuple[NotifyTarget, ...] = setting(
        (),
        kinds.notify_targets,
        "where incidents go: alertmanager+http(s)://host:port, webhook+http(s)://host/path, slack, pagerduty",
        shown_default="none",
    )
    notify_repeat: float = setting(
        60.0, kinds.seconds, "seconds between re-sends of an open incident (Alertmanager, webhooks)"
    )
    notify_webhook_secret_file: str | None = setting(
        None, kinds.readable_file, "file with the key that signs webhook bodies (X-Healthcheck-Signature)"
    )
    notify_slack_url_file: str | None = setting(
        None, kinds.readable_file, "file whose first line is the Slack incoming-webhook URL (a secret)"
    )
    notify_pagerduty_routing_key_file: str | None = setting(
        None, kinds.readable_file, "file whose first line is the PagerDuty Events API v2 routing key"
    )
    notify_pagerduty_url: str = setting(
        "https://events.pagerduty.com/v2/enqueue", kinds.url, "PagerDuty Events API v2 endpoint (proxies, tests)"
    )
    kafka_bootstrap_servers: str | None = setting(
        None, bootstrap_servers, "Kafka brokers (host:port list); turns on the sink progress check (STALLED)"
    )
    kafka_config_file: str | None = setting(
        None, kinds.readable_file, "librdkafka client properties (security.protocol, sasl.*, ssl.*) for Kafka"
    )
    progress_interval: float = setting(30.0, kinds.seconds, "seconds between progress rounds (offsets read)")
    stall_after: float = setting(
        300.0, kinds.seconds, "seconds a connector may make no progress while work waits before it is STALLED"
    )
    expect_progress: re.Pattern[str] | None = setting(
        None, kinds.regex, "source connectors (whole name) that must always make progress (Kafka 3.5+)"
    )
    # Not a setting: the Kafka client properties read from --kafka-config-file (secrets: never shown).
    kafka_config: KafkaConfig | None = field(default=None, init=False, repr=False, compare=False)
    # Not a setting: the credentials in use, from --basic-auth or read from --basic-auth-file.
    credentials: BasicAuth | None = field(default=None, init=False, repr=False, compare=False)
    # Not settings: the notification secrets, read from their files when the target that needs one is used.
    webhook_secret: Secret | None = field(default=None, init=False, repr=False, compare=False)
    slack_url: Secret | None = field(default=None, init=False, repr=False, compare=False)
    pagerduty_routing_key: Secret | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Every rule between settings, in this order; fills the derived values and reads the secret files."""
        derive = partial(object.__setattr__, self)  # frozen: derived values are set once, here
        if self.max_staleness is None:
            derive("max_staleness", 3 * self.poll_interval)
        rules.at_least("max_staleness", self.max_staleness, "poll interval", self.poll_interval)
        rules.check_tls_pairing(
            self.connect_ca_file, self.connect_client_cert, self.connect_client_key, self.connect_insecure
        )
        rules.check_pem(self.connect_ca_file, self.connect_client_cert, self.connect_client_key)
        derive("unhealthy_states", rules.unhealthy_states(self.unhealthy_states, self.progress_enabled))
        rules.at_least("stall_after", self.stall_after, "progress interval", self.progress_interval)
        derive("kafka_config", rules.kafka_config(self.kafka_config_file, self.kafka_bootstrap_servers))
        derive("credentials", rules.credentials(self.basic_auth, self.basic_auth_file))
        for attribute, secret in rules.notify_secrets(self.notify, vars(self)).items():
            derive(attribute, secret)

    @property
    def progress_enabled(self) -> bool:
        """A progress check is on: sinks through Kafka, or sources named by --expect-progress."""
        return self.kafka_bootstrap_servers is not None or self.expect_progress is not None

    @property
    def failure_threshold(self) -> float:
        """The threshold as a fraction, as the original tool reports it (10 % -> 0.1)."""
        return self.failure_threshold_percentage / 100.0

    @property
    def bind(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


OPTIONS: tuple[Option, ...] = tuple(
    Option(f.name, *f.metadata["option"]) for f in fields(Settings) if "option" in f.metadata
)
