"""What every answer shares: JSON bodies, no caching, nosniff, no server version, 404, 405 and OPTIONS in JSON."""

from __future__ import annotations

import pytest
import requests
from flask.testing import FlaskClient

from tests.fake_connect import FakeConnect
from tests.server_process import CONSOLE_SCRIPT, ServerProcess


@pytest.mark.parametrize("path", ["/", "/ping", "/nope", "/connectors/x/status"])
def test_every_response_is_json_and_never_cached(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert isinstance(response.json, dict)


def test_unknown_path_is_404_json(client: FlaskClient) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json["status"] == 404
    assert response.json["error"] == "Not Found"


@pytest.mark.parametrize("path", ["/", "/ping"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_wrong_method_is_405_json_saying_what_is_allowed(client: FlaskClient, path: str, method: str) -> None:
    response = client.open(path, method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert response.json["status"] == 405
    assert response.headers["Cache-Control"] == "no-store"


SERVED_PATHS = ["/", "/ping", "/ready", "/connectors", "/connectors/x", "/metrics", "/openapi.json", "/status"]


@pytest.mark.parametrize("path", SERVED_PATHS)
def test_options_answers_the_same_json_with_allow_on_every_path(client: FlaskClient, path: str) -> None:
    response = client.options(path)
    assert response.status_code == 200
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.json == {"allow": ["GET", "HEAD", "OPTIONS"]}


@pytest.mark.parametrize("path", SERVED_PATHS)
def test_a_wrong_method_is_the_same_405_on_every_path(client: FlaskClient, path: str) -> None:
    response = client.delete(path)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert response.json == {"error": "Method Not Allowed", "message": "Use GET or HEAD.", "status": 405}


def test_options_on_an_unknown_path_is_404_json(client: FlaskClient) -> None:
    response = client.options("/nope")
    assert response.status_code == 404
    assert response.json["status"] == 404


def test_every_answer_says_nosniff_and_no_server_version(connect: FakeConnect) -> None:
    connect.set_connector("orders-sink", "FAILED")  # so / is 503 whether or not the first poll has ended
    server = ServerProcess(
        [CONSOLE_SCRIPT, "--port", "{port}", "--host", "127.0.0.1", "--poll-interval", "0.2"],
        env={"HEALTHCHECK_CONNECT_URL": connect.url},
    )
    with server, requests.Session() as session:
        answers = {
            f"{method} {path}": session.request(method, server.url + path, timeout=2)
            for method in ("GET", "HEAD", "POST", "DELETE", "OPTIONS")
            for path in ("/", "/ping", "/openapi.json", "/nope", "/ping/")
        }
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert {200, 404, 405, 503} <= set(statuses.values()), statuses
    for name, answer in answers.items():
        assert answer.headers.get("X-Content-Type-Options") == "nosniff", name
        server_header = answer.headers.get("Server", "")
        assert not any(c.isdigit() for c in server_header) and "/" not in server_header, (name, server_header)
