"""Run the healthcheck as a real process (console script or gunicorn) on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import requests

from tests.waiting import wait_until

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
CONSOLE_SCRIPT = str(BIN / "kafka-connect-healthcheck")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_serving(process: subprocess.Popen[bytes], url: str, log: Callable[[], str], *, timeout: float) -> None:
    """Wait until `url` answers 200; fail at once, with the process's log, if it exits first."""

    def serving() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode} before {url} answered:\n{log()}")
        try:
            return requests.get(url, timeout=1).status_code == 200
        except requests.RequestException:
            return False

    wait_until(serving, timeout=timeout, what=f"{url} to answer 200")


def end(process: subprocess.Popen[bytes], signum: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
    """Send `signum` and return the exit status; None if it had to be killed after `timeout` seconds."""
    process.send_signal(signum)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None


class ServerProcess:
    """A child process serving on 127.0.0.1:`port`; its stderr goes to a file we can read."""

    def __init__(self, command: Sequence[str], env: dict[str, str] | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self.command = [part.replace("{port}", str(self.port)) for part in command]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HEALTHCHECK_")}
        self.env.update(env or {})
        fd, name = tempfile.mkstemp(prefix="healthcheck-", suffix=".log")
        os.close(fd)
        self._log_path = Path(name)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> ServerProcess:
        with self._log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        if wait:
            wait_serving(self.process, self.url + "/ping", self.log, timeout=20)
        return self

    def get(self, path: str = "/", timeout: float = 2.0) -> requests.Response:
        return requests.get(self.url + path, timeout=timeout)

    def log(self) -> str:
        return self._log_path.read_text(errors="replace")

    def signal(self, signum: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Send `signum` and return the exit status (fails the test if it does not exit in time)."""
        assert self.process is not None
        status = end(self.process, signum, timeout)
        if status is None:
            raise AssertionError(f"server did not exit within {timeout} s of signal {signum}:\n{self.log()}")
        return status

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.signal(signal.SIGTERM)
        self._log_path.unlink(missing_ok=True)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
