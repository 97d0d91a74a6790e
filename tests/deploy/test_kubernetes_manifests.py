"""The Kubernetes manifests in deploy/kubernetes/: valid for the API server, and wired the way the docs say."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from healthcheck.settings import OPTIONS

kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="kubernetes-validate is not installed (pip install -e '.[test]')"
)
yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (it comes with kubernetes-validate)")

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))
# The oldest Kubernetes still widely run, and the newest whose schemas the package ships.
KUBERNETES_VERSIONS = ("1.27.0", kubernetes_validate.latest_version())
HEALTHCHECK_PORT = 18083
SETTINGS_ENV = {option.env for option in OPTIONS}


def _documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in MANIFESTS:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((f"{path.name}:{doc['kind']}/{doc['metadata']['name']}", doc))
    return docs


DOCUMENTS = _documents()


def _workloads(name: str) -> list[dict[str, Any]]:
    return [doc for label, doc in DOCUMENTS if label.startswith(name) and doc["kind"] == "Deployment"]


def _containers() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(label, pod spec, container) for every container of every workload."""
    found = []
    for label, doc in DOCUMENTS:
        if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            pod = doc["spec"]["template"]["spec"]
            found += [(f"{label}/{c['name']}", pod, c) for c in pod["containers"]]
    return found


def _healthcheck_containers() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    return [entry for entry in _containers() if entry[2]["image"].startswith("kafka-connect-healthcheck:")]


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item for item in container.get("env", [])}


def _probe(container: dict[str, Any], kind: str) -> dict[str, Any]:
    return container[f"{kind}Probe"]["httpGet"]


def test_there_are_a_sidecar_and_a_standalone_example() -> None:
    names = {path.name for path in MANIFESTS}
    assert {"sidecar.yaml", "standalone.yaml"} <= names
    assert _workloads("sidecar.yaml") and _workloads("standalone.yaml")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(("label", "doc"), DOCUMENTS, ids=[label for label, _ in DOCUMENTS])
def test_manifest_is_valid_for_the_api_server(label: str, doc: dict[str, Any], version: str) -> None:
    # strict: an unknown or misspelt field (which kubectl would drop or reject) fails here.
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        pytest.fail(f"{label} is not valid for Kubernetes {version}: {error.message} at {list(error.path)}")


@pytest.mark.parametrize(("label", "pod", "container"), _containers(), ids=[c[0] for c in _containers()])
def test_named_probe_ports_exist_in_the_same_container(label: str, pod: dict[str, Any], container: dict) -> None:
    # The kubelet resolves a probe's named port in the probe's own container only, never a sibling's.
    own = {port["name"] for port in container.get("ports", [])}
    for kind in ("startup", "liveness", "readiness"):
        if f"{kind}Probe" in container:
            port = _probe(container, kind)["port"]
            assert isinstance(port, int) or port in own, f"{label} {kind}Probe names port {port!r}"


@pytest.mark.parametrize(("label", "pod", "container"), _containers(), ids=[c[0] for c in _containers()])
def test_env_references_are_defined_before_use(label: str, pod: dict[str, Any], container: dict) -> None:
    # $(VAR) expands only when VAR comes earlier in the same container's env; otherwise it stays literal.
    defined: set[str] = set()
    for item in container.get("env", []):
        for ref in re.findall(r"\$\((\w+)\)", item.get("value", "")):
            assert ref in defined, f"{label}: {item['name']} uses $({ref}) before it is defined"
        defined.add(item["name"])


@pytest.mark.parametrize(
    ("label", "pod", "container"), _healthcheck_containers(), ids=[c[0] for c in _healthcheck_containers()]
)
def test_healthcheck_container_is_locked_down(label: str, pod: dict[str, Any], container: dict) -> None:
    security = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
    assert security.get("runAsNonRoot") is True
    assert security.get("runAsUser") == _image_uid()
    assert security.get("readOnlyRootFilesystem") is True
    assert security.get("allowPrivilegeEscalation") is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    # gunicorn keeps a heartbeat file in /tmp: with a read-only root it must be a volume.
    assert "/tmp" in {mount["mountPath"] for mount in container.get("volumeMounts", [])}
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]


@pytest.mark.parametrize(
    ("label", "pod", "container"), _healthcheck_containers(), ids=[c[0] for c in _healthcheck_containers()]
)
def test_healthcheck_container_probes_its_own_endpoints(label: str, pod: dict[str, Any], container: dict) -> None:
    assert [port["containerPort"] for port in container["ports"]] == [HEALTHCHECK_PORT]
    assert _probe(container, "startup")["path"] == "/ping"
    assert _probe(container, "liveness")["path"] == "/ping"  # restart the healthcheck only when it is stuck
    assert _probe(container, "readiness")["path"] == "/ready"


@pytest.mark.parametrize(
    ("label", "pod", "container"), _healthcheck_containers(), ids=[c[0] for c in _healthcheck_containers()]
)
def test_healthcheck_env_names_are_real_settings(label: str, pod: dict[str, Any], container: dict) -> None:
    # A misspelt HEALTHCHECK_* variable would be silently ignored and the default used.
    names = {name for name in _env(container) if name.startswith("HEALTHCHECK_")}
    assert names, f"{label} sets no HEALTHCHECK_* variable"
    assert names <= SETTINGS_ENV, f"{label} sets unknown settings {sorted(names - SETTINGS_ENV)}"


def test_sidecar_judges_its_own_worker_by_its_advertised_address() -> None:
    (deployment,) = _workloads("sidecar.yaml")
    containers = {c["name"]: c for c in deployment["spec"]["template"]["spec"]["containers"]}
    connect, healthcheck = _env(containers["connect"]), _env(containers["healthcheck"])
    for env in (connect, healthcheck):
        assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert connect["CONNECT_REST_ADVERTISED_HOST_NAME"]["value"] == "$(POD_IP)"
    advertised = f"$(POD_IP):{connect['CONNECT_REST_ADVERTISED_PORT']['value']}"
    assert healthcheck["HEALTHCHECK_CONNECT_WORKER_ID"]["value"] == advertised
    # Same pod, same network namespace: here localhost is the worker.
    assert (
        healthcheck["HEALTHCHECK_CONNECT_URL"]["value"] == f"http://localhost:{connect['CONNECT_REST_PORT']['value']}"
    )


def test_sidecar_restarts_the_worker_only_after_minutes_of_unhealthy() -> None:
    (deployment,) = _workloads("sidecar.yaml")
    containers = {c["name"]: c for c in deployment["spec"]["template"]["spec"]["containers"]}
    liveness = containers["connect"]["livenessProbe"]
    assert liveness["httpGet"] == {"path": "/", "port": HEALTHCHECK_PORT}
    # One failed poll, a rebalance or a restarting task must not restart the worker.
    assert liveness["periodSeconds"] * liveness["failureThreshold"] >= 120
    # While the JVM starts, the startup probe holds the liveness probe back.
    startup = containers["connect"]["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120


def test_standalone_service_is_scraped_by_prometheus_on_the_metrics_path() -> None:
    services = [doc for label, doc in DOCUMENTS if label.startswith("standalone.yaml") and doc["kind"] == "Service"]
    (service,) = services
    annotations = service["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == HEALTHCHECK_PORT
    (deployment,) = _workloads("standalone.yaml")
    assert service["spec"]["selector"] == deployment["spec"]["template"]["metadata"]["labels"]
    # In its own pod, localhost is the healthcheck itself: Connect must be reached by a Service name.
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert "localhost" not in _env(container)["HEALTHCHECK_CONNECT_URL"]["value"]


def _image_uid() -> int:
    """The numeric user the Dockerfile runs as."""
    (user,) = re.findall(r"^USER\s+(\d+)", (ROOT / "Dockerfile").read_text(), flags=re.MULTILINE)
    return int(user)
