"""The broker's SASL/PLAIN listener, beside PLAINTEXT: where a Kafka client proves it authenticates.

Everything the broker needs for it lives here, apart from the stack's own properties: one more listener on
its own port (SASL_PLAINTEXT, mechanism PLAIN) with one user, whose password is made per stack so a test can
search logs and answers for it. Connect and inter-broker traffic stay on PLAINTEXT, so the session stack
keeps starting as fast as before; only clients pointed at `bootstrap` must log in.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

LISTENER = "SASL_PLAIN"  # the listener's name in the broker's properties
USERNAME = "healthcheck"
_LOGIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule"


def _new_password() -> str:
    return "pw-" + secrets.token_hex(12)


@dataclass(frozen=True, slots=True)
class SaslPlainListener:
    port: int
    username: str = USERNAME
    password: str = field(default_factory=_new_password, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def broker_properties(self, plaintext: dict[str, object]) -> dict[str, object]:
        """`plaintext` (the stack's broker properties) with this listener added."""
        prefix = f"listener.name.{LISTENER.lower()}"
        jaas = f'{_LOGIN_MODULE} required user_{self.username}="{self.password}";'
        address = f"{LISTENER}://127.0.0.1:{self.port}"
        protocols = f"{plaintext['listener.security.protocol.map']},{LISTENER}:SASL_PLAINTEXT"
        return {
            **plaintext,
            "listeners": f"{plaintext['listeners']},{address}",
            "advertised.listeners": f"{plaintext['advertised.listeners']},{address}",
            "listener.security.protocol.map": protocols,
            "sasl.enabled.mechanisms": "PLAIN",
            f"{prefix}.sasl.enabled.mechanisms": "PLAIN",
            f"{prefix}.plain.sasl.jaas.config": jaas,
        }

    def client_properties(self, password: str | None = None) -> str:
        """A librdkafka properties file's text that logs in as our user (with `password` instead, if given)."""
        return (
            "# the test broker's SASL/PLAIN listener\n"
            "security.protocol=SASL_PLAINTEXT\n"
            "sasl.mechanism=PLAIN\n"
            f"sasl.username={self.username}\n"
            f"sasl.password={self.password if password is None else password}\n"
        )
