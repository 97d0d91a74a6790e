"""One KRaft broker and one Connect distributed worker as child processes on free loopback ports."""

from __future__ import annotations

import atexit
import base64
import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from tests.integration.kafka_stack.errors import StackError
from tests.integration.kafka_stack.jars import DEFAULT_VERSION, LOG_TAIL_LINES, ensure_jars
from tests.integration.kafka_stack.rest import ConnectRest, RestResponse
from tests.integration.kafka_stack.sasl import SaslPlainListener
from tests.waiting import WaitTimeout, wait_until

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


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
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


class KafkaStack(ConnectRest):
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
        super().__init__(version)
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
        #: the broker's SASL/PLAIN listener (its port, user and password), set by start()
        self.sasl: SaslPlainListener | None = None
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
            self.broker_port, self.controller_port, self.connect_port, sasl_port = _free_ports(4)
            self.sasl = SaslPlainListener(sasl_port)
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
        assert self.sasl is not None
        (wd / "server.properties").write_text(_props(self.sasl.broker_properties(broker)))
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
                raise StackError(f"StorageTool format timed out:\n{tail(log)}") from exc
        if rc.returncode != 0:
            raise StackError(f"StorageTool format failed (exit {rc.returncode}):\n{tail(log)}")
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
        def started_or_exited() -> bool:
            return proc.poll() is not None or "Kafka Server started" in self.broker_log.read_text(errors="replace")

        with contextlib.suppress(WaitTimeout):  # only a timing: no line in time is no error
            wait_until(started_or_exited, self.broker_timeout, interval=0.1, what="'Kafka Server started'")
            if proc.poll() is None:
                self.timings["broker_started_log"] = time.monotonic() - t0
        if proc.poll() is not None:
            raise StackError(f"broker exited (code {proc.returncode}) during start:\n{tail(self.broker_log)}")

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

        def ready_while_running() -> bool:
            if proc.poll() is not None:
                raise StackError(
                    f"Kafka {self.version} {what} exited with code {proc.returncode} during start; "
                    f"last lines of {log}:\n{tail(log)}"
                )
            return ready()

        try:
            # OSError, HTTPException: not listening yet, or Jetty dropped the connection while starting
            wait_until(ready_while_running, timeout, 0.2, what, ignore=(OSError, http.client.HTTPException))
        except WaitTimeout:
            raise StackError(
                f"Kafka {self.version} {what} not ready after {timeout:.0f}s; last lines of {log}:\n{tail(log)}"
            ) from None

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
