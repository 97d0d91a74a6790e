"""Shared fixtures: a fake Connect on a free port, settings pointing at it, and the app around them; a fake clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from healthcheck.app import create_app
from healthcheck.service import Service
from healthcheck.settings import Settings
from tests.fake_connect import FakeConnect


class FakeClock:
    """A monotonic clock that moves only when a test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def client_for(service: Service) -> FlaskClient:
    """A test client of the Flask app around `service` (for a service a test built itself)."""
    return create_app(service.settings, service).test_client()


def poll_and_get(service: Service, client: FlaskClient, path: str = "/") -> TestResponse:
    """One poll, then the answer to GET `path`."""
    service.poller.poll_once()
    return client.get(path)


@pytest.fixture
def connect() -> Iterator[FakeConnect]:
    """A fake Connect with no connectors, serving on 127.0.0.1 on a free port."""
    fake = FakeConnect().start()
    yield fake
    fake.stop()


@pytest.fixture
def settings(connect: FakeConnect, tmp_path: Path) -> Settings:
    """Default settings, pointed at the fake, with a short request timeout and the actor lock in tmp_path."""
    return Settings(connect_url=connect.url, request_timeout=1.0, state_dir=str(tmp_path))


@pytest.fixture
def clock() -> FakeClock:
    """The clock the service measures staleness with."""
    return FakeClock()


@pytest.fixture
def make_service(clock: FakeClock) -> Iterator[Callable[..., Service]]:
    """Build a Service from settings (with overrides); stopped at the end of the test."""
    services: list[Service] = []

    def make(settings: Settings, **overrides: object) -> Service:
        service = Service(replace(settings, **overrides), clock=clock)
        services.append(service)
        return service

    yield make
    for service in services:
        service.stop()


@pytest.fixture
def service(settings: Settings, make_service: Callable[..., Service]) -> Service:
    """A Service on default settings; nothing polls until a test calls service.poller.poll_once()."""
    return make_service(settings)


@pytest.fixture
def app(service: Service) -> Flask:
    """The Flask app around `service`."""
    return create_app(service.settings, service)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for `app`."""
    return app.test_client()
