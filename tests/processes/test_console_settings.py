"""The console script's settings as a user meets them: --help, --version, and exit 2 with one line."""

from __future__ import annotations

import os
import subprocess

import pytest

from healthcheck import __version__
from healthcheck.settings import OPTIONS
from tests.server_process import CONSOLE_SCRIPT


def run_script(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the console script with our HEALTHCHECK_* variables only; it must never get to serving."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("HEALTHCHECK_")}
    return subprocess.run(
        [CONSOLE_SCRIPT, *argv], env={**clean, **(env or {})}, capture_output=True, text=True, timeout=30, check=False
    )


def test_help_lists_every_flag_and_env_var() -> None:
    result = run_script("--help")

    assert result.returncode == 0, result.stderr
    for option in OPTIONS:
        assert option.flag in result.stdout
        assert option.env in result.stdout
    assert "--version" in result.stdout


def test_version_prints_the_version() -> None:
    result = run_script("--version")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"kafka-connect-healthcheck {__version__}"


@pytest.mark.parametrize(
    ("argv", "env", "named"),
    [
        pytest.param(["--port", "0"], {}, "--port", id="flag"),
        pytest.param([], {"HEALTHCHECK_POLL_INTERVAL": "nan"}, "HEALTHCHECK_POLL_INTERVAL", id="env"),
        pytest.param(["--basic-auth", "s3cret-pw"], {}, "--basic-auth", id="secret-flag"),
        pytest.param([], {"HEALTHCHECK_MAX_STALENESS": "1"}, "HEALTHCHECK_MAX_STALENESS", id="cross-check"),
    ],
)
def test_bad_setting_exits_2_with_one_line(argv: list[str], env: dict[str, str], named: str) -> None:
    result = run_script(*argv, env=env)

    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert named in result.stderr
    assert "s3cret-pw" not in result.stderr
