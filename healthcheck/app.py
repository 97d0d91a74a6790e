"""The Flask application factory used by the console script, wsgi.py and the tests alike."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from importlib import resources

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from healthcheck import __version__, responses
from healthcheck.health_json import wants_health_json
from healthcheck.probes import ProbeRoutes
from healthcheck.render import to_json_bytes
from healthcheck.responses import Answer
from healthcheck.service import Service
from healthcheck.settings import Settings
from healthcheck.status_page import PageContext, StatusPage

log = logging.getLogger(__name__)

EXTENSION = "healthcheck"


def openapi_document() -> bytes:
    """Our OpenAPI description. openapi.yaml is written in JSON, which is valid YAML: no YAML parser needed."""
    doc = json.loads(resources.files("healthcheck").joinpath("openapi.yaml").read_bytes())
    doc["info"]["version"] = __version__
    return to_json_bytes(doc)


def create_app(settings: Settings, service: Service | None = None) -> Flask:
    """Build the app around one Service. Polling starts only when `service.start()` is called."""
    service = service if service is not None else Service(settings)
    app = Flask(__name__)
    app.extensions[EXTENSION] = service

    openapi = Answer(200, openapi_document())

    # Each route answers GET, HEAD and OPTIONS itself (responses.for_method), as the probe layer does;
    # any other method is Flask's 405, which http_error turns into the same JSON.
    read_only = {"methods": ["GET", "OPTIONS"], "provide_automatic_options": False}

    @app.route("/openapi.json", **read_only)
    def openapi_json() -> Response:
        return send(openapi)

    @app.route("/metrics", **read_only)
    def prometheus_metrics() -> Response:
        return send(service.answers.metrics(service.clock()))

    @app.route("/connectors", **read_only)
    def connectors() -> Response:
        return send(service.answers.connectors(service.clock()))

    @app.route("/connectors/<path:name>", **read_only)
    def connector(name: str) -> Response:
        as_health_json = wants_health_json(request.headers.get("Accept"))
        return send(service.answers.connector(name, service.clock(), as_health_json))

    status_page = StatusPage(
        service.store,
        PageContext(settings.connect_url, settings.connect_worker_id, settings.poll_interval, settings.max_staleness),
    )

    @app.route("/status", **read_only)
    def status() -> Response:
        return send(status_page.answer(service.clock()))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        if error.code == 405:
            return as_response(responses.METHOD_NOT_ALLOWED)
        code = error.code or 500
        return as_response(responses.error(code, error.description or HTTPStatus(code).phrase))

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> Response:
        log.exception("unexpected error while answering a request")
        return as_response(responses.INTERNAL_ERROR)

    app.wsgi_app = ProbeRoutes(app.wsgi_app, service.answers, service.clock)  # type: ignore[method-assign]
    return app


def send(answer: Answer) -> Response:
    """What a route sends for this request's method, when `answer` is its GET answer."""
    return as_response(responses.for_method(request.method, answer))


def as_response(answer: Answer) -> Response:
    """A Flask response with exactly the answer's status, headers and body (werkzeug drops the body for HEAD)."""
    response = Response(answer.body, status=answer.status)
    response.headers.clear()
    response.headers.extend(answer.headers)
    return response


def service_of(app: Flask) -> Service:
    return app.extensions[EXTENSION]
