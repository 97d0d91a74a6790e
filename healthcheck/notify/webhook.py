"""A generic webhook: each event as JSON, signed with HMAC-SHA256 when a secret is configured."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace

from healthcheck.notify.http import Outgoing
from healthcheck.notify.incidents import Event

SIGNATURE_HEADER = "X-Healthcheck-Signature"


def signature(secret: bytes, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256 of the exact body bytes, keyed with the secret."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class Webhook:
    """Every event goes out, repeats included: a receiver may use them as a heartbeat of a live incident."""

    kind = "webhook"

    def __init__(self, url: str, *, secret: bytes | None, source: str, name: str = "webhook") -> None:
        self.name = name
        self.url = url
        self._secret = secret
        self._source = source

    def __repr__(self) -> str:
        return f"Webhook(url={self.url!r}, secret={'***' if self._secret else None})"

    def wants(self, event: Event) -> bool:
        return True

    def request(self, event: Event) -> Outgoing:
        incident = event.incident
        doc = {
            "event": event.kind,
            "key": incident.key,
            **incident.details(),
            "summary": incident.summary,
            "at": event.at,
            "previous_state": event.previous.state if event.previous else None,
            "source": self._source,
        }
        outgoing = Outgoing.json(self.url, doc)
        if self._secret is None:
            return outgoing
        return replace(
            outgoing, headers=(*outgoing.headers, (SIGNATURE_HEADER, signature(self._secret, outgoing.body)))
        )

    @staticmethod
    def accepted(status: int) -> bool:
        return 200 <= status < 300
