"""Delivery against real receivers: retries on no answer, 5xx and 429 (Retry-After), none on other 4xx; a
deadline on every call; failures logged once and counted; one target down never holds up another."""

from __future__ import annotations

import logging
import time

import pytest

from healthcheck.notify.courier import Courier, http_send
from healthcheck.notify.slack import Slack
from healthcheck.notify.webhook import Webhook
from tests.notify.events import event
from tests.notify.receiver import Answer, Receiver
from tests.security.pki import Pki
from tests.server_process import free_port
from tests.waiting import wait_until

Results = list[tuple[str, str, str]]


class Sleeps:
    """The courier's wait between attempts, recorded instead of slept."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> bool:
        self.delays.append(seconds)
        return False


def _courier(url: str, results: Results, **options: object) -> Courier:
    target = Webhook(url + "/hook", secret=None, source="test-host")
    return Courier(target, record=lambda *r: results.append(r), jitter=lambda: 1.0, **options)  # type: ignore[arg-type]


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_5xx_is_retried_with_exponential_backoff_until_accepted(receiver: Receiver) -> None:
    receiver.script(Answer(500), Answer(503), Answer(502))
    results: Results = []
    sleeps = Sleeps()
    assert _courier(receiver.url, results).deliver(event(), sleep=sleeps)
    assert len(receiver.received) == 4
    assert sleeps.delays == [1.0, 2.0, 4.0]
    assert results == [("webhook", "open", "sent")]


def test_429_waits_as_long_as_retry_after_says(receiver: Receiver) -> None:
    receiver.script(Answer(429, headers=(("Retry-After", "7"),)))
    sleeps = Sleeps()
    assert _courier(receiver.url, []).deliver(event(), sleep=sleeps)
    assert sleeps.delays == [7.0]
    assert len(receiver.received) == 2


def test_another_4xx_is_not_retried_and_is_logged_once(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    receiver.default = Answer(400, b'{"error": "bad payload"}')
    results: Results = []
    sleeps = Sleeps()
    assert not _courier(receiver.url, results).deliver(event("resolve"), sleep=sleeps)
    assert len(receiver.received) == 1 and sleeps.delays == []
    assert results == [("webhook", "resolve", "failed")]
    errors = _errors(caplog)
    assert len(errors) == 1 and "webhook" in errors[0] and "HTTP 400" in errors[0]


def test_a_receiver_that_is_down_is_retried_then_counted_failed_once(caplog: pytest.LogCaptureFixture) -> None:
    results: Results = []
    sleeps = Sleeps()
    courier = _courier(f"http://127.0.0.1:{free_port()}", results, max_attempts=3)
    assert not courier.deliver(event(), sleep=sleeps)
    assert len(sleeps.delays) == 2
    assert results == [("webhook", "open", "failed")]
    errors = _errors(caplog)
    assert len(errors) == 1 and "Connection refused" in errors[0]


def test_a_slow_receiver_is_cut_off_at_the_whole_request_deadline(receiver: Receiver) -> None:
    # Each byte arrives well within any per-read timeout; only a deadline on the whole call ends it.
    receiver.default = Answer(200, drip=0.2)
    results: Results = []
    started = time.monotonic()
    assert not _courier(receiver.url, results, timeout=1.0, max_attempts=1).deliver(event(), sleep=Sleeps())
    assert time.monotonic() - started < 4.0  # the drip alone would take over 10 s
    assert results == [("webhook", "open", "failed")]


def test_an_untrusted_certificate_is_not_retried_and_says_why(
    tls_receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    sleeps = Sleeps()
    courier = _courier(tls_receiver.url, [])  # system CAs only: the test CA is unknown
    assert not courier.deliver(event(), sleep=sleeps)
    assert sleeps.delays == [] and tls_receiver.received == []
    errors = _errors(caplog)
    assert len(errors) == 1 and "CERTIFICATE_VERIFY_FAILED" in errors[0]


def test_a_receiver_signed_by_a_trusted_ca_gets_the_event(tls_receiver: Receiver, pki: Pki) -> None:
    courier = _courier(tls_receiver.url, [], send=http_send(verify=str(pki.ca)))
    assert courier.deliver(event(), sleep=Sleeps())
    assert [r.json()["event"] for r in tls_receiver.received] == ["open"]


def test_the_slack_url_is_a_secret_and_stays_out_of_the_log(caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{free_port()}/services/T000/B000/XXXXSECRETXXXX"
    courier = Courier(Slack(url), max_attempts=1)
    assert not courier.deliver(event(), sleep=Sleeps())
    assert _errors(caplog) and "SECRET" not in caplog.text and "/services" not in caplog.text


def test_a_target_that_hangs_never_holds_up_another(receiver: Receiver) -> None:
    hanging = Receiver(default=Answer(200, delay=30)).start()
    results: Results = []
    slow = _courier(hanging.url, results, timeout=20)
    fast = Courier(Webhook(receiver.url, secret=None, source="h", name="fast"), record=lambda *r: results.append(r))
    try:
        slow.start()
        fast.start()
        for courier in (slow, fast):
            courier.offer(event("open"))
            courier.offer(event("resolve"))
        wait_until(lambda: len(receiver.received) == 2, timeout=5, what="the healthy target's two events")
        assert [r.json()["event"] for r in receiver.received] == ["open", "resolve"]
        assert slow.pending() == 2  # still stuck on its first call, its second event waiting behind it
    finally:
        slow.stop()
        fast.stop()
        hanging.stop()


def test_a_full_queue_drops_its_oldest_event_and_counts_it(caplog: pytest.LogCaptureFixture) -> None:
    results: Results = []
    courier = _courier("http://127.0.0.1:9", results, queue_limit=2)  # never started: the queue only fills
    for kind in ("open", "repeat", "repeat", "resolve"):
        courier.offer(event(kind))
    assert courier.pending() == 2
    assert results == [("webhook", "open", "dropped"), ("webhook", "repeat", "dropped")]
    assert len(_errors(caplog)) == 1
