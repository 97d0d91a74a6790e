"""TLS to Connect (our CA, mTLS, insecure mode), credentials from a file, secrets that never leak into an
answer or a log line, and the headers every answer carries."""

from __future__ import annotations

import base64
import logging
import subprocess
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from urllib3.exceptions import InsecureRequestWarning

from healthcheck.app import create_app
from healthcheck.service import Service
from healthcheck.settings import SettingsError, load
from tests.fake_connect import FakeConnect, Fault
from tests.faults.pki import Pki, make_pki
from tests.server_process import CONSOLE_SCRIPT, ServerProcess
from tests.waiting import wait_until

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


# --- TLS


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
        f"GET /connectors?expand=status: TLS with {tls_connect.url} failed: [SSL: CERTIFICATE_VERIFY_FAILED] "
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
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        service = service_from("--connect-url", tls_connect.url, "--connect-insecure")
        statuses = [poll_status(service)[0] for _ in range(3)]
    assert statuses == [200, 200, 200]
    loud = [r for r in caplog.records if r.levelno == logging.WARNING and "INSECURE" in r.getMessage()]
    assert len(loud) == 1
    assert "is NOT verified (--connect-insecure)" in loud[0].getMessage()
    assert [w for w in seen if issubclass(w.category, InsecureRequestWarning)] == []


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


# --- credentials from a file


def test_basic_auth_file_is_used(
    secured_connect: FakeConnect, credentials_file: Path, service_from: Callable[..., Service]
) -> None:
    service = service_from("--connect-url", secured_connect.url, "--basic-auth-file", str(credentials_file))
    assert poll_status(service)[0] == 200


def test_basic_auth_file_from_the_environment_only_reads_the_first_line(
    secured_connect: FakeConnect, credentials_file: Path, make_service: Callable[..., Service]
) -> None:
    credentials_file.write_text(f"{USER}:{PASSWORD}\r\nsomething else\n")
    settings = load(
        [], {"HEALTHCHECK_CONNECT_URL": secured_connect.url, "HEALTHCHECK_BASIC_AUTH_FILE": str(credentials_file)}
    )
    assert settings.credentials is not None and settings.credentials.password == PASSWORD
    assert poll_status(make_service(settings))[0] == 200


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (f"{TOKEN}\n", "first line must be user:password"),
        (f":{TOKEN}\n", "first line must be user:password"),
        (f"\n{USER}:{TOKEN}\n", "first line must be user:password"),
        (b"\xff" + TOKEN.encode(), "must be a readable UTF-8 file"),
    ],
    ids=["no-colon", "no-user", "empty-first-line", "not-utf8"],
)
def test_a_malformed_basic_auth_file_is_refused_without_quoting_it(
    tmp_path: Path, content: str | bytes, words: str
) -> None:
    path = tmp_path / "credentials"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(SettingsError) as raised:
        load(["--basic-auth-file", str(path)], {})
    assert words in str(raised.value)
    assert str(path) in str(raised.value)
    assert TOKEN not in str(raised.value)


def test_basic_auth_and_basic_auth_file_together_are_refused(credentials_file: Path) -> None:
    with pytest.raises(SettingsError, match="set only one of them") as raised:
        load(["--basic-auth-file", str(credentials_file)], {"HEALTHCHECK_BASIC_AUTH": f"other:{PASSWORD}"})
    assert all(secret not in str(raised.value) for secret in SECRETS)


def test_console_script_refuses_a_malformed_basic_auth_file_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text(TOKEN + "\n")  # no "user:" in front
    result = subprocess.run(
        [CONSOLE_SCRIPT, "--basic-auth-file", str(path)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2
    assert TOKEN not in result.stderr
    assert result.stderr.splitlines() == [
        f"kafka-connect-healthcheck: error: invalid --basic-auth-file (HEALTHCHECK_BASIC_AUTH_FILE) value "
        f"'{path}': first line must be user:password"
    ]


# --- secrets never leak


def _redirecting(target: FakeConnect) -> Fault:
    return Fault(status=302, headers=(("Location", target.url + "/connectors?expand=status"),))


@pytest.mark.parametrize(
    "provoke",
    ["401", "refused", "timeout", "tls-failure", "redirect", "closed-mid-body", "bad-json", "500"],
)
def test_the_password_never_appears_in_an_answer_or_a_log_line(
    secured_connect: FakeConnect,
    tls_connect: FakeConnect,
    credentials_file: Path,
    make_service: Callable[..., Service],
    caplog: pytest.LogCaptureFixture,
    provoke: str,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, urllib3's included
    url, fault = secured_connect.url, None
    elsewhere = FakeConnect().start()
    if provoke == "401":
        secured_connect.auth = (USER, "the-new-password")
    elif provoke == "refused":
        url = elsewhere.url
        elsewhere.stop()
    elif provoke == "tls-failure":
        url = tls_connect.url
    else:
        fault = {
            "timeout": Fault(hang=True),
            "redirect": _redirecting(elsewhere),
            "closed-mid-body": Fault(close_mid_body=True),
            "bad-json": Fault(body=b'{"orders-sink": '),
            "500": Fault(status=500),
        }[provoke]
    settings = load(["--connect-url", url, "--basic-auth-file", str(credentials_file), "--request-timeout", "0.3"], {})
    service = make_service(settings)
    probe = create_app(service.settings, service).test_client()
    try:
        if fault is not None:
            with secured_connect.faulty(fault):
                service.poller.poll_once()
        else:
            service.poller.poll_once()
    finally:
        elsewhere.stop()

    answer = probe.get("/")
    assert answer.status_code == 503
    everything = [
        answer.get_data(as_text=True),
        str(answer.headers),
        caplog.text,
        *(logging.Formatter().format(record) for record in caplog.records),  # with tracebacks, if any
        repr(settings),
        str(service.settings),
    ]
    leaks = [text for text in everything for secret in SECRETS if secret in text]
    assert leaks == []
    if provoke == "redirect":
        assert elsewhere.request_count() == 0  # the credentials never went to the other host
        assert answer.get_json()["error"].startswith("GET /connectors?expand=status: HTTP 302")


def test_the_password_never_appears_in_the_console_scripts_output(
    secured_connect: FakeConnect, credentials_file: Path
) -> None:
    secured_connect.auth = (USER, "the-new-password")  # every poll: 401
    server = ServerProcess(
        [CONSOLE_SCRIPT, "--port", "{port}", "--host", "127.0.0.1", "--poll-interval", "0.1", "--log-level", "DEBUG"],
        env={"HEALTHCHECK_CONNECT_URL": secured_connect.url, "HEALTHCHECK_BASIC_AUTH_FILE": str(credentials_file)},
    )
    with server:
        wait_until(lambda: secured_connect.request_count() >= 3, what="a few refused polls")
        answers = [server.get(path) for path in ("/", "/ping", "/nope", "/openapi.json")]
        log = server.log()
    assert "using basic auth as user 'healthcheck'" in log
    assert "HTTP 401" in answers[0].text
    for secret in SECRETS:
        assert secret not in log
        assert all(secret not in answer.text for answer in answers)


# --- what every answer carries


def test_every_answer_says_nosniff_and_no_server_version(connect: FakeConnect) -> None:
    connect.set_connector("orders-sink", "FAILED")  # so / is 503 whether or not the first poll has ended
    server = ServerProcess(
        [CONSOLE_SCRIPT, "--port", "{port}", "--host", "127.0.0.1", "--poll-interval", "0.2"],
        env={"HEALTHCHECK_CONNECT_URL": connect.url},
    )
    with server, requests.Session() as session:
        answers = {
            f"{method} {path}": session.request(method, server.url + path, timeout=2)
            for method in ("GET", "HEAD", "POST", "DELETE", "OPTIONS")
            for path in ("/", "/ping", "/openapi.json", "/nope", "/ping/")
        }
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert {200, 404, 405, 503} <= set(statuses.values()), statuses
    for name, answer in answers.items():
        assert answer.headers.get("X-Content-Type-Options") == "nosniff", name
        server_header = answer.headers.get("Server", "")
        assert not any(c.isdigit() for c in server_header) and "/" not in server_header, (name, server_header)
