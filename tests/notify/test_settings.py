"""Notification settings: bad input stops the program with one line and exit 2; secrets stay out of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from healthcheck.command_line import load
from healthcheck.setting_types import NotifyTarget
from healthcheck.settings import SettingsError
from tests.processes.test_console_settings import run_script

SLACK_URL = "https://hooks.slack.com/services/T000/B000/SLACKSECRET"


@pytest.fixture
def secrets(tmp_path: Path) -> dict[str, str]:
    """A Slack URL file, a routing key file and a webhook key file, each holding a recognisable secret."""
    files = {"slack": SLACK_URL + "\n", "pagerduty": "ROUTINGSECRET\n", "webhook": "HMACSECRET\n"}
    paths = {}
    for name, content in files.items():
        path = tmp_path / name
        path.write_text(content)
        paths[name] = str(path)
    return paths


def test_every_target_kind_is_understood_with_its_secrets(secrets: dict[str, str]) -> None:
    settings = load(
        [
            "--notify",
            "alertmanager+https://am.example:9093, webhook+http://hooks:8080/kc,slack,PagerDuty,slack",
            "--notify-slack-url-file",
            secrets["slack"],
            "--notify-pagerduty-routing-key-file",
            secrets["pagerduty"],
            "--notify-webhook-secret-file",
            secrets["webhook"],
        ],
        {},
    )
    assert settings.notify == (
        NotifyTarget("alertmanager", "https://am.example:9093"),
        NotifyTarget("webhook", "http://hooks:8080/kc"),
        NotifyTarget("slack"),
        NotifyTarget("pagerduty"),
    )
    assert settings.slack_url is not None and settings.slack_url.value == SLACK_URL
    assert settings.pagerduty_routing_key is not None and settings.pagerduty_routing_key.value == "ROUTINGSECRET"
    assert settings.webhook_secret is not None and settings.webhook_secret.value == "HMACSECRET"
    for text in (repr(settings), str(settings)):
        assert "SLACKSECRET" not in text and "ROUTINGSECRET" not in text and "HMACSECRET" not in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--notify", "opsgenie"], "must be a comma-separated list of alertmanager+http(s)"),
        (["--notify", "alertmanager+ftp://am:9093"], "must be a comma-separated list"),
        (["--notify", "webhook+https://user:pw@hooks/x"], "must not contain credentials"),
        (["--notify", "webhook+https://hooks/x?token=abc"], "must not have a query"),
        (["--notify", "slack"], "slack needs --notify-slack-url-file"),
        (["--notify", "pagerduty"], "pagerduty needs --notify-pagerduty-routing-key-file"),
        (["--notify", "slack", "--notify-slack-url-file", "/nonexistent/slack"], "must be a readable file"),
        (["--notify-repeat", "0"], "greater than 0"),
        (["--notify-pagerduty-url", "https://u:p@pd/x"], "must not contain credentials"),
    ],
)
def test_bad_notification_settings_are_refused_with_what_is_allowed(argv: list[str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load(argv, {})
    assert message in str(raised.value)


def test_a_secret_file_that_holds_no_https_url_is_refused_without_quoting_it(tmp_path: Path) -> None:
    path = tmp_path / "slack"
    path.write_text("hooks.slack.com/services/T/B/NOTHTTPS\n")
    with pytest.raises(SettingsError) as raised:
        load(["--notify", "slack", "--notify-slack-url-file", str(path)], {})
    assert "NOTHTTPS" not in str(raised.value) and "https://" in str(raised.value)


def test_the_console_script_exits_2_with_one_line_and_no_secret() -> None:
    result = run_script("--notify", "webhook+https://alice:pw-in-url@hooks.example/x")
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "--notify" in result.stderr and "HEALTHCHECK_NOTIFY" in result.stderr
    assert "pw-in-url" not in result.stderr


def test_an_empty_secret_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("\n")
    with pytest.raises(SettingsError, match="empty"):
        load(["--notify", "pagerduty", "--notify-pagerduty-routing-key-file", str(path)], {})
