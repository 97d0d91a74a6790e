"""Real-Kafka recipes for the progress check: a topic fed by a FileStreamSource, and a FileStreamSink that
writes into a FIFO whose reader the test controls (verified in /work/shared/REAL-KAFKA-CONNECT.md: a sink
RUNNING but stuck)."""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from pathlib import Path

from tests.integration.kafka_stack import recipes


class Feed:
    """A topic fed through a FileStreamSource reading a file this object appends to."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.touch()
        self.lines = 0

    def source_config(self, topic: str) -> dict[str, str]:
        config = recipes.running_source(self.path.parent, topic=topic, file_name=self.path.name)
        config["batch.size"] = "5000"
        return config

    def append(self, lines: int, width: int = 100) -> None:
        """`lines` lines of `width` bytes (newline included)."""
        with self.path.open("a") as out:
            for i in range(lines):
                out.write(f"{self.lines + i:0{width - 1}d}\n")
        self.lines += lines


class FifoReader:
    """The reading end of a FIFO a FileStreamSink writes into. Opened first (non-blocking), so the task's
    open-for-writing succeeds; it reads only while `draining`, so the pipe fills and the sink blocks in write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        os.mkfifo(path)
        self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.read_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sink_config(self, topic: str) -> dict[str, str]:
        return recipes.running_sink(self.path.parent, topic=topic, file_name=self.path.name)

    def drain(self) -> None:
        """Read everything, now and from now on, until close()."""

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    chunk = os.read(self._fd, 1 << 16)
                except OSError as error:
                    if error.errno != errno.EAGAIN:
                        return
                    chunk = b""
                self.read_bytes += len(chunk)
                if not chunk:
                    self._stop.wait(0.05)  # the pipe is empty: look again shortly

        self._thread = threading.Thread(target=loop, name="fifo-reader", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        with contextlib.suppress(OSError):
            os.close(self._fd)
