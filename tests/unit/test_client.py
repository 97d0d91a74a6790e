"""The Connect client: basic auth sent, and the password never shown."""

from __future__ import annotations

from healthcheck.app import create_app
from healthcheck.settings import BasicAuth, Settings
from tests.conftest import poll_and_get
from tests.fake_connect import FakeConnect


def test_basic_auth_is_sent_and_the_password_never_shows(make_service, clock) -> None:
    connect = FakeConnect(auth=("admin", "s3cr3t:pw")).start()
    try:
        connect.set_connector("x")
        good = make_service(Settings(connect_url=connect.url, basic_auth=BasicAuth("admin", "s3cr3t:pw")))
        client = create_app(good.settings, good).test_client()
        assert poll_and_get(good, client).status_code == 200
        wrong = make_service(Settings(connect_url=connect.url, basic_auth=BasicAuth("admin", "nope-pw")))
        client = create_app(wrong.settings, wrong).test_client()
        response = poll_and_get(wrong, client)
        assert response.status_code == 503
        assert "HTTP 401" in response.json["error"]
        assert b"nope-pw" not in response.data
        assert "nope-pw" not in repr(wrong.settings)
    finally:
        connect.stop()
