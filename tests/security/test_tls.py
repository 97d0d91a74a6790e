"""TLS to Connect: our CA, another host's certificate, mTLS, insecure mode, in a Service and the console script."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from urllib3.exceptions import InsecureRequestWarning

from healthcheck.command_line import load
from healthcheck.service import Service
from healthcheck.settings import SettingsError
from tests.fake_connect import FakeConnect
from tests.security.conftest import poll_status
from tests.security.pki import Pki
from tests.server_process import CONSOLE_SCRIPT, ServerProcess
from tests.waiting import wait_until


def test_tls_connect_is_verified_against_the_configured_ca(
    tls_connect: FakeConnect, pki: Pki, service_from: Callable[..., Service]
) -> None:
    service = service_from("--connect-url", tls_connect.url, "--connect-ca-file", str(pki.ca))
    assert poll_status(service)[0] == 200


def test_without_the_ca_tls_fails_as_a_clear_connection_error(
    tls_connect: FakeConnect, service_from: Callable[..., Service]
) -> None:
    status, body = poll_status(service_from("--connect-url", tls_connect.url))
    assert status == 503
    assert body["reason"] == "connection"
    assert body["error"] == (
        f"GET /connectors?expand=status&expand=info: TLS with {tls_connect.url} failed: "
        "[SSL: CERTIFICATE_VERIFY_FAILED] "
        "certificate verify failed: unable to get local issuer certificate; "
        "is --connect-ca-file the CA that signed Connect's certificate?"
    )


def test_a_certificate_for_another_host_is_refused(
    tls_connect: FakeConnect, pki: Pki, service_from: Callable[..., Service]
) -> None:
    url = tls_connect.url.replace("127.0.0.1", "localhost")  # the same server, by a name its certificate lacks
    status, body = poll_status(service_from("--connect-url", url, "--connect-ca-file", str(pki.ca)))
    assert status == 503
    assert "Hostname mismatch, certificate is not valid for 'localhost'" in body["error"]


@pytest.mark.parametrize("how", ["cert-and-key", "bundle"])
def test_mtls_with_a_client_certificate(
    mtls_connect: FakeConnect, pki: Pki, service_from: Callable[..., Service], how: str
) -> None:
    flags = ["--connect-url", mtls_connect.url, "--connect-ca-file", str(pki.ca)]
    if how == "bundle":
        flags += ["--connect-client-cert", str(pki.client_bundle)]
    else:
        flags += ["--connect-client-cert", str(pki.client_cert), "--connect-client-key", str(pki.client_key)]
    assert poll_status(service_from(*flags))[0] == 200


def test_mtls_without_a_client_certificate_says_what_is_missing(
    mtls_connect: FakeConnect, pki: Pki, service_from: Callable[..., Service]
) -> None:
    status, body = poll_status(service_from("--connect-url", mtls_connect.url, "--connect-ca-file", str(pki.ca)))
    assert (status, body["reason"]) == (503, "connection")
    assert body["error"].endswith("does Connect require a client certificate (--connect-client-cert)?")


def test_insecure_mode_works_warns_loudly_once_and_does_not_spam_warnings(
    tls_connect: FakeConnect, service_from: Callable[..., Service], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="healthcheck")
    filters = list(warnings.filters)
    service = service_from("--connect-url", tls_connect.url, "--connect-insecure")
    assert warnings.filters == filters  # building a service changes nothing process-wide
    with warnings.catch_warnings():
        service.start()  # the serving process silences urllib3's per-request warning when it starts
        assert any(f[2] is InsecureRequestWarning and f[0] == "ignore" for f in warnings.filters)
        statuses = [poll_status(service)[0] for _ in range(3)]
    assert statuses == [200, 200, 200]
    loud = [r for r in caplog.records if r.levelno == logging.WARNING and "INSECURE" in r.getMessage()]
    assert len(loud) == 1
    assert "is NOT verified (--connect-insecure)" in loud[0].getMessage()


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--connect-ca-file", "/nonexistent/ca.pem"], "must be a readable file (No such file or directory)"),
        (["--connect-client-cert", "/"], "must be a readable file (Is a directory)"),
        (["--connect-ca-file", "{not_pem}"], "must hold PEM certificates"),
        (["--connect-client-cert", "{ca}"], "must be a PEM certificate with its unencrypted key"),
        (["--connect-client-key", "{ca}"], "needs --connect-client-cert as well"),
        (["--connect-client-cert", "{cert}", "--connect-client-key", "{server_key}"], "(KEY_VALUES_MISMATCH)"),
        (["--connect-client-cert", "{cert}", "--connect-client-key", "{encrypted_key}"], "its unencrypted key"),
        (["--connect-insecure", "--connect-ca-file", "{ca}"], "set one of them"),
        (["--connect-insecure=maybe"], "must be one of true, false, 1, 0, yes, no"),
    ],
)
def test_bad_tls_settings_stop_the_start_with_one_line(pki: Pki, tmp_path: Path, flags: list[str], words: str) -> None:
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    encrypted_key = tmp_path / "encrypted.key"  # must fail at once, not make OpenSSL prompt for a password
    key = serialization.load_pem_private_key(pki.client_key.read_bytes(), None)
    encrypted_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
        )
    )
    files = {"ca": pki.ca, "cert": pki.client_cert, "server_key": pki.server_key, "encrypted_key": encrypted_key}
    argv = [flag.format(not_pem=not_pem, **files) for flag in flags]
    with pytest.raises(SettingsError) as raised:
        load(argv, {})
    assert words in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(("raw", "expected"), [("YES", True), ("1", True), ("true", True), ("No", False), ("0", False)])
def test_connect_insecure_reads_the_usual_spellings_from_the_environment(raw: str, expected: bool) -> None:
    assert load([], {"HEALTHCHECK_CONNECT_INSECURE": raw}).connect_insecure is expected


def test_tls_through_the_console_script(tls_connect: FakeConnect, pki: Pki) -> None:
    server = ServerProcess(
        [CONSOLE_SCRIPT, "--port", "{port}", "--host", "127.0.0.1", "--poll-interval", "0.2"],
        env={"HEALTHCHECK_CONNECT_URL": tls_connect.url, "HEALTHCHECK_CONNECT_CA_FILE": str(pki.ca)},
    )
    with server:
        wait_until(lambda: server.get("/").status_code == 200, what="a healthy answer over TLS")


def test_insecure_console_script_warns_at_start_and_never_per_poll(tls_connect: FakeConnect) -> None:
    server = ServerProcess(
        [CONSOLE_SCRIPT, "--port", "{port}", "--host", "127.0.0.1", "--poll-interval", "0.1", "--connect-insecure"],
        env={"HEALTHCHECK_CONNECT_URL": tls_connect.url},
    )
    with server:
        wait_until(lambda: tls_connect.request_count() >= 5, what="a few polls")
        assert server.get("/").status_code == 200
        log = server.log()
    assert log.count("INSECURE: the TLS certificate of Connect") == 1
    assert "InsecureRequestWarning" not in log and "Unverified HTTPS" not in log
