"""The null app: a Flask endpoint returning a constant ~200-byte JSON, under the healthcheck's gunicorn config.

It is the yardstick for the probe paths: whatever the healthcheck does per probe must cost no more than
Flask answering a constant. Run: `python -m bench.null_app --port PORT [--workers N] [--threads N]`.
"""

from __future__ import annotations

import argparse
from typing import Any

from flask import Flask, Response
from gunicorn.app.base import BaseApplication

from healthcheck.render import to_json_bytes
from healthcheck.server import gunicorn_options
from healthcheck.settings import Settings

BODY = to_json_bytes(
    {
        "failures": [],
        "failure_states": ["FAILED"],
        "failure_rate": 0.0,
        "failure_threshold": 0.0,
        "healthy": True,
        "checked_at": "2026-01-01T00:00:00.000Z",
        "note": "a constant answer, about the size of a probe's",
    }
)


def create_null_app() -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def constant() -> Response:
        return Response(BODY, mimetype="application/json")

    return app


class NullServer(BaseApplication):  # type: ignore[misc]
    """The same gunicorn options as the console script, minus the hooks that start a poller."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        options: dict[str, Any] = gunicorn_options(self.settings)
        del options["post_worker_init"], options["worker_exit"]
        options["proc_name"] = "bench-null-app"
        for name, value in options.items():
            self.cfg.set(name, value)

    def load(self) -> Flask:
        return create_null_app()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=Settings.workers)
    parser.add_argument("--threads", type=int, default=Settings.threads)
    args = parser.parse_args()
    NullServer(Settings(host="127.0.0.1", port=args.port, workers=args.workers, threads=args.threads)).run()


if __name__ == "__main__":
    main()
