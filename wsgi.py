"""WSGI entry point for an external gunicorn: `gunicorn -c gunicorn.conf.py wsgi:app`.

Settings come from HEALTHCHECK_* environment variables only; gunicorn's own argv is gunicorn's.
"""

from healthcheck.app import create_app
from healthcheck.server import configure_logging, load_or_exit

settings = load_or_exit(argv=None)
configure_logging(settings)
app = create_app(settings)
