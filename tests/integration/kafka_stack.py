"""A real single-node Kafka broker (KRaft) plus a real Kafka Connect distributed worker, for tests and demos.

Stdlib only (Python 3.11). The jars come from Maven Central through ``tests/integration/kafka/pom.xml``
and are cached per Kafka version (see :func:`ensure_jars`). Verified versions: 4.4.0, 3.9.2, 3.4.1
with OpenJDK 17; facts and timings are in ``docs/real-kafka-connect.md``.

Library use::

    with KafkaStack("4.4.0") as stack:
        stack.create_connector("ok", recipes.running_sink(stack.workdir))
        stack.wait_for_state("ok", "RUNNING", ["RUNNING"])

Command line::

    # prints one JSON line {"connect_url", "worker_id", "version"}, then waits for SIGINT/SIGTERM
    python tests/integration/kafka_stack.py --version 4.4.0 [--demo]
    python tests/integration/kafka_stack.py --version 3.9.2 --record tests/fixtures/connect/3.9.2
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

__all__ = [
    "DEFAULT_VERSION",
    "SUPPORTED_VERSIONS",
    "ConnectRestError",
    "KafkaStack",
    "StackError",
    "UnsupportedFeatureError",
    "default_cache_dir",
    "ensure_jars",
    "recipes",
    "record_fixtures",
    "version_tuple",
]

HERE = Path(__file__).resolve().parent
POM = HERE / "kafka" / "pom.xml"

DEFAULT_VERSION = "4.4.0"
#: Versions verified on OpenJDK 17: newest, newest 3.9 patch (first with GET /health), an old line
#: without STOPPED and /health.
SUPPORTED_VERSIONS: tuple[str, ...] = ("4.4.0", "3.9.2", "3.4.1")

DEFAULT_JVM_OPTS: tuple[str, ...] = (
    "-Xms128m",
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:TieredStopAtLevel=1",  # C1 only: faster start-up on 2 cores, see docs/real-kafka-connect.md
    "-Djava.awt.headless=true",
)

BROKER_START_TIMEOUT = 90.0
WORKER_START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
LOG_TAIL_LINES = 40
MARKER_NAME = ".complete.json"

T = TypeVar("T")

_LOG4J2_PROPERTIES = """\
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %X{connector.context}%m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.reflections.name = org.reflections
logger.reflections.level = ERROR
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
logger.jetty.name = org.eclipse.jetty
logger.jetty.level = WARN
"""

# Only used with the pom's -Dkafka.logging=reload4j variant (3.x).
_LOG4J1_PROPERTIES = """\
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %X{connector.context}%m (%c)%n
log4j.logger.org.reflections=ERROR
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.org.eclipse.jetty=WARN
"""


class StackError(RuntimeError):
    """The stack could not be prepared, started or stopped (the message carries a log tail)."""


class UnsupportedFeatureError(StackError):
    """The requested REST feature does not exist in this Kafka version."""


class ConnectRestError(RuntimeError):
    """A Connect REST call returned an unexpected status code."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        super().__init__(f"{method} {path} -> HTTP {status}: {body!r}")
        self.method = method
        self.path = path
        self.status = status
        self.body = body


@dataclass(frozen=True)
class RestResponse:
    status: int
    body: Any  # parsed JSON, a str if the body is not JSON, None if empty


# --------------------------------------------------------------------------------------------------
# versions, jars
# --------------------------------------------------------------------------------------------------


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


def _default_java() -> str:
    explicit = os.environ.get("KC_HC_JAVA")
    if explicit:
        return explicit
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    return shutil.which("java") or "java"


def _free_ports(count: int) -> list[int]:
    """Distinct free TCP ports on 127.0.0.1 (all sockets held open until every port is chosen)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _cluster_id() -> str:
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with path.open(errors="replace") as fh:
            return "".join(deque(fh, maxlen=lines))
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"


def _tcp_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _props(values: Mapping[str, object]) -> str:
    return "".join(f"{k}={v}\n" for k, v in values.items())


# --------------------------------------------------------------------------------------------------
# recipes
# --------------------------------------------------------------------------------------------------

FILE_SINK = "org.apache.kafka.connect.file.FileStreamSinkConnector"
FILE_SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"
MIRROR_HEARTBEAT = "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector"
STRING_CONVERTER = "org.apache.kafka.connect.storage.StringConverter"


class recipes:  # a namespace, used as recipes.running_sink(...)
    """Connector configs (built-in plugins only) that drive a connector into a known state."""

    @staticmethod
    def running_sink(workdir: Path, topic: str = "hc-in", file_name: str = "ok-sink.txt") -> dict[str, str]:
        """FileStreamSink: connector RUNNING, task 0 RUNNING."""
        return {
            "connector.class": FILE_SINK,
            "tasks.max": "1",
            "topics": topic,
            "file": str(Path(workdir) / file_name),
            "key.converter": STRING_CONVERTER,
            "value.converter": STRING_CONVERTER,
        }

    @staticmethod
    def running_source(workdir: Path, topic: str = "hc-in", file_name: str = "in.txt") -> dict[str, str]:
        """FileStreamSource: connector RUNNING, task 0 RUNNING (a missing input file is only logged)."""
        return {
            "connector.class": FILE_SOURCE,
            "tasks.max": "1",
            "topic": topic,
            "file": str(Path(workdir) / file_name),
            "key.converter": STRING_CONVERTER,
            "value.converter": STRING_CONVERTER,
        }

    @staticmethod
    def failing_task_sink(topic: str = "hc-in") -> dict[str, str]:
        """FileStreamSink into a nonexistent directory: connector RUNNING, task 0 FAILED
        (``ConnectException: Couldn't find or create file ...`` from FileStreamSinkTask.start)."""
        return {
            "connector.class": FILE_SINK,
            "tasks.max": "1",
            "topics": topic,
            "file": "/nonexistent-kc-hc-dir/sub/out.txt",
            "key.converter": STRING_CONVERTER,
            "value.converter": STRING_CONVERTER,
        }

    @staticmethod
    def failing_connector() -> dict[str, str]:
        """MirrorHeartbeatConnector without ``target.cluster.bootstrap.servers``: start() throws while
        creating the target admin client, so the connector is FAILED with ``tasks: []``."""
        return {
            "connector.class": MIRROR_HEARTBEAT,
            "tasks.max": "1",
            "source.cluster.alias": "a",
        }


# --------------------------------------------------------------------------------------------------
# the stack
# --------------------------------------------------------------------------------------------------


class KafkaStack:
    """One KRaft broker+controller and one Connect distributed worker, on free loopback ports.

    ``workdir=None`` (default): a fresh temp dir, deleted by :meth:`stop`. A given ``workdir`` is
    created if needed and kept (logs: ``broker.log``, ``connect.log``); it must not hold old Kafka data.
    ``java``: default ``$KC_HC_JAVA``, then ``$JAVA_HOME/bin/java``, then ``java`` on PATH (17+).
    """

    def __init__(
        self,
        version: str = DEFAULT_VERSION,
        workdir: Path | None = None,
        java: str | None = None,
        *,
        cache_dir: Path | None = None,
        jvm_opts: Sequence[str] = DEFAULT_JVM_OPTS,
        broker_timeout: float = BROKER_START_TIMEOUT,
        worker_timeout: float = WORKER_START_TIMEOUT,
        extra_worker_props: Mapping[str, str] | None = None,
    ) -> None:
        self.version = version
        self.java = java or _default_java()
        self.cache_dir = cache_dir
        self.jvm_opts = tuple(jvm_opts)
        self.broker_timeout = broker_timeout
        self.worker_timeout = worker_timeout
        self.extra_worker_props = dict(extra_worker_props or {})
        self._given_workdir = Path(workdir) if workdir is not None else None
        self.workdir: Path = self._given_workdir or Path("/nonexistent-not-started")
        self._owns_workdir = False
        self.lib_dir: Path | None = None
        self.broker_port = 0
        self.controller_port = 0
        self.connect_port = 0
        self.group_id = ""
        self._broker: subprocess.Popen[bytes] | None = None
        self._worker: subprocess.Popen[bytes] | None = None
        self._worker_starts = 0
        self._atexit_registered = False
        #: first GET /health answer per status code seen while the worker was starting (3.9+);
        #: e.g. 404 (Jetty up, resources not yet registered), 503 "starting", 200 "healthy"
        self.health_while_starting: dict[int, RestResponse] = {}
        #: seconds per start-up step (jars, format, broker_tcp, broker_started_log, worker_ready, ...)
        self.timings: dict[str, float] = {}

    # ---- feature flags --------------------------------------------------------------------------

    @property
    def vt(self) -> tuple[int, int, int]:
        return version_tuple(self.version)

    @property
    def has_health_endpoint(self) -> bool:
        return self.vt >= (3, 9, 0)

    @property
    def has_stopped_state(self) -> bool:
        return self.vt >= (3, 5, 0)

    @property
    def has_initial_state(self) -> bool:
        return self.vt >= (3, 7, 0)

    @property
    def has_restart_options(self) -> bool:
        return self.vt >= (3, 0, 0)

    # ---- addresses ------------------------------------------------------------------------------

    @property
    def connect_url(self) -> str:
        return f"http://127.0.0.1:{self.connect_port}"

    @property
    def worker_id(self) -> str:
        """Exactly what Connect reports: advertised host + ':' + advertised port."""
        return f"127.0.0.1:{self.connect_port}"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.broker_port}"

    @property
    def broker_log(self) -> Path:
        return self.workdir / "broker.log"

    @property
    def worker_log(self) -> Path:
        return self.workdir / "connect.log"

    @property
    def broker_pid(self) -> int | None:
        return self._broker.pid if self._broker else None

    @property
    def worker_pid(self) -> int | None:
        return self._worker.pid if self._worker else None

    def info(self) -> dict[str, str]:
        return {"connect_url": self.connect_url, "worker_id": self.worker_id, "version": self.version}

    # ---- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> KafkaStack:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> KafkaStack:
        """Fetch jars (cached), format storage, start the broker, then the worker; wait until ready."""
        if self._broker is not None:
            raise StackError("stack already started")
        t0 = time.monotonic()
        self.lib_dir = ensure_jars(self.version, self.cache_dir)
        self.timings["jars"] = time.monotonic() - t0
        if self._given_workdir is not None:
            self.workdir = self._given_workdir
            self.workdir.mkdir(parents=True, exist_ok=True)
            self._owns_workdir = False
        else:
            self.workdir = Path(tempfile.mkdtemp(prefix=f"kc-hc-{self.version}-"))
            self._owns_workdir = True
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True
        try:
            self.broker_port, self.controller_port, self.connect_port = _free_ports(3)
            self.group_id = f"hc-it-{uuid.uuid4().hex[:8]}"
            self._write_configs()
            self._format_storage()
            self._start_broker()
            self._start_worker_process()
        except BaseException:
            self.stop()
            raise
        self.timings["start_total"] = time.monotonic() - t0
        return self

    def stop(self) -> None:
        """SIGTERM the worker (≤30 s), then the broker (≤30 s); SIGKILL only after a timeout. Idempotent."""
        try:
            self.stop_worker()
        finally:
            try:
                if self._broker is not None:
                    t0 = time.monotonic()
                    self._terminate(self._broker, "broker")
                    self.timings["broker_stop"] = time.monotonic() - t0
                    self._broker = None
            finally:
                if self._owns_workdir and self.workdir.exists():
                    shutil.rmtree(self.workdir, ignore_errors=True)
                self._owns_workdir = False

    def stop_worker(self) -> None:
        """Stop only the Connect worker (graceful SIGTERM), e.g. to simulate an outage."""
        if self._worker is not None:
            t0 = time.monotonic()
            self._terminate(self._worker, "worker")
            self.timings["worker_stop"] = time.monotonic() - t0
            self._worker = None

    def start_worker(self) -> None:
        """(Re)start the Connect worker with the same ports, group id and topics; wait until ready."""
        if self._broker is None or self._broker.poll() is not None:
            raise StackError("broker is not running")
        if self._worker is not None and self._worker.poll() is None:
            raise StackError("worker is already running")
        self._start_worker_process()

    def is_worker_running(self) -> bool:
        return self._worker is not None and self._worker.poll() is None

    # ---- internals ------------------------------------------------------------------------------

    def _classpath(self) -> str:
        assert self.lib_dir is not None
        return str(self.lib_dir / "*")

    def _java_cmd(self, main: str, *args: str, jvm: bool = True) -> list[str]:
        cmd = [self.java]
        if jvm:
            cmd += self.jvm_opts
        cmd += [
            f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.properties'}",
            f"-Dlog4j.configuration=file:{self.workdir / 'log4j.properties'}",
            f"-Dkafka.logs.dir={self.workdir / 'logs'}",
            "-cp",
            self._classpath(),
            main,
            *args,
        ]
        return cmd

    def _write_configs(self) -> None:
        wd = self.workdir
        (wd / "logs").mkdir(exist_ok=True)
        (wd / "log4j2.properties").write_text(_LOG4J2_PROPERTIES)
        (wd / "log4j.properties").write_text(_LOG4J1_PROPERTIES)
        broker = {
            "process.roles": "broker,controller",
            "node.id": 1,
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.broker_port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.broker_port}",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": wd / "kraft-logs",
            "num.partitions": 1,
            "offsets.topic.replication.factor": 1,
            "offsets.topic.num.partitions": 1,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "group.initial.rebalance.delay.ms": 0,
            "auto.create.topics.enable": "true",
        }
        if self.vt >= (4, 0, 0):
            broker["share.coordinator.state.topic.replication.factor"] = 1
            broker["share.coordinator.state.topic.min.isr"] = 1
        (wd / "server.properties").write_text(_props(broker))
        g = self.group_id
        worker: dict[str, object] = {
            "bootstrap.servers": self.bootstrap,
            "group.id": g,
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "key.converter.schemas.enable": "false",
            "value.converter.schemas.enable": "false",
            "config.storage.topic": f"{g}-configs",
            "offset.storage.topic": f"{g}-offsets",
            "status.storage.topic": f"{g}-status",
            "config.storage.replication.factor": 1,
            "offset.storage.replication.factor": 1,
            "status.storage.replication.factor": 1,
            "offset.storage.partitions": 1,
            "status.storage.partitions": 1,
            "listeners": f"http://127.0.0.1:{self.connect_port}",
            "rest.advertised.host.name": "127.0.0.1",
            "rest.advertised.port": self.connect_port,
            "offset.flush.interval.ms": 1000,
            "scheduled.rebalance.max.delay.ms": 0,
        }
        if self.vt >= (3, 6, 0):
            # skip the reflective class-path scan (KIP-898): worker ready in ~9 s instead of ~25 s on 2 cores;
            # every plugin used here ships a ServiceLoader manifest
            worker["plugin.discovery"] = "service_load"
        assert self.lib_dir is not None
        plugins = self.lib_dir.parent / "plugins"
        if plugins.is_dir() and any(plugins.iterdir()):
            worker["plugin.path"] = plugins
        worker.update(self.extra_worker_props)
        (wd / "connect.properties").write_text(_props(worker))

    def _format_storage(self) -> None:
        t0 = time.monotonic()
        cmd = self._java_cmd(
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            _cluster_id(),
            "--config",
            str(self.workdir / "server.properties"),
            jvm=False,
        )
        cmd[1:1] = ["-Xmx256m", "-XX:TieredStopAtLevel=1"]
        log = self.workdir / "format.log"
        with log.open("wb") as out:
            try:
                rc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, timeout=120)
            except subprocess.TimeoutExpired as exc:
                raise StackError(f"StorageTool format timed out:\n{_tail(log)}") from exc
        if rc.returncode != 0:
            raise StackError(f"StorageTool format failed (exit {rc.returncode}):\n{_tail(log)}")
        self.timings["format"] = time.monotonic() - t0

    def _spawn(self, main: str, config: Path, log: Path) -> subprocess.Popen[bytes]:
        cmd = self._java_cmd(main, str(config))
        with log.open("ab") as out:
            # own session: a Ctrl-C in the terminal reaches only us, and we stop worker then broker in order
            return subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def _start_broker(self) -> None:
        t0 = time.monotonic()
        self._broker = self._spawn("kafka.Kafka", self.workdir / "server.properties", self.broker_log)
        proc = self._broker
        self._wait_process(
            proc,
            "broker",
            self.broker_log,
            self.broker_timeout,
            lambda: _tcp_open("127.0.0.1", self.broker_port),
        )
        self.timings["broker_tcp"] = time.monotonic() - t0
        # Informational: on 3.9/4.4 the PLAINTEXT listener accepts only once "Kafka Server started" is logged;
        # on 3.4 it accepts ~1 s earlier. Connect's admin client retries, so TCP is enough to go on.
        deadline = time.monotonic() + self.broker_timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if "Kafka Server started" in self.broker_log.read_text(errors="replace"):
                self.timings["broker_started_log"] = time.monotonic() - t0
                break
            time.sleep(0.1)
        if proc.poll() is not None:
            raise StackError(f"broker exited (code {proc.returncode}) during start:\n{_tail(self.broker_log)}")

    def _start_worker_process(self) -> None:
        t0 = time.monotonic()
        self._worker_starts += 1
        if self._worker_starts > 1:
            with self.worker_log.open("ab") as fh:
                fh.write(f"\n===== worker restart #{self._worker_starts - 1} =====\n".encode())
        self._worker = self._spawn(
            "org.apache.kafka.connect.cli.ConnectDistributed",
            self.workdir / "connect.properties",
            self.worker_log,
        )
        self._wait_process(self._worker, "Connect worker", self.worker_log, self.worker_timeout, self._worker_ready)
        self.timings["worker_ready" if self._worker_starts == 1 else "worker_restart_ready"] = time.monotonic() - t0

    def _worker_ready(self) -> bool:
        if self.has_health_endpoint:
            resp = self.raw("GET", "/health", timeout=5)
            self.health_while_starting.setdefault(resp.status, resp)
            return resp.status == 200
        return (
            self.raw("GET", "/", timeout=5).status == 200 and self.raw("GET", "/connectors", timeout=10).status == 200
        )

    def _wait_process(
        self,
        proc: subprocess.Popen[bytes],
        what: str,
        log: Path,
        timeout: float,
        ready: Callable[[], bool],
    ) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise StackError(
                    f"Kafka {self.version} {what} exited with code {proc.returncode} during start; "
                    f"last lines of {log}:\n{_tail(log)}"
                )
            try:
                if ready():
                    return
            except (OSError, http.client.HTTPException):
                pass  # not listening yet, or Jetty dropped the connection while starting
            if time.monotonic() >= deadline:
                raise StackError(
                    f"Kafka {self.version} {what} not ready after {timeout:.0f}s; last lines of {log}:\n{_tail(log)}"
                )
            time.sleep(0.2)

    @staticmethod
    def _terminate(proc: subprocess.Popen[bytes], what: str, timeout: float = STOP_TIMEOUT) -> None:
        if proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            print(
                f"kafka_stack: {what} (pid {proc.pid}) ignored SIGTERM for {timeout}s; SIGKILL",
                file=sys.stderr,
            )
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    # ---- REST -----------------------------------------------------------------------------------

    def raw(self, method: str, path: str, body: Any = None, *, timeout: float = 60.0) -> RestResponse:
        """One HTTP request to the worker; never raises for HTTP error codes (only OSError on I/O)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.connect_url + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return RestResponse(resp.status, _parse(resp.read()))
        except urllib.error.HTTPError as err:
            try:
                return RestResponse(err.code, _parse(err.read()))
            finally:
                err.close()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        ok: Iterable[int] = (200, 201, 202, 204),
        conflict_timeout: float = 30.0,
        timeout: float = 60.0,
    ) -> Any:
        """Request and return the parsed body; retries 409 (rebalance) until ``conflict_timeout``."""
        okset = set(ok)
        deadline = time.monotonic() + conflict_timeout
        delay = 0.25
        while True:
            resp = self.raw(method, path, body, timeout=timeout)
            if resp.status in okset:
                return resp.body
            if resp.status == 409 and 409 not in okset and time.monotonic() < deadline and _is_rebalance(resp.body):
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            raise ConnectRestError(method, path, resp.status, resp.body)

    def get(self, path: str) -> Any:
        return self.request("GET", path, ok=(200,))

    def connectors(self, *expand: str) -> Any:
        query = "".join(f"{'&' if i else '?'}expand={e}" for i, e in enumerate(expand))
        return self.get(f"/connectors{query}")

    def create_connector(
        self, name: str, config: Mapping[str, str], initial_state: str | None = None
    ) -> dict[str, Any]:
        """POST /connectors. ``initial_state`` (PAUSED/STOPPED/RUNNING) is native since 3.7; on older
        versions it is emulated with a pause/stop right after the create."""
        body: dict[str, Any] = {"name": name, "config": dict(config)}
        state = initial_state.upper() if initial_state else None
        if state == "STOPPED" and not self.has_stopped_state:
            raise UnsupportedFeatureError(f"STOPPED does not exist in Kafka {self.version} (3.5+)")
        if state and self.has_initial_state:
            body["initial_state"] = state
        result: dict[str, Any] = self.request("POST", "/connectors", body, ok=(201,))
        if state and not self.has_initial_state:
            if state == "PAUSED":
                self.pause(name)
            elif state == "STOPPED":
                self.stop_connector(name)
        return result

    def put_config(self, name: str, config: Mapping[str, str]) -> dict[str, Any]:
        result: dict[str, Any] = self.request("PUT", f"/connectors/{_q(name)}/config", dict(config), ok=(200, 201))
        return result

    def delete_connector(self, name: str) -> None:
        self.request("DELETE", f"/connectors/{_q(name)}", ok=(204,))

    def pause(self, name: str) -> None:
        self.request("PUT", f"/connectors/{_q(name)}/pause", ok=(202,))

    def resume(self, name: str) -> None:
        self.request("PUT", f"/connectors/{_q(name)}/resume", ok=(202,))

    def stop_connector(self, name: str) -> None:
        if not self.has_stopped_state:
            raise UnsupportedFeatureError(f"PUT /connectors/<name>/stop does not exist in Kafka {self.version}")
        self.request("PUT", f"/connectors/{_q(name)}/stop", ok=(204,))

    def restart(self, name: str, include_tasks: bool = False, only_failed: bool = False) -> Any:
        """POST /connectors/<name>/restart. Returns None (204) or the 202 status body with RESTARTING."""
        path = f"/connectors/{_q(name)}/restart"
        if include_tasks or only_failed:
            if not self.has_restart_options:
                raise UnsupportedFeatureError(f"restart options need Kafka 3.0+, not {self.version}")
            path += f"?includeTasks={str(include_tasks).lower()}&onlyFailed={str(only_failed).lower()}"
        return self.request("POST", path, ok=(202, 204))

    def restart_task(self, name: str, task_id: int) -> None:
        self.request("POST", f"/connectors/{_q(name)}/tasks/{task_id}/restart", ok=(204,))

    def status(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.get(f"/connectors/{_q(name)}/status")
        return result

    def wait_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 30.0,
        what: str = "condition",
        interval: float = 0.25,
    ) -> T:
        """Poll ``predicate`` until it returns a truthy value (returned) or ``timeout`` expires.

        A 404/409 :class:`ConnectRestError` or a connection error inside the predicate counts as
        "not yet". Raises :class:`TimeoutError` naming ``what`` and the last value or error.
        """
        deadline = time.monotonic() + timeout
        last: object = None
        while True:
            try:
                value = predicate()
                if value:
                    return value
                last = value
            except ConnectRestError as exc:
                if exc.status not in (404, 409):
                    raise
                last = exc
            except (OSError, http.client.HTTPException) as exc:
                last = exc
            if time.monotonic() >= deadline:
                raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")
            time.sleep(interval)

    def wait_for_state(
        self,
        name: str,
        connector_state: str,
        task_states: Sequence[str] | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Wait until the connector has ``connector_state`` and (if given) exactly ``task_states``."""

        def check() -> dict[str, Any] | None:
            st = self.status(name)
            if st["connector"]["state"] != connector_state:
                return None
            if task_states is not None:
                tasks = sorted(st.get("tasks", []), key=lambda t: t["id"])
                if [t["state"] for t in tasks] != list(task_states):
                    return None
            return st

        return self.wait_for(check, timeout, f"{name} -> {connector_state} {list(task_states or [])}")


def _q(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _is_rebalance(body: Any) -> bool:
    """409s worth retrying (rebalance / stale config), not e.g. 'Connector x already exists'."""
    msg = body.get("message", "") if isinstance(body, dict) else str(body)
    return "already exists" not in msg


# --------------------------------------------------------------------------------------------------
# demo and fixtures
# --------------------------------------------------------------------------------------------------


def create_demo_connectors(stack: KafkaStack) -> None:
    """demo-ok-sink (RUNNING/RUNNING) and demo-failing-sink (RUNNING/FAILED task)."""
    stack.create_connector("demo-ok-sink", recipes.running_sink(stack.workdir, topic="demo-in"))
    stack.create_connector("demo-failing-sink", recipes.failing_task_sink(topic="demo-in"))
    stack.wait_for_state("demo-ok-sink", "RUNNING", ["RUNNING"], timeout=60)
    stack.wait_for_state("demo-failing-sink", "RUNNING", ["FAILED"], timeout=60)


def _save(out_dir: Path, name: str, resp: RestResponse) -> Path:
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps({"status": resp.status, "body": resp.body}, indent=2, sort_keys=False) + "\n")
    return path


def record_fixtures(out_dir: Path, stack: KafkaStack | None = None, version: str = DEFAULT_VERSION) -> list[Path]:
    """Record a real worker's raw REST responses as ``{"status": code, "body": json}`` files.

    Connectors: ok-sink, ok-source (RUNNING), failed-task-sink (task FAILED), failed-connector
    (connector FAILED), paused-sink (PAUSED) and, on 3.5+, stopped-sink (STOPPED). Starts (and stops)
    its own stack when ``stack`` is None.
    """
    if stack is None:
        with KafkaStack(version) as own:
            return record_fixtures(out_dir, own)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.json"):
        old.unlink()
    targets: dict[str, tuple[str, list[str]]] = {
        "ok-sink": ("RUNNING", ["RUNNING"]),
        "ok-source": ("RUNNING", ["RUNNING"]),
        "failed-task-sink": ("RUNNING", ["FAILED"]),
        "failed-connector": ("FAILED", []),
        "paused-sink": ("PAUSED", ["PAUSED"]),
    }
    stack.create_connector("ok-sink", recipes.running_sink(stack.workdir))
    stack.create_connector("ok-source", recipes.running_source(stack.workdir))
    stack.create_connector("failed-task-sink", recipes.failing_task_sink())
    stack.create_connector("failed-connector", recipes.failing_connector())
    stack.create_connector("paused-sink", recipes.running_sink(stack.workdir, file_name="paused.txt"))
    if stack.has_stopped_state:
        stack.create_connector("stopped-sink", recipes.running_sink(stack.workdir, file_name="stopped.txt"))
        targets["stopped-sink"] = ("STOPPED", [])
    stack.wait_for_state("paused-sink", "RUNNING", ["RUNNING"], timeout=60)
    stack.pause("paused-sink")
    if stack.has_stopped_state:
        stack.wait_for_state("stopped-sink", "RUNNING", ["RUNNING"], timeout=60)
        stack.stop_connector("stopped-sink")
    for name, (cstate, tstates) in targets.items():
        stack.wait_for_state(name, cstate, tstates, timeout=60)

    meta = out / "_meta.json"
    meta_body = {
        "kafka_version": stack.version,
        "worker_id": stack.worker_id,
        "connect_url": stack.connect_url,
        "recorded_by": "python tests/integration/kafka_stack.py --version " + stack.version + " --record DIR",
        "expected_states": {name: {"connector": c, "tasks": t} for name, (c, t) in targets.items()},
    }
    meta.write_text(json.dumps(meta_body, indent=2) + "\n")
    written = [
        meta,
        _save(out, "root", stack.raw("GET", "/")),
        _save(out, "connectors", stack.raw("GET", "/connectors")),
        _save(out, "connectors_expand_status", stack.raw("GET", "/connectors?expand=status")),
        _save(out, "connectors_expand_info", stack.raw("GET", "/connectors?expand=info")),
        _save(out, "connectors_expand_status_info", stack.raw("GET", "/connectors?expand=status&expand=info")),
    ]
    for name in targets:
        written.append(_save(out, f"status_{name}", stack.raw("GET", f"/connectors/{_q(name)}/status")))
    written.append(_save(out, "health", stack.raw("GET", "/health")))
    for code, resp in sorted(stack.health_while_starting.items()):
        if code != 200:
            written.append(_save(out, f"health_while_starting_{code}", resp))
    written.append(_save(out, "error_404_status_unknown_connector", stack.raw("GET", "/connectors/no-such/status")))
    written.append(_save(out, "error_404_unknown_connector", stack.raw("GET", "/connectors/no-such")))
    dup = {"name": "ok-sink", "config": recipes.running_sink(stack.workdir)}
    written.append(_save(out, "error_409_create_existing", stack.raw("POST", "/connectors", dup)))
    if stack.has_restart_options:
        # 202 body: every instance about to restart is RESTARTING (the only deterministic RESTARTING)
        resp = stack.raw("POST", "/connectors/failed-task-sink/restart?includeTasks=true&onlyFailed=true")
        written.append(_save(out, "restart_failed_task_sink_include_tasks_only_failed", resp))
        stack.wait_for_state("failed-task-sink", "RUNNING", ["FAILED"], timeout=60)
    # normalise the temp dir in file paths (the worker id keeps its real, random port)
    for path in written:
        text = path.read_text()
        text = text.replace(stack.workdir.as_posix(), "/tmp/kc-hc-workdir")
        path.write_text(text)
    return written


# --------------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", default=DEFAULT_VERSION, help=f"Kafka version (default {DEFAULT_VERSION})")
    parser.add_argument("--demo", action="store_true", help="create demo-ok-sink and demo-failing-sink")
    parser.add_argument("--record", metavar="DIR", type=Path, help="record REST fixtures into DIR, then stop")
    parser.add_argument("--fetch-only", action="store_true", help="only fetch the jars, print the lib folder")
    parser.add_argument("--java", help="java executable (default $KC_HC_JAVA, $JAVA_HOME/bin/java, java)")
    parser.add_argument("--cache-dir", type=Path, help="jar cache for this version (default: see default_cache_dir)")
    parser.add_argument("--workdir", type=Path, help="keep data and logs here instead of a temp dir")
    args = parser.parse_args(argv)

    if args.fetch_only:
        print(ensure_jars(args.version, args.cache_dir))
        return 0

    stop_event = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop_event.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    stack = KafkaStack(args.version, workdir=args.workdir, java=args.java, cache_dir=args.cache_dir)
    try:
        stack.start()
        timings = {k: round(v, 2) for k, v in stack.timings.items()}
        print(f"kafka_stack: Kafka {stack.version} up, timings (s): {json.dumps(timings)}", file=sys.stderr)
        if args.record:
            files = record_fixtures(args.record, stack)
            print(f"kafka_stack: wrote {len(files)} files to {args.record}", file=sys.stderr)
            return 0
        if args.demo:
            create_demo_connectors(stack)
        print(json.dumps(stack.info()), flush=True)
        print(f"kafka_stack: logs in {stack.workdir}; SIGINT/SIGTERM to stop", file=sys.stderr)
        while not stop_event.wait(1.0):
            if not stack.is_worker_running():
                print(f"kafka_stack: worker died:\n{_tail(stack.worker_log)}", file=sys.stderr)
                return 1
        return 0
    except (StackError, ConnectRestError, TimeoutError) as exc:
        print(f"kafka_stack: {exc}", file=sys.stderr)
        return 1
    finally:
        # ignore further signals while stopping so that a second Ctrl-C cannot orphan the JVMs
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
