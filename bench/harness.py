"""What every bench section runs on: pinned server processes, fake Connects, wrk, and the comparisons of runs.

The servers are pinned to core 0; wrk and the driver (which hosts the fake Connect) to core 1, so runs compare
on a noisy machine. A comparison interleaves its subjects round by round and judges the best round of each
(medians shown beside).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import statistics
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fake_connect import FakeConnect, Fault, task
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"
WRK_SCRIPT = "bench/wrk_report.lua"
SERVER_CPUS = "0"
LOAD_CPU = "1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
STATUS_PATH = "/connectors?expand=status&expand=info"  # asked exactly once per poll

# A failing task's trace as Connect reports it: a Java stack trace of about 5 KB.
TRACE = "org.apache.kafka.connect.errors.ConnectException: Exiting WorkerSinkTask due to unrecoverable exception.\n" + (
    "\tat org.apache.kafka.connect.runtime.WorkerSinkTask.deliverMessages(WorkerSinkTask.java:632)\n" * 50
)

_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never through a proxy


class BenchError(Exception):
    """The benchmark itself could not run (a server did not start, wrk failed)."""


@dataclass
class Target:
    name: str
    measured: str
    limit: str
    ok: bool
    hard: bool = True  # False: an aim, reported but not failing the run


@dataclass
class Section:
    rows: list[dict[str, Any]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


# --- small helpers


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with _http.open(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def command_line(argv: list[str], env: dict[str, str] | None = None) -> str:
    """The argv as one shell line, paths relative to the repository, as a reader would type it."""
    words = [str(Path(a).relative_to(REPO)) if a.startswith(str(REPO)) else a for a in argv]
    prefix = "".join(f"{k}={v} " for k, v in (env or {}).items())
    return prefix + shlex.join(words)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    try:
        return wait_until(predicate, timeout=timeout, interval=0.05, what=what)
    except AssertionError as error:
        raise BenchError(str(error)) from None


def proc_status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise BenchError(f"no {key} for process {pid}")


def fake_connect(connectors: int, *, failing_every: int = 0, delay: float = 0.0) -> FakeConnect:
    """A started fake with `connectors` x 3 tasks; every `failing_every`-th connector's tasks FAILED with a trace."""
    fake = FakeConnect()
    for i in range(connectors):
        failing = failing_every and i % failing_every == 0
        state, trace = ("FAILED", TRACE) if failing else ("RUNNING", None)
        fake.set_connector(f"connector-{i:05d}", tasks=[task(t, state, trace=trace) for t in range(3)])
    if delay:
        fake.fault = Fault(delay=delay)
    # A server we stop resets its keep-alive connection; socketserver would print a traceback for each.
    fake._server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
    return fake.start()


def polls_at(fake: FakeConnect) -> int:
    return fake.path_counts()[STATUS_PATH]


# --- processes we start


class Server:
    """A server process pinned with taskset; stopped with SIGTERM, then SIGKILL to its own process group."""

    def __init__(self, name: str, argv: list[str], port: int, log_dir: Path) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.argv = argv
        self.command = command_line(self.argv)
        self.log_path = log_dir / f"{name}.log"
        # gunicorn's control socket lives at one fixed path per user: give each server its own directory.
        self._runtime = tempfile.TemporaryDirectory(prefix="bench-gunicorn-")
        env = dict(os.environ, XDG_RUNTIME_DIR=self._runtime.name)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_answer(self, path: str, status: int = 200, timeout: float = 30.0) -> bytes:
        def answered() -> bytes | None:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise BenchError(f"{self.name} exited with {self.proc.returncode}:\n{tail}")
            try:
                got, body = http_get(self.url + path, timeout=2)
            except OSError:
                return None
            return body if got == status else None

        return wait_for(answered, timeout, f"{self.name} to answer {status} on {path}")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return [int(pid) for pid in children]

    def cpu_seconds(self) -> float:
        """User + system CPU used so far by the master and its workers (/proc/PID/stat, fields 14 and 15)."""
        ticks = 0
        for pid in (self.proc.pid, *self.worker_pids()):
            stat = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()  # after the command name
            ticks += int(stat[11]) + int(stat[12])
        return ticks / CLOCK_TICKS

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._runtime.cleanup()


def healthcheck_argv(cpus: str, port: int, connect_url: str, *extra: str) -> list[str]:
    return [
        "taskset",
        "-c",
        cpus,
        str(BIN / "kafka-connect-healthcheck"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--connect-url",
        connect_url,
        *extra,
    ]


def null_argv(cpus: str, port: int) -> list[str]:
    return ["taskset", "-c", cpus, str(BIN / "python"), "-m", "bench.null_app", "--port", str(port)]


@dataclass
class Run:
    """One wrk run."""

    url: str
    command: str
    rps: float
    requests: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    non_2xx: int
    cpu_us_per_request: float | None = None  # the server's CPU time over the run, per answered request


def wrk(
    url: str,
    *,
    seconds: float,
    connections: int,
    delay_ms: int = 0,
    server: Server | None = None,
    accept: str | None = None,
) -> Run:
    """One bounded wrk run from the load core; with `server`, also the CPU that server spent per request;
    with `accept`, every request sends that Accept header."""
    argv = ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "-s", WRK_SCRIPT, url]
    extra_env = {"WRK_DELAY_MS": str(delay_ms)} if delay_ms else {}
    if accept:
        extra_env["WRK_ACCEPT"] = accept
    cpu_before = server.cpu_seconds() if server else 0.0
    done = subprocess.run(
        argv,
        cwd=REPO,
        env=dict(os.environ, **extra_env),
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    doc = json.loads(lines[-1])
    cpu = server.cpu_seconds() - cpu_before if server else None
    latency = doc["latency_us"]
    errors = doc["errors_connect"] + doc["errors_read"] + doc["errors_write"] + doc["errors_timeout"]
    return Run(
        url=url,
        command=command_line(argv, extra_env),
        rps=round(doc["requests"] / (doc["duration_us"] / 1e6), 1),
        requests=doc["requests"],
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        max_ms=latency["max"] / 1000,
        errors=errors,
        non_2xx=doc["non_2xx_3xx"],
        cpu_us_per_request=round(cpu * 1e6 / doc["requests"], 1) if cpu is not None and doc["requests"] else None,
    )


class Bench:
    """Owns every process and fake a section starts, so all of them stop however the run ends."""

    def __init__(self, seconds: float, rounds: int, connections: int, log_dir: Path) -> None:
        self.seconds = seconds
        self.rounds = rounds
        self.connections = connections
        self.log_dir = log_dir
        self._servers: list[Server] = []
        self._fakes: list[FakeConnect] = []

    def server(self, name: str, argv: list[str], port: int) -> Server:
        server = Server(name, argv, port, self.log_dir)
        self._servers.append(server)
        return server

    def fake(self, connectors: int, **kwargs: Any) -> FakeConnect:
        fake = fake_connect(connectors, **kwargs)
        self._fakes.append(fake)
        return fake

    def release(self, fake: FakeConnect) -> None:
        self._fakes.remove(fake)
        fake.stop()

    @contextmanager
    def running(self, name: str, argv: list[str], port: int) -> Iterator[Server]:
        server = self.server(name, argv, port)
        try:
            yield server
        finally:
            self._servers.remove(server)
            server.stop()

    def close_servers(self) -> None:
        for server in self._servers:
            server.stop()
        self._servers.clear()

    def close(self) -> None:
        self.close_servers()
        for fake in self._fakes:
            fake.stop()
        self._fakes.clear()

    def interleaved(
        self,
        subjects: dict[str, tuple[Server, str]],
        rounds: int | None = None,
        accept: dict[str, str] | None = None,
    ) -> dict[str, list[Run]]:
        """wrk each server's path once per round, in turn, after a 1 s warm-up each; every run kept.

        Every other round goes in the reverse order, so no subject always follows the same one. `accept`:
        the Accept header of the subjects named in it.
        """
        accept = accept or {}
        for name, (server, path) in subjects.items():
            wrk(server.url + path, seconds=1, connections=self.connections, accept=accept.get(name))
        runs: dict[str, list[Run]] = {name: [] for name in subjects}
        for round_number in range(rounds or self.rounds):
            order = list(subjects.items())
            for name, (server, path) in order if round_number % 2 == 0 else reversed(order):
                run = wrk(
                    server.url + path,
                    seconds=self.seconds,
                    connections=self.connections,
                    server=server,
                    accept=accept.get(name),
                )
                runs[name].append(run)
        return runs


# --- comparing runs


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("inf")


def summary(runs: list[Run]) -> dict[str, Any]:
    """Medians and bests over rounds, with each round's figures for the record.

    Other work on the machine only ever slows a round down, so the best round (highest throughput, lowest
    p99) is the closest to the undisturbed figure; a change in our code moves every round, the best too.
    """
    return {
        "rps": round(statistics.median(r.rps for r in runs), 1),
        "rps_best": max(r.rps for r in runs),
        "p50_ms": round(statistics.median(r.p50_ms for r in runs), 3),
        "p99_ms": round(statistics.median(r.p99_ms for r in runs), 3),
        "p99_best_ms": min(r.p99_ms for r in runs),
        "cpu_us_per_request": statistics.median(r.cpu_us_per_request or 0.0 for r in runs),
        "rps_rounds": [r.rps for r in runs],
        "p99_rounds": [r.p99_ms for r in runs],
        "errors": sum(r.errors for r in runs),
        "non_2xx": sum(r.non_2xx for r in runs),
        "command": runs[0].command,
    }


def compared(runs: dict[str, list[Run]], servers: dict[str, Server]) -> list[dict[str, Any]]:
    """One row per subject, with its ratios to the first subject: best round to best round, median to median."""
    rows = [{"name": name, "server": servers[name].command, **summary(subject)} for name, subject in runs.items()]
    base = rows[0]
    for row in rows:
        row["rps_ratio"] = ratio(row["rps_best"], base["rps_best"])
        row["p99_ratio"] = ratio(row["p99_best_ms"], base["p99_best_ms"])
        row["rps_ratio_median"] = ratio(row["rps"], base["rps"])
        row["p99_ratio_median"] = ratio(row["p99_ms"], base["p99_ms"])
        row["cpu_ratio"] = ratio(row["cpu_us_per_request"], base["cpu_us_per_request"])
    return rows


def ratio_text(row: dict[str, Any], key: str) -> str:
    return f"{row[key]:.2f}x (median {row[key + '_median']:.2f}x)"


def clean_runs(rows: list[dict[str, Any]]) -> list[Target]:
    bad = [
        f"{r['name']}: {r['errors']} socket errors, {r['non_2xx']} non-2xx" for r in rows if r["errors"] or r["non_2xx"]
    ]
    return [Target("every probe answered 200", "; ".join(bad) or "yes", "no errors, no non-2xx", not bad)]
