"""The `kafka-connect-healthcheck` console script."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from healthcheck.server import EmbeddedGunicorn, configure_logging, load_or_exit

log = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    settings = load_or_exit(sys.argv[1:] if argv is None else argv)
    configure_logging(settings)
    log.info(
        "serving on %s with %d worker(s) x %d thread(s); each worker polls %s; judging %s as unhealthy%s",
        settings.bind,
        settings.workers,
        settings.threads,
        settings.connect_url,
        ",".join(settings.unhealthy_states),
        f" on worker {settings.connect_worker_id}" if settings.connect_worker_id else " on all workers",
    )
    if settings.credentials is not None:
        log.info("using basic auth as user '%s'", settings.credentials.username)
    EmbeddedGunicorn(settings).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
