"""The rules between settings that read files or span a feature: TLS files, the progress check, secrets.

Each rule takes the values it judges and returns what it derives (or raises SettingsError naming the setting);
`Settings.__post_init__` runs them in order, so every construction is checked alike.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping, Sequence

from healthcheck.kafka_config import KafkaConfig, read_properties
from healthcheck.model import STALLED
from healthcheck.setting_types import (
    BasicAuth,
    NotifyTarget,
    Secret,
    SettingsError,
    invalid,
    read_basic_auth_file,
    read_routing_key,
    read_slack_url,
    read_webhook_key,
    where,
)


def at_least(name: str, value: float, minimum_name: str, minimum: float) -> None:
    """One interval that must not be shorter than another (staleness vs polls, stalls vs progress rounds)."""
    if value < minimum:
        raise invalid(name, value, f"must be at least the {minimum_name} ({minimum} s)")


def check_tls_pairing(ca_file: str | None, client_cert: str | None, client_key: str | None, insecure: bool) -> None:
    if client_key and not client_cert:
        raise SettingsError(f"invalid {where('connect_client_key')}: needs --connect-client-cert as well")
    if insecure and ca_file:
        raise SettingsError(
            f"invalid {where('connect_insecure')}: it turns off the verification that "
            f"{where('connect_ca_file')} configures; set one of them"
        )


def check_pem(ca: str | None, cert: str | None, key: str | None) -> None:
    """A CA or client certificate that OpenSSL cannot load stops us now, not at every poll."""
    if not ca and not cert:
        return
    # A bare client context: create_default_context() would also read the system trust store (~40 ms).
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca:
        try:
            context.load_verify_locations(cafile=ca)
        except ssl.SSLError as error:
            raise invalid(
                "connect_ca_file", ca, f"must hold PEM certificates ({error.reason or 'OpenSSL cannot read it'})"
            ) from None
    if cert:
        try:
            # An encrypted key must fail here: OpenSSL would otherwise prompt for its password on a terminal.
            context.load_cert_chain(cert, key, password=lambda: b"")
        except ssl.SSLError as error:
            raise invalid(
                "connect_client_cert",
                cert,
                "must be a PEM certificate with its unencrypted key, in it or in --connect-client-key "
                f"({error.reason or 'OpenSSL cannot read it'})",
            ) from None


def unhealthy_states(states: tuple[str, ...] | None, progress_enabled: bool) -> tuple[str, ...]:
    """The states judged failing: FAILED, plus STALLED by default when a progress check is on (and only then)."""
    if states is None:
        return ("FAILED", STALLED) if progress_enabled else ("FAILED",)
    if STALLED in states and not progress_enabled:
        raise invalid(
            "unhealthy_states",
            ",".join(states),
            f"STALLED needs a progress check: {where('kafka_bootstrap_servers')} or {where('expect_progress')}",
        )
    return states


def kafka_config(config_file: str | None, bootstrap_servers: str | None) -> KafkaConfig | None:
    """The Kafka client properties of --kafka-config-file, which only means something with brokers to read."""
    if config_file is None:
        return None
    if bootstrap_servers is None:
        raise SettingsError(f"invalid {where('kafka_config_file')}: needs {where('kafka_bootstrap_servers')} as well")
    try:
        return read_properties(config_file)
    except ValueError as error:
        raise invalid("kafka_config_file", config_file, str(error)) from None


def credentials(basic_auth: BasicAuth | None, basic_auth_file: str | None) -> BasicAuth | None:
    """The credentials in use, from --basic-auth or read from --basic-auth-file."""
    if basic_auth_file is None:
        return basic_auth
    if basic_auth is not None:
        # Two sources of one secret: refusing beats silently picking one the operator did not mean.
        raise SettingsError(
            f"invalid {where('basic_auth_file')}: {where('basic_auth')} is set too; set only one of them"
        )
    try:
        return read_basic_auth_file(basic_auth_file)
    except ValueError as error:
        raise invalid("basic_auth_file", basic_auth_file, str(error)) from None


# Which target needs which secret: its kind, the setting naming the file, what is read into, how it is read.
_NOTIFY_SECRETS: tuple[tuple[str, str, str, Callable[[str], Secret]], ...] = (
    ("slack", "notify_slack_url_file", "slack_url", read_slack_url),
    ("pagerduty", "notify_pagerduty_routing_key_file", "pagerduty_routing_key", read_routing_key),
    ("webhook", "notify_webhook_secret_file", "webhook_secret", read_webhook_key),
)


def notify_secrets(targets: Sequence[NotifyTarget], settings: Mapping[str, object]) -> dict[str, Secret]:
    """Each used target's secret by the attribute that holds it, read now: a missing or unreadable file stops us
    before serving, not at the first incident. A file for a target that is not in --notify is not read."""
    kinds_used = {target.kind for target in targets}
    secrets: dict[str, Secret] = {}
    for kind, name, attribute, read in _NOTIFY_SECRETS:
        path = settings[name]
        if kind not in kinds_used:
            continue
        if path is None:
            if kind == "webhook":
                continue  # a webhook may go unsigned
            raise SettingsError(f"invalid {where('notify')}: {kind} needs {where(name)}")
        try:
            secrets[attribute] = read(str(path))
        except ValueError as error:
            raise invalid(name, path, str(error)) from None
    return secrets
