"""The running service notifies: a connector fails, the webhook and a real Alertmanager hear of it, it
recovers, both hear that too; deliveries are counted in /metrics. Real clock, real scheduler, real sockets."""

from __future__ import annotations

import re
from pathlib import Path

from healthcheck.app import create_app
from healthcheck.service import Service
from healthcheck.setting_types import NotifyTarget
from healthcheck.settings import Settings
from tests.fake_connect import FakeConnect, task
from tests.notify.alertmanager_process import AlertmanagerProcess
from tests.notify.receiver import Receiver
from tests.notify.test_payloads import verify_signature
from tests.waiting import wait_until


def test_a_failure_and_its_recovery_reach_every_target_and_are_counted(
    connect: FakeConnect, receiver: Receiver, alertmanager: AlertmanagerProcess, tmp_path: Path
) -> None:
    key = tmp_path / "hmac"
    key.write_text("k3y\n")
    settings = Settings(
        connect_url=connect.url,
        request_timeout=1.0,
        poll_interval=0.2,
        notify=(NotifyTarget("webhook", receiver.url + "/kc"), NotifyTarget("alertmanager", alertmanager.url)),
        notify_webhook_secret_file=str(key),
    )
    connect.set_connector("orders", tasks=[task(0, "FAILED", trace="Caused by: java.io.IOException: disk full")])
    service = Service(settings)
    service.start()
    try:
        opened = wait_until(lambda: [b for b in receiver.bodies() if b["event"] == "open"], what="the open")
        assert opened[0]["key"] == "task:orders:0" and opened[0]["cluster"] == "fake-cluster"
        assert opened[0]["cause"] == "java.io.IOException: disk full"
        request = receiver.received[0]
        assert verify_signature(b"k3y", request.body, request.headers["X-Healthcheck-Signature"])
        wait_until(lambda: alertmanager.alerts(active="true"), what="the alert in Alertmanager")

        connect.set_connector("orders", tasks=[task(0)])
        wait_until(lambda: any(b["event"] == "resolve" for b in receiver.bodies()), what="the resolve")
        wait_until(lambda: not alertmanager.alerts(active="true"), what="the alert to resolve")

        client = create_app(settings, service).test_client()

        def counted() -> bool:
            text = client.get("/metrics").get_data(as_text=True)
            sent = re.findall(r'notifications_total\{event="(\w+)",result="sent",target="(\w+)"\} 1\.0', text)
            return {("open", "webhook"), ("resolve", "webhook"), ("open", "alertmanager")} <= set(sent)

        wait_until(counted, what="the deliveries in /metrics")
    finally:
        service.stop()
