"""TLS to Connect, credentials, and secrets that never leak."""
