"""What PagerDuty, Slack and a webhook receive over HTTPS, checked against their documented formats."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

import jsonschema
import pytest

from healthcheck.notify.courier import Courier
from healthcheck.notify.pagerduty import PagerDuty
from healthcheck.notify.slack import Slack
from healthcheck.notify.webhook import Webhook
from healthcheck.service import Service
from healthcheck.settings import Settings
from tests.conftest import FakeClock
from tests.fake_connect import FakeConnect, task
from tests.notify.events import driven_notifier, event
from tests.notify.receiver import Answer, Received, Receiver
from tests.notify.schemas import PAGERDUTY_RESOLVE, PAGERDUTY_TRIGGER, SLACK_MESSAGE, WEBHOOK_EVENT
from tests.security.pki import Pki
from tests.waiting import wait_until

SECRET = b"s3cret-hmac-key"
ROUTING_KEY = "R0UT1NGKEY0123456789abcdef012345"
TRACE = "org.apache.kafka.connect.errors.ConnectException: x\nCaused by: java.lang.Error: <!channel> & friends\n"


def verify_signature(secret: bytes, body: bytes, header: str) -> bool:
    """What a receiver does: recompute the HMAC of the raw body and compare in constant time."""
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


@pytest.fixture
def trusted(monkeypatch: pytest.MonkeyPatch, pki: Pki) -> None:
    """Trust the test CA the way an operator would: REQUESTS_CA_BUNDLE."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.ca))


@pytest.mark.usefixtures("trusted")
def test_an_incident_reaches_pagerduty_slack_and_a_webhook_in_their_formats(
    tls_receiver: Receiver,
    connect: FakeConnect,
    settings: Settings,
    make_service: Callable[..., Service],
    clock: FakeClock,
) -> None:
    tls_receiver.by_path["/v2/enqueue"] = Answer(202, b'{"status":"success","message":"Event processed"}')
    base = tls_receiver.url
    targets = [
        PagerDuty(ROUTING_KEY, url=base + "/v2/enqueue", source="hc-host"),
        Slack(base + "/services/T0/B0/secret"),
        Webhook(base + "/hook", secret=SECRET, source="hc-host"),
    ]
    results: list[tuple[str, str, str]] = []
    notifier = driven_notifier(targets, clock, results, settle=0, cluster="lkc-1")
    service = make_service(settings)
    try:
        connect.set_connector("orders-sink", tasks=[task(0, "FAILED", "10.0.0.7:8083", TRACE)])
        notifier.consume(service.poller.poll_once())
        notifier.evaluate()
        clock.advance(60)
        notifier.consume(service.poller.poll_once())
        notifier.evaluate()  # a repeat: for Alertmanager and webhooks only
        connect.set_connector("orders-sink", tasks=[task(0)])
        notifier.consume(service.poller.poll_once())
        notifier.evaluate()
        wait_until(lambda: len(results) == 7, what="every delivery")
    finally:
        notifier.stop()
    assert sorted(r for r in results if r[2] != "sent") == []

    by_path: dict[str, list[Received]] = {}
    for request in tls_receiver.received:
        by_path.setdefault(request.path, []).append(request)

    trigger, resolve = (r.json() for r in by_path["/v2/enqueue"])
    jsonschema.validate(trigger, PAGERDUTY_TRIGGER)
    jsonschema.validate(resolve, PAGERDUTY_RESOLVE)
    assert trigger["routing_key"] == ROUTING_KEY and trigger["dedup_key"] == resolve["dedup_key"]
    assert (
        trigger["payload"]["summary"]
        == "connector 'orders-sink' task 0 is FAILED: java.lang.Error: <!channel> & friends"
    )
    assert trigger["payload"]["custom_details"]["worker_id"] == "10.0.0.7:8083"
    assert trigger["payload"]["custom_details"]["since"]

    opened, resolved = (r.json() for r in by_path["/services/T0/B0/secret"])
    for message in (opened, resolved):
        jsonschema.validate(message, SLACK_MESSAGE)
    assert "<!channel>" not in str(opened["blocks"]) and "&lt;!channel&gt;" in str(opened["blocks"])
    assert "orders-sink" in opened["text"] and resolved["text"].startswith("Resolved: ")

    hooks = by_path["/hook"]
    assert [h.json()["event"] for h in hooks] == ["open", "repeat", "resolve"]
    for hook in hooks:
        jsonschema.validate(hook.json(), WEBHOOK_EVENT)
        assert verify_signature(SECRET, hook.body, hook.headers["X-Healthcheck-Signature"])
        assert not verify_signature(b"another key", hook.body, hook.headers["X-Healthcheck-Signature"])
    first = hooks[0].json()
    assert (first["key"], first["connector"], first["task"], first["cluster"]) == (
        "task:orders-sink:0",
        "orders-sink",
        0,
        "lkc-1",
    )


def test_a_webhook_without_a_secret_is_not_signed(receiver: Receiver) -> None:
    assert Courier(Webhook(receiver.url, secret=None, source="h")).deliver(event(), sleep=lambda s: False)
    assert "X-Healthcheck-Signature" not in receiver.received[0].headers
