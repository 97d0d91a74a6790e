"""Settings: defaults, flag > env > default, and one actionable line for every bad value."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from healthcheck.command_line import load
from healthcheck.setting_types import NotifyTarget
from healthcheck.settings import OPTIONS, BasicAuth, Settings, SettingsError
from tests.security.pki import make_pki

OPTION = {option.field: option for option in OPTIONS}


def test_defaults_when_nothing_is_set() -> None:
    settings = load([], {})

    assert settings == Settings()
    assert settings.host == "0.0.0.0"
    assert settings.port == 18083
    assert settings.bind == "0.0.0.0:18083"
    assert settings.connect_url == "http://localhost:8083"
    assert settings.connect_worker_id is None
    assert settings.unhealthy_states == ("FAILED",)
    assert settings.considered_containers == ("CONNECTOR", "TASK")
    assert settings.failure_threshold_percentage == 0.0
    assert settings.failure_threshold == 0.0
    assert settings.basic_auth is None
    assert settings.log_level == "INFO"
    assert settings.poll_interval == 5.0
    assert settings.max_staleness == 15.0  # 3 x the poll interval
    assert settings.request_timeout == 5.0
    assert settings.workers == 1
    assert settings.threads == 4
    assert settings.max_response_bytes == 64 * 1024 * 1024
    assert settings.connect_ca_file is None
    assert settings.connect_client_cert is None
    assert settings.connect_client_key is None
    assert settings.connect_insecure is False
    assert settings.basic_auth_file is None
    assert settings.include_connectors is None
    assert settings.exclude_connectors is None
    assert settings.unhealthy_after == 0.0
    assert settings.hide_traces is False
    assert settings.max_trace_bytes == 2048
    assert settings.auto_restart is False
    assert settings.restart_backoff == 10.0
    assert settings.restart_max_attempts == 5


def test_unrelated_environment_variables_are_ignored() -> None:
    assert load([], {"PORT": "1", "HEALTHCHECK": "x", "healthcheck_port": "2"}) == Settings()


# field: (flag value, what it becomes, env value, what it becomes). The env value differs from the default
# and from the flag value; "{name}" is a file from the `files` fixture.
SAMPLES: dict[str, tuple[str, Any, str, Any]] = {
    "host": ("127.0.0.1", "127.0.0.1", "::1", "::1"),
    "port": ("8080", 8080, "9090", 9090),
    "connect_url": ("https://connect.example:8443/", "https://connect.example:8443", "http://c:8083", "http://c:8083"),
    "connect_worker_id": ("w1:8083", "w1:8083", "w2:8083", "w2:8083"),
    "unhealthy_states": ("paused", ("PAUSED",), "FAILED,UNASSIGNED", ("FAILED", "UNASSIGNED")),
    "considered_containers": ("task", ("TASK",), "CONNECTOR", ("CONNECTOR",)),
    "failure_threshold_percentage": ("12.5", 12.5, "50", 50.0),
    "basic_auth": ("alice:pw1", BasicAuth("alice", "pw1"), "bob:pw2", BasicAuth("bob", "pw2")),
    "log_level": ("debug", "DEBUG", "WARNING", "WARNING"),
    "poll_interval": ("2.5", 2.5, "7", 7.0),
    "max_staleness": ("60", 60.0, "45", 45.0),
    "request_timeout": ("0.5", 0.5, "10", 10.0),
    "workers": ("2", 2, "3", 3),
    "threads": ("8", 8, "16", 16),
    "max_response_bytes": ("1024", 1024, "2048", 2048),
    "connect_ca_file": ("{ca_a}", "{ca_a}", "{ca_b}", "{ca_b}"),
    "connect_client_cert": ("{bundle_a}", "{bundle_a}", "{bundle_b}", "{bundle_b}"),
    "connect_client_key": ("{key_a}", "{key_a}", "{key_b}", "{key_b}"),
    "connect_insecure": ("false", False, "yes", True),
    "basic_auth_file": ("{auth_a}", "{auth_a}", "{auth_b}", "{auth_b}"),
    "include_connectors": ("orders-.*", re.compile("orders-.*"), "clicks-.*", re.compile("clicks-.*")),
    "exclude_connectors": ("tmp-.*", re.compile("tmp-.*"), "test-.*", re.compile("test-.*")),
    "unhealthy_after": ("30", 30.0, "0.5", 0.5),
    "hide_traces": ("false", False, "true", True),
    "max_trace_bytes": ("4096", 4096, "256", 256),
    "auto_restart": ("no", False, "1", True),
    "restart_backoff": ("2", 2.0, "60", 60.0),
    "restart_max_attempts": ("1", 1, "10", 10),
    "state_dir": ("{dir_a}", "{dir_a}", "{dir_b}", "{dir_b}"),
    "restart_skip": ("Bad.*Config", re.compile("Bad.*Config"), "Auth", re.compile("Auth")),
    "notify": (
        "slack",
        (NotifyTarget("slack"),),
        "alertmanager+http://am:9093/",
        (NotifyTarget("alertmanager", "http://am:9093"),),
    ),
    "notify_repeat": ("30", 30.0, "120", 120.0),
    "notify_webhook_secret_file": ("{hmac_a}", "{hmac_a}", "{hmac_b}", "{hmac_b}"),
    "notify_slack_url_file": ("{slack_a}", "{slack_a}", "{slack_b}", "{slack_b}"),
    "notify_pagerduty_routing_key_file": ("{pd_a}", "{pd_a}", "{pd_b}", "{pd_b}"),
    "notify_pagerduty_url": (
        "https://pd-proxy:8443/v2/enqueue",
        "https://pd-proxy:8443/v2/enqueue",
        "http://p:9/e",
        "http://p:9/e",
    ),
    "kafka_bootstrap_servers": ("k1:9092, k2:9092", "k1:9092,k2:9092", "SASL_SSL://k:9093", "SASL_SSL://k:9093"),
    "kafka_config_file": ("{kafka_a}", "{kafka_a}", "{kafka_b}", "{kafka_b}"),
    "progress_interval": ("10", 10.0, "20", 20.0),
    "stall_after": ("600", 600.0, "900", 900.0),
    "expect_progress": ("cdc-.*", re.compile("cdc-.*"), "heartbeat", re.compile("heartbeat")),
}


# What an option needs beside it to be valid at all (as environment variables).
NEEDS: dict[str, dict[str, str]] = {
    "connect_client_key": {"HEALTHCHECK_CONNECT_CLIENT_CERT": "{bundle_a}"},
    "notify": {"HEALTHCHECK_NOTIFY_SLACK_URL_FILE": "{slack_a}"},
    "kafka_config_file": {"HEALTHCHECK_KAFKA_BOOTSTRAP_SERVERS": "k:9092"},
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Two copies (a, b) of a CA, a client certificate with its key, the key alone, and a basic-auth file."""
    directory = tmp_path_factory.mktemp("settings-files")
    pki = make_pki(directory)
    paths: dict[str, str] = {}
    for copy in ("a", "b"):
        for name, source in (("ca", pki.ca), ("bundle", pki.client_bundle), ("key", pki.client_key)):
            target = directory / f"{name}-{copy}.pem"
            shutil.copyfile(source, target)
            paths[f"{name}_{copy}"] = str(target)
    for copy in ("a", "b"):
        (directory / f"dir-{copy}").mkdir()
        paths[f"dir_{copy}"] = str(directory / f"dir-{copy}")
    paths["auth_a"] = str(directory / "auth-a")
    paths["auth_b"] = str(directory / "auth-b")
    Path(paths["auth_a"]).write_text("alice:pw-from-a\n")
    Path(paths["auth_b"]).write_text("bob:pw-from-b\n")
    for name, content in (("hmac", "key-{}\n"), ("slack", "https://hooks.slack.test/services/{}\n"), ("pd", "rk-{}\n")):
        for copy in ("a", "b"):
            paths[f"{name}_{copy}"] = str(directory / f"{name}-{copy}")
            Path(paths[f"{name}_{copy}"]).write_text(content.format(copy))
    for copy in ("a", "b"):
        paths[f"kafka_{copy}"] = str(directory / f"kafka-{copy}.properties")
        Path(paths[f"kafka_{copy}"]).write_text(
            f"security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.username={copy}\nsasl.password=pw-{copy}\n"
        )
    return paths


def test_every_option_has_a_sample() -> None:
    assert set(SAMPLES) == set(OPTION), "add the new option to SAMPLES"


@pytest.mark.parametrize("option", OPTIONS, ids=lambda option: option.field)
def test_flag_beats_env_beats_default(option: Any, files: dict[str, str]) -> None:
    def fill(value: Any) -> Any:
        return value.format(**files) if isinstance(value, str) else value

    flag_raw, flag_value, env_raw, env_value = (fill(value) for value in SAMPLES[option.field])
    needs = {name: fill(value) for name, value in NEEDS.get(option.field, {}).items()}
    default = getattr(Settings(), option.field)
    assert flag_value != env_value != default

    both = load([f"{option.flag}={flag_raw}"], {**needs, option.env: env_raw})
    env_only = load([], {**needs, option.env: env_raw})

    assert getattr(both, option.field) == flag_value
    assert getattr(env_only, option.field) == env_value


def test_basic_auth_file_is_read_into_the_credentials(files: dict[str, str]) -> None:
    settings = load(["--basic-auth-file", files["auth_a"]], {"HEALTHCHECK_BASIC_AUTH_FILE": files["auth_b"]})

    assert settings.credentials == BasicAuth("alice", "pw-from-a")
    assert "pw-from-a" not in repr(settings)


@pytest.mark.parametrize(
    ("argv", "environ"),
    [
        pytest.param(["--poll-interval", "10"], {}, id="flag"),
        pytest.param([], {"HEALTHCHECK_POLL_INTERVAL": "10"}, id="env"),
    ],
)
def test_max_staleness_defaults_to_three_poll_intervals(argv: list[str], environ: dict[str, str]) -> None:
    assert load(argv, environ).max_staleness == 30.0


def test_boolean_flag_alone_means_true() -> None:
    assert load(["--connect-insecure"], {"HEALTHCHECK_CONNECT_INSECURE": "false"}).connect_insecure is True


def test_threshold_percentage_becomes_a_fraction() -> None:
    assert load(["--failure-threshold-percentage", "10"], {}).failure_threshold == 0.1


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        ("unhealthy_states", " failed , Paused,FAILED,, paused ", ("FAILED", "PAUSED")),
        ("unhealthy_states", "restarting,STOPPED,unassigned", ("RESTARTING", "STOPPED", "UNASSIGNED")),
        ("considered_containers", " task , TASK ,connector", ("TASK", "CONNECTOR")),
    ],
    ids=["spaces-case-repeats", "order-kept", "containers"],
)
def test_comma_lists_ignore_case_spaces_and_repeats(field: str, raw: str, expected: tuple[str, ...]) -> None:
    option = OPTION[field]
    assert getattr(load([option.flag, raw], {}), field) == expected
    assert getattr(load([], {option.env: raw}), field) == expected


def test_empty_worker_id_means_every_worker() -> None:
    assert load([], {"HEALTHCHECK_CONNECT_WORKER_ID": "  "}).connect_worker_id is None


# field, bad value, words from "what is allowed" that the message must contain
BAD_VALUES = [
    pytest.param("unhealthy_states", "FAILED,BROKEN", "list of FAILED, PAUSED", id="unknown-state"),
    pytest.param("unhealthy_states", " , ", "list of FAILED, PAUSED", id="empty-state-list"),
    pytest.param("considered_containers", "TASKS", "list of CONNECTOR, TASK", id="unknown-container"),
    pytest.param("failure_threshold_percentage", "101", "from 0 to 100", id="threshold-above-100"),
    pytest.param("failure_threshold_percentage", "-1", "from 0 to 100", id="threshold-negative"),
    pytest.param("failure_threshold_percentage", "ten", "from 0 to 100", id="threshold-non-numeric"),
    pytest.param("failure_threshold_percentage", "nan", "from 0 to 100", id="threshold-nan"),
    pytest.param("port", "http", "from 1 to 65535", id="port-non-numeric"),
    pytest.param("port", "\u00b2", "from 1 to 65535", id="port-superscript-digit"),
    pytest.param("port", "0", "from 1 to 65535", id="port-0"),
    pytest.param("port", "70000", "from 1 to 65535", id="port-70000"),
    pytest.param("poll_interval", "soon", "greater than 0", id="interval-non-numeric"),
    pytest.param("poll_interval", "0", "greater than 0", id="interval-0"),
    pytest.param("poll_interval", "-5", "greater than 0", id="interval-negative"),
    pytest.param("poll_interval", "nan", "greater than 0", id="interval-nan"),
    pytest.param("poll_interval", "inf", "greater than 0", id="interval-inf"),
    pytest.param("request_timeout", "0", "greater than 0", id="timeout-0"),
    pytest.param("max_staleness", "-inf", "greater than 0", id="staleness-minus-inf"),
    pytest.param("connect_url", "localhost:8083", "http:// or https:// URL", id="url-no-scheme"),
    pytest.param("connect_url", "ftp://connect:21", "http:// or https:// URL", id="url-ftp"),
    pytest.param("connect_url", "http://", "http:// or https:// URL", id="url-no-host"),
    pytest.param("connect_url", "http://[::1", "http:// or https:// URL", id="url-broken-ipv6-host"),
    pytest.param("connect_url", "http://connect:99999", "port", id="url-port-out-of-range"),
    pytest.param("log_level", "verbose", "DEBUG, INFO, WARNING, ERROR", id="log-level"),
    pytest.param("workers", "0", "at least 1", id="workers-0"),
    pytest.param("host", "my host", "host name or IP address", id="host-with-space"),
    pytest.param("max_response_bytes", "1e6", "whole number of at least 1", id="response-bytes-not-whole"),
    pytest.param("max_trace_bytes", "255", "whole number of bytes, at least 256", id="trace-bytes-too-small"),
    pytest.param("connect_insecure", "maybe", "true, false", id="insecure-not-boolean"),
    pytest.param("connect_ca_file", "/nonexistent/ca.pem", "readable file", id="ca-file-missing"),
    pytest.param("include_connectors", "orders-(", "valid regular expression", id="include-bad-regex"),
    pytest.param("unhealthy_after", "-1", "0 or more", id="unhealthy-after-negative"),
    pytest.param("restart_max_attempts", "many", "whole number of at least 1", id="restart-attempts-non-numeric"),
    pytest.param("state_dir", "/nonexistent/dir", "must be an existing directory", id="state-dir-missing"),
]


@pytest.mark.parametrize(("field", "raw", "allowed"), BAD_VALUES)
def test_bad_value_names_flag_env_value_and_what_is_allowed(field: str, raw: str, allowed: str) -> None:
    option = OPTION[field]

    with pytest.raises(SettingsError) as raised:
        load([f"{option.flag}={raw}"], {})  # "=": argparse would take "-inf" for a flag

    message = str(raised.value)
    assert "\n" not in message
    assert option.flag in message
    assert option.env in message
    assert repr(raw) in message
    assert allowed in message


@pytest.mark.parametrize(
    ("argv", "environ"),
    [
        pytest.param(["--port", "0"], {}, id="flag"),
        pytest.param([], {"HEALTHCHECK_PORT": "0"}, id="env"),
    ],
)
def test_bad_value_names_both_flag_and_env_wherever_it_came_from(argv: list[str], environ: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match="'0'") as raised:
        load(argv, environ)

    assert "--port" in str(raised.value)
    assert "HEALTHCHECK_PORT" in str(raised.value)


def test_a_bad_flag_is_reported_even_when_the_env_value_is_good() -> None:
    with pytest.raises(SettingsError, match="--port"):
        load(["--port", "0"], {"HEALTHCHECK_PORT": "8080"})


@pytest.mark.parametrize(
    ("argv", "environ"),
    [
        pytest.param(["--connect-url", "http://admin:s3cret-pw@connect:8083"], {}, id="flag"),
        pytest.param([], {"HEALTHCHECK_CONNECT_URL": "http://admin:s3cret-pw@connect:8083"}, id="env"),
    ],
)
def test_url_with_credentials_is_refused_without_echoing_the_password(argv: list[str], environ: dict[str, str]) -> None:
    with pytest.raises(SettingsError) as raised:
        load(argv, environ)

    message = str(raised.value)
    assert "HEALTHCHECK_CONNECT_URL" in message
    assert "--basic-auth" in message  # where the credentials belong instead
    assert "s3cret-pw" not in message


@pytest.mark.parametrize("raw", ["admin-s3cret-pw", ":s3cret-pw"], ids=["no-colon", "no-username"])
@pytest.mark.parametrize("source", ["flag", "env"])
def test_bad_basic_auth_message_never_contains_the_value(raw: str, source: str) -> None:
    argv, environ = (["--basic-auth", raw], {}) if source == "flag" else ([], {"HEALTHCHECK_BASIC_AUTH": raw})

    with pytest.raises(SettingsError) as raised:
        load(argv, environ)

    message = str(raised.value)
    assert "\n" not in message
    assert "--basic-auth" in message or source == "env"  # env errors naming the flag: tested once, above
    assert "HEALTHCHECK_BASIC_AUTH" in message
    assert "user:password" in message
    assert "s3cret-pw" not in message


@pytest.mark.parametrize(
    ("argv", "environ", "value"),
    [
        pytest.param(["--poll-interval", "10", "--max-staleness", "7.5"], {}, "7.5", id="flags"),
        pytest.param([], {"HEALTHCHECK_MAX_STALENESS": "2.5"}, "2.5", id="env-below-default-interval"),
    ],
)
def test_max_staleness_below_poll_interval_is_refused(argv: list[str], environ: dict[str, str], value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load(argv, environ)

    message = str(raised.value)
    assert "\n" not in message
    assert "--max-staleness" in message
    assert "HEALTHCHECK_MAX_STALENESS" in message
    assert repr(value) in message
    assert "at least the poll interval" in message


def test_password_containing_colons_is_kept_whole() -> None:
    assert load(["--basic-auth", "user:pa:ss"], {}).basic_auth == BasicAuth("user", "pa:ss")
    assert load([], {"HEALTHCHECK_BASIC_AUTH": "user:pa:ss"}).basic_auth == BasicAuth("user", "pa:ss")


def test_settings_text_never_contains_the_password() -> None:
    settings = load([], {"HEALTHCHECK_BASIC_AUTH": "alice:s3cret-pw"})

    assert settings.basic_auth is not None
    assert settings.basic_auth.password == "s3cret-pw"
    for text in (repr(settings), str(settings), f"{settings}", repr(settings.basic_auth), str(settings.basic_auth)):
        assert "alice" in text  # who we log in as stays visible
        assert "s3cret-pw" not in text


def test_settings_built_directly_are_checked_like_loaded_ones() -> None:
    with pytest.raises(SettingsError, match="--max-staleness") as raised:
        Settings(poll_interval=10.0, max_staleness=5.0)
    assert "HEALTHCHECK_MAX_STALENESS" in str(raised.value)
    assert Settings(poll_interval=10.0).max_staleness == 30.0


def test_readme_settings_tables_match_the_declarations() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    rows = dict(re.findall(r"^\| `(--[a-z0-9-]+)` \| `(HEALTHCHECK_[A-Z0-9_]+)` \|", readme, re.MULTILINE))

    assert rows == {option.flag: option.env for option in OPTIONS}


def test_invalid_filter_regex_is_a_setting_error() -> None:
    with pytest.raises(ValueError, match=r"--include-connectors.*'orders-\(': must be a valid regular expression"):
        load(["--include-connectors", "orders-("], {})


def test_filter_matches_the_whole_name() -> None:
    settings = load([], {"HEALTHCHECK_EXCLUDE_CONNECTORS": "sink"})
    assert settings.exclude_connectors is not None
    assert settings.exclude_connectors.fullmatch("my-sink") is None


@pytest.mark.parametrize("raw", ["true", "YES", "1", "True"])
def test_boolean_settings_accept_the_usual_words(raw: str) -> None:
    assert load([], {"HEALTHCHECK_AUTO_RESTART": raw}).auto_restart is True


@pytest.mark.parametrize("raw", ["false", "No", "0"])
def test_boolean_settings_accept_the_usual_no_words(raw: str) -> None:
    assert load([], {"HEALTHCHECK_AUTO_RESTART": raw}).auto_restart is False


def test_a_bad_boolean_names_the_setting() -> None:
    with pytest.raises(ValueError, match=r"HEALTHCHECK_AUTO_RESTART.*'maybe'.*true, false"):
        load([], {"HEALTHCHECK_AUTO_RESTART": "maybe"})
