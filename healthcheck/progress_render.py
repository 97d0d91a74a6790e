"""The JSON parts the progress check adds to answers: a connector's progress, a STALLED failure's details."""

from __future__ import annotations

from typing import Any

from healthcheck.progress import Stuck
from healthcheck.progress_report import ConnectorProgress, PartitionProgress, ProgressError


def _partition_doc(partition: PartitionProgress) -> dict[str, Any]:
    if partition.source_partition is not None:
        return {"partition": dict(partition.source_partition), "offset": dict(partition.source_offset or {})}
    return {
        "topic": partition.topic,
        "partition": partition.partition,
        "committed": partition.committed,
        "end": partition.end,
        "lag": partition.lag,
    }


def _stuck_doc(stuck: Stuck) -> dict[str, Any]:
    if stuck.source_partition is not None:
        return {"partition": dict(stuck.source_partition)}
    return {"topic": stuck.topic, "partition": stuck.partition, "lag": stuck.lag}


def progress_doc(progress: ConnectorProgress) -> dict[str, Any]:
    """`"progress"` in /connectors and /connectors/<name>, for every connector the check judges."""
    return {
        "status": progress.judgement.value,
        "lag": progress.lag,
        "last_progress": progress.last_progress,
        "checked_at": progress.checked_at,
        "partitions": [_partition_doc(p) for p in progress.partitions],
        "error": progress.error,
    }


def stall_fields(progress: ConnectorProgress) -> dict[str, Any]:
    """What a STALLED failure adds to its entry in `/`."""
    return {
        "lag": progress.lag,
        "last_progress": progress.last_progress,
        "stuck": [_stuck_doc(s) for s in progress.stuck],
    }


def progress_error_doc(error: ProgressError) -> dict[str, str]:
    return {"reason": error.reason, "message": error.message}
