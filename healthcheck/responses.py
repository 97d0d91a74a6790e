"""The HTTP conventions every answer follows: the Answer type, JSON errors, Allow, OPTIONS, nosniff, no-store.

Both the probe layer (probes.py) and Flask (app.py) answer through these, so a path answers a wrong method,
an OPTIONS or an unknown name the same way wherever it is served.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from healthcheck import health_json
from healthcheck.render import to_json_bytes
from healthcheck.verdict import FAIL

JSON = "application/json"
# The paths that answer plain JSON or health+json by the Accept header say so, for any cache on the way.
VARY_ACCEPT = (("Vary", "Accept"),)
# Every answer: never cached (it says what is true now), never content-sniffed into something else.
COMMON_HEADERS = (("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"))
ALLOWED_METHODS = ("GET", "HEAD", "OPTIONS")  # every path we serve is read-only
ALLOW = ", ".join(ALLOWED_METHODS)


class Answer:
    """A complete HTTP answer, headers included, built once so a probe only has to send it."""

    __slots__ = ("body", "headers", "status", "status_line")

    def __init__(
        self,
        status: int,
        body: bytes,
        extra_headers: tuple[tuple[str, str], ...] = (),
        content_type: str = JSON,
    ) -> None:
        self.status = status
        self.body = body
        self.status_line = f"{status} {HTTPStatus(status).phrase}"
        self.headers = [
            ("Content-Type", content_type),
            *COMMON_HEADERS,
            *extra_headers,
            ("Content-Length", str(len(body))),
        ]

    @classmethod
    def json(cls, status: int, doc: Any, extra_headers: tuple[tuple[str, str], ...] = ()) -> Answer:
        return cls(status, to_json_bytes(doc), extra_headers)

    @classmethod
    def health_json(cls, doc: dict[str, Any]) -> Answer:
        """An application/health+json answer: 503 for fail, 200 for pass and warn (the draft's 2xx)."""
        status = 503 if doc["status"] == FAIL else 200
        return cls(status, to_json_bytes(doc), VARY_ACCEPT, content_type=health_json.CONTENT_TYPE)


def error(status: int, message: str, extra_headers: tuple[tuple[str, str], ...] = ()) -> Answer:
    """The JSON error body every path uses: {"error": <reason phrase>, "message": ..., "status": ...}."""
    doc = {"error": HTTPStatus(status).phrase, "message": message, "status": status}
    return Answer.json(status, doc, extra_headers)


METHOD_NOT_ALLOWED = error(405, f"Use {' or '.join(ALLOWED_METHODS[:2])}.", (("Allow", ALLOW),))
# OPTIONS on any path we serve: what it allows, in the header (RFC 9110) and, as every answer here, in JSON.
OPTIONS = Answer.json(200, {"allow": list(ALLOWED_METHODS)}, (("Allow", ALLOW),))
INTERNAL_ERROR = error(500, "See the server log.")


def for_method(method: str | None, answer: Answer) -> Answer:
    """What to send for `method` on a path we serve whose GET answer is `answer`.

    HEAD sends GET's status and headers (Content-Length included) without the body: the server's part."""
    if method in ("GET", "HEAD"):
        return answer
    if method == "OPTIONS":
        return OPTIONS
    return METHOD_NOT_ALLOWED
