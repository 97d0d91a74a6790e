"""Credentials from a file, and secrets (password, token, basic-auth header) never in an answer or a log line."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from healthcheck.app import create_app
from healthcheck.command_line import load
from healthcheck.service import Service
from healthcheck.settings import SettingsError
from tests.fake_connect import FakeConnect, Fault
from tests.security.conftest import PASSWORD, SECRETS, TOKEN, USER, poll_status
from tests.server_process import CONSOLE_SCRIPT, ServerProcess
from tests.waiting import wait_until


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


def _redirecting(target: FakeConnect) -> Fault:
    return Fault(status=302, headers=(("Location", target.url + "/connectors?expand=status&expand=info"),))


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
        assert answer.get_json()["error"].startswith("GET /connectors?expand=status&expand=info: HTTP 302")


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
