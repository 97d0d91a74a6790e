"""`make demo` for real: it starts Kafka, Connect and the healthcheck, shows both answers, and Ctrl-C stops it all."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.server_process import free_port
from tests.waiting import wait_until

DEMO = Path(__file__).resolve().parents[2] / "deploy" / "demo" / "demo.py"


class Demo:
    """demo.py as a child process; its stdout lines are read by a thread so a test can wait with a deadline."""

    def __init__(self, port: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEALTHCHECK_")}
        env.update(HEALTHCHECK_PORT=str(port), PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            [sys.executable, str(DEMO)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.ended = False  # set after the last line is in `lines`
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout:
            for line in self.process.stdout:
                self.lines.append(line)
        self.ended = True

    def read_until(self, marker: str, timeout: float) -> str:
        """Everything printed so far, once a line contains `marker`; fail after `timeout` seconds or at EOF."""

        def printed() -> bool:
            ended = self.ended  # read first: when it is set, every line is already in
            if marker in self.output:
                return True
            if ended:
                pytest.fail(f"demo.py ended before printing {marker!r}:\n{self.output}")
            return False

        wait_until(printed, timeout, interval=0.1, what=f"demo.py to print {marker!r}", describe=lambda: self.output)
        return self.output

    @property
    def output(self) -> str:
        return "".join(self.lines)


@pytest.fixture
def demo() -> Iterator[Demo]:
    """demo.py running on a free port; killed at the end if the test did not stop it."""
    running = Demo(free_port())
    yield running
    if running.process.poll() is None:
        running.process.send_signal(signal.SIGINT)
        try:
            running.process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            running.process.kill()
            running.process.wait()


def test_the_demo_shows_a_failing_and_a_healthy_answer_and_ctrl_c_stops_everything(demo: Demo) -> None:
    shown = demo.read_until("Press Ctrl-C", timeout=150)
    url = re.search(r"serving on (http://127\.0\.0\.1:\d+)", shown).group(1)  # type: ignore[union-attr]
    pids = [int(pid) for pid in re.findall(r"pid (\d+)", shown.split("Processes:")[1].splitlines()[0])]
    workdir = Path(re.search(r"data and logs in (\S+)", shown).group(1))  # type: ignore[union-attr]
    assert "GET / now: 503 Service Unavailable" in shown
    assert "GET /connectors/demo-ok-sink now: 200 OK" in shown
    assert f"curl -s -i {url}/connectors/demo-ok-sink" in shown
    assert "for FileStreamSinkTask ... (" in shown  # the trace, trimmed to its first line

    answer = requests.get(url + "/", timeout=5)
    assert answer.status_code == 503
    assert [f["connector"] for f in answer.json()["failures"]] == ["demo-failing-sink"]
    assert requests.get(url + "/connectors/demo-ok-sink", timeout=5).status_code == 200

    demo.process.send_signal(signal.SIGINT)
    assert demo.process.wait(timeout=90) == 0
    demo.read_until("Stopped.", timeout=5)
    assert demo.output.index("Stopping the healthcheck") < demo.output.index("Stopping the Connect worker")
    assert len(pids) == 3
    for pid in pids:  # the healthcheck, the worker, the broker
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not workdir.exists()
