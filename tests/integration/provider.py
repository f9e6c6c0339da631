"""Create, stop and read a container the way pulumi-docker (kreuzwerker/terraform-provider-docker v4.5.0)
does, from the program's engine-shaped inputs, so a real engine shows what the provider would find.

Mapping: internal/provider/resource_docker_container_funcs.go, resourceDockerContainerCreate (config and
host config from the arguments, ContainerCreate, disconnect from `bridge` and NetworkConnect each
networks_advanced entry, one CopyToContainer per upload with its mode, ContainerStart, the health wait),
resourceDockerContainerDelete (ContainerStop with t = destroy_grace_seconds or 0, ContainerRemove) and
resourceDockerContainerRead (the attributes listed in facts/providers.CONTAINER_READ_BACK).
"""

from __future__ import annotations

import io
import re
import tarfile
import time
from collections.abc import Mapping
from typing import Any

from clients.docker_api import DockerAPI
from facts import providers

_NS = {"h": 3600e9, "m": 60e9, "s": 1e9, "ms": 1e6, "us": 1e3, "µs": 1e3, "ns": 1}


def parse_go_duration(text: str) -> int:
    """time.ParseDuration for the forms the program writes (h, m, s, ms): nanoseconds."""
    if text in ("", "0"):
        return 0
    total, pos = 0.0, 0
    for match in re.finditer(r"([0-9.]+)(h|ms|us|µs|ns|m|s)", text):
        if match.start() != pos:
            raise ValueError(f"not a Go duration: {text!r}")
        total += float(match.group(1)) * _NS[match.group(2)]
        pos = match.end()
    if pos != len(text):
        raise ValueError(f"not a Go duration: {text!r}")
    return int(total)


def go_duration_string(nanoseconds: int) -> str:
    """Duration.String() for whole seconds (and 0), as the provider reads the value back."""
    if nanoseconds % 1_000_000_000:
        raise ValueError("the program only writes whole seconds")
    return providers.go_duration(nanoseconds // 1_000_000_000)


def create_request(inputs: Mapping[str, Any], image: str) -> dict[str, Any]:
    """The body of POST /containers/create for these inputs (`image` replaces the program's image)."""
    config: dict[str, Any] = {
        "Image": image,
        "Hostname": inputs.get("hostname", ""),
        "Domainname": inputs.get("domainname", ""),
        "Tty": bool(inputs.get("tty", False)),
        "OpenStdin": bool(inputs.get("stdinOpen", False)),
        "StopSignal": inputs.get("stopSignal", ""),
    }
    if inputs.get("stopTimeout"):
        config["StopTimeout"] = int(inputs["stopTimeout"])
    if inputs.get("envs"):
        config["Env"] = list(inputs["envs"])
    if inputs.get("command"):
        config["Cmd"] = list(inputs["command"])
    if inputs.get("entrypoints"):
        config["Entrypoint"] = list(inputs["entrypoints"])
    if inputs.get("user"):
        config["User"] = inputs["user"]
    if inputs.get("workingDir"):
        config["WorkingDir"] = inputs["workingDir"]
    if inputs.get("labels"):
        config["Labels"] = {item["label"]: item["value"] for item in inputs["labels"]}
    health = inputs.get("healthcheck")
    if health:
        config["Healthcheck"] = {
            "Test": list(health.get("tests", [])),
            "Interval": parse_go_duration(health.get("interval", "0s")),
            "Timeout": parse_go_duration(health.get("timeout", "0s")),
            "StartPeriod": parse_go_duration(health.get("startPeriod", "0s")),
            "StartInterval": parse_go_duration(health.get("startInterval", "0s")),
            "Retries": int(health.get("retries", 0)),
        }
    binds, volumes = [], {}
    for volume in inputs.get("volumes") or []:
        source = volume.get("hostPath") or volume.get("volumeName")
        volumes[volume["containerPath"]] = {}
        if source:
            binds.append(f"{source}:{volume['containerPath']}:{'ro' if volume.get('readOnly') else 'rw'}")
    if volumes:
        config["Volumes"] = volumes
    mounts = [
        {
            "Type": m["type"],
            "Target": m["target"],
            "Source": m.get("source", ""),
            "ReadOnly": bool(m.get("readOnly", False)),
        }
        for m in inputs.get("mounts") or []
    ]
    host: dict[str, Any] = {
        "Privileged": bool(inputs.get("privileged", False)),
        "PublishAllPorts": bool(inputs.get("publishAllPorts", False)),
        "RestartPolicy": {
            "Name": inputs.get("restart", "no"),
            "MaximumRetryCount": int(inputs.get("maxRetryCount", 0)),
        },
        "Mounts": mounts,
        "AutoRemove": bool(inputs.get("rm", False)),
        "ReadonlyRootfs": bool(inputs.get("readOnly", False)),
        "LogConfig": {"Type": inputs.get("logDriver", "")},
        "NetworkMode": inputs.get("networkMode", "bridge"),
        "Init": bool(inputs.get("init", False)),
    }
    if binds:
        host["Binds"] = binds
    caps = inputs.get("capabilities")
    if caps:
        host["CapAdd"] = list(caps.get("adds") or [])
        host["CapDrop"] = list(caps.get("drops") or [])
    if inputs.get("securityOpts"):
        host["SecurityOpt"] = list(inputs["securityOpts"])
    if inputs.get("memory"):
        host["Memory"] = int(inputs["memory"]) * 1024 * 1024
    if inputs.get("memorySwap"):
        swap = int(inputs["memorySwap"])
        host["MemorySwap"] = swap * 1024 * 1024 if swap > 0 else swap
    if inputs.get("logOpts"):
        host["LogConfig"]["Config"] = dict(inputs["logOpts"])
    if inputs.get("tmpfs"):
        host["Tmpfs"] = dict(inputs["tmpfs"])
    return {**config, "HostConfig": host}


def upload_tar(upload: Mapping[str, Any]) -> bytes:
    """One upload as the provider tars it: its mode from `permissions`, else 0744 if executable, else 0644."""
    data = upload["content"].encode()
    if upload.get("permissions"):
        mode = int(upload["permissions"], 8)
    elif upload.get("executable"):
        mode = 0o744
    else:
        mode = providers.DEFAULT_UPLOAD_MODE
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(upload["file"])
        info.size, info.mode, info.mtime = len(data), mode, int(time.time())
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def create(
    api: DockerAPI,
    inputs: Mapping[str, Any],
    image: str,
    name: str | None = None,
    networks: Mapping[str, str] | None = None,
    start: bool = True,
) -> str:
    """Create (and start) like resourceDockerContainerCreate; `networks` maps the program's network names
    to the harness's. Returns the container id."""
    body = create_request(inputs, image)
    response = api.request("POST", "/containers/create", {"name": name or inputs["name"]}, body=body)
    if response.status >= 400:
        raise RuntimeError(f"create {name or inputs['name']}: {response.status} {response.body[:300]!r}")
    cid = response.json()["Id"]
    advanced = inputs.get("networksAdvanced") or []
    if advanced:
        api.request("POST", "/networks/bridge/disconnect", body={"Container": cid, "Force": False})
        for network in advanced:
            target = (networks or {}).get(network["name"], network["name"])
            answer = api.request(
                "POST",
                f"/networks/{target}/connect",
                body={"Container": cid, "EndpointConfig": {"Aliases": list(network.get("aliases") or [])}},
            )
            if answer.status >= 400:
                raise RuntimeError(f"connect {target}: {answer.status} {answer.body[:200]!r}")
    for upload in inputs.get("uploads") or []:
        answer = api.request("PUT", f"/containers/{cid}/archive", {"path": "/"}, raw=upload_tar(upload))
        if answer.status >= 400:
            raise RuntimeError(f"upload {upload['file']}: {answer.status} {answer.body[:200]!r}")
    if start and inputs.get("start", True):
        answer = api.request("POST", f"/containers/{cid}/start")
        if answer.status >= 400:
            raise RuntimeError(f"start: {answer.status} {answer.body[:300]!r}")
    return cid


def stop_for_delete(api: DockerAPI, cid: str, inputs: Mapping[str, Any], timeout: float = 300) -> float:
    """ContainerStop as the provider's delete sends it (t = destroy_grace_seconds or 0); returns seconds."""
    started = time.monotonic()
    answer = api.request("POST", f"/containers/{cid}/stop", {"t": str(providers.delete_stop_seconds(inputs))})
    if answer.status >= 400 and answer.status != 304:
        raise RuntimeError(f"stop: {answer.status} {answer.body[:200]!r}")
    return time.monotonic() - started


def read_back(api: DockerAPI, cid: str, image_input: str) -> dict[str, Any]:
    """The state resourceDockerContainerRead records, for the attributes the program sets."""
    c = api.get(f"/containers/{cid}/json")
    config, host = c["Config"], c["HostConfig"]
    state: dict[str, Any] = {
        "name": c["Name"].lstrip("/"),
        "image": c["Image"] if image_input.startswith("sha256:") else config["Image"],
        "command": config.get("Cmd"),
        "entrypoints": config.get("Entrypoint"),
        "user": config.get("User", ""),
        "securityOpts": host.get("SecurityOpt"),
        "restart": host["RestartPolicy"]["Name"],
        "init": bool(host.get("Init")),
        "privileged": host.get("Privileged", False),
        "memory": host.get("Memory", 0) // 1024 // 1024,
        "memorySwap": host["MemorySwap"] // 1024 // 1024
        if host.get("MemorySwap", 0) > 0
        else host.get("MemorySwap", 0),
        "logDriver": host["LogConfig"]["Type"],
        "logOpts": host["LogConfig"].get("Config"),
        "stopSignal": config.get("StopSignal", ""),
        "stopTimeout": config.get("StopTimeout"),
        "mounts": [
            {
                "target": m["Target"],
                "source": m.get("Source", ""),
                "type": m["Type"],
                "readOnly": bool(m.get("ReadOnly", False)),
            }
            for m in host.get("Mounts") or []
        ],
    }
    if host.get("CapAdd") or host.get("CapDrop"):
        state["capabilities"] = {"adds": host.get("CapAdd") or [], "drops": host.get("CapDrop") or []}
    health = config.get("Healthcheck")
    if health:
        state["healthcheck"] = {
            "tests": health.get("Test"),
            "interval": go_duration_string(health.get("Interval", 0)),
            "timeout": go_duration_string(health.get("Timeout", 0)),
            "startPeriod": go_duration_string(health.get("StartPeriod", 0)),
            "startInterval": go_duration_string(health.get("StartInterval", 0)),
            "retries": health.get("Retries", 0),
        }
    return state


def differences(inputs: Mapping[str, Any], state: Mapping[str, Any], image: str) -> list[str]:
    """Each read-back attribute the program sets whose state differs from its input: a diff in the next
    preview (and, for a ForceNew attribute, a replacement)."""
    out = []
    for key in providers.CONTAINER_READ_BACK:
        if key not in inputs or key == "image":
            continue
        want, got = _normal(key, inputs[key]), _normal(key, state.get(key))
        if key == "healthcheck" and isinstance(want, dict):
            want = {**{"startInterval": "0s"}, **want}  # the schema's default for an unset duration
        if want != got:
            out.append(f"{key}: program {want!r}, read back {got!r}")
    if state["image"] != image:
        out.append(f"image: created from {image}, read back {state['image']}")
    return out


def _normal(key: str, value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if key == "mounts" and value is not None:
        return sorted(
            (
                {
                    **{"readOnly": False, "source": ""},
                    **{k: v for k, v in m.items() if k in ("target", "source", "type", "readOnly")},
                }
                for m in value
            ),
            key=lambda m: m["target"],
        )
    if key == "capabilities" and value is not None:
        return {"adds": sorted(value.get("adds") or []), "drops": sorted(value.get("drops") or [])}
    if key == "healthcheck" and value is not None:
        return {k: (int(v) if isinstance(v, float) else v) for k, v in value.items()}
    if key == "securityOpts" and value is not None:
        return sorted(value)
    return value
