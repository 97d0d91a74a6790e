"""The notifier and its targets, built from settings."""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Callable

from healthcheck.actor import ActionStateFile
from healthcheck.notify.alertmanager import Alertmanager
from healthcheck.notify.courier import Courier, Record, Target
from healthcheck.notify.notifier import Notifier
from healthcheck.notify.pagerduty import PagerDuty
from healthcheck.notify.slack import Slack
from healthcheck.notify.webhook import Webhook
from healthcheck.setting_types import NotifyTarget
from healthcheck.settings import Settings
from healthcheck.snapshot import Snapshot


def settle_time(settings: Settings) -> float:
    """How long a thing must stay healthy before its incident resolves: as long as a failure must last to
    count (--unhealthy-after), and at least three polls, so one good poll between failures resolves nothing."""
    return max(settings.unhealthy_after, 3 * settings.poll_interval)


def target_names(targets: tuple[NotifyTarget, ...]) -> list[str]:
    """`alertmanager`, or `alertmanager-1`, `alertmanager-2` when there are several of a kind: the metrics
    label and the name in the log, never the URL (a Slack URL is a secret)."""
    per_kind = Counter(target.kind for target in targets)
    seen: Counter[str] = Counter()
    names = []
    for target in targets:
        seen[target.kind] += 1
        names.append(target.kind if per_kind[target.kind] == 1 else f"{target.kind}-{seen[target.kind]}")
    return names


def build_targets(settings: Settings) -> list[Target]:
    source = socket.gethostname()
    built: list[Target] = []
    for target, name in zip(settings.notify, target_names(settings.notify), strict=True):
        if target.kind == "alertmanager":
            assert target.url is not None
            built.append(Alertmanager(target.url, repeat=settings.notify_repeat, name=name))
        elif target.kind == "webhook":
            assert target.url is not None
            secret = settings.webhook_secret.value.encode() if settings.webhook_secret else None
            built.append(Webhook(target.url, secret=secret, source=source, name=name))
        elif target.kind == "slack":
            assert settings.slack_url is not None  # Settings refuses slack without its URL file
            built.append(Slack(settings.slack_url.value, name=name))
        elif target.kind == "pagerduty":
            assert settings.pagerduty_routing_key is not None
            key = settings.pagerduty_routing_key.value
            built.append(PagerDuty(key, url=settings.notify_pagerduty_url, source=source, name=name))
    return built


def build_notifier(
    settings: Settings,
    *,
    record: Record,
    cluster_id: Callable[[], str | None],
    source: Callable[[], Snapshot | None] | None = None,
    may_act: Callable[[], bool] = lambda: True,
    clock: Callable[[], float] = time.monotonic,
    state: ActionStateFile | None = None,
) -> Notifier:
    return Notifier(
        [Courier(target, record=record) for target in build_targets(settings)],
        repeat=settings.notify_repeat,
        settle=settle_time(settings),
        max_staleness=settings.max_staleness,
        unhealthy_after=settings.unhealthy_after,
        tick=settings.poll_interval,
        cluster_id=cluster_id,
        source=source,
        may_act=may_act,
        clock=clock,
        state=state,
    )
