"""The service as users run it: the console script and gunicorn as processes."""
