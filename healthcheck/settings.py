"""All settings as one frozen object, built once from argv and the environment (flag > env > default).

Each setting is declared once, as a field of `Settings` made by `setting()`: its flag (`--field-name`), its
variable (`HEALTHCHECK_FIELD_NAME`), the parser, the help, the error wording and the README check are all
derived from that declaration. Rules between settings live in `Settings.__post_init__`, so a `Settings(...)`
built directly (tests, the benchmark) is checked exactly like one built from the command line.
"""

from __future__ import annotations

import argparse
import os
import re
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from healthcheck import __version__
from healthcheck import setting_types as kinds
from healthcheck.kafka_config import KafkaConfig, bootstrap_servers, read_properties
from healthcheck.model import CONTAINERS, JUDGED_STATES, STALLED
from healthcheck.restart_rules import DEFAULT_RESTART_SKIP
from healthcheck.setting_types import LOG_LEVELS, BasicAuth, NotifyTarget, Secret
from healthcheck.traces import DEFAULT_MAX_TRACE_BYTES

PROG = "kafka-connect-healthcheck"
ENV_PREFIX = "HEALTHCHECK_"


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message is one line a human can act on."""


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
        return "--" + self.field.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.field.upper()

    @property
    def where(self) -> str:
        return f"{self.flag} ({self.env})"


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
        _check(self)

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
OPTION = {option.field: option for option in OPTIONS}


def _invalid(name: str, value: object, allowed: str) -> SettingsError:
    return SettingsError(f"invalid {OPTION[name].where} value {str(value)!r}: {allowed}")


def _check(settings: Settings) -> None:
    """Every rule between settings, for every construction; reads the basic-auth file into `credentials`."""
    if settings.max_staleness is None:
        object.__setattr__(settings, "max_staleness", 3 * settings.poll_interval)
    if settings.max_staleness < settings.poll_interval:
        raise _invalid(
            "max_staleness",
            settings.max_staleness,
            f"must be at least the poll interval ({settings.poll_interval} s)",
        )
    if settings.connect_client_key and not settings.connect_client_cert:
        raise SettingsError(f"invalid {OPTION['connect_client_key'].where}: needs --connect-client-cert as well")
    if settings.connect_insecure and settings.connect_ca_file:
        raise SettingsError(
            f"invalid {OPTION['connect_insecure'].where}: it turns off the verification that "
            f"{OPTION['connect_ca_file'].where} configures; set one of them"
        )
    _check_pem(settings)
    _check_progress(settings)
    credentials = settings.basic_auth
    if settings.basic_auth_file is not None:
        if credentials is not None:
            # Two sources of one secret: refusing beats silently picking one the operator did not mean.
            raise SettingsError(
                f"invalid {OPTION['basic_auth_file'].where}: {OPTION['basic_auth'].where} is set too; "
                "set only one of them"
            )
        try:
            credentials = kinds.read_basic_auth_file(settings.basic_auth_file)
        except ValueError as error:
            raise _invalid("basic_auth_file", settings.basic_auth_file, str(error)) from None
    object.__setattr__(settings, "credentials", credentials)
    _read_notify_secrets(settings)


def _read_notify_secrets(settings: Settings) -> None:
    """Each target's secret, read now: a missing or unreadable file stops us before serving, not at the
    first incident. A file for a target that is not in --notify is not read."""
    kinds_used = {target.kind for target in settings.notify}
    needs = (
        ("slack", "notify_slack_url_file", "slack_url", kinds.read_slack_url),
        ("pagerduty", "notify_pagerduty_routing_key_file", "pagerduty_routing_key", _routing_key),
        ("webhook", "notify_webhook_secret_file", "webhook_secret", _webhook_key),
    )
    for kind, name, attribute, read in needs:
        path = getattr(settings, name)
        if kind not in kinds_used:
            continue
        if path is None:
            if kind == "webhook":
                continue  # a webhook may go unsigned
            raise SettingsError(f"invalid {OPTION['notify'].where}: {kind} needs {OPTION[name].where}")
        try:
            object.__setattr__(settings, attribute, read(path))
        except ValueError as error:
            raise _invalid(name, path, str(error)) from None


def _routing_key(path: str) -> Secret:
    return kinds.read_secret_line(path, "a PagerDuty routing key")


def _webhook_key(path: str) -> Secret:
    return kinds.read_secret_line(path, "the webhook signing key")


def _check_progress(settings: Settings) -> None:
    """The progress check's settings; reads --kafka-config-file into `kafka_config`."""
    if settings.unhealthy_states is None:
        states = ("FAILED", STALLED) if settings.progress_enabled else ("FAILED",)
        object.__setattr__(settings, "unhealthy_states", states)
    if STALLED in settings.unhealthy_states and not settings.progress_enabled:
        raise _invalid(
            "unhealthy_states",
            ",".join(settings.unhealthy_states),
            f"STALLED needs a progress check: {OPTION['kafka_bootstrap_servers'].where} or "
            f"{OPTION['expect_progress'].where}",
        )
    if settings.stall_after < settings.progress_interval:
        raise _invalid(
            "stall_after",
            settings.stall_after,
            f"must be at least the progress interval ({settings.progress_interval} s)",
        )
    if settings.kafka_config_file is None:
        return
    if settings.kafka_bootstrap_servers is None:
        raise SettingsError(
            f"invalid {OPTION['kafka_config_file'].where}: needs {OPTION['kafka_bootstrap_servers'].where} as well"
        )
    try:
        config = read_properties(settings.kafka_config_file)
    except ValueError as error:
        raise _invalid("kafka_config_file", settings.kafka_config_file, str(error)) from None
    object.__setattr__(settings, "kafka_config", config)


def _check_pem(settings: Settings) -> None:
    """A CA or client certificate that OpenSSL cannot load stops us now, not at every poll."""
    ca, cert, key = settings.connect_ca_file, settings.connect_client_cert, settings.connect_client_key
    if not ca and not cert:
        return
    # A bare client context: create_default_context() would also read the system trust store (~40 ms).
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca:
        try:
            context.load_verify_locations(cafile=ca)
        except ssl.SSLError as error:
            raise _invalid(
                "connect_ca_file", ca, f"must hold PEM certificates ({error.reason or 'OpenSSL cannot read it'})"
            ) from None
    if cert:
        try:
            # An encrypted key must fail here: OpenSSL would otherwise prompt for its password on a terminal.
            context.load_cert_chain(cert, key, password=lambda: b"")
        except ssl.SSLError as error:
            raise _invalid(
                "connect_client_cert",
                cert,
                "must be a PEM certificate with its unencrypted key, in it or in --connect-client-key "
                f"({error.reason or 'OpenSSL cannot read it'})",
            ) from None


def _default_text(option: Option) -> str:
    if option.shown_default is not None:
        return option.shown_default
    value = next(f.default for f in fields(Settings) if f.name == option.field)
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Serve the health of a Kafka Connect cluster as one HTTP answer: 200 healthy, 503 not.",
        epilog="Every flag can also be set by its environment variable; a flag wins over the environment.",
    )
    for option in OPTIONS:
        parser.add_argument(
            option.flag,
            dest=option.field,
            metavar="VALUE",
            default=None,
            # a boolean flag alone means true: `--connect-insecure` is `--connect-insecure true`
            **({"nargs": "?", "const": "true"} if option.convert is kinds.boolean else {}),
            help=f"{option.help} [env {option.env}; default {_default_text(option)}]".replace("%", "%%"),
        )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


_URL_CREDENTIALS = re.compile(r"//[^/@]*@")


def _describe(option: Option, raw: str, from_env: bool) -> str:
    where = f"{option.env} (flag {option.flag})" if from_env else option.where.replace("(", "(env ", 1)
    if option.secret:
        return f"invalid {where}"
    # A URL may carry user:password@ (which we refuse): the error must not repeat it.
    return f"invalid {where} value {_URL_CREDENTIALS.sub('//***@', raw)!r}"


def load(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from argv (None: no flags) and environ (None: os.environ); raise SettingsError.

    argparse's own usage errors (an unknown flag, a flag without a value) exit 2 inside parse_args.
    """
    environ = os.environ if environ is None else environ
    flags = vars(build_parser().parse_args(list(argv or [])))
    values: dict[str, Any] = {}
    for option in OPTIONS:
        raw = flags[option.field]
        from_env = raw is None
        if from_env:
            raw = environ.get(option.env)
        if raw is None:
            continue
        try:
            values[option.field] = option.convert(raw)
        except ValueError as error:
            raise SettingsError(f"{_describe(option, raw, from_env)}: {error}") from None
    return Settings(**values)
