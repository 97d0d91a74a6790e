"""Kafka versions and their jars: fetched once per version from Maven Central through kafka/pom.xml, cached."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.integration.kafka_stack.errors import StackError

POM = Path(__file__).resolve().parent.parent / "kafka" / "pom.xml"

DEFAULT_VERSION = "4.4.0"
#: Versions verified on OpenJDK 17: newest, newest 3.9 patch (first with GET /health), an old line
#: without STOPPED and /health.
SUPPORTED_VERSIONS: tuple[str, ...] = ("4.4.0", "3.9.2", "3.4.1")

LOG_TAIL_LINES = 40
MARKER_NAME = ".complete.json"


def version_tuple(version: str) -> tuple[int, int, int]:
    """``"3.9.2"`` -> ``(3, 9, 2)``; suffixes such as ``-rc1`` are ignored."""
    parts = [*version.split("-", 1)[0].split("."), "0", "0"][:3]
    return (int(parts[0]), int(parts[1]), int(parts[2]))


def default_cache_dir(version: str) -> Path:
    """``$KC_HC_CACHE/kafka-<version>``, else ``~/.cache/kafka-connect-healthcheck/kafka-<version>``."""
    root = os.environ.get("KC_HC_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "kafka-connect-healthcheck"
    return base / f"kafka-{version}"


def _pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def ensure_jars(version: str, cache_dir: Path | None = None, *, mvn: str | None = None) -> Path:
    """Fetch every jar for ``version`` into ``cache_dir/lib`` once and return that folder.

    ``cache_dir/plugins`` (a Connect ``plugin.path``) is filled only when the pom installs isolated
    plugins (4.4.0, see the pom). A marker file with the pom's hash is written after a successful
    fetch; later calls return at once. The fetch goes into a temporary folder that is renamed at the
    end, so an interrupted run never looks complete.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir(version)
    lib = cache / "lib"
    plugins = cache / "plugins"
    marker = cache / MARKER_NAME
    digest = _pom_digest()
    if marker.is_file() and lib.is_dir():
        with contextlib.suppress(ValueError, OSError):
            info = json.loads(marker.read_text())
            if info.get("version") == version and info.get("pom_sha256") == digest:
                return lib
    mvn_exe = mvn or shutil.which("mvn")
    if not mvn_exe:
        raise StackError("Maven ('mvn') is not on PATH; it is needed once per Kafka version to fetch jars")
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="fetch.tmp-", dir=cache))
    cmd = [
        mvn_exe,
        "-B",
        "-q",
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        "dependency:copy@isolated-plugins",
        f"-Dkafka.version={version}",
        f"-DoutputDirectory={tmp / 'lib'}",
        f"-Dkafka.plugins.dir={tmp / 'plugins'}",
    ]
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise StackError(f"mvn timed out after {exc.timeout}s fetching Kafka {version}") from exc
    jars = sorted(tmp.glob("**/*.jar"))
    if proc.returncode != 0 or not (tmp / "lib").is_dir():
        shutil.rmtree(tmp, ignore_errors=True)
        out = "\n".join((proc.stdout + proc.stderr).splitlines()[-LOG_TAIL_LINES:])
        raise StackError(f"mvn failed (exit {proc.returncode}) fetching Kafka {version}:\n{out}")
    info = {
        "version": version,
        "pom_sha256": digest,
        "jar_count": len(jars),
        "bytes": sum(j.stat().st_size for j in jars),
        "fetch_seconds": round(time.monotonic() - started, 1),
    }
    marker.unlink(missing_ok=True)
    for old in (lib, plugins):
        if old.exists():
            shutil.rmtree(old)
    (tmp / "lib").rename(lib)
    if (tmp / "plugins").is_dir():
        (tmp / "plugins").rename(plugins)
    shutil.rmtree(tmp, ignore_errors=True)
    marker.write_text(json.dumps(info, indent=1) + "\n")
    return lib
