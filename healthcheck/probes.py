"""The probe paths (`/`, `/ping`, `/ready`) as a thin WSGI layer that sends prebuilt bytes, ahead of Flask.

Load balancers and kubelets hit these paths many times a second; answering them before Flask's request
context, routing and response objects keeps a probe as cheap as a constant response (see bench/).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from healthcheck import responses
from healthcheck.answers import Answers
from healthcheck.health_json import wants_health_json
from healthcheck.responses import Answer

# Answered from prebuilt bytes in microseconds: the server may answer them on its event loop (worker.py).
PATHS = frozenset({"/", "/ping", "/ready"})


def answered_inline(environ: dict[str, Any]) -> bool:
    """Whether this request is one of those: a probe path. Both representations of `/` and `/ready` (plain
    JSON and health+json) are rendered by the poll (Answers.prebuild), so answering them is sending bytes."""
    return environ.get("PATH_INFO") in PATHS


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

PING = Answer.json(200, {"status": "UP"})


class ProbeRoutes:
    def __init__(self, app: WSGIApp, answers: Answers, clock: Callable[[], float]) -> None:
        self._app = app
        self._answers = answers
        self._clock = clock

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path == "/":
            answer = self._answers.health(self._clock(), wants_health_json(environ.get("HTTP_ACCEPT")))
        elif path == "/ping":
            answer = PING
        elif path == "/ready":
            answer = self._answers.ready(self._clock(), wants_health_json(environ.get("HTTP_ACCEPT")))
        else:
            return self._app(environ, start_response)
        method = environ.get("REQUEST_METHOD")
        answer = responses.for_method(method, answer)
        start_response(answer.status_line, list(answer.headers))
        # HEAD: same status and headers (Content-Length included), no body.
        return [] if method == "HEAD" else [answer.body]
