"""The receivers' documented request formats, as JSON Schema, for checking what we send.

PagerDuty Events API v2 "Send an Alert Event" (developer.pagerduty.com, events-API-v2/02-Trigger-Events);
Slack incoming webhooks with Block Kit (api.slack.com/messaging/webhooks, /reference/block-kit/blocks);
our webhook's documented body (README, "Notifications")."""

from __future__ import annotations

from typing import Any

_ISO = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$"}

PAGERDUTY_TRIGGER: dict[str, Any] = {
    "type": "object",
    "required": ["routing_key", "event_action", "dedup_key", "payload"],
    "properties": {
        "routing_key": {"type": "string", "minLength": 1},
        "event_action": {"const": "trigger"},
        "dedup_key": {"type": "string", "minLength": 1, "maxLength": 255},
        "client": {"type": "string"},
        "payload": {
            "type": "object",
            "required": ["summary", "source", "severity"],
            "properties": {
                "summary": {"type": "string", "minLength": 1, "maxLength": 1024},
                "source": {"type": "string", "minLength": 1},
                "severity": {"enum": ["critical", "error", "warning", "info"]},
                "timestamp": _ISO,
                "component": {"type": "string"},
                "group": {"type": "string"},
                "class": {"type": "string"},
                "custom_details": {"type": "object"},
            },
        },
    },
}

PAGERDUTY_RESOLVE: dict[str, Any] = {
    "type": "object",
    "required": ["routing_key", "event_action", "dedup_key"],
    "properties": {
        "routing_key": {"type": "string", "minLength": 1},
        "event_action": {"const": "resolve"},
        "dedup_key": {"type": "string", "minLength": 1, "maxLength": 255},
    },
}

_TEXT = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {"type": {"enum": ["plain_text", "mrkdwn"]}, "text": {"type": "string", "minLength": 1}},
}

SLACK_MESSAGE: dict[str, Any] = {
    "type": "object",
    "required": ["text", "blocks"],
    "properties": {
        "text": {"type": "string", "minLength": 1},  # the fallback shown in phone notifications
        "blocks": {
            "type": "array",
            "maxItems": 50,
            "items": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["type", "text"],
                        "properties": {
                            "type": {"const": "header"},
                            "text": {
                                "type": "object",
                                "properties": {
                                    "type": {"const": "plain_text"},
                                    "text": {"type": "string", "maxLength": 150},
                                },
                            },
                        },
                    },
                    {
                        "type": "object",
                        "required": ["type", "text"],
                        "properties": {
                            "type": {"const": "section"},
                            "text": {**_TEXT, "properties": {**_TEXT["properties"], "text": {"maxLength": 3000}}},
                        },
                    },
                    {
                        "type": "object",
                        "required": ["type", "elements"],
                        "properties": {
                            "type": {"const": "context"},
                            "elements": {"type": "array", "maxItems": 10, "items": _TEXT},
                        },
                    },
                ]
            },
        },
    },
}

WEBHOOK_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["event", "key", "connector", "task", "state", "worker_id", "since", "cause"],
    "properties": {
        "event": {"enum": ["open", "repeat", "resolve"]},
        "key": {"type": "string", "minLength": 1},
        "connector": {"type": ["string", "null"]},
        "task": {"type": ["integer", "null"]},
        "state": {"type": "string"},
        "worker_id": {"type": ["string", "null"]},
        "since": _ISO,
        "cause": {"type": "string"},
        "cluster": {"type": ["string", "null"]},
        "at": _ISO,
    },
}
