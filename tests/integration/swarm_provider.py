"""Create and update the program's Swarm resources through the Docker Engine API the way pulumi-docker does
(kreuzwerker/terraform-provider-docker v4.5.0, the pin of pulumi-docker v5.1.0; paths are
internal/provider/<file>), from the program's captured inputs after the bridge's Check (facts/bridge_check.py:
the provider is handed Check's output, defaults included).

- service: createServiceSpec (resource_docker_service_structures.go:589-633) and its parts: labels
  (:636-641), the task template (:645-705), the container spec (:708-1001: durations through
  time.ParseDuration, env map to KEY=value, mounts with their options, secret and config references),
  resources (:1004-1045), restart policy (:1084-1109), placement (:1112-1135), networks by id or name
  (:1138-1163), log driver (:1166-1182), mode (:1187-1220), update and rollback config (:1294-1320),
  endpoint spec (:1240-1289). Created with ServiceCreate and updated with ServiceUpdate against the
  current version with the whole new spec (resource_docker_service_funcs.go:31-50, 169-198); then
  converged as converge_config makes the provider wait (:52-75, 200-223, 406-476): the first poll after 7 s,
  `completed` ends it, `rollback_completed` / `paused` / `rollback_paused` fail it with the provider's words.
  The docker client's registry lookup (QueryRegistry) is skipped: there is no registry here, and the
  client goes on without a digest when it fails.
- secrets and configs: SecretCreate / ConfigCreate with the (base64) data and labels
  (resource_docker_secret.go:61-90, resource_docker_config.go:60-90).
- networks and volumes: NetworkCreate / VolumeCreate with the declared driver, options and labels.

The program refers to other resources by the ids the mocks gave them ("<resource name>-id"); `ids` maps
them to the real ones as the resources are created.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from typing import Any

from clients.docker_api import DockerAPI
from facts.bridge_check import check_shape
from ops.program_run import ProgramRun, Resource, unwrap_secrets
from tests.integration.provider import parse_go_duration

SERVICE = "docker:index/service:Service"
SECRET = "docker:index/secret:Secret"
CONFIG = "docker:index/serviceConfig:ServiceConfig"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
AUTH = base64.urlsafe_b64encode(b"{}").decode()  # retrieveAndMarshalAuth with no auth configured


class ServiceRollback(Exception):
    """What `pulumi up` reports for a service whose update Docker rolled back (funcs.go:444)."""


def checked(resource: Resource) -> dict[str, Any]:
    """The inputs as the provider receives them: after Check, with the schema defaults it added (the
    `__defaults` lists themselves are the bridge's bookkeeping, not the provider's)."""
    shaped = check_shape(resource.type, unwrap_secrets(resource.inputs), urn_name=resource.name)
    return _strip_defaults_keys(shaped)


def _strip_defaults_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _strip_defaults_keys(v) for k, v in value.items() if k != "__defaults"}
    if isinstance(value, list):
        return [_strip_defaults_keys(v) for v in value]
    return value


def _labels(items: list[dict] | None) -> dict[str, str]:
    return {i["label"]: i["value"] for i in items or []}


def _ns(text: str | None) -> int:
    return parse_go_duration(text or "0s")


def _int(value: Any) -> int:
    return int(value or 0)


def container_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """createContainerSpec (structures.go:708-1001), the fields the program sets or Check defaults."""
    out: dict[str, Any] = {
        "Image": spec["image"],
        "Labels": _labels(spec.get("labels")),
        "Command": list(spec.get("commands") or []),
        "Args": list(spec.get("args") or []),
        "Env": [f"{k}={v}" for k, v in (spec.get("env") or {}).items()],  # mapTypeMapValsToStringSlice
        "Dir": spec.get("dir", ""),
        "User": spec.get("user", ""),
        "StopSignal": spec.get("stopSignal", ""),
        "Isolation": spec.get("isolation", ""),
        "CapabilityAdd": list(spec.get("capAdds") or []),
        "CapabilityDrop": list(spec.get("capDrops") or []),
    }
    if "stopGracePeriod" in spec:
        out["StopGracePeriod"] = _ns(spec["stopGracePeriod"])
    if "healthcheck" in spec:
        h = spec["healthcheck"]
        out["Healthcheck"] = {
            "Test": list(h.get("tests") or []),
            "Interval": _ns(h.get("interval")),
            "Timeout": _ns(h.get("timeout")),
            "StartPeriod": _ns(h.get("startPeriod")),
            "Retries": _int(h.get("retries")),
        }
    mounts = []
    for m in spec.get("mounts") or []:
        mount: dict[str, Any] = {
            "Type": m["type"],
            "Target": m["target"],
            "Source": m.get("source", ""),
            "ReadOnly": bool(m.get("readOnly", False)),
        }
        if m.get("bindOptions"):
            mount["BindOptions"] = {"Propagation": m["bindOptions"].get("propagation", "")}
        if m.get("volumeOptions"):
            v = m["volumeOptions"]
            mount["VolumeOptions"] = {
                "NoCopy": bool(v.get("noCopy", False)),
                "Labels": _labels(v.get("labels")),
                "DriverConfig": {"Name": v.get("driverName", ""), "Options": dict(v.get("driverOptions") or {})},
            }
        if m.get("tmpfsOptions"):
            t = m["tmpfsOptions"]
            mount["TmpfsOptions"] = {"SizeBytes": _int(t.get("sizeBytes")), "Mode": _int(t.get("mode"))}
        mounts.append(mount)
    out["Mounts"] = mounts
    out["Secrets"] = [
        {
            "SecretID": s["secretId"],
            "SecretName": s.get("secretName", ""),
            "File": {"Name": s["fileName"], "UID": s["fileUid"], "GID": s["fileGid"], "Mode": _int(s["fileMode"])},
        }
        for s in spec.get("secrets") or []
    ]
    out["Configs"] = [
        {
            "ConfigID": c["configId"],
            "ConfigName": c.get("configName", ""),
            "File": {"Name": c["fileName"], "UID": c["fileUid"], "GID": c["fileGid"], "Mode": _int(c["fileMode"])},
        }
        for c in spec.get("configs") or []
    ]
    return out


def _update_config(c: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """createUpdateOrRollbackConfig (structures.go:1294-1320)."""
    if not c:
        return None
    return {
        "Parallelism": _int(c.get("parallelism")),
        "Delay": _ns(c.get("delay")),
        "FailureAction": c.get("failureAction", ""),
        "Monitor": _ns(c.get("monitor")),
        "MaxFailureRatio": float(c.get("maxFailureRatio") or 0),
        "Order": c.get("order", ""),
    }


def service_spec(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """createServiceSpec (structures.go:589-633) of Check-shaped inputs whose ids are the real ones."""
    task = inputs["taskSpec"]
    template: dict[str, Any] = {"ContainerSpec": container_spec(task["containerSpec"])}
    if "resources" in task:
        r = task["resources"]
        template["Resources"] = {
            "Limits": {
                "NanoCPUs": _int((r.get("limits") or {}).get("nanoCpus")),
                "MemoryBytes": _int((r.get("limits") or {}).get("memoryBytes")),
            },
            "Reservations": {
                "NanoCPUs": _int((r.get("reservation") or {}).get("nanoCpus")),
                "MemoryBytes": _int((r.get("reservation") or {}).get("memoryBytes")),
            },
        }
    if "restartPolicy" in task:
        p = task["restartPolicy"]
        template["RestartPolicy"] = {"Condition": p.get("condition", ""), "Delay": _ns(p.get("delay"))}
    if "placement" in task:
        template["Placement"] = {"Constraints": list(task["placement"].get("constraints") or [])}
    template["Networks"] = [
        {"Target": n.get("id") or n.get("name"), "Aliases": list(n.get("aliases") or [])}
        for n in task.get("networksAdvanceds") or []
    ]
    if "logDriver" in task:
        template["LogDriver"] = {
            "Name": task["logDriver"]["name"],
            "Options": dict(task["logDriver"].get("options") or {}),
        }
    mode = inputs.get("mode") or {}
    spec: dict[str, Any] = {
        "Name": inputs["name"],
        "Labels": _labels(inputs.get("labels")),
        "TaskTemplate": template,
        "Mode": {"Global": {}}
        if mode.get("global")
        else {"Replicated": {"Replicas": _int((mode.get("replicated") or {}).get("replicas", 1))}},
        "EndpointSpec": {"Mode": (inputs.get("endpointSpec") or {}).get("mode", "")},
    }
    for key, api_key in (("updateConfig", "UpdateConfig"), ("rollbackConfig", "RollbackConfig")):
        if (config := _update_config(inputs.get(key))) is not None:
            spec[api_key] = config
    return spec


def substitute(value: Any, ids: Mapping[str, str]) -> Any:
    """The program's mock ids ("<name>-id") replaced by the real ones."""
    if isinstance(value, str):
        return ids.get(value, value)
    if isinstance(value, Mapping):
        return {k: substitute(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, ids) for v in value]
    return value


class Deployment:
    """The program's Swarm resources on a real swarm, created and updated as the provider would."""

    def __init__(self, api: DockerAPI, secret_data: Mapping[str, str] | None = None):
        self.api = api
        self.ids: dict[str, str] = {}
        self.service_ids: dict[str, str] = {}
        self.secret_data = dict(secret_data or {})
        """Swarm secret resource name -> the real value (the AppRole pair OpenBao minted), base64 as declared."""

    def _post(self, path: str, body: dict, query: dict | None = None, auth: bool = False) -> dict:
        response = self.api.request("POST", path, query, body=body) if not auth else self._post_auth(path, body, query)
        if response.status >= 400:
            raise RuntimeError(f"POST {path}: {response.status} {response.body[:400]!r}")
        return response.json() if response.body else {}

    def _post_auth(self, path: str, body: dict, query: dict | None):
        # X-Registry-Auth as ServiceCreate/ServiceUpdate send it (funcs.go:42-45, 185-190).
        import http.client
        import socket
        from urllib.parse import urlencode, urlsplit

        conn = http.client.HTTPConnection("docker", timeout=120)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(urlsplit(self.api.host).path)
        conn.sock = sock
        data = json.dumps(body).encode()
        conn.request(
            "POST",
            path + (("?" + urlencode(query)) if query else ""),
            body=data,
            headers={"Host": "docker", "Content-Type": "application/json", "X-Registry-Auth": AUTH},
        )
        answer = conn.getresponse()
        from clients.docker_api import Response

        response = Response(answer.status, answer.read())
        conn.close()
        return response

    def lookup_network(self, name: str) -> str:
        """A network the program looks up (get_network: Dokploy's, never created): the mocks answer its id as
        "<name>-id" (ops.program_run.RecordingMocks.call)."""
        self.ids[f"{name}-id"] = self.api.get(f"/networks/{name}")["Id"]
        return self.ids[f"{name}-id"]

    def network(self, resource: Resource) -> str:
        i = checked(resource)
        found = self._post(
            "/networks/create",
            {
                "Name": i["name"],
                "Driver": i.get("driver", ""),
                "Internal": bool(i.get("internal", False)),
                "Attachable": bool(i.get("attachable", False)),
                "Labels": _labels(i.get("labels")),
                "CheckDuplicate": True,
            },
        )
        self.ids[f"{resource.name}-id"] = found["Id"]
        return found["Id"]

    def volume(self, resource: Resource) -> str:
        i = checked(resource)
        self._post(
            "/volumes/create",
            {
                "Name": i["name"],
                "Driver": i.get("driver", ""),
                "DriverOpts": dict(i.get("driverOpts") or {}),
                "Labels": _labels(i.get("labels")),
            },
        )
        self.ids[f"{resource.name}-id"] = i["name"]
        return i["name"]

    def secret(self, resource: Resource) -> str:
        i = checked(resource)
        data = self.secret_data.get(resource.name, i["data"])
        found = self._post("/secrets/create", {"Name": i["name"], "Data": data, "Labels": _labels(i.get("labels"))})
        self.ids[f"{resource.name}-id"] = found["ID"]
        return found["ID"]

    def config(self, resource: Resource) -> str:
        """ConfigCreate, or the config of that name when it exists already: after an update Docker rolled back,
        the previous config is still there (Pulumi had not deleted it yet), and `invoke rollback` makes the
        state keep it rather than create it again (ops/rollback.py swap_failed_revisions)."""
        i = checked(resource)
        existing = [
            c
            for c in self.api.get("/configs", filters=json.dumps({"name": [i["name"]]}))
            if c["Spec"]["Name"] == i["name"]
        ]
        if existing:
            self.ids[f"{resource.name}-id"] = existing[0]["ID"]
            return existing[0]["ID"]
        found = self._post(
            "/configs/create", {"Name": i["name"], "Data": i["data"], "Labels": _labels(i.get("labels"))}
        )
        self.ids[f"{resource.name}-id"] = found["ID"]
        return found["ID"]

    def spec(self, resource: Resource) -> dict[str, Any]:
        return service_spec(substitute(checked(resource), self.ids))

    def create_service(self, resource: Resource) -> str:
        found = self._post("/services/create", self.spec(resource), auth=True)
        self.service_ids[resource.name] = found["ID"]
        return found["ID"]

    def update_service(self, resource: Resource) -> None:
        sid = self.service_ids[resource.name]
        version = self.api.get(f"/services/{sid}")["Version"]["Index"]
        self._post(f"/services/{sid}/update", self.spec(resource), {"version": str(version)}, auth=True)

    def converge(self, resource: Resource, timeout: float = 900) -> str:
        """resourceDockerServiceUpdateRefreshFunc (funcs.go:406-476) until `completed`, as converge_config
        makes `pulumi up` wait (first poll after 7 s, then every 5 s)."""
        sid = self.service_ids[resource.name]
        time.sleep(7)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            service = self.api.get(f"/services/{sid}")
            status = service.get("UpdateStatus") or {}
            state = status.get("State")
            if state == "completed":
                return "completed"
            if state == "rollback_completed":
                raise ServiceRollback(f"service rollback completed: {status.get('Message', '')}")
            if state == "paused":
                raise ServiceRollback(f"service update paused: {status.get('Message', '')}")
            if state == "rollback_paused":
                raise ServiceRollback(f"service rollback paused: {status.get('Message', '')}")
            if state not in ("updating", "rollback_started") and self.all_running(sid, service):
                return "completed"
            time.sleep(5)
        raise TimeoutError(f"Service with ID ({sid}) did not converge after {timeout:.0f}s")

    def all_running(self, sid: str, service: dict | None = None) -> bool:
        service = service or self.api.get(f"/services/{sid}")
        tasks = self.tasks(sid)
        running = [t for t in tasks if (t.get("Status") or {}).get("State") == "running"]
        mode = service["Spec"]["Mode"]
        if "Global" in mode:
            nodes = [
                n
                for n in self.api.get("/nodes")
                if (n.get("Status") or {}).get("State") == "ready"
                and (n.get("Spec") or {}).get("Availability") == "active"
            ]
            return len(running) >= len(nodes)
        return len(running) == int(mode["Replicated"]["Replicas"])

    def tasks(self, sid: str) -> list[dict]:
        return self.api.get("/tasks", filters=json.dumps({"service": [sid], "desired-state": ["running"]}))

    def apply(self, run: ProgramRun, services: list[str]) -> None:
        """Networks, volumes, secrets and configs of the program, then `services` in that order, each
        converged before the next (the program's depends_on order)."""
        for r in run.by_type(NETWORK):
            self.network(r)
        for r in run.by_type(VOLUME):
            if "driverOpts" in r.inputs:  # the agents' tmpfs volumes; data volumes are created by their mounts
                self.volume(r)
        for r in run.by_type(SECRET):
            self.secret(r)
        for r in run.by_type(CONFIG):
            self.config(r)
        for name in services:
            resource = run.one(SERVICE, name)
            self.create_service(resource)
            deadline = time.monotonic() + 600
            while not self.all_running(self.service_ids[name]):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name}: tasks not running: {self.task_errors(name)}")
                time.sleep(2)

    def task_errors(self, name: str) -> list[str]:
        sid = self.service_ids[name]
        tasks = self.api.get("/tasks", filters=json.dumps({"service": [sid]}))
        return sorted(
            {f"{(t.get('Status') or {}).get('State')}: {(t.get('Status') or {}).get('Err', '')}" for t in tasks}
        )
