"""Slack incoming webhook: one message when an incident opens, one when it resolves, short enough for a phone."""

from __future__ import annotations

from datetime import datetime

from healthcheck.notify.http import Outgoing
from healthcheck.notify.incidents import Event

MAX_HEADER = 150  # Block Kit: a header's plain_text
MAX_SECTION = 3000  # Block Kit: a section's text


def escape(text: str) -> str:
    """Slack reads &, < and > as markup (`<!channel>` would ping everyone): a trace must not."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _lasted(since: str, until: str) -> str:
    try:
        seconds = (
            datetime.fromisoformat(until.replace("Z", "+00:00")) - datetime.fromisoformat(since.replace("Z", "+00:00"))
        ).total_seconds()
    except ValueError:
        return "a while"
    minutes, _ = divmod(int(max(seconds, 0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min" if minutes else "under a minute"


class Slack:
    kind = "slack"

    def __init__(self, webhook_url: str, *, name: str = "slack") -> None:
        self.name = name
        self.url = webhook_url  # a secret: it is never logged (delivery logs the target's name only)

    def __repr__(self) -> str:
        return "Slack(url='***')"

    def wants(self, event: Event) -> bool:
        return event.kind in ("open", "resolve")

    def request(self, event: Event) -> Outgoing:
        incident = event.incident
        if event.kind == "resolve":
            headline = f"Resolved: {incident.subject}"
            text = f"Was {incident.state} for {_lasted(incident.since, event.at)}."
            icon = ":large_green_circle:"
        else:
            headline = f"{incident.subject} is {incident.state}"
            text = f"*Cause:* {escape(incident.cause)}"
            icon = ":red_circle:"
        context = " · ".join(
            part
            for part in (
                f"worker {incident.worker_id}" if incident.worker_id else "",
                f"cluster {incident.cluster}" if incident.cluster else "",
                f"since {incident.since}",
            )
            if part
        )
        doc = {
            "text": f"{headline}. {text}".replace("*", ""),  # the notification preview: plain text
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": _clip(f"{icon} {headline}", MAX_HEADER)}},
                {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, MAX_SECTION)}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(context)}]},
            ],
        }
        return Outgoing.json(self.url, doc)

    @staticmethod
    def accepted(status: int) -> bool:
        return status == 200
