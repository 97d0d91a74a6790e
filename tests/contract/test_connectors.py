"""GET /connectors and /connectors/<name>: every connector's states, and one connector's own health."""

from __future__ import annotations

from healthcheck.service import Service
from tests.conftest import client_for
from tests.fake_connect import FakeConnect, Fault, task


def test_per_connector_health(connect: FakeConnect, service: Service) -> None:
    client = client_for(service)
    connect.set_connector("ok", tasks=[task(0), task(1)])
    connect.set_connector("bad", tasks=[task(0), task(1, "FAILED", trace="boom")])
    service.poller.poll_once()
    ok = client.get("/connectors/ok")
    assert ok.status_code == 200
    assert ok.json["healthy"] is True
    assert ok.json["failures"] == []
    assert [t["state"] for t in ok.json["tasks"]] == ["RUNNING", "RUNNING"]
    bad = client.get("/connectors/bad")
    assert bad.status_code == 503
    assert [(f["type"], f["id"], f["trace"]) for f in bad.json["failures"]] == [("task", 1, "boom")]
    missing = client.get("/connectors/nope")
    assert missing.status_code == 404
    assert "nope" in missing.json["message"]
    listing = client.get("/connectors")
    assert listing.status_code == 200
    assert [
        (c["name"], c["state"], c["healthy"], [t["state"] for t in c["tasks"]]) for c in listing.json["connectors"]
    ] == [
        ("bad", "RUNNING", False, ["RUNNING", "FAILED"]),
        ("ok", "RUNNING", True, ["RUNNING", "RUNNING"]),
    ]


def test_per_connector_health_follows_the_snapshot(connect: FakeConnect, service: Service) -> None:
    client = client_for(service)
    connect.set_connector("x", tasks=[task(0, "FAILED")])
    service.poller.poll_once()
    assert client.get("/connectors/x").status_code == 503
    connect.set_connector("x")
    service.poller.poll_once()
    assert client.get("/connectors/x").status_code == 200
    connect.delete_connector("x")
    service.poller.poll_once()
    assert client.get("/connectors/x").status_code == 404


def test_per_connector_endpoints_say_when_connect_is_unreadable(connect: FakeConnect, service: Service) -> None:
    client = client_for(service)
    with connect.faulty(Fault(status=500)):
        service.poller.poll_once()
    for path in ("/connectors", "/connectors/x"):
        response = client.get(path)
        assert response.status_code == 503
        assert "HTTP 500" in response.json["error"]
