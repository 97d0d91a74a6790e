"""The Kafka client properties file (--kafka-config-file): read, checked by librdkafka, secrets kept hidden."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

# Properties whose values are secrets (librdkafka names): never logged, never shown, scrubbed from errors.
_SECRET_KEY = re.compile(r"password|secret|token|jaas|\.pem$|key\.pem|private", re.IGNORECASE)
# Set by --kafka-bootstrap-servers alone, so the two can never disagree.
_OURS = ("bootstrap.servers",)
_LINE = re.compile(r"([^=:\s]+)\s*[=:]\s*(.*)$")


class KafkaConfig:
    """librdkafka properties from a file. `repr` and `str` show the keys only, never a value."""

    def __init__(self, properties: Mapping[str, str]) -> None:
        self.properties: Mapping[str, str] = MappingProxyType(dict(properties))

    def __repr__(self) -> str:
        return f"KafkaConfig(keys={sorted(self.properties)!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KafkaConfig) and dict(self.properties) == dict(other.properties)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.properties)))

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secret values, longest first (so a secret containing another is scrubbed whole)."""
        values = {v for k, v in self.properties.items() if _SECRET_KEY.search(k) and len(v) >= 3}
        return tuple(sorted(values, key=len, reverse=True))

    def scrub(self, text: str) -> str:
        """`text` with every secret value of this file replaced by ***."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def read_properties(path: str) -> KafkaConfig:
    """`key=value` lines (also `key: value`), `#` or `!` comments, blank lines ignored. The error never quotes
    a line: it may hold a secret."""
    try:
        with open(path, encoding="utf-8") as file:
            lines = file.read().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8"
        raise ValueError(f"must be a readable UTF-8 file of key=value lines ({reason})") from None
    properties: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text[0] in "#!":
            continue
        match = _LINE.match(text)
        if match is None:
            raise ValueError(f"line {number} is not key=value")
        key, value = match.groups()
        if key in _OURS:
            raise ValueError(f"line {number} sets {key}; use --kafka-bootstrap-servers instead")
        properties[key] = value
    config = KafkaConfig(properties)
    problem = librdkafka_rejects(config)
    if problem:
        raise ValueError(f"librdkafka refuses it: {problem}")
    return config


def librdkafka_rejects(config: KafkaConfig) -> str | None:
    """What librdkafka says is wrong with these properties (an unknown name, a bad value), or None.

    A client made without bootstrap servers checks its configuration and never connects."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    try:
        AdminClient({**config.properties, "log_level": 0})
    except (KafkaException, ValueError, TypeError) as error:
        return config.scrub(str(error.args[0].str() if isinstance(error, KafkaException) else error))
    return None


_HOST_PORT = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")


def bootstrap_servers(raw: str) -> str | None:
    """A comma list of host:port, as Kafka clients take it (a scheme such as SASL_SSL:// is allowed)."""
    servers = [s.strip() for s in raw.split(",") if s.strip()]
    if not raw.strip():
        return None
    for server in servers:
        address = server.split("://", 1)[-1]
        match = _HOST_PORT.match(address)
        if match is None or not 1 <= int(match.group(2)) <= 65535:
            raise ValueError("must be a comma list of host:port, e.g. kafka-0:9092,kafka-1:9092")
    return ",".join(servers)
