"""The Flask application factory used by the console script, wsgi.py and the tests alike."""

from __future__ import annotations

import logging

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from healthcheck.probes import ProbeRoutes
from healthcheck.render import to_json_bytes
from healthcheck.service import Service
from healthcheck.settings import Settings
from healthcheck.snapshot import COMMON_HEADERS

log = logging.getLogger(__name__)

EXTENSION = "healthcheck"


def json_response(doc: object, status: int) -> Response:
    return Response(to_json_bytes(doc), status=status, mimetype="application/json")


def create_app(settings: Settings, service: Service | None = None) -> Flask:
    """Build the app around one Service. Polling starts only when `service.start()` is called."""
    service = service if service is not None else Service(settings)
    app = Flask(__name__)
    app.extensions[EXTENSION] = service

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
