"""Print a digest of what the image is built from; the build stores it as a label, the image tests compare it.

The files are the build context that .dockerignore lets through, plus the Dockerfile: keep both in step.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
LABEL = "io.kafka-connect-healthcheck.source-digest"


def source_files(root: Path = ROOT) -> list[Path]:
    files = [root / name for name in ("Dockerfile", ".dockerignore", "setup.cfg", "pyproject.toml")]
    files += [
        path
        for path in (root / "healthcheck").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    ]
    return sorted(files)


def source_digest(root: Path = ROOT) -> str:
    digest = hashlib.sha256()
    for path in source_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


if __name__ == "__main__":
    sys.stdout.write(source_digest() + "\n")
