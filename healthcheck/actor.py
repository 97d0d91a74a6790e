"""One actor per host: a host-wide file lock says which process acts, and a file beside it shares what it did.

Every process polls and serves, but only the one holding the lock runs the actions (restarts, notifications),
so `--workers N` (or `gunicorn -w N`) restarts a connector once, not N times. The others try the lock again at
every poll: when the actor dies, however it dies, the kernel drops its lock and the next poll of another
process takes it, within one poll interval. The actor writes its action state (restart attempts, next
restart; the notifier's open incidents, in a file of their own) to JSON files beside the lock, temp file then
rename, so every process shows the same state, and a new actor carries on where the old one stopped instead of
starting the attempt count again or opening incidents a second time.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PREFIX = "kafka-connect-healthcheck-"


def default_state_dir() -> str:
    """$XDG_RUNTIME_DIR when it is a writable directory (per user, cleared at logout or boot), else the
    system's temp directory (TMPDIR, else /tmp: writable in the container image, where HOME is not)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isdir(runtime) and os.access(runtime, os.W_OK | os.X_OK):
        return runtime
    return tempfile.gettempdir()


def actor_paths(state_dir: str, connect_url: str, port: int) -> tuple[Path, Path]:
    """(lock file, action state file) for the processes that serve `port` and watch `connect_url`: the
    workers of one server share them; another server on this host (another port or Connect) has its own."""
    key = hashlib.sha256(f"{connect_url.rstrip('/')}|{port}".encode()).hexdigest()[:16]
    base = Path(state_dir or default_state_dir()) / f"{PREFIX}{key}"
    return base.with_suffix(".lock"), base.with_suffix(".actions.json")


class ActorLock:
    """A non-blocking, exclusive flock(2) on `path`, held by this process until it exits or releases it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._open_failed = False

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_hold(self) -> bool:
        """Whether this process is the actor now; takes the lock if it is free. Cheap: one syscall or two."""
        if self._fd is not None:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            if not self._open_failed:  # said once; every poll would say it again
                log.error("cannot open the actor lock %s (%s): this process will not act", self.path, error)
                self._open_failed = True
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held by another process (EWOULDBLOCK)
            os.close(fd)
            return False
        self._fd = fd
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # for a human asking which process acts
        log.info("this process (pid %d) is now the one that acts for this host (lock %s)", os.getpid(), self.path)
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor drops the flock
            self._fd = None


class ActionStateFile:
    """A small JSON document the actor writes and every process reads; a reader sees the old or the new
    document, never half of one (written to a temp file in the same directory, then renamed over)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._raw: bytes | None = None
        self._doc: dict[str, Any] = {}

    def write(self, doc: dict[str, Any]) -> None:
        fd, temp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(doc, out, separators=(",", ":"))
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    def read(self) -> dict[str, Any]:
        """The newest document ({} when there is none or it is unreadable); parsed again only when its bytes
        changed. Read whole at every call: stat() cannot tell two versions apart (a freed inode number is
        reused by the next rename, with the same size, within one timestamp tick)."""
        try:
            raw = self.path.read_bytes()
        except OSError:
            return {}
        if raw != self._raw:
            try:
                doc = json.loads(raw)
            except ValueError:
                return {}
            self._doc = doc if isinstance(doc, dict) else {}
            self._raw = raw
        return self._doc
