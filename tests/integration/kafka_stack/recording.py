"""Recording a real worker's REST answers as the fixtures the fake Connect is checked against."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.kafka_stack import recipes
from tests.integration.kafka_stack.jars import DEFAULT_VERSION
from tests.integration.kafka_stack.rest import RestResponse, quote
from tests.integration.kafka_stack.stack import KafkaStack


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
        "recorded_by": "python -m tests.integration.kafka_stack --version " + stack.version + " --record DIR",
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
        written.append(_save(out, f"status_{name}", stack.raw("GET", f"/connectors/{quote(name)}/status")))
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
