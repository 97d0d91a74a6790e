"""The progress check's settings: defaults, the rules between them, and a Kafka config file that never leaks."""

from __future__ import annotations

from pathlib import Path

import pytest

from healthcheck.command_line import load
from healthcheck.settings import Settings, SettingsError
from tests.processes.test_console_settings import run_script

SECRET = "pa55-w0rd-xyz"


def properties(tmp_path: Path, text: str) -> str:
    path = tmp_path / "kafka.properties"
    path.write_text(text)
    return str(path)


def test_stalled_is_judged_by_default_once_a_progress_check_is_on() -> None:
    assert load([], {}).unhealthy_states == ("FAILED",)
    assert load(["--kafka-bootstrap-servers", "k:9092"], {}).unhealthy_states == ("FAILED", "STALLED")
    assert load(["--expect-progress", "cdc-.*"], {}).unhealthy_states == ("FAILED", "STALLED")
    given = load(["--kafka-bootstrap-servers", "k:9092", "--unhealthy-states", "FAILED"], {})
    assert given.unhealthy_states == ("FAILED",)  # what the operator says wins


def test_defaults() -> None:
    settings = Settings()
    assert (settings.progress_interval, settings.stall_after) == (30.0, 300.0)
    assert settings.kafka_bootstrap_servers is None and settings.expect_progress is None
    assert not settings.progress_enabled


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["--unhealthy-states", "FAILED,STALLED"],
            "invalid --unhealthy-states (HEALTHCHECK_UNHEALTHY_STATES) value 'FAILED,STALLED': STALLED needs a "
            "progress check: --kafka-bootstrap-servers (HEALTHCHECK_KAFKA_BOOTSTRAP_SERVERS) or --expect-progress "
            "(HEALTHCHECK_EXPECT_PROGRESS)",
            id="stalled-without-a-check",
        ),
        pytest.param(
            ["--kafka-bootstrap-servers", "k:9092", "--stall-after", "10"],
            "invalid --stall-after (HEALTHCHECK_STALL_AFTER) value '10.0': must be at least the progress interval "
            "(30.0 s)",
            id="stall-shorter-than-a-round",
        ),
        pytest.param(
            ["--kafka-bootstrap-servers", "kafka"],
            "invalid --kafka-bootstrap-servers (env HEALTHCHECK_KAFKA_BOOTSTRAP_SERVERS) value 'kafka': must be a "
            "comma list of host:port, e.g. kafka-0:9092,kafka-1:9092",
            id="no-port",
        ),
    ],
)
def test_bad_progress_settings_name_the_setting(argv: list[str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load(argv, {})
    assert str(raised.value) == message


def test_a_config_file_needs_bootstrap_servers(tmp_path: Path) -> None:
    path = properties(tmp_path, "security.protocol=SSL\n")
    with pytest.raises(SettingsError, match="needs --kafka-bootstrap-servers"):
        load(["--kafka-config-file", path], {})


@pytest.mark.parametrize(
    ("text", "allowed"),
    [
        pytest.param(f"sasl.password {SECRET}\n", "line 1 is not key=value", id="not-key-value"),
        pytest.param(f"sasl.password={SECRET}\nno.such.thing=1\n", "No such configuration property", id="unknown"),
        pytest.param(
            f"security.protocol=SASL_PLAINTEXT\nsasl.mechanism={SECRET}\nsasl.password={SECRET}\n",
            "Unsupported SASL mechanism: ***",
            id="bad-value-that-is-the-secret",
        ),
        pytest.param("bootstrap.servers=k:9092\n", "use --kafka-bootstrap-servers instead", id="bootstrap-twice"),
    ],
)
def test_a_bad_config_file_exits_2_in_one_line_without_its_secrets(tmp_path: Path, text: str, allowed: str) -> None:
    path = properties(tmp_path, text)
    result = run_script("--kafka-bootstrap-servers", "k:9092", "--kafka-config-file", path)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "--kafka-config-file" in result.stderr and allowed in result.stderr
    assert SECRET not in result.stderr


def test_the_parsed_config_is_kept_but_never_shown(tmp_path: Path) -> None:
    path = properties(
        tmp_path,
        f"# SASL\nsecurity.protocol = SASL_PLAINTEXT\nsasl.mechanism: PLAIN\nsasl.username=u\nsasl.password={SECRET}\n",
    )
    settings = load(["--kafka-bootstrap-servers", "k:9092", "--kafka-config-file", path], {})
    assert settings.kafka_config is not None
    assert settings.kafka_config.properties["sasl.password"] == SECRET
    assert settings.kafka_config.properties["sasl.mechanism"] == "PLAIN"
    assert SECRET not in repr(settings) and SECRET not in repr(settings.kafka_config)
