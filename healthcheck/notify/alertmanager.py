"""Alertmanager (API v2): one alert per incident, re-posted while it fires, posted with endsAt when it resolves."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from healthcheck.notify.http import Outgoing
from healthcheck.notify.incidents import Event, Incident

ALERTNAMES = {
    "connector": "KafkaConnectConnectorUnhealthy",
    "task": "KafkaConnectTaskUnhealthy",
    "connect": "KafkaConnectUnavailable",
}


def labels(incident: Incident) -> dict[str, str]:
    """The alert's identity: Alertmanager deduplicates by the whole label set. An empty value is the same
    as no label, so absent ones are left out."""
    kind = "connect" if incident.connector is None else ("connector" if incident.task is None else "task")
    found = {
        "alertname": ALERTNAMES[kind],
        "connector": incident.connector,
        "task": None if incident.task is None else str(incident.task),
        "state": incident.state,
        "worker_id": incident.worker_id,
        "cluster": incident.cluster,
    }
    return {name: value for name, value in found.items() if value}


def _later(at: str, seconds: float) -> str:
    moment = datetime.fromisoformat(at.replace("Z", "+00:00")) + timedelta(seconds=seconds)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Alertmanager:
    """Every event goes out. A firing alert carries endsAt = now + 4 x repeat (as Prometheus does), so an
    alert whose sender died expires on its own whatever Alertmanager's resolve_timeout is."""

    kind = "alertmanager"

    def __init__(self, base_url: str, *, repeat: float, name: str = "alertmanager") -> None:
        self.name = name
        self.url = base_url.rstrip("/") + "/api/v2/alerts"
        self._expiry = 4 * repeat

    def wants(self, event: Event) -> bool:
        return True

    def request(self, event: Event) -> Outgoing:
        incident = event.incident
        ends_at = event.at if event.kind == "resolve" else _later(event.at, self._expiry)
        alerts = [self._alert(incident, ends_at)]
        if event.previous is not None and labels(event.previous) != labels(incident):
            # The state or worker is a label: the old label set is a different alert, ended now.
            alerts.append(self._alert(event.previous, event.at))
        return Outgoing.json(self.url, alerts)

    @staticmethod
    def _alert(incident: Incident, ends_at: str) -> dict[str, Any]:
        return {
            "labels": labels(incident),
            "annotations": {"summary": incident.summary, "cause": incident.cause, "since": incident.since},
            "startsAt": incident.since,
            "endsAt": ends_at,
        }

    @staticmethod
    def accepted(status: int) -> bool:
        return status == 200
