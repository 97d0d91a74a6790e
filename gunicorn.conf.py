"""gunicorn settings for `gunicorn -c gunicorn.conf.py wsgi:app`, from HEALTHCHECK_* variables.

Read by the gunicorn master, so a bad setting stops it here with exit status 2 before anything serves.
The hooks start the poller inside each worker after fork (never in the master), which also holds with
`preload_app = True`. Any gunicorn setting can still be overridden on the command line.
"""

from healthcheck.server import gunicorn_options, load_or_exit

globals().update(gunicorn_options(load_or_exit(argv=None)))
