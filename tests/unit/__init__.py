"""Unit tests, one file per healthcheck module."""
