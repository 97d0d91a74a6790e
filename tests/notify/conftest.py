"""Fixtures for the notification tests: receivers on free ports (HTTP and HTTPS), a real Alertmanager."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.notify.alertmanager_process import AlertmanagerProcess
from tests.notify.receiver import Receiver
from tests.security.pki import Pki, make_pki


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A plain-HTTP receiver answering 200 unless scripted otherwise."""
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A throwaway CA and a server certificate for 127.0.0.1."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def tls_receiver(pki: Pki) -> Iterator[Receiver]:
    """An HTTPS receiver whose certificate the test CA (pki.ca) signed."""
    server = Receiver(ssl_context=pki.server_context()).start()
    yield server
    server.stop()


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[AlertmanagerProcess]:
    """A real Alertmanager on 127.0.0.1, ready to take alerts."""
    process = AlertmanagerProcess(tmp_path)
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()
