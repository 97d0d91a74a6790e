"""The Flask application factory used by the console script, wsgi.py and the tests alike."""

from __future__ import annotations

import json
import logging
from importlib import resources

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from healthcheck import __version__
from healthcheck.probes import ProbeRoutes
from healthcheck.render import to_json_bytes
from healthcheck.service import Service
from healthcheck.settings import Settings
from healthcheck.snapshot import COMMON_HEADERS, Answer

log = logging.getLogger(__name__)

EXTENSION = "healthcheck"


def json_response(doc: object, status: int) -> Response:
    return Response(to_json_bytes(doc), status=status, mimetype="application/json")


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
    openapi = openapi_document()

    @app.get("/openapi.json", provide_automatic_options=False)
    def openapi_json() -> Response:
        return Response(openapi, mimetype="application/json")

    def send(answer: Answer) -> Response:
        response = Response(answer.body, status=answer.status)
        response.headers.clear()
        response.headers.extend(answer.headers)
        return response

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        return send(service.answers.metrics(service.clock()))

    @app.get("/connectors")
    def connectors() -> Response:
        return send(service.answers.connectors(service.clock()))

    @app.get("/connectors/<path:name>")
    def connector(name: str) -> Response:
        return send(service.answers.connector(name, service.clock()))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        response = json_response(
            {"error": error.name, "message": error.description, "status": error.code}, error.code or 500
        )
        for name, value in error.get_headers():
            if name == "Allow":  # a 405 says what is allowed
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> Response:
        log.exception("unexpected error while answering a request")
        return json_response({"error": "Internal Server Error", "message": "See the server log.", "status": 500}, 500)

    @app.after_request
    def common_headers(response: Response) -> Response:
        for name, value in COMMON_HEADERS:
            if name != "Content-Type":
                response.headers[name] = value
        return response

    app.wsgi_app = ProbeRoutes(app.wsgi_app, service.answers, service.clock)  # type: ignore[method-assign]
    return app


def service_of(app: Flask) -> Service:
    return app.extensions[EXTENSION]
