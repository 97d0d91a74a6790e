"""The types of settings: a converter per kind of value, from the raw text of a flag or variable.

Each converter returns the typed value or raises ValueError saying what is allowed; the error that names the
flag, the variable and the value around that message (SettingsError, `invalid`) is made here too.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from healthcheck.traces import MIN_TRACE_BYTES

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
ENV_PREFIX = "HEALTHCHECK_"


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message is one line a human can act on."""


# --- a setting's names, derived from its field's name: `connect_url` is --connect-url (HEALTHCHECK_CONNECT_URL)


def flag_of(name: str) -> str:
    return "--" + name.replace("_", "-")


def env_of(name: str) -> str:
    return ENV_PREFIX + name.upper()


def where(name: str) -> str:
    return f"{flag_of(name)} ({env_of(name)})"


def invalid(name: str, value: object, allowed: str) -> SettingsError:
    return SettingsError(f"invalid {where(name)} value {str(value)!r}: {allowed}")


@dataclass(frozen=True)
class BasicAuth:
    """Credentials for Connect; the password never appears in repr, str or logs."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password='***')"

    __str__ = __repr__


# --- converters: each takes the raw string and returns the typed value or raises ValueError(what is allowed)


def _whole_number(raw: str) -> int | None:
    text = raw.strip()
    return int(text) if text.isascii() and text.isdigit() else None  # "²".isdigit() is True, int("²") fails


def port(raw: str) -> int:
    value = _whole_number(raw)
    if value is None or not 1 <= value <= 65535:
        raise ValueError("must be an integer from 1 to 65535")
    return value


def positive_int(raw: str) -> int:
    value = _whole_number(raw)
    if value is None or value < 1:
        raise ValueError("must be a whole number of at least 1")
    return value


def trace_bytes(raw: str) -> int:
    value = _whole_number(raw)
    if value is None or value < MIN_TRACE_BYTES:
        raise ValueError(f"must be a whole number of bytes, at least {MIN_TRACE_BYTES}")
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


seconds = _number_within(lambda v: v > 0, "must be a number of seconds greater than 0 (fractions allowed)")
non_negative_seconds = _number_within(lambda v: v >= 0, "must be a number of seconds, 0 or more")
percentage = _number_within(lambda v: 0 <= v <= 100, "must be a number from 0 to 100")


def url(raw: str) -> str:
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


def choices(allowed: Sequence[str]) -> Callable[[str], tuple[str, ...]]:
    def convert(raw: str) -> tuple[str, ...]:
        items = [item.strip().upper() for item in raw.split(",") if item.strip()]
        bad = [item for item in items if item not in allowed]
        if bad or not items:
            raise ValueError(f"must be a comma-separated list of {', '.join(allowed)}")
        return tuple(dict.fromkeys(items))  # keep the user's order, drop repeats

    return convert


def log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
    return level


def host(raw: str) -> str:
    if not raw.strip() or any(c.isspace() for c in raw.strip()):
        raise ValueError("must be a host name or IP address to listen on, e.g. 0.0.0.0")
    return raw.strip()


def worker_id(raw: str) -> str | None:
    return raw.strip() or None


def user_password(text: str, what: str) -> BasicAuth:
    username, sep, password = text.partition(":")  # the password itself may contain ':'
    if not sep or not username:
        raise ValueError(f"{what}must be user:password")
    return BasicAuth(username, password)


def basic_auth(raw: str) -> BasicAuth | None:
    return None if raw == "" else user_password(raw, "")


def regex(raw: str) -> re.Pattern[str] | None:
    if raw == "":
        return None
    try:
        return re.compile(raw)
    except re.error as error:
        raise ValueError(f"must be a valid regular expression ({error})") from None


def boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise ValueError("must be one of true, false, 1, 0, yes, no")


def readable_file(raw: str) -> str | None:
    path = raw.strip()
    if not path:
        return None
    try:
        with open(path, "rb"):
            pass
    except OSError as error:
        raise ValueError(f"must be a readable file ({error.strerror or error})") from None
    return path


def writable_dir(raw: str) -> str | None:
    path = raw.strip()
    if not path:
        return None
    if not os.path.isdir(path):
        raise ValueError("must be an existing directory")
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError("must be a directory this user can write to")
    return path


def read_basic_auth_file(path: str) -> BasicAuth:
    """The credentials on the first line; the error never quotes the file, which holds a secret."""
    try:
        with open(path, "rb") as file:
            first = file.readline().decode("utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError):
        raise ValueError("must be a readable UTF-8 file whose first line is user:password") from None
    return user_password(first, "first line ")


# --- notifications


@dataclass(frozen=True)
class NotifyTarget:
    """One entry of --notify: a kind, and for alertmanager/webhook the URL to post to."""

    kind: str  # alertmanager, webhook, slack, pagerduty
    url: str | None = None


NOTIFY_ALLOWED = (
    "must be a comma-separated list of alertmanager+http(s)://host:port, webhook+http(s)://host/path, slack, pagerduty"
)


def _target_url(raw: str) -> str:
    """A receiver's URL: no credentials or query in it (they would show in `ps`); secrets go in files."""
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises on a port outside 0..65535
    except ValueError:
        raise ValueError("a target URL has an invalid port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(NOTIFY_ALLOWED)
    if parts.username or parts.password:
        raise ValueError("a target URL must not contain credentials (they would show in ps and logs)")
    if parts.query or parts.fragment:
        raise ValueError("a target URL must not have a query or fragment (secrets go in --notify-*-file settings)")
    return raw.rstrip("/") if parts.path in ("", "/") else raw


def notify_targets(raw: str) -> tuple[NotifyTarget, ...]:
    targets: list[NotifyTarget] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        kind, plus, rest = item.partition("+")
        if not plus and kind.lower() in ("slack", "pagerduty"):
            targets.append(NotifyTarget(kind.lower()))
        elif plus and kind.lower() in ("alertmanager", "webhook"):
            targets.append(NotifyTarget(kind.lower(), _target_url(rest)))
        else:
            raise ValueError(NOTIFY_ALLOWED)
    return tuple(dict.fromkeys(targets))  # keep the user's order, drop repeats


class Secret:
    """A value read from a secret file; repr, str and logs show only the file's path."""

    __slots__ = ("path", "value")

    def __init__(self, path: str, value: str) -> None:
        self.path = path
        self.value = value

    def __repr__(self) -> str:
        return f"Secret(path={self.path!r}, value='***')"

    __str__ = __repr__


def read_secret_line(path: str, what: str) -> Secret:
    """The first line of a secret file, stripped; the error never quotes the file's content."""
    try:
        with open(path, "rb") as file:
            first = file.readline(64 * 1024).decode("utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not UTF-8 text"
        raise ValueError(f"must be a readable file holding {what} ({reason})") from None
    if not first:
        raise ValueError(f"must hold {what} on its first line; the file is empty")
    return Secret(path, first)


def read_routing_key(path: str) -> Secret:
    return read_secret_line(path, "a PagerDuty routing key")


def read_webhook_key(path: str) -> Secret:
    return read_secret_line(path, "the webhook signing key")


def read_slack_url(path: str) -> Secret:
    secret = read_secret_line(path, "a Slack incoming-webhook URL")
    parts = urlsplit(secret.value)
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        raise ValueError("must hold an https:// Slack incoming-webhook URL on its first line")  # not quoted: a secret
    return secret
