"""`make bench`: the probe paths against a null app, independence from Connect, Connect load, poll cost at
scale, workers and cores.

Everything runs on 127.0.0.1. The servers are pinned to core 0; wrk and this driver (which hosts the fake
Connect) to core 1, so runs compare on a noisy machine. A comparison interleaves its subjects round by round
and judges the best round of each (medians shown beside). Results go to bench/results/ as JSON and into the
table in bench/README.md. Exit status 1, with the reasons, when a target is missed; 2 when the benchmark
itself cannot run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from healthcheck.settings import Settings
from tests.fake_connect import FakeConnect, Fault, task
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"
RESULTS = REPO / "bench" / "results"
README = REPO / "bench" / "README.md"
WRK_SCRIPT = "bench/wrk_report.lua"
SERVER_CPUS = "0"
LOAD_CPU = "1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
START_MARK, END_MARK = "<!-- results:start -->", "<!-- results:end -->"
STATUS_PATH = "/connectors?expand=status"  # asked exactly once per poll
SECTIONS = ("probes", "independence", "connect_load", "scale", "workers")

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("inf")


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


def wrk(url: str, *, seconds: float, connections: int, delay_ms: int = 0, server: Server | None = None) -> Run:
    """One bounded wrk run from the load core; with `server`, also the CPU that server spent per request."""
    argv = ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "-s", WRK_SCRIPT, url]
    pacing = {"WRK_DELAY_MS": str(delay_ms)} if delay_ms else {}
    cpu_before = server.cpu_seconds() if server else 0.0
    done = subprocess.run(
        argv,
        cwd=REPO,
        env=dict(os.environ, **pacing),
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
        command=command_line(argv, pacing),
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

    def interleaved(self, subjects: dict[str, tuple[Server, str]], rounds: int | None = None) -> dict[str, list[Run]]:
        """wrk each server's path once per round, in turn, after a 1 s warm-up each; every run kept.

        Every other round goes in the reverse order, so no subject always follows the same one.
        """
        for server, path in subjects.values():
            wrk(server.url + path, seconds=1, connections=self.connections)
        runs: dict[str, list[Run]] = {name: [] for name in subjects}
        for round_number in range(rounds or self.rounds):
            order = list(subjects.items())
            for name, (server, path) in order if round_number % 2 == 0 else reversed(order):
                run = wrk(server.url + path, seconds=self.seconds, connections=self.connections, server=server)
                runs[name].append(run)
        return runs


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


def _ratio_text(row: dict[str, Any], key: str) -> str:
    return f"{row[key]:.2f}x (median {row[key + '_median']:.2f}x)"


def _clean_runs(rows: list[dict[str, Any]]) -> list[Target]:
    bad = [
        f"{r['name']}: {r['errors']} socket errors, {r['non_2xx']} non-2xx" for r in rows if r["errors"] or r["non_2xx"]
    ]
    return [Target("every probe answered 200", "; ".join(bad) or "yes", "no errors, no non-2xx", not bad)]


# --- the sections


def probes(bench: Bench) -> Section:
    """1. GET / and GET /ping against a constant Flask answer, same gunicorn config, same core."""
    section = Section()
    fake = bench.fake(100)
    null_port, probe_port = free_port(), free_port()
    with (
        bench.running("null-app", null_argv(SERVER_CPUS, null_port), null_port) as null,
        bench.running("healthcheck", healthcheck_argv(SERVER_CPUS, probe_port, fake.url), probe_port) as probe,
    ):
        null.wait_answer("/")
        probe.wait_answer("/")
        subjects = {"null app GET /": (null, "/"), "probe GET /": (probe, "/"), "probe GET /ping": (probe, "/ping")}
        section.rows = compared(bench.interleaved(subjects), {name: server for name, (server, _) in subjects.items()})
    for row in section.rows[1:]:
        name = row["name"]
        section.targets += [
            Target(
                f"{name}: throughput vs null app", _ratio_text(row, "rps_ratio"), ">= 1.0x", row["rps_ratio"] >= 1.0
            ),
            Target(
                f"{name}: throughput vs null app (aim)",
                _ratio_text(row, "rps_ratio"),
                ">= 1.5x",
                row["rps_ratio"] >= 1.5,
                hard=False,
            ),
            Target(f"{name}: p99 vs null app", _ratio_text(row, "p99_ratio"), "<= 1.2x", row["p99_ratio"] <= 1.2),
        ]
    section.targets += _clean_runs(section.rows)
    return section


def independence(bench: Bench) -> Section:
    """2. Probes while Connect takes 2 s per request, against the same with a fast Connect; 1,000 connectors."""
    section = Section()
    fast = bench.fake(1000)
    slow = bench.fake(1000, delay=2.0)
    fast_port, slow_port = free_port(), free_port()
    extra = ("--request-timeout", "5")
    with (
        bench.running(
            "healthcheck-fast-connect", healthcheck_argv(SERVER_CPUS, fast_port, fast.url, *extra), fast_port
        ) as fast_server,
        bench.running(
            "healthcheck-slow-connect", healthcheck_argv(SERVER_CPUS, slow_port, slow.url, *extra), slow_port
        ) as slow_server,
    ):
        fast_server.wait_answer("/")
        slow_server.wait_answer("/")  # the first 2 s poll is done
        before, started = slow.path_counts(), time.monotonic()
        subjects = {"fast Connect": (fast_server, "/"), "Connect answering in 2 s": (slow_server, "/")}
        section.rows = compared(bench.interleaved(subjects), {name: server for name, (server, _) in subjects.items()})
        asked, elapsed = slow.path_counts() - before, time.monotonic() - started
    slow_row = section.rows[1]
    section.notes.append(
        f"During the {elapsed:.0f} s of the comparison the slow fake was asked "
        + ", ".join(f"{path} {count} times" for path, count in sorted(asked.items()))
        + " (one poll every 5 s, each of its requests answered after 2 s)."
    )
    section.targets += [
        Target(
            "slow Connect: probe throughput vs fast Connect",
            _ratio_text(slow_row, "rps_ratio"),
            ">= 0.90x",
            slow_row["rps_ratio"] >= 0.9,
        ),
        Target(
            "slow Connect: probe p99 vs fast Connect",
            _ratio_text(slow_row, "p99_ratio"),
            "<= 1.10x",
            slow_row["p99_ratio"] <= 1.1,
        ),
        *_clean_runs(section.rows),
    ]
    return section


def connect_load(bench: Bench) -> Section:
    """3. Requests reaching Connect at 0, 100 and 5,000 probes/s, for 1 and 2 serving processes."""
    section = Section()
    interval = 1.0  # short, so a 10 s window counts ten polls per process rather than two
    window = 10.0
    fake = bench.fake(100)
    for workers, rates in ((1, (0, 100, 5000)), (2, (0, 5000))):
        port = free_port()
        argv = healthcheck_argv(
            SERVER_CPUS, port, fake.url, "--poll-interval", f"{interval:g}", "--workers", str(workers)
        )
        with bench.running(f"healthcheck-{workers}-workers-polling", argv, port) as server:
            start = polls_at(fake)
            wait_for(lambda: polls_at(fake) - start >= workers, 30, "every worker's first poll")  # noqa: B023
            server.wait_answer("/")
            idle_per_poll = 0.0
            for rate in rates:
                before, started = fake.path_counts(), time.monotonic()
                run = None
                if rate == 0:
                    time.sleep(window)
                else:
                    connections = 10 if rate <= 100 else 50
                    run = wrk(
                        server.url + "/", seconds=window, connections=connections, delay_ms=1000 * connections // rate
                    )
                elapsed = time.monotonic() - started
                asked = fake.path_counts() - before
                polls, total = asked[STATUS_PATH], sum(asked.values())
                per_poll = total / polls if polls else float("inf")
                idle_per_poll = idle_per_poll or per_poll
                expected = elapsed / interval * workers
                section.rows.append(
                    {
                        "workers": workers,
                        "poll_interval_s": interval,
                        "probe_rate_asked": rate,
                        "probe_rate": run.rps if run else 0.0,
                        "window_s": round(elapsed, 2),
                        "polls": polls,
                        "connect_requests": total,
                        "requests_per_poll": round(per_poll, 2),
                        "paths": dict(asked),
                        "connect_requests_per_min": round(total * 60 / elapsed, 1),
                        "expected_polls_per_min": round(60 / interval * workers, 1),
                        "server": server.command,
                        "command": run.command if run else f"(no probes: {window:g} s idle)",
                    }
                )
                # Polls are aligned to each process's start, so a window holds one more or one fewer per process.
                section.targets.append(
                    Target(
                        f"polls at {rate} probes/s, {workers} process(es)",
                        f"{polls} in {elapsed:.1f} s",
                        f"{expected:.1f} +- {workers} (window / interval x processes)",
                        abs(polls - expected) <= workers + 0.5,
                    )
                )
                if rate:
                    section.targets.append(
                        Target(
                            f"requests to Connect at {rate} probes/s, {workers} process(es)",
                            f"{total} ({per_poll:.2f} per poll)",
                            f"{idle_per_poll:.2f} per poll, as with no probes",
                            abs(total - polls * idle_per_poll) <= workers * idle_per_poll + 0.5,
                        )
                    )
    idle = section.rows[0]
    paths = " and ".join(f"`GET {path}`" for path in sorted(idle["paths"]))
    section.notes.append(
        f"Requests to Connect per minute = 60 / poll interval x {idle['requests_per_poll']:g} requests per poll "
        f"({paths}) x serving processes, whatever the probe rate: with the default 5 s interval, "
        f"{12 * idle['requests_per_poll']:g} per minute per process."
    )
    return section


def polls_at(fake: FakeConnect) -> int:
    return fake.path_counts()[STATUS_PATH]


def scale(bench: Bench) -> Section:
    """4. One poll at 100, 1,000 and 10,000 connectors x 3 tasks: time, CPU, RSS of the server, body size."""
    section = Section()
    failing = "10 % of connectors failing, 5 KB traces"
    scenarios: list[tuple[str, int, tuple[str, ...], tuple[int, ...]]] = [
        ("all running", 0, (), (100, 1000, 10000)),
        (failing, 10, (), (100, 1000, 10000)),
    ]
    if "hide_traces" in {f.name for f in fields(Settings)}:
        scenarios.append((f"{failing}, --hide-traces true", 10, ("--hide-traces", "true"), (10000,)))
    for scenario, failing_every, flags, sizes in scenarios:
        for connectors in sizes:
            fake = bench.fake(connectors, failing_every=failing_every)
            row = {"scenario": scenario, "connectors": connectors, "tasks": connectors * 3}
            row.update(_poll_cost(fake, flags))
            row.update(_server_after_polls(bench, fake, flags))
            section.rows.append(row)
            bench.release(fake)
            if row["probe_status"] != row["status"]:
                section.notes.append(
                    f"{connectors} connectors ({scenario}): the server answered {row['probe_status']} where the poll "
                    f"gave {row['status']}: {row['probe_body_head']}"
                )
            if connectors == 10000:
                hard = scenario == "all running"  # the case; the others depend on made-up traces
                section.targets += [
                    Target(
                        f"10,000 connectors ({scenario}): CPU per poll",
                        f"{row['cpu_ms_min'] / 1000:.3f} s (median {row['cpu_ms'] / 1000:.3f} s)",
                        "< 0.5 s",
                        row["cpu_ms_min"] < 500,
                        hard=hard,
                    ),
                    Target(
                        f"10,000 connectors ({scenario}): server worker RSS",
                        f"{row['worker_rss_mb']:.1f} MB",
                        "< 100 MB",
                        row["worker_rss_mb"] < 100,
                        hard=hard,
                    ),
                ]
    section.notes.append(
        "Wall time includes the fake Connect building its answer (on the other core); CPU time is only the "
        "polling process's own, the least disturbed of 5 polls (and their median). Parts: read, json and parse "
        "timed once more on the same data; the rest is everything else in the poll (the worker's `/health`, the "
        "verdict, the snapshot and its bodies). The targets bind the all-running scenario (the issue's N "
        "connectors x 3 tasks); the failing scenarios, sized by made-up traces, report against the same limits."
    )
    return section


def _poll_cost(fake: FakeConnect, flags: tuple[str, ...]) -> dict[str, Any]:
    """bench/poll_cost.py in its own process on the server's core."""
    argv = ["taskset", "-c", SERVER_CPUS, str(BIN / "python"), "-m", "bench.poll_cost", "--polls", "5"]
    argv += ["--", "--connect-url", fake.url, *flags]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise BenchError(f"poll_cost failed: {done.stderr.strip()[-2000:]}")
    return {**json.loads(done.stdout.splitlines()[-1]), "command": command_line(argv)}


def _server_after_polls(bench: Bench, fake: FakeConnect, flags: tuple[str, ...]) -> dict[str, Any]:
    """The console script's worker RSS after three polls, and its `GET /`."""
    port = free_port()
    argv = healthcheck_argv(SERVER_CPUS, port, fake.url, "--poll-interval", "2", "--max-staleness", "60", *flags)
    start = polls_at(fake)
    with bench.running(f"healthcheck-scale-{port}", argv, port) as server:
        # The 4th poll starts after the 3rd has finished: polls never overlap.
        wait_for(lambda: polls_at(fake) - start >= 4, 120, "three polls by the server")
        status, body = http_get(server.url + "/", timeout=30)
        (worker,) = server.worker_pids()
        return {
            "worker_rss_mb": round(proc_status_kb(worker, "VmRSS") / 1024, 1),
            "worker_peak_rss_mb": round(proc_status_kb(worker, "VmHWM") / 1024, 1),
            "master_rss_mb": round(proc_status_kb(server.proc.pid, "VmRSS") / 1024, 1),
            "probe_status": status,
            "probe_body_bytes": len(body),
            "probe_body_head": body[:200].decode(errors="replace"),
            "server": server.command,
        }


def workers(bench: Bench) -> Section:
    """5. 1 worker x N threads against 2 workers, the server on 1 and on 2 CPUs; ratios to the default 1 x 4."""
    section = Section()
    fake = bench.fake(100)
    layouts = ((1, 4), (1, 1), (1, 8), (2, 2), (2, 4))  # the default first: the ratios are to it
    for cpus in ("0", "0,1"):
        servers: dict[str, Server] = {}
        for worker_count, threads in layouts:
            port = free_port()
            argv = healthcheck_argv(cpus, port, fake.url, "--workers", str(worker_count), "--threads", str(threads))
            servers[f"{worker_count} x {threads}"] = bench.server(
                f"healthcheck-{worker_count}x{threads}-{cpus}", argv, port
            )
        start = polls_at(fake)
        wanted = sum(w for w, _ in layouts)
        wait_for(lambda: polls_at(fake) - start >= wanted, 30, "every worker's first poll")  # noqa: B023
        for server in servers.values():
            server.wait_answer("/")
        runs = bench.interleaved({name: (server, "/") for name, server in servers.items()}, rounds=min(3, bench.rounds))
        for row, (worker_count, threads) in zip(compared(runs, servers), layouts, strict=True):
            row.update(cpus=len(cpus.split(",")), workers=worker_count, threads=threads)
            section.rows.append(row)
        bench.close_servers()
    per_poll = fake.request_count() / polls_at(fake)
    for row in section.rows:
        row["connect_requests_per_min"] = round(12 * row["workers"] * per_poll, 1)
    section.notes.append(
        "All five layouts of a CPU setting run at once (an idle one only polls) and are loaded in turn, "
        f"{min(3, bench.rounds)} rounds. On 2 CPUs the server shares core 1 with wrk (the machine has two cores), "
        "so the 2-CPU figures understate what a server with two free cores does. Connect requests per minute at "
        f"the default 5 s interval: 12 polls x {per_poll:.2f} requests per poll (as counted at the fake) x workers."
    )
    return section


RUNNERS: dict[str, Callable[[Bench], Section]] = {
    "probes": probes,
    "independence": independence,
    "connect_load": connect_load,
    "scale": scale,
    "workers": workers,
}


# --- the record: JSON and the README table


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "?")
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout.splitlines()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "gunicorn": version("gunicorn"),
        "flask": version("flask"),
        "wrk": wrk_version[0].split(" [")[0] if wrk_version else "?",
    }


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


Column = tuple[str, Callable[[dict[str, Any]], Any]]


def _table(columns: list[Column], rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| " + " | ".join(header for header, _ in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(cell(row)) for _, cell in columns) + " |" for row in rows]
    return lines


def _servers(rows: list[dict[str, Any]], label: Callable[[dict[str, Any]], str]) -> list[str]:
    seen: dict[str, str] = {}
    for row in rows:
        seen.setdefault(row["server"], label(row))
    return ["", "Servers:", *[f"- {name}: `{command}`" for command, name in seen.items()]]


def _best_median(best: str, median: str, digits: int = 0) -> Callable[[dict[str, Any]], str]:
    return lambda r: f"{r[best]:.{digits}f} ({r[median]:.{digits}f})"


def _ratios(key: str) -> Callable[[dict[str, Any]], str]:
    return lambda r: f"{r[key]:.2f}x ({r[key + '_median']:.2f}x)"


COMPARISON: list[Column] = [
    ("req/s best (median)", _best_median("rps_best", "rps")),
    ("p99 ms best (median)", _best_median("p99_best_ms", "p99_ms", 1)),
    ("p50 ms (median)", lambda r: f"{r['p50_ms']:.2f}"),
    ("req/s ratio best (median)", _ratios("rps_ratio")),
    ("p99 ratio best (median)", _ratios("p99_ratio")),
    ("server CPU us/req (ratio)", lambda r: f"{r['cpu_us_per_request']:.0f} ({r['cpu_ratio']:.2f}x)"),
    ("req/s per round", lambda r: " / ".join(f"{v:.0f}" for v in r["rps_rounds"])),
    ("command", lambda r: f"`{r['command']}`"),
]


def render(results: dict[str, Any]) -> str:
    meta = results["meta"]
    out = [
        f"Run of {meta['date']} on `{meta['host']}`: {meta['cpu']}, {meta['cores']} cores, {meta['memory_gb']} GB, "
        f"Linux {meta['kernel']}, Python {meta['python']}, gunicorn {meta['gunicorn']}, Flask {meta['flask']}, "
        f"{meta['wrk']}. Servers on core {SERVER_CPUS}, wrk and the driver (with the fake Connect) on core {LOAD_CPU}; "
        f"each comparison {meta['rounds']} interleaved rounds of {meta['seconds']:g} s with "
        f"`wrk -t1 -c{meta['connections']}`; ratios to the first row of each table.",
        "",
        f"- load before: `{meta['uptime_before']}`",
        f"- load after: `{meta.get('uptime_after', '?')}`",
        f"- produced by: `{meta['command']}`",
        "",
    ]
    missed = results["missed"]
    out.append("**All targets met.**" if not missed else f"**{len(missed)} target(s) missed:** " + "; ".join(missed))
    out += ["", "### Targets", ""]
    targets = []
    for name, section in results["sections"].items():
        if section["error"]:
            targets.append({"name": f"{name} ran", "measured": "error (see the results JSON)", "limit": "", "ok": 0})
        targets += section["targets"]
    out += _table(
        [
            ("target", lambda t: t["name"]),
            ("measured", lambda t: t["measured"]),
            ("limit", lambda t: t["limit"]),
            ("result", lambda t: "met" if t["ok"] else ("**MISSED**" if t.get("hard", True) else "below (aim only)")),
        ],
        targets,
    )
    sections = results["sections"]
    if rows := sections.get("probes", {}).get("rows"):
        out += ["", "### 1. Probes against the null app (same gunicorn config, same core)", ""]
        out += _table([("subject", lambda r: r["name"]), *COMPARISON], rows)
        out += _servers(rows, lambda r: "null app" if r["name"].startswith("null") else "healthcheck")
    if rows := sections.get("independence", {}).get("rows"):
        out += ["", "### 2. Independence from Connect (1,000 connectors x 3 tasks)", ""]
        out += _table([("Connect", lambda r: r["name"]), *COMPARISON], rows)
        out += _servers(rows, lambda r: r["name"])
    if rows := sections.get("connect_load", {}).get("rows"):
        out += ["", "### 3. Load on Connect against probe rate", ""]
        out += _table(
            [
                ("processes", lambda r: r["workers"]),
                ("probes/s asked", lambda r: r["probe_rate_asked"]),
                ("probes/s done", lambda r: f"{r['probe_rate']:.0f}"),
                ("window s", lambda r: r["window_s"]),
                ("polls (expected per min)", lambda r: f"{r['polls']} ({r['expected_polls_per_min']:g}/min)"),
                ("requests at Connect", lambda r: r["connect_requests"]),
                ("requests per poll", lambda r: r["requests_per_poll"]),
                ("requests per minute", lambda r: r["connect_requests_per_min"]),
                ("command", lambda r: f"`{r['command']}`"),
            ],
            rows,
        )
        out += _servers(rows, lambda r: f"{r['workers']} worker(s), poll interval {r['poll_interval_s']:g} s")
    if rows := sections.get("scale", {}).get("rows"):
        out += ["", "### 4. Poll cost at scale (connectors x 3 tasks)", ""]
        out += _table(
            [
                ("scenario", lambda r: r["scenario"]),
                ("connectors", lambda r: r["connectors"]),
                ("wall ms (median)", lambda r: r["wall_ms"]),
                ("CPU ms min (median)", _best_median("cpu_ms_min", "cpu_ms")),
                (
                    "CPU ms: read / json / parse / rest",
                    lambda r: " / ".join(f"{v:.0f}" for v in r["parts_cpu_ms"].values()),
                ),
                ("Connect's body", lambda r: _size(r["connect_bytes"])),
                ("probe body", lambda r: _size(r["probe_body_bytes"])),
                ("worker RSS MB (peak)", lambda r: f"{r['worker_rss_mb']} ({r['worker_peak_rss_mb']})"),
                ("master RSS MB", lambda r: r["master_rss_mb"]),
            ],
            rows,
        )
        out += [
            "",
            f"Poll cost: `{rows[0]['command']}` (URL of that row's fake). RSS: the console script, "
            f"read from /proc/PID/status after three polls, e.g. `{rows[-1]['server']}`.",
        ]
    if rows := sections.get("workers", {}).get("rows"):
        out += ["", "### 5. Workers and cores (`GET /`; ratios to 1 x 4 on the same CPUs)", ""]
        out += _table(
            [
                ("server CPUs", lambda r: r["cpus"]),
                ("workers x threads", lambda r: r["name"]),
                *COMPARISON[:-2],
                ("Connect requests/min (5 s polls)", lambda r: r["connect_requests_per_min"]),
                ("server", lambda r: f"`{r['server']}`"),
            ],
            rows,
        )
        out += ["", f"Load: `{rows[0]['command']}` against each server in turn."]
    for name, section in sections.items():
        for note in section["notes"]:
            out.append(f"\n_{name}:_ {note}")
    return "\n".join(out)


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} B"


def write_readme(results: dict[str, Any]) -> None:
    text = README.read_text()
    head, start, rest = text.partition(START_MARK)
    _, end, tail = rest.partition(END_MARK)
    if not start or not end:
        raise BenchError(f"{README} lacks the markers {START_MARK} ... {END_MARK}")
    README.write_text(f"{head}{START_MARK}\n{render(results)}\n{END_MARK}{tail}")


# --- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the benchmark; see bench/README.md.")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per comparison (default 5)")
    parser.add_argument("--connections", type=int, default=10, help="wrk connections (default 10)")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma list of {', '.join(SECTIONS)}")
    parser.add_argument("--render", metavar="JSON", help="only rewrite the README table from a results file")
    args = parser.parse_args(argv)
    if args.render:
        write_readme(json.loads(Path(args.render).read_text()))
        return 0
    selected = [name.strip() for name in args.sections.split(",") if name.strip()]
    if unknown := [name for name in selected if name not in RUNNERS]:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    if not {0, 1} <= os.sched_getaffinity(0):
        print("bench: needs cores 0 and 1 (server on one, load on the other)", file=sys.stderr)
        return 2
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            print(f"bench: {tool} not found; `make bench` installs it", file=sys.stderr)
            return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup below on SIGTERM too
    os.sched_setaffinity(0, {int(LOAD_CPU)})  # the driver and its fake Connect stay off the server's core

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log_dir = RESULTS / "logs" / stamp
    log_dir.mkdir(parents=True, exist_ok=True)
    command = command_line([str(BIN / "python"), "-m", "bench.run", *(sys.argv[1:] if argv is None else argv)])
    meta = {**machine(), "uptime_before": uptime(), "seconds": args.seconds, "rounds": args.rounds}
    meta.update(connections=args.connections, command=command)
    results: dict[str, Any] = {"meta": meta, "sections": {}}
    bench = Bench(args.seconds, args.rounds, args.connections, log_dir)
    try:
        for name in selected:
            print(f"bench: {name} ...", flush=True)
            started = time.monotonic()
            try:
                section = RUNNERS[name](bench)
            except BenchError as error:
                section = Section(error=str(error))
            except Exception:
                section = Section(error=traceback.format_exc())
            finally:
                bench.close()  # every section's processes stop before the next one starts
            section.seconds = round(time.monotonic() - started, 1)
            results["sections"][name] = asdict(section)
            _print_section(name, section)
    finally:
        bench.close()
    meta["uptime_after"] = uptime()
    missed = []
    for name, section in results["sections"].items():
        if section["error"]:
            missed.append(f"{name} could not run: {section['error'].strip().splitlines()[-1]}")
        missed += [
            f"{t['name']}: {t['measured']} (limit {t['limit']})"
            for t in section["targets"]
            if t["hard"] and not t["ok"]
        ]
    results["missed"] = missed
    text = json.dumps(results, indent=2)
    (RESULTS / f"{stamp}.json").write_text(text)
    (RESULTS / "latest.json").write_text(text)
    if selected == list(SECTIONS):
        write_readme(results)
        print(f"bench: results in bench/results/{stamp}.json and the table in bench/README.md")
    else:
        print(f"bench: results in bench/results/{stamp}.json (partial run: README left as it was)")
    print(f"bench: load {meta['uptime_after']}")
    if missed:
        print(f"bench: FAILED, {len(missed)} target(s) missed:", file=sys.stderr)
        for reason in missed:
            print(f"  - {reason}", file=sys.stderr)
        return 1
    print("bench: all targets met")
    return 0


def _print_section(name: str, section: Section) -> None:
    if section.error:
        print(f"  ERROR: {section.error.strip()}", flush=True)
    for t in section.targets:
        verdict = "ok" if t.ok else ("MISSED" if t.hard else "below aim")
        print(f"  {verdict:9} {t.name}: {t.measured} (limit {t.limit})", flush=True)
    print(f"  ({section.seconds:g} s)", flush=True)


if __name__ == "__main__":
    sys.exit(main())
