"""Run the healthcheck as a real process (console script or gunicorn) on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
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
            wait_until(self._serving, timeout=20, what=f"{self.command[0]} to serve /ping\n{self.log()}")
        return self

    def _serving(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"server exited with {self.process.returncode}:\n{self.log()}")
        try:
            return requests.get(self.url + "/ping", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def get(self, path: str = "/", timeout: float = 2.0) -> requests.Response:
        return requests.get(self.url + path, timeout=timeout)

    def log(self) -> str:
        return self._log_path.read_text(errors="replace")

    def signal(self, signum: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Send `signum` and return the exit status (fails the test if it does not exit in time)."""
        assert self.process is not None
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"server did not exit within {timeout} s of signal {signum}:\n{self.log()}") from None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.signal(signal.SIGTERM)
        self._log_path.unlink(missing_ok=True)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
