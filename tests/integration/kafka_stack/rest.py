"""A client of one Connect worker's REST API that knows which features its Kafka version has."""

from __future__ import annotations

import contextlib
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from tests.integration.kafka_stack.errors import ConnectRestError, UnsupportedFeatureError
from tests.integration.kafka_stack.jars import version_tuple
from tests.waiting import WaitTimeout, wait_until

T = TypeVar("T")


@dataclass(frozen=True)
class RestResponse:
    status: int
    body: Any  # parsed JSON, a str if the body is not JSON, None if empty


def _since(version: tuple[int, int, int], feature: str) -> property:
    """A feature flag: True on workers of `version` or newer."""
    return property(lambda rest: rest.vt >= version, doc=f"{feature}: Kafka {'.'.join(map(str, version))}+")


class ConnectRest:
    """The REST calls the tests make, with a 409 (rebalance) retried; subclasses say where the worker is."""

    def __init__(self, version: str) -> None:
        self.version = version

    @property
    def connect_url(self) -> str:
        raise NotImplementedError

    # ---- feature flags --------------------------------------------------------------------------

    @property
    def vt(self) -> tuple[int, int, int]:
        return version_tuple(self.version)

    has_health_endpoint = _since((3, 9, 0), "GET /health (KIP-1017)")
    has_stopped_state = _since((3, 5, 0), "the STOPPED state (KIP-875)")
    has_initial_state = _since((3, 7, 0), "initial_state when creating a connector (KIP-980)")
    has_restart_options = _since((3, 0, 0), "restart with includeTasks and onlyFailed (KIP-745)")

    # ---- requests --------------------------------------------------------------------------------

    def raw(self, method: str, path: str, body: Any = None, *, timeout: float = 60.0) -> RestResponse:
        """One HTTP request to the worker; never raises for HTTP error codes (only OSError on I/O)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.connect_url + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return RestResponse(resp.status, _parse(resp.read()))
        except urllib.error.HTTPError as err:
            try:
                return RestResponse(err.code, _parse(err.read()))
            finally:
                err.close()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        ok: Iterable[int] = (200, 201, 202, 204),
        conflict_timeout: float = 30.0,
        timeout: float = 60.0,
    ) -> Any:
        """Request and return the parsed body; retries 409 (rebalance) until ``conflict_timeout``."""
        okset = set(ok)
        last: list[RestResponse] = []

        def settled() -> bool:
            last[:] = [self.raw(method, path, body, timeout=timeout)]
            return not (last[0].status == 409 and 409 not in okset and _is_rebalance(last[0].body))

        with contextlib.suppress(WaitTimeout):  # still rebalancing at the deadline: the 409 is the error
            wait_until(settled, conflict_timeout, interval=0.25, what=f"{method} {path} to pass a rebalance")
        resp = last[0]
        if resp.status in okset:
            return resp.body
        raise ConnectRestError(method, path, resp.status, resp.body)

    def get(self, path: str) -> Any:
        return self.request("GET", path, ok=(200,))

    def connectors(self, *expand: str) -> Any:
        query = "".join(f"{'&' if i else '?'}expand={e}" for i, e in enumerate(expand))
        return self.get(f"/connectors{query}")

    def create_connector(
        self, name: str, config: Mapping[str, str], initial_state: str | None = None
    ) -> dict[str, Any]:
        """POST /connectors. ``initial_state`` (PAUSED/STOPPED/RUNNING) is native since 3.7; on older
        versions it is emulated with a pause/stop right after the create."""
        body: dict[str, Any] = {"name": name, "config": dict(config)}
        state = initial_state.upper() if initial_state else None
        if state == "STOPPED" and not self.has_stopped_state:
            raise UnsupportedFeatureError(f"STOPPED does not exist in Kafka {self.version} (3.5+)")
        if state and self.has_initial_state:
            body["initial_state"] = state
        result: dict[str, Any] = self.request("POST", "/connectors", body, ok=(201,))
        if state and not self.has_initial_state:
            if state == "PAUSED":
                self.pause(name)
            elif state == "STOPPED":
                self.stop_connector(name)
        return result

    def put_config(self, name: str, config: Mapping[str, str]) -> dict[str, Any]:
        result: dict[str, Any] = self.request("PUT", f"/connectors/{quote(name)}/config", dict(config), ok=(200, 201))
        return result

    def delete_connector(self, name: str) -> None:
        self.request("DELETE", f"/connectors/{quote(name)}", ok=(204,))

    def pause(self, name: str) -> None:
        self.request("PUT", f"/connectors/{quote(name)}/pause", ok=(202,))

    def resume(self, name: str) -> None:
        self.request("PUT", f"/connectors/{quote(name)}/resume", ok=(202,))

    def stop_connector(self, name: str) -> None:
        if not self.has_stopped_state:
            raise UnsupportedFeatureError(f"PUT /connectors/<name>/stop does not exist in Kafka {self.version}")
        self.request("PUT", f"/connectors/{quote(name)}/stop", ok=(204,))

    def restart(self, name: str, include_tasks: bool = False, only_failed: bool = False) -> Any:
        """POST /connectors/<name>/restart. Returns None (204) or the 202 status body with RESTARTING."""
        path = f"/connectors/{quote(name)}/restart"
        if include_tasks or only_failed:
            if not self.has_restart_options:
                raise UnsupportedFeatureError(f"restart options need Kafka 3.0+, not {self.version}")
            path += f"?includeTasks={str(include_tasks).lower()}&onlyFailed={str(only_failed).lower()}"
        return self.request("POST", path, ok=(202, 204))

    def restart_task(self, name: str, task_id: int) -> None:
        self.request("POST", f"/connectors/{quote(name)}/tasks/{task_id}/restart", ok=(204,))

    def status(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.get(f"/connectors/{quote(name)}/status")
        return result

    def wait_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 30.0,
        what: str = "condition",
        interval: float = 0.25,
    ) -> T:
        """Poll ``predicate`` until it returns a truthy value (returned) or ``timeout`` expires.

        A 404/409 :class:`ConnectRestError` or a connection error inside the predicate counts as
        "not yet". Raises :class:`TimeoutError` naming ``what`` and the last value or error.
        """
        last: list[object] = [None]

        def attempt() -> T | None:
            try:
                value = predicate()
            except ConnectRestError as exc:
                if exc.status not in (404, 409):
                    raise
                last[0] = exc
                return None
            except (OSError, http.client.HTTPException) as exc:
                last[0] = exc
                return None
            last[0] = value
            return value

        try:
            return wait_until(attempt, timeout, interval, what, describe=lambda: f"last: {last[0]!r}")
        except WaitTimeout as exc:
            raise TimeoutError(str(exc)) from None

    def wait_for_state(
        self,
        name: str,
        connector_state: str,
        task_states: Sequence[str] | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Wait until the connector has ``connector_state`` and (if given) exactly ``task_states``."""

        def check() -> dict[str, Any] | None:
            st = self.status(name)
            if st["connector"]["state"] != connector_state:
                return None
            if task_states is not None:
                tasks = sorted(st.get("tasks", []), key=lambda t: t["id"])
                if [t["state"] for t in tasks] != list(task_states):
                    return None
            return st

        return self.wait_for(check, timeout, f"{name} -> {connector_state} {list(task_states or [])}")


def quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _is_rebalance(body: Any) -> bool:
    """409s worth retrying (rebalance / stale config), not e.g. 'Connector x already exists'."""
    msg = body.get("message", "") if isinstance(body, dict) else str(body)
    return "already exists" not in msg
