"""`make demo`: a real Kafka broker and Connect worker, one healthy and one failing connector, and the healthcheck.

    .venv/bin/python deploy/demo/demo.py

starts Kafka 4.4.0 (KRaft) and a Kafka Connect worker from Maven Central jars (cached after the first run),
creates demo-ok-sink (RUNNING) and demo-failing-sink (its task FAILED), starts `kafka-connect-healthcheck` on
127.0.0.1:18083 against them, prints the URLs with `curl` examples and the current answers, and waits.
Ctrl-C (or SIGTERM) stops the healthcheck, then the worker, then the broker, and exits 0.

With HEALTHCHECK_CONNECT_URL set, it starts only the healthcheck, against that Connect. HEALTHCHECK_PORT and
HEALTHCHECK_HOST choose where it listens; every other HEALTHCHECK_* variable reaches the healthcheck as usual.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.integration.kafka_stack import (  # noqa: E402 (after the path set-up above)
    DEFAULT_VERSION,
    ConnectRestError,
    KafkaStack,
    StackError,
    create_demo_connectors,
    ensure_jars,
)
from tests.waiting import WaitTimeout, wait_until  # noqa: E402

DEFAULT_PORT = 18083
OK_CONNECTOR = "demo-ok-sink"
FAILING_CONNECTOR = "demo-failing-sink"
START_TIMEOUT = 60.0


class DemoError(Exception):
    """Something the user must fix; the message says what."""


def say(text: str = "") -> None:
    print(text, flush=True)


def console_script() -> str:
    """The console script of this venv (the one `make venv` installed), else the one on PATH."""
    beside = Path(sys.executable).parent / "kafka-connect-healthcheck"
    found = str(beside) if beside.is_file() else shutil.which("kafka-connect-healthcheck")
    if not found:
        raise DemoError("kafka-connect-healthcheck is not installed: run `make venv` (or `make demo`)")
    return found


def listen_address() -> tuple[str, int]:
    host = os.environ.get("HEALTHCHECK_HOST") or "127.0.0.1"
    raw = os.environ.get("HEALTHCHECK_PORT") or str(DEFAULT_PORT)
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise DemoError(f"HEALTHCHECK_PORT={raw!r} is not a port number (1-65535)")
    return host, int(raw)


def check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds: TIME_WAIT is no obstacle
        try:
            probe.bind((host, port))
        except OSError as error:
            raise DemoError(
                f"port {port} on {host} is busy ({error.strerror}): is another healthcheck or demo running? "
                f"Choose another port, e.g. HEALTHCHECK_PORT={port + 1} make demo"
            ) from None


def get(url: str) -> tuple[int, str]:
    """(status, body) of one GET; an HTTP error status is an answer too."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()


def trimmed(doc: Any) -> Any:
    """The document with each stack trace cut to its first line (the answer itself has the whole trace)."""
    if isinstance(doc, dict):
        out = {}
        for key, value in doc.items():
            if key == "trace" and isinstance(value, str) and "\n" in value:
                lines = value.strip().splitlines()
                value = f"{lines[0]} ... ({len(lines) - 1} more lines)"
            out[key] = trimmed(value)
        return out
    if isinstance(doc, list):
        return [trimmed(item) for item in doc]
    return doc


def show(url: str, path: str) -> None:
    status, body = get(url + path)
    phrase = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}.get(status, "")
    say(f"GET {path} now: {status} {phrase}")
    try:
        say(json.dumps(trimmed(json.loads(body)), indent=2))
    except ValueError:
        say(body)
    say()


class Healthcheck:
    """The console script as a child process in its own session (Ctrl-C reaches only the demo, which stops it
    in order); its log lines are relayed to our stderr with a prefix."""

    def __init__(self, connect_url: str, host: str, port: int) -> None:
        url_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        self.url = f"http://{f'[{url_host}]' if ':' in url_host else url_host}:{port}"
        command = [console_script(), "--host", host, "--port", str(port), "--connect-url", connect_url]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._relay = threading.Thread(target=self._relay_log, name="healthcheck-log", daemon=True)
        self._relay.start()

    def _relay_log(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout:
            for line in self.process.stdout:
                sys.stderr.write("  [healthcheck] " + line.decode(errors="replace"))
                sys.stderr.flush()

    def wait_for(self, ready: Any, what: str) -> None:
        """Poll GET / until `ready(status, body)`; fail if the process exits or START_TIMEOUT passes."""

        def shown() -> bool:
            if self.process.poll() is not None:
                raise DemoError(f"the healthcheck exited with status {self.process.returncode} (its log is above)")
            status, body = get(self.url + "/")
            return bool(ready(status, json.loads(body)))

        try:
            wait_until(shown, START_TIMEOUT, interval=0.2, what=what, ignore=(OSError,))
        except WaitTimeout:
            raise DemoError(f"the healthcheck did not show {what} within {START_TIMEOUT:g} s") from None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._relay.join(timeout=5)


def interrupt(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def start_stack(stack: KafkaStack) -> None:
    if not shutil.which(stack.java):
        raise DemoError(f"Java 17+ ({stack.java}) and Maven are needed: `make demo` installs them (make system-deps)")
    say(f"Fetching the Kafka {stack.version} jars (from Maven Central on the first run only, about 80 MB)...")
    lib = ensure_jars(stack.version)
    say(f"  cached in {lib.parent}")
    say(f"Starting a Kafka {stack.version} broker (KRaft) and a Kafka Connect worker (10-25 s)...")
    stack.start()
    say(f"  Connect REST API at {stack.connect_url} (worker id {stack.worker_id}); data and logs in {stack.workdir}")
    say(f"Creating {OK_CONNECTOR} (RUNNING) and {FAILING_CONNECTOR} (a FileStreamSink into a missing folder)...")
    create_demo_connectors(stack)


def print_guide(healthcheck: Healthcheck, connect_url: str, stack: KafkaStack | None, example: str | None) -> None:
    url = healthcheck.url
    say()
    say("=" * 100)
    say(f"kafka-connect-healthcheck is serving on {url}, polling Kafka Connect at {connect_url}")
    pids = f"healthcheck pid {healthcheck.process.pid}"
    if stack is not None:
        pids += f", Connect worker pid {stack.worker_pid}, Kafka broker pid {stack.broker_pid}"
    say(f"Processes: {pids}")
    say()
    say("Try:")
    one = example or "<connector>"
    for path, why in (
        ("/", "200 healthy, 503 not, with the failures"),
        ("/ready", "200 while Connect answers the polls"),
        ("/connectors", "every connector's states"),
        (f"/connectors/{one}", "one connector's own health"),
        ("/metrics", "Prometheus metrics"),
    ):
        say(f"  curl -s -i {url + path:<{len(url) + len(one) + 13}}  # {why}")
    say()
    show(url, "/")
    if example is not None:
        show(url, f"/connectors/{example}")
    say("Press Ctrl-C to stop " + ("the healthcheck, then Connect, then Kafka." if stack else "the healthcheck."))


def main() -> int:
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    stack: KafkaStack | None = None
    healthcheck: Healthcheck | None = None
    try:
        host, port = listen_address()
        check_port_free(host, port)
        existing = os.environ.get("HEALTHCHECK_CONNECT_URL")
        if existing:
            connect_url = existing
            say(f"HEALTHCHECK_CONNECT_URL is set: starting only the healthcheck, against {connect_url}")
        else:
            stack = KafkaStack(DEFAULT_VERSION)  # stopped in `finally`, however far it got
            start_stack(stack)
            connect_url = stack.connect_url
        say(f"Starting kafka-connect-healthcheck on {host}:{port}...")
        healthcheck = Healthcheck(connect_url, host, port)
        if stack is not None:
            healthcheck.wait_for(
                lambda status, doc: (
                    status == 503 and any(f.get("connector") == FAILING_CONNECTOR for f in doc.get("failures", []))
                ),
                f"{FAILING_CONNECTOR}'s failure",
            )
            example: str | None = OK_CONNECTOR
        else:
            healthcheck.wait_for(lambda status, doc: "checked_at" in doc, "a first poll of Connect")
            listed = json.loads(get(healthcheck.url + "/connectors")[1]).get("connectors", [])
            # a healthy connector for the example, if there is one: GET / already shows what is failing
            example = next((c["name"] for c in sorted(listed, key=lambda c: not c["healthy"])), None)
        print_guide(healthcheck, connect_url, stack, example)
        while True:
            time.sleep(1)
            if healthcheck.process.poll() is not None:
                raise DemoError(f"the healthcheck exited with status {healthcheck.process.returncode}")
            if stack is not None and not stack.is_worker_running():
                raise DemoError(f"the Connect worker exited; its log: {stack.worker_log}")
    except KeyboardInterrupt:
        say()
        status = 0
    except (DemoError, StackError, ConnectRestError, TimeoutError) as error:
        print(f"demo: {error}", file=sys.stderr, flush=True)
        status = 1
    finally:
        # a second Ctrl-C must not cut the clean stop short and orphan a JVM
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if healthcheck is not None:
            say("Stopping the healthcheck...")
            healthcheck.stop()
        if stack is not None and stack.broker_pid is not None:
            say("Stopping the Connect worker, then the Kafka broker...")
        if stack is not None:
            stack.stop()
        if healthcheck is not None or stack is not None:
            say("Stopped.")
    return status


if __name__ == "__main__":
    sys.exit(main())
