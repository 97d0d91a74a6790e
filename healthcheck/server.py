"""Running the app under gunicorn: its settings, the hooks that start polling in each worker, and
an embedded gunicorn for the console script."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.config import KNOWN_SETTINGS

from healthcheck.app import create_app, service_of
from healthcheck.command_line import PROG, load
from healthcheck.settings import Settings, SettingsError

log = logging.getLogger(__name__)

# gunicorn >= 25.1 opens a control socket at $HOME/.gunicorn/gunicorn.ctl by default: one path that several
# instances (a pod's sidecars, tests) would fight over, and an error line where HOME is not writable (the
# container's user has none).
_CONTROL_SOCKET = any(setting.name == "control_socket_disable" for setting in KNOWN_SETTINGS)


def load_or_exit(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings, or one line on stderr and exit status 2: a bad setting stops us before we serve."""
    try:
        return load(argv, environ)
    except SettingsError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    # APScheduler logs every run at INFO and every skipped run at WARNING; our poller says what matters.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    # Tornado logs each malformed request at INFO: that would be a line per bad client, not per change.
    logging.getLogger("tornado").setLevel(logging.WARNING)


def post_worker_init(worker: Any) -> None:
    """gunicorn hook, in each worker after it loaded the app (with or without preload_app)."""
    service_of(worker.wsgi).start()


def worker_exit(server: Any, worker: Any) -> None:
    """gunicorn hook, in the worker as it exits."""
    wsgi = getattr(worker, "wsgi", None)
    if isinstance(wsgi, Flask):
        service_of(wsgi).stop()


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """The gunicorn settings we run with, shared by gunicorn.conf.py and the console script."""
    return {
        "bind": [settings.bind],
        "workers": settings.workers,
        "threads": settings.threads,
        # Tornado reads requests without a thread, so idle and slow clients cannot starve probes; probes are
        # answered on its event loop, the rest in `threads` threads; the poller thread runs beside them.
        "worker_class": "healthcheck.worker.ProbeWorker",
        "timeout": 30,
        "graceful_timeout": 10,  # SIGTERM: finish in-flight probes, then exit 0
        "keepalive": 5,  # > 0: keep connections alive (for at most worker.HEADER_DEADLINE idle seconds)
        "accesslog": None,  # no line per probe
        "loglevel": settings.log_level.lower(),
        "proc_name": "kafka-connect-healthcheck",
        "post_worker_init": post_worker_init,
        "worker_exit": worker_exit,
        # A probe server needs no control socket; an older gunicorn has none (and rejects the setting).
        **({"control_socket_disable": True} if _CONTROL_SOCKET else {}),
    }


class EmbeddedGunicorn(BaseApplication):  # type: ignore[misc]
    """gunicorn run from our own entry point: the app is built in load(), in each worker."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for name, value in gunicorn_options(self.settings).items():
            if name in self.cfg.settings:  # older gunicorn lacks some settings, as a config file ignores them
                self.cfg.set(name, value)

    def load(self) -> Flask:
        return create_app(self.settings)
