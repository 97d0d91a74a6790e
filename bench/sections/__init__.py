"""The benchmark's sections, one module each: `HEADING`, `run(bench) -> Section`, `table(rows)`; listed in
bench/run.py's SECTIONS."""
