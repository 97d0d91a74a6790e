"""All settings as one frozen object, built once from argv and the environment (flag > env > default)."""

from __future__ import annotations

import argparse
import math
import os
import re
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from healthcheck import __version__
from healthcheck.model import CONTAINERS, STATES

PROG = "kafka-connect-healthcheck"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message is one line a human can act on."""


@dataclass(frozen=True)
class BasicAuth:
    """Credentials for Connect; the password never appears in repr, str or logs."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password='***')"

    __str__ = __repr__


@dataclass(frozen=True)
class Settings:
    host: str = "0.0.0.0"
    port: int = 18083
    connect_url: str = "http://localhost:8083"
    connect_worker_id: str | None = None
    unhealthy_states: tuple[str, ...] = ("FAILED",)
    considered_containers: tuple[str, ...] = ("CONNECTOR", "TASK")
    failure_threshold_percentage: float = 0.0
    basic_auth: BasicAuth | None = None
    log_level: str = "INFO"
    poll_interval: float = 5.0
    max_staleness: float = 15.0
    request_timeout: float = 5.0
    workers: int = 1
    threads: int = 4
    max_response_bytes: int = 64 * 1024 * 1024
    connect_ca_file: str | None = None
    connect_client_cert: str | None = None
    connect_client_key: str | None = None
    connect_insecure: bool = False
    basic_auth_file: str | None = None  # read once by load(), into basic_auth
    include_connectors: re.Pattern[str] | None = None
    exclude_connectors: re.Pattern[str] | None = None
    unhealthy_after: float = 0.0
    hide_traces: bool = False
    auto_restart: bool = False
    restart_backoff: float = 10.0
    restart_max_attempts: int = 5

    @property
    def failure_threshold(self) -> float:
        """The threshold as a fraction, as the original tool reports it (10 % -> 0.1)."""
        return self.failure_threshold_percentage / 100.0

    @property
    def bind(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


# --- converters: each takes the raw string and returns the typed value or raises ValueError(what is allowed)


def _whole_number(raw: str) -> int | None:
    text = raw.strip()
    return int(text) if text.isascii() and text.isdigit() else None  # "²".isdigit() is True, int("²") fails


def _port(raw: str) -> int:
    value = _whole_number(raw)
    if value is None or not 1 <= value <= 65535:
        raise ValueError("must be an integer from 1 to 65535")
    return value


def _positive_int(raw: str) -> int:
    value = _whole_number(raw)
    if value is None or value < 1:
        raise ValueError("must be a whole number of at least 1")
    return value


def _number_within(ok: Callable[[float], bool], allowed: str) -> Callable[[str], float]:
    def convert(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and ok(value)):
            raise ValueError(allowed)
        return value

    return convert


_seconds = _number_within(lambda v: v > 0, "must be a number of seconds greater than 0 (fractions allowed)")
_non_negative_seconds = _number_within(lambda v: v >= 0, "must be a number of seconds, 0 or more")
_percentage = _number_within(lambda v: 0 <= v <= 100, "must be a number from 0 to 100")


def _url(raw: str) -> str:
    try:
        parts = urlsplit(raw.strip())
    except ValueError:  # e.g. an unclosed IPv6 bracket
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host, e.g. http://localhost:8083")
    if parts.username or parts.password:
        # Credentials in a URL end up in logs and error messages; they have their own setting.
        raise ValueError("must not contain credentials; use --basic-auth instead")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or fragment")
    try:
        parts.port  # noqa: B018 - raises on a port outside 0..65535
    except ValueError:
        raise ValueError("has an invalid port") from None
    return raw.strip().rstrip("/")


def _choices(allowed: Sequence[str]) -> Callable[[str], tuple[str, ...]]:
    def convert(raw: str) -> tuple[str, ...]:
        items = [item.strip().upper() for item in raw.split(",") if item.strip()]
        bad = [item for item in items if item not in allowed]
        if bad or not items:
            raise ValueError(f"must be a comma-separated list of {', '.join(allowed)}")
        return tuple(dict.fromkeys(items))  # keep the user's order, drop repeats

    return convert


def _log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
    return level


def _host(raw: str) -> str:
    if not raw.strip() or any(c.isspace() for c in raw.strip()):
        raise ValueError("must be a host name or IP address to listen on, e.g. 0.0.0.0")
    return raw.strip()


def _worker_id(raw: str) -> str | None:
    return raw.strip() or None


def _basic_auth(raw: str) -> BasicAuth | None:
    if raw == "":
        return None
    username, sep, password = raw.partition(":")  # the password itself may contain ':'
    if not sep or not username:
        raise ValueError("must be user:password")
    return BasicAuth(username, password)


def _regex(raw: str) -> re.Pattern[str] | None:
    if raw == "":
        return None
    try:
        return re.compile(raw)
    except re.error as error:
        raise ValueError(f"must be a valid regular expression ({error})") from None


def _boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise ValueError("must be one of true, false, 1, 0, yes, no")


def _readable_file(raw: str) -> str | None:
    path = raw.strip()
    if not path:
        return None
    try:
        with open(path, "rb"):
            pass
    except OSError as error:
        raise ValueError(f"must be a readable file ({error.strerror or error})") from None
    return path


def _read_basic_auth_file(path: str) -> BasicAuth:
    """The credentials on the first line; the error never quotes the file, which holds a secret."""
    try:
        with open(path, "rb") as file:
            first = file.readline().decode("utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError):
        raise ValueError("must be a readable UTF-8 file whose first line is user:password") from None
    username, sep, password = first.partition(":")  # the password itself may contain ':'
    if not sep or not username:
        raise ValueError("first line must be user:password")
    return BasicAuth(username, password)


@dataclass(frozen=True)
class Option:
    field: str
    convert: Callable[[str], Any]
    help: str
    secret: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.field.replace("_", "-")

    @property
    def env(self) -> str:
        return "HEALTHCHECK_" + self.field.upper()


OPTIONS: tuple[Option, ...] = (
    Option("host", _host, "address to listen on"),
    Option("port", _port, "port to listen on"),
    Option("connect_url", _url, "base URL of the Kafka Connect REST API"),
    Option("connect_worker_id", _worker_id, "only judge connectors and tasks on this worker"),
    Option("unhealthy_states", _choices(STATES), f"comma list of states that count as failing ({', '.join(STATES)})"),
    Option("considered_containers", _choices(CONTAINERS), "comma list of what is judged: CONNECTOR, TASK"),
    Option("failure_threshold_percentage", _percentage, "healthy while failing/considered is at most this %"),
    Option("basic_auth", _basic_auth, "user:password for Connect's basic auth", secret=True),
    Option("log_level", _log_level, f"one of {', '.join(LOG_LEVELS)}"),
    Option("poll_interval", _seconds, "seconds between polls of Connect"),
    Option("max_staleness", _seconds, "answer 503 when the last poll is older than this many seconds"),
    Option("request_timeout", _seconds, "seconds allowed for each request to Connect"),
    Option("workers", _positive_int, "gunicorn worker processes; each one polls Connect"),
    Option("threads", _positive_int, "threads per worker process"),
    Option("max_response_bytes", _positive_int, "largest Connect response read, in bytes; a larger one is an error"),
    Option("connect_ca_file", _readable_file, "PEM file of the CA(s) that sign Connect's TLS certificate"),
    Option("connect_client_cert", _readable_file, "PEM client certificate for Connect (mTLS); may hold the key too"),
    Option("connect_client_key", _readable_file, "PEM private key of --connect-client-cert, if not in that file"),
    Option("connect_insecure", _boolean, "do not verify Connect's TLS certificate (testing only!)"),
    Option("basic_auth_file", _readable_file, "file whose first line is user:password (instead of --basic-auth)"),
    Option("include_connectors", _regex, "judge only connectors whose whole name matches this regular expression"),
    Option("exclude_connectors", _regex, "ignore connectors whose whole name matches this (wins over include)"),
    Option("unhealthy_after", _non_negative_seconds, "seconds a failure must last before it turns / into 503"),
    Option("hide_traces", _boolean, "leave Connect's stack traces out of responses"),
    Option("auto_restart", _boolean, "restart FAILED connectors and tasks through Connect's REST API"),
    Option("restart_backoff", _seconds, "seconds before the 2nd restart of a connector; doubles each time, max 1 h"),
    Option("restart_max_attempts", _positive_int, "restarts of one connector before giving up until it recovers"),
)

_DEFAULTS = Settings()


def _default_text(option: Option) -> str:
    if option.field == "max_staleness":
        return "3 x poll interval"
    value = getattr(_DEFAULTS, option.field)
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
            **({"nargs": "?", "const": "true"} if option.convert is _boolean else {}),
            help=f"{option.help} [env {option.env}; default {_default_text(option)}]".replace("%", "%%"),
        )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


_URL_CREDENTIALS = re.compile(r"//[^/@]*@")


def _describe(option: Option, raw: str, from_env: bool) -> str:
    where = f"{option.env} (flag {option.flag})" if from_env else f"{option.flag} (env {option.env})"
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
    values.setdefault("max_staleness", 3 * values.get("poll_interval", _DEFAULTS.poll_interval))
    _check_tls_and_credentials(values)
    settings = Settings(**values)
    if settings.max_staleness < settings.poll_interval:
        raise SettingsError(
            f"invalid --max-staleness (HEALTHCHECK_MAX_STALENESS) value {str(settings.max_staleness)!r}: "
            f"must be at least the poll interval ({settings.poll_interval} s)"
        )
    return settings


def _check_tls_and_credentials(values: dict[str, Any]) -> None:
    """Settings that only make sense together; reads the basic-auth file into `basic_auth`."""
    if values.get("connect_client_key") and not values.get("connect_client_cert"):
        raise SettingsError(
            "invalid --connect-client-key (HEALTHCHECK_CONNECT_CLIENT_KEY): needs --connect-client-cert as well"
        )
    if values.get("connect_insecure") and values.get("connect_ca_file"):
        raise SettingsError(
            "invalid --connect-insecure (HEALTHCHECK_CONNECT_INSECURE): it turns off the verification "
            "that --connect-ca-file (HEALTHCHECK_CONNECT_CA_FILE) configures; set one of them"
        )
    _check_pem(values)
    path = values.get("basic_auth_file")
    if path is None:
        return
    if values.get("basic_auth") is not None:
        # Two sources of one secret: refusing beats silently picking one the operator did not mean.
        raise SettingsError(
            "invalid --basic-auth-file (HEALTHCHECK_BASIC_AUTH_FILE): --basic-auth (HEALTHCHECK_BASIC_AUTH) "
            "is set too; set only one of them"
        )
    try:
        values["basic_auth"] = _read_basic_auth_file(path)
    except ValueError as error:
        where = "--basic-auth-file (HEALTHCHECK_BASIC_AUTH_FILE)"
        raise SettingsError(f"invalid {where} value {path!r}: {error}") from None


def _check_pem(values: dict[str, Any]) -> None:
    """A CA or client certificate that OpenSSL cannot load stops us now, not at every poll."""
    ca, cert, key = values.get("connect_ca_file"), values.get("connect_client_cert"), values.get("connect_client_key")
    if not ca and not cert:
        return
    # A bare client context: create_default_context() would also read the system trust store (~40 ms).
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca:
        try:
            context.load_verify_locations(cafile=ca)
        except ssl.SSLError as error:
            raise SettingsError(
                f"invalid --connect-ca-file (HEALTHCHECK_CONNECT_CA_FILE) value {ca!r}: "
                f"must hold PEM certificates ({error.reason or 'OpenSSL cannot read it'})"
            ) from None
    if cert:
        try:
            # An encrypted key must fail here: OpenSSL would otherwise prompt for its password on a terminal.
            context.load_cert_chain(cert, key, password=lambda: b"")
        except ssl.SSLError as error:
            raise SettingsError(
                f"invalid --connect-client-cert (HEALTHCHECK_CONNECT_CLIENT_CERT) value {cert!r}: must be a PEM "
                "certificate with its unencrypted key, in it or in --connect-client-key "
                f"({error.reason or 'OpenSSL cannot read it'})"
            ) from None
