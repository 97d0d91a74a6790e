"""A real Alertmanager (the Debian package) on 127.0.0.1, with a config the test writes, and its API."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import requests

from tests.waiting import wait_until

BINARY = "prometheus-alertmanager"
CONFIG = """\
route:
  receiver: "nobody"
  group_wait: 1s
receivers:
  - name: "nobody"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AlertmanagerProcess:
    def __init__(self, directory: Path) -> None:
        binary = shutil.which(BINARY) or shutil.which("alertmanager")
        if binary is None:
            raise RuntimeError(f"{BINARY} is not installed: `make system-deps` installs it")
        self.port = free_port()
        config = directory / "alertmanager.yml"
        config.write_text(CONFIG)
        self._log = (directory / "alertmanager.log").open("wb")
        self._process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",  # no gossip port: one instance, loopback only
                "--log.level=warn",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.log_path = directory / "alertmanager.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        def ready() -> bool:
            if self._process.poll() is not None:
                raise AssertionError(f"alertmanager exited: {self.log_path.read_text()[-2000:]}")
            try:
                return requests.get(self.url + "/-/ready", timeout=1).status_code == 200
            except requests.ConnectionError:
                return False

        wait_until(ready, timeout=30, what="Alertmanager to be ready")

    def alerts(self, **filters: str) -> list[dict[str, Any]]:
        """GET /api/v2/alerts: the alerts Alertmanager holds (active unless asked otherwise)."""
        response = requests.get(self.url + "/api/v2/alerts", params=filters, timeout=5)
        response.raise_for_status()
        return list(response.json())

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._log.close()
