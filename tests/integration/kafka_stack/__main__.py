"""The harness from the command line: a stack until Ctrl-C, the demo's connectors, recorded fixtures, or jars.

python -m tests.integration.kafka_stack --version 4.4.0 [--demo]
python -m tests.integration.kafka_stack --version 3.9.2 --record tests/fixtures/connect/3.9.2
python -m tests.integration.kafka_stack --version 3.4.1 --fetch-only
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from tests.integration.kafka_stack.errors import ConnectRestError, StackError
from tests.integration.kafka_stack.jars import DEFAULT_VERSION, ensure_jars
from tests.integration.kafka_stack.recipes import create_demo_connectors
from tests.integration.kafka_stack.recording import record_fixtures
from tests.integration.kafka_stack.stack import KafkaStack, tail


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.integration.kafka_stack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
                print(f"kafka_stack: worker died:\n{tail(stack.worker_log)}", file=sys.stderr)
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
