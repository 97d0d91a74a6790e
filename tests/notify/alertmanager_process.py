"""A real Alertmanager (the Debian package) on 127.0.0.1, with a config the test writes, and its API."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import requests

from tests.server_process import end, free_port, wait_serving

BINARY = "prometheus-alertmanager"
CONFIG = """\
route:
  receiver: "nobody"
  group_wait: 1s
receivers:
  - name: "nobody"
"""


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
        wait_serving(self._process, self.url + "/-/ready", lambda: self.log_path.read_text()[-2000:], timeout=30)

    def alerts(self, **filters: str) -> list[dict[str, Any]]:
        """GET /api/v2/alerts: the alerts Alertmanager holds (active unless asked otherwise)."""
        response = requests.get(self.url + "/api/v2/alerts", params=filters, timeout=5)
        response.raise_for_status()
        return list(response.json())

    def stop(self) -> None:
        end(self._process, timeout=10)
        self._log.close()
