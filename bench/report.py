"""The record of a run: the machine it ran on, and the README's results section drawn from the results JSON."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.harness import LOAD_CPU, REPO, SERVER_CPUS, BenchError

README = REPO / "bench" / "README.md"
START_MARK, END_MARK = "<!-- results:start -->", "<!-- results:end -->"


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


def table(columns: list[Column], rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| " + " | ".join(header for header, _ in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(cell(row)) for _, cell in columns) + " |" for row in rows]
    return lines


def servers_list(rows: list[dict[str, Any]], label: Callable[[dict[str, Any]], str]) -> list[str]:
    seen: dict[str, str] = {}
    for row in rows:
        seen.setdefault(row["server"], label(row))
    return ["", "Servers:", *[f"- {name}: `{command}`" for command, name in seen.items()]]


def best_median(best: str, median: str, digits: int = 0) -> Callable[[dict[str, Any]], str]:
    return lambda r: f"{r[best]:.{digits}f} ({r[median]:.{digits}f})"


def ratios(key: str) -> Callable[[dict[str, Any]], str]:
    return lambda r: f"{r[key]:.2f}x ({r[key + '_median']:.2f}x)"


COMPARISON: list[Column] = [
    ("req/s best (median)", best_median("rps_best", "rps")),
    ("p99 ms best (median)", best_median("p99_best_ms", "p99_ms", 1)),
    ("p50 ms (median)", lambda r: f"{r['p50_ms']:.2f}"),
    ("req/s ratio best (median)", ratios("rps_ratio")),
    ("p99 ratio best (median)", ratios("p99_ratio")),
    ("server CPU us/req (ratio)", lambda r: f"{r['cpu_us_per_request']:.0f} ({r['cpu_ratio']:.2f}x)"),
    ("req/s per round", lambda r: " / ".join(f"{v:.0f}" for v in r["rps_rounds"])),
    ("command", lambda r: f"`{r['command']}`"),
]


def render(results: dict[str, Any], tables: list[str]) -> str:
    """The results section: the run's circumstances, every target, then `tables` (each section's own) and notes."""
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
    out += table(
        [
            ("target", lambda t: t["name"]),
            ("measured", lambda t: t["measured"]),
            ("limit", lambda t: t["limit"]),
            ("result", lambda t: "met" if t["ok"] else ("**MISSED**" if t.get("hard", True) else "below (aim only)")),
        ],
        targets,
    )
    out += tables
    for name, section in results["sections"].items():
        for note in section["notes"]:
            out.append(f"\n_{name}:_ {note}")
    return "\n".join(out)


def write_readme(results: dict[str, Any], tables: list[str]) -> None:
    text = README.read_text()
    head, start, rest = text.partition(START_MARK)
    _, end, tail = rest.partition(END_MARK)
    if not start or not end:
        raise BenchError(f"{README} lacks the markers {START_MARK} ... {END_MARK}")
    README.write_text(f"{head}{START_MARK}\n{render(results, tables)}\n{END_MARK}{tail}")
