"""Shared by the security tests: a PKI, fake Connects over TLS and with basic auth, a credentials file."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from healthcheck.app import create_app
from healthcheck.command_line import load
from healthcheck.service import Service
from tests.fake_connect import FakeConnect
from tests.security.pki import Pki, make_pki

USER = "healthcheck"
PASSWORD = "n0t-in-any-Log:or:answer"  # colons: the password itself may hold them
SECRETS = (PASSWORD, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())
TOKEN = "an-API-token-with-no-colon"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made for this module."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(autouse=True)
def env_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    """REQUESTS_CA_BUNDLE set to the public CAs, as on many hosts: it must not override what we configure."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", requests.certs.where())


@pytest.fixture
def tls_connect(pki: Pki) -> Iterator[FakeConnect]:
    """A fake Connect over HTTPS, its certificate signed by `pki`'s CA, with one running connector."""
    fake = FakeConnect(ssl_context=pki.server_context()).start()
    fake.set_connector("orders-sink")
    yield fake
    fake.stop()


@pytest.fixture
def mtls_connect(pki: Pki) -> Iterator[FakeConnect]:
    """As `tls_connect`, but Connect demands a client certificate signed by the same CA."""
    fake = FakeConnect(ssl_context=pki.server_context(require_client_cert=True)).start()
    fake.set_connector("orders-sink")
    yield fake
    fake.stop()


@pytest.fixture
def secured_connect() -> Iterator[FakeConnect]:
    """A fake Connect that wants basic auth as USER:PASSWORD."""
    fake = FakeConnect(auth=(USER, PASSWORD)).start()
    fake.set_connector("orders-sink")
    yield fake
    fake.stop()


@pytest.fixture
def credentials_file(tmp_path: Path) -> Path:
    """A basic-auth file as a Kubernetes secret mounts it: first line user:password."""
    path = tmp_path / "connect-credentials"
    path.write_text(f"{USER}:{PASSWORD}\n")
    return path


@pytest.fixture
def service_from(make_service: Callable[..., Service]) -> Callable[..., Service]:
    """Build a Service from command-line flags, as the console script does; stopped at the end of the test."""

    def build(*flags: str) -> Service:
        return make_service(load(list(flags), {}))

    return build


def poll_status(service: Service) -> tuple[int, dict]:
    service.poller.poll_once()
    answer = create_app(service.settings, service).test_client().get("/")
    return answer.status_code, answer.get_json()
