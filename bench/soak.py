"""`make soak`: the console script under steady probe load for a long while, against a fake Connect.

wrk sends `GET /` at a fixed rate (SOAK_RATE requests/s, default 500) for SOAK_SECONDS (default 600) over
127.0.0.1. Every SAMPLE_EVERY seconds we read the resident memory, threads and open files of the master and
the worker from /proc. At the end:

- memory is flat: each process's RSS at the end is within SOAK_RSS_SLACK_MIB (default 5) of the start,
  where the start is taken after a warm-up minute of load (allocator pools, import caches);
- zero errors: wrk saw no socket error, no timeout and no status other than 200;
- Connect was asked once per poll and never per probe: the fake's count of `/connectors?expand=status&expand=info`
  requests equals the service's own poll counter (from /metrics), give or take the one poll in flight.

Prints a JSON summary (also written to bench/results/soak-latest.json); exit status 1 when a check fails,
2 when the soak itself cannot run. Loopback only; wrk and the server stop by themselves at the end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import http_get
from tests.fake_connect import FakeConnect, task
from tests.server_process import free_port
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parent.parent
CONSOLE_SCRIPT = REPO / ".venv" / "bin" / "kafka-connect-healthcheck"
RESULTS = REPO / "bench" / "results"
CONNECTIONS = 10
POLL_INTERVAL = 1.0
SAMPLE_EVERY = 10.0
LISTING = "/connectors?expand=status&expand=info"

# wrk has no fixed-rate mode in Debian (that is wrk2): each connection waits after each answer instead.
WRK_LUA = """
local delay_ms = tonumber(os.getenv("SOAK_DELAY_MS"))
function delay() return delay_ms end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %d, "duration_us": %d, "non_2xx_3xx": %d, "errors_connect": %d, '
    .. '"errors_read": %d, "errors_write": %d, "errors_timeout": %d, "latency_us": {"p50": %d, "p99": %d, '
    .. '"max": %d}}\\n', summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    try:
        return float(raw) if raw else default
    except ValueError:
        raise SystemExit(f"soak: {name} must be a number, got {raw!r}") from None


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task_dir in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task_dir / "children").read_text().split()]
    return sorted(found)


def process_figures(pid: int) -> dict[str, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kib = int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))  # type: ignore[union-attr]
    threads = int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]
    return {"rss_kib": rss_kib, "threads": threads, "fds": len(os.listdir(f"/proc/{pid}/fd"))}


def polls_counted(base_url: str) -> int | None:
    """The service's own count of polls, from /metrics; None where the build has no /metrics."""
    status, body = http_get(base_url + "/metrics")
    if status != 200:
        return None
    total = 0.0
    for line in body.decode().splitlines():
        if line.startswith("kafka_connect_healthcheck_polls_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def soak(seconds: float, rate: float, slack_mib: float) -> tuple[dict[str, Any], list[str]]:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (make soak installs it from Debian packages)")
    warmup = min(60.0, seconds / 5)
    connect = FakeConnect().start()
    for i in range(50):
        connect.set_connector(f"connector-{i:02d}", tasks=[task(0), task(1)])
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    log_path = workdir / "server.log"
    lua = workdir / "soak.lua"
    lua.write_text(WRK_LUA)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEALTHCHECK_")}
    command = [str(CONSOLE_SCRIPT), "--host", "127.0.0.1", "--port", str(port), "--poll-interval", str(POLL_INTERVAL)]
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [*command, "--connect-url", connect.url], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO
        )
    wrk: subprocess.Popen[str] | None = None
    try:
        wait_until(lambda: http_get(base_url + "/")[0] == 200, 30, 0.1, "the server to answer 200", ignore=(OSError,))
        worker = children(server.pid)[0]
        delay_ms = max(1, round(CONNECTIONS * 1000 / rate))
        wrk = subprocess.Popen(
            ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{int(seconds)}s", "--timeout", "2s", "-s", str(lua), base_url + "/"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**env, "SOAK_DELAY_MS": str(delay_ms)},
        )
        started = time.monotonic()
        samples: list[dict[str, Any]] = []
        while wrk.poll() is None:
            time.sleep(min(SAMPLE_EVERY, max(0.1, seconds - (time.monotonic() - started) - 1)))
            if wrk.poll() is not None:
                break
            samples.append(
                {
                    "t": round(time.monotonic() - started, 1),
                    "master": process_figures(server.pid),
                    "worker": process_figures(worker),
                    "ping": http_get(base_url + "/ping")[0],
                }
            )
        output = wrk.communicate(timeout=30)[0]
        ended = samples[-1] if samples else None
        wrk_figures = json.loads(output.strip().splitlines()[-1])
        fake_listings = sum(1 for path in connect.requests if path == LISTING)
        fake_health = sum(1 for path in connect.requests if path == "/health")
        polls = polls_counted(base_url)
        fake_after = sum(1 for path in connect.requests if path == LISTING)
    except Exception as error:
        raise RuntimeError(f"{error} (server log: {log_path})") from error
    finally:
        if wrk is not None and wrk.poll() is None:
            wrk.kill()
        server.send_signal(signal.SIGTERM)
        exit_status = server.wait(timeout=30)
        connect.stop()
    steady = [s for s in samples if s["t"] >= warmup] or samples
    start, end = steady[0], ended
    elapsed = wrk_figures["duration_us"] / 1e6
    errors = sum(
        wrk_figures[k] for k in ("non_2xx_3xx", "errors_connect", "errors_read", "errors_write", "errors_timeout")
    )
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(elapsed, 1),
        "target_rate": rate,
        "rate": round(wrk_figures["requests"] / elapsed, 1),
        "requests": wrk_figures["requests"],
        "errors": errors,
        "latency_ms": {k: v / 1000 for k, v in wrk_figures["latency_us"].items()},
        "poll_interval": POLL_INTERVAL,
        "polls_counted_by_service": polls,
        "connect_listing_requests": fake_listings,
        "connect_health_requests": fake_health,
        "expected_polls": round(elapsed / POLL_INTERVAL),
        "rss_mib": {
            who: {"start": round(start[who]["rss_kib"] / 1024, 1), "end": round(end[who]["rss_kib"] / 1024, 1)}
            for who in ("master", "worker")
        }
        if end
        else None,
        "threads": {who: (start[who]["threads"], end[who]["threads"]) for who in ("master", "worker")} if end else None,
        "fds": {who: (start[who]["fds"], end[who]["fds"]) for who in ("master", "worker")} if end else None,
        "warmup_seconds": warmup,
        "samples": samples,
        "server_exit_status": exit_status,
    }
    failures = []
    if errors:
        failures.append(f"{errors} errors (wrk: {wrk_figures})")
    if any(s["ping"] != 200 for s in samples):
        failures.append("/ping did not always answer 200")
    for who, rss in (result["rss_mib"] or {}).items():
        if rss["end"] - rss["start"] > slack_mib:
            failures.append(f"{who} RSS grew from {rss['start']} to {rss['end']} MiB (slack {slack_mib} MiB)")
    for kind in ("threads", "fds"):  # a pool thread or a poll's connection may come and go: 2 of slack
        for who, (first, last) in (result[kind] or {}).items():
            if last > first + 2:
                failures.append(f"{who} {kind} grew from {first} to {last}")
    if polls is not None and not (polls <= fake_listings <= fake_after <= polls + 1):
        failures.append(f"Connect got {fake_listings} listing requests for {polls} polls")
    if polls is None and abs(fake_listings - result["expected_polls"]) > 2:
        failures.append(f"Connect got {fake_listings} listing requests in {elapsed:.0f} s of {POLL_INTERVAL} s polls")
    if exit_status != 0:
        failures.append(f"the server exited {exit_status} on SIGTERM; log: {log_path}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return result, failures


def main() -> int:
    seconds = env_number("SOAK_SECONDS", 600)
    rate = env_number("SOAK_RATE", 500)
    slack = env_number("SOAK_RSS_SLACK_MIB", 5)
    print(f"soak: {seconds:g} s of GET / at {rate:g}/s over {CONNECTIONS} connections", flush=True)
    try:
        result, failures = soak(seconds, rate, slack)
    except Exception as error:
        print(f"soak: could not run: {error}", file=sys.stderr)
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "soak-latest.json").write_text(json.dumps(result, indent=2) + "\n")
    summary = {k: v for k, v in result.items() if k != "samples"}
    print(json.dumps(summary, indent=2))
    for failure in failures:
        print(f"soak: FAILED: {failure}", file=sys.stderr)
    print("soak: " + ("FAILED" if failures else "OK: flat memory, zero errors, one Connect request per poll"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
