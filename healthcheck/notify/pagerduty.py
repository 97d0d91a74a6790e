"""PagerDuty Events API v2: a trigger when an incident opens, a resolve when it closes, one dedup_key each."""

from __future__ import annotations

import hashlib
from typing import Any

from healthcheck.notify.http import Outgoing
from healthcheck.notify.incidents import CONNECT_KEY, Event, Incident

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
CLIENT = "kafka-connect-healthcheck"
MAX_SUMMARY = 1024  # the documented limits
MAX_DEDUP_KEY = 255


def dedup_key(incident: Incident) -> str:
    """Stable for one failing thing in one Connect cluster: the same after a restart of the healthcheck and
    from every healthcheck watching that cluster, so PagerDuty folds them into one alert."""
    key = f"{CLIENT}/{incident.cluster or 'unknown-cluster'}/{incident.key}"
    if len(key) <= MAX_DEDUP_KEY:
        return key
    return f"{CLIENT}/sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class PagerDuty:
    """Repeats are not sent: PagerDuty keeps an alert open until it is resolved, and a trigger per repeat
    would only pile entries onto its log."""

    kind = "pagerduty"

    def __init__(self, routing_key: str, *, url: str = EVENTS_URL, source: str, name: str = "pagerduty") -> None:
        self.name = name
        self.url = url
        self._routing_key = routing_key
        self._source = source

    def __repr__(self) -> str:
        return f"PagerDuty(url={self.url!r}, routing_key='***')"

    def wants(self, event: Event) -> bool:
        return event.kind in ("open", "resolve")

    def request(self, event: Event) -> Outgoing:
        incident = event.incident
        doc: dict[str, Any] = {"routing_key": self._routing_key, "dedup_key": dedup_key(incident)}
        if event.kind == "resolve":
            doc["event_action"] = "resolve"
        else:
            doc["event_action"] = "trigger"
            doc["client"] = CLIENT
            doc["payload"] = {
                "summary": _clip(incident.summary, MAX_SUMMARY),
                # "The unique location of the affected system": the worker that runs it, else this host.
                "source": incident.worker_id or self._source,
                "severity": "critical" if incident.key == CONNECT_KEY else "error",
                "timestamp": event.at,
                "component": incident.connector or "kafka-connect",
                "group": incident.cluster or "unknown-cluster",
                "class": incident.state,
                "custom_details": {**incident.details(), "reported_by": self._source},
            }
        return Outgoing.json(self.url, doc)

    @staticmethod
    def accepted(status: int) -> bool:
        return status == 202
