"""Notifications: incidents that open and close, sent to Alertmanager, PagerDuty, Slack and webhooks."""
