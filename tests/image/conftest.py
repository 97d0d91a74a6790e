"""Fixtures for the image tests: podman set up for this machine, and containers of the built image.

The containers use the host's network (`--network host`), so a fake Connect on the host's 127.0.0.1 is
reachable from inside as 127.0.0.1 too. Without it, 127.0.0.1 inside a container is the container itself.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.server_process import free_port
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent.parent
IMAGE = os.environ.get("KCH_IMAGE", "localhost/kafka-connect-healthcheck:dev")
DIGEST_LABEL = "io.kafka-connect-healthcheck.source-digest"  # set by deploy/podman/build-image.sh
# crun, podman's default here, cannot start containers on this machine; runc can.
RUNTIME = os.environ.get("PODMAN_RUNTIME", "/usr/sbin/runc")


def _ulimits() -> list[str]:
    """podman's default limits (nofile 1048576) exceed the hard limits of an unprivileged-looking root (no
    CAP_SYS_RESOURCE), and runc then fails with `setrlimit ... operation not permitted`: ask for no more than
    we have (nproc: podman itself runs with 32768)."""
    flags = []
    for name, limit, cap in (("nofile", resource.RLIMIT_NOFILE, 1048576), ("nproc", resource.RLIMIT_NPROC, 32768)):
        hard = resource.getrlimit(limit)[1]
        value = cap if hard == resource.RLIM_INFINITY else min(hard, cap)
        flags += ["--ulimit", f"{name}={value}:{value}"]
    return flags


class Podman:
    """The podman command line, with the runtime and limits that work on this machine."""

    def __init__(self, image: str, runtime: str) -> None:
        self.image = image
        self.global_args = ["--runtime", runtime] if os.path.exists(runtime) else []
        self.run_args = _ulimits()

    def __call__(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["podman", *self.global_args, *args], capture_output=True, text=True, timeout=timeout, check=False
        )

    def run_once(
        self, env: Mapping[str, str], *args: str, options: Sequence[str] = ()
    ) -> subprocess.CompletedProcess[str]:
        """Run the image in the foreground to its end; no HEALTHCHECK (it would only add podman's noise)."""
        return self("run", "--rm", "--no-healthcheck", *self.run_args, *options, *_env_flags(env), self.image, *args)


def _env_flags(env: Mapping[str, str]) -> list[str]:
    return [f"--env={name}={value}" for name, value in env.items()]


@dataclass
class Container:
    """A running container of the image, serving on 127.0.0.1:`port` of the host."""

    name: str
    port: int
    podman: Podman

    def get(self, path: str) -> requests.Response:
        return requests.get(f"http://127.0.0.1:{self.port}{path}", timeout=5)

    def logs(self) -> str:
        result = self.podman("logs", self.name)
        return result.stdout + result.stderr

    def running(self) -> bool:
        return self.podman("inspect", "--format", "{{.State.Running}}", self.name).stdout.strip() == "true"


def _unavailable(reason: str) -> None:
    """Skip, unless `make test-image` asked for the image (KCH_REQUIRE_IMAGE=1): then it is a failure."""
    if os.environ.get("KCH_REQUIRE_IMAGE") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def podman() -> Podman:
    """podman for the image under test; skips when podman or an image of the current sources is missing."""
    if shutil.which("podman") is None:
        _unavailable("podman is not installed: `make test-image` installs it, builds the image and runs these tests")
    tool = Podman(IMAGE, RUNTIME)
    if tool("image", "exists", IMAGE).returncode != 0:
        _unavailable(f"the image {IMAGE} is not built: `make test-image` builds it and runs these tests")
    built_from = tool("image", "inspect", f'--format={{{{index .Labels "{DIGEST_LABEL}"}}}}', IMAGE).stdout.strip()
    if built_from != _source_digest():
        _unavailable(f"the image {IMAGE} was built from other sources than these: `make test-image` rebuilds it")
    return tool


def _source_digest() -> str:
    script = ROOT / "deploy" / "podman" / "source_digest.py"
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True).stdout.strip()


def _serving(container: Container) -> bool:
    try:
        return container.get("/ping").status_code == 200
    except requests.ConnectionError:
        if not container.running():
            raise AssertionError(f"container {container.name} exited:\n{container.logs()}") from None
        return False


@pytest.fixture
def start_container(podman: Podman) -> Iterator[Callable[..., Container]]:
    """Start containers of the image on free ports (read-only root, host network); removed at the end."""
    names: list[str] = []

    def start(env: Mapping[str, str], args: Sequence[str] = ()) -> Container:
        port = free_port()
        name = f"kch-test-{uuid.uuid4().hex[:12]}"
        env = {"HEALTHCHECK_HOST": "127.0.0.1", "HEALTHCHECK_PORT": str(port), **env}
        result = podman(
            "run",
            "--detach",
            f"--name={name}",
            "--network=host",
            "--read-only",  # like readOnlyRootFilesystem; podman mounts a tmpfs on /tmp, as the manifests do
            "--health-interval=disable",  # no timer (no systemd here): tests run the check with `healthcheck run`
            *podman.run_args,
            *_env_flags(env),
            podman.image,
            *args,
        )
        assert result.returncode == 0, f"podman run failed: {result.stderr}"
        names.append(name)
        container = Container(name, port, podman)
        wait_until(lambda: _serving(container), timeout=30, what=f"{name} to serve /ping")
        return container

    yield start
    for name in names:
        podman("rm", "--force", "--time=0", name)
