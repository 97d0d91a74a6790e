"""`make bench`: runs the sections listed in SECTIONS, writes the results JSON and the README table.

Everything runs on 127.0.0.1 (bench/harness.py says how runs are pinned and compared). Results go to
bench/results/ as JSON and into the table in bench/README.md. Exit status 1, with the reasons, when a target is
missed; 2 when the benchmark itself cannot run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
import traceback
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from bench import report
from bench.harness import BIN, LOAD_CPU, REPO, Bench, BenchError, Section, command_line
from bench.sections import big_cluster, connect_load, hostile_clients, independence, probes, progress, scale, workers

RESULTS = REPO / "bench" / "results"

# Each section is a module with HEADING, run(bench) -> Section and table(rows) -> markdown lines; the README
# numbers the tables in this order. A new section: a new module in bench/sections/ and one line here.
SECTIONS: dict[str, ModuleType] = {
    "probes": probes,
    "independence": independence,
    "connect_load": connect_load,
    "scale": scale,
    "workers": workers,
    "hostile_clients": hostile_clients,
    "big_cluster": big_cluster,
    "progress": progress,
}


def tables(results: dict[str, Any]) -> list[str]:
    """Each section's table under its numbered heading, for the sections the results hold rows of."""
    out: list[str] = []
    for number, (name, section) in enumerate(SECTIONS.items(), 1):
        if rows := results["sections"].get(name, {}).get("rows"):
            out += ["", f"### {number}. {section.HEADING}", "", *section.table(rows)]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the benchmark; see bench/README.md.")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per comparison (default 5)")
    parser.add_argument("--connections", type=int, default=10, help="wrk connections (default 10)")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma list of {', '.join(SECTIONS)}")
    parser.add_argument("--render", metavar="JSON", help="only rewrite the README table from a results file")
    args = parser.parse_args(argv)
    if args.render:
        recorded = json.loads(Path(args.render).read_text())
        report.write_readme(recorded, tables(recorded))
        return 0
    selected = [name.strip() for name in args.sections.split(",") if name.strip()]
    if unknown := [name for name in selected if name not in SECTIONS]:
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
    meta = {**report.machine(), "uptime_before": report.uptime(), "seconds": args.seconds, "rounds": args.rounds}
    meta.update(connections=args.connections, command=command)
    results: dict[str, Any] = {"meta": meta, "sections": {}}
    bench = Bench(args.seconds, args.rounds, args.connections, log_dir)
    try:
        for name in selected:
            print(f"bench: {name} ...", flush=True)
            started = time.monotonic()
            try:
                section = SECTIONS[name].run(bench)
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
    meta["uptime_after"] = report.uptime()
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
        report.write_readme(results, tables(results))
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
