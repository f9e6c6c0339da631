"""facts/bridge_check.py against the real bridge: each expected value below is what
pulumi-terraform-bridge's own Check returned (v3.133.0, and v3.120.0 where named) for the same inputs,
run against the docker and vault provider schemas at the commits pulumi-docker v5.1.0 and pulumi-vault
v7.11.0 pin (docs/design/bridge-check.md says how they were captured). A wrong model of Check fails here
before it misleads a policy test."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from facts.bridge_check import (
    SECRET_SIG,
    SIG_KEY,
    TF_DEFAULTS,
    UNKNOWN,
    applied_defaults,
    check_shape,
    without_check_defaults,
)
from facts.revision import canonical
from ops.program_run import unwrap_secrets


def test_check_shape_reproduces_the_bridges_recorded_check_output():

    def _all_numbers_float(value: Any) -> bool:
        if isinstance(value, bool):
            return True
        if isinstance(value, int):
            return False
        if isinstance(value, Mapping):
            return all(_all_numbers_float(v) for v in value.values())
        if isinstance(value, list):
            return all(_all_numbers_float(v) for v in value)
        return True

    def _expect(got: Any, want: Any, label: str) -> None:
        assert got == want, f"{label}:\n got  {got!r}\n want {want!r}"
        assert _all_numbers_float(got), f"{label}: a number is not a float: {got!r}"

    C, N, V, IMG = (
        "docker:index/container:Container",
        "docker:index/network:Network",
        "docker:index/volume:Volume",
        "docker:index/remoteImage:RemoteImage",
    )
    TOP: dict[str, Any] = {
        "__defaults": [
            "containerReadRefreshTimeoutMilliseconds",
            "mustRun",
            "networkMode",
            "removeVolumes",
            "restart",
            "start",
            "waitTimeout",
        ],
        "containerReadRefreshTimeoutMilliseconds": 15000,
        "mustRun": True,
        "networkMode": "bridge",
        "removeVolumes": True,
        "restart": "no",
        "start": True,
        "waitTimeout": 60,
    }

    # 1. The vault-agent sidecar's container (program/vault_agent.py shape).
    agent = {
        "name": "vault-agent-postgres-staging",
        "image": "sha256:abc",
        "entrypoints": ["vault", "agent"],
        "user": "0:70",
        "uploads": [
            {"file": "/etc/vault/agent.hcl", "content": "x"},
            {"file": "/vault/role_id", "content": "rid", "permissions": "0440"},
        ],
        "mounts": [{"type": "volume", "source": "vol1", "target": "/secrets", "readOnly": False}],
        "networksAdvanced": [{"name": "internal"}],
        "labels": [{"label": "env", "value": "staging"}, {"label": "a", "value": "b"}],
        "healthcheck": {
            "tests": ["CMD", "test", "-f", "/x"],
            "interval": "5s",
            "timeout": "5s",
            "retries": 5,
            "startPeriod": "5s",
        },
        "wait": True,
        "waitTimeout": 120,
        "restart": "unless-stopped",
        "memory": 256,
        "memorySwap": 256,
        "logDriver": "json-file",
        "logOpts": {"max-size": "10m", "max-file": "3"},
        "securityOpts": ["no-new-privileges:true"],
        "privileged": False,
        "capabilities": {"drops": ["ALL"], "adds": []},
        "stopTimeout": 10,
        "destroyGraceSeconds": 10,
    }
    _expect(
        check_shape(C, agent),
        {
            "__defaults": [
                "containerReadRefreshTimeoutMilliseconds",
                "mustRun",
                "networkMode",
                "removeVolumes",
                "start",
            ],
            "capabilities": {"__defaults": [], "adds": [], "drops": ["ALL"]},
            "containerReadRefreshTimeoutMilliseconds": 15000.0,
            "destroyGraceSeconds": 10.0,
            "entrypoints": ["vault", "agent"],
            "healthcheck": {
                "__defaults": ["startInterval"],
                "interval": "5s",
                "retries": 5.0,
                "startInterval": "0s",
                "startPeriod": "5s",
                "tests": ["CMD", "test", "-f", "/x"],
                "timeout": "5s",
            },
            "image": "sha256:abc",
            "labels": [
                {"__defaults": [], "label": "env", "value": "staging"},
                {"__defaults": [], "label": "a", "value": "b"},
            ],
            "logDriver": "json-file",
            "logOpts": {"max-file": "3", "max-size": "10m"},
            "memory": 256.0,
            "memorySwap": 256.0,
            "mounts": [{"__defaults": [], "readOnly": False, "source": "vol1", "target": "/secrets", "type": "volume"}],
            "mustRun": True,
            "name": "vault-agent-postgres-staging",
            "networkMode": "bridge",
            "networksAdvanced": [{"__defaults": [], "name": "internal"}],
            "privileged": False,
            "removeVolumes": True,
            "restart": "unless-stopped",
            "securityOpts": ["no-new-privileges:true"],
            "start": True,
            "stopTimeout": 10.0,
            "uploads": [
                {"__defaults": [], "content": "x", "file": "/etc/vault/agent.hcl"},
                {"__defaults": [], "content": "rid", "file": "/vault/role_id", "permissions": "0440"},
            ],
            "user": "0:70",
            "wait": True,
            "waitTimeout": 120.0,
        },
        "agent container",
    )

    # 2. Minimal container; bridge v3.120.0 also adds the falsy defaults.
    _expect(check_shape(C, {"name": "c1", "image": "img"}), {**TOP, "image": "img", "name": "c1"}, "minimal")
    _expect(
        check_shape(C, {"name": "c1", "image": "img"}, bridge_version=(3, 120, 0)),
        {
            **TOP,
            "image": "img",
            "name": "c1",
            "__defaults": [
                "attach",
                "containerReadRefreshTimeoutMilliseconds",
                "logs",
                "memoryReservation",
                "mustRun",
                "networkMode",
                "readOnly",
                "removeVolumes",
                "restart",
                "rm",
                "start",
                "stdinOpen",
                "tty",
                "wait",
                "waitTimeout",
            ],
            "attach": False,
            "logs": False,
            "memoryReservation": 0,
            "readOnly": False,
            "rm": False,
            "stdinOpen": False,
            "tty": False,
            "wait": False,
        },
        "minimal v3.120.0",
    )

    # 3. Nested block defaults.
    nested = {
        "name": "c2",
        "image": "img",
        "ports": [{"internal": 80}, {"internal": 53, "protocol": "udp", "external": 5353}],
        "devices": [{"hostPath": "/dev/fuse"}],
        "deviceRequests": [{"capabilities": ["gpu"]}],
        "volumes": [{"hostPath": "/data", "containerPath": "/data"}],
        "mounts": [
            {"type": "tmpfs", "target": "/t", "tmpfsOptions": {"sizeBytes": 1000}},
            {
                "type": "volume",
                "target": "/v",
                "volumeOptions": {"labels": [{"label": "x", "value": "y"}], "driverOptions": {"a": "b"}},
            },
        ],
        "healthcheck": {},
        "ulimits": [{"name": "nofile", "soft": 1, "hard": 2}],
        "hosts": [{"host": "h", "ip": "1.2.3.4"}],
        "uploads": [{"file": "/s.sh", "content": "x", "permissions": "0755", "executable": False}],
    }
    _expect(
        check_shape(C, nested),
        {
            **TOP,
            "image": "img",
            "name": "c2",
            "deviceRequests": [{"__defaults": ["driver"], "capabilities": ["gpu"], "driver": "cdi"}],
            "devices": [{"__defaults": ["permissions"], "hostPath": "/dev/fuse", "permissions": "rwm"}],
            "healthcheck": {
                "__defaults": ["interval", "startInterval", "startPeriod", "timeout"],
                "interval": "0s",
                "startInterval": "0s",
                "startPeriod": "0s",
                "timeout": "0s",
            },
            "hosts": [{"__defaults": [], "host": "h", "ip": "1.2.3.4"}],
            "mounts": [
                {
                    "__defaults": [],
                    "target": "/t",
                    "tmpfsOptions": {"__defaults": [], "sizeBytes": 1000.0},
                    "type": "tmpfs",
                },
                {
                    "__defaults": [],
                    "target": "/v",
                    "type": "volume",
                    "volumeOptions": {
                        "__defaults": [],
                        "driverOptions": {"a": "b"},
                        "labels": [{"__defaults": [], "label": "x", "value": "y"}],
                    },
                },
            ],
            "ports": [
                {"__defaults": ["ip", "protocol"], "internal": 80.0, "ip": "0.0.0.0", "protocol": "tcp"},
                {"__defaults": ["ip"], "external": 5353.0, "internal": 53.0, "ip": "0.0.0.0", "protocol": "udp"},
            ],
            "ulimits": [{"__defaults": [], "hard": 2.0, "name": "nofile", "soft": 1.0}],
            "uploads": [
                {"__defaults": [], "content": "x", "executable": False, "file": "/s.sh", "permissions": "0755"}
            ],
            "volumes": [{"__defaults": [], "containerPath": "/data", "hostPath": "/data"}],
        },
        "nested blocks",
    )

    # 4. Autoname, coercions, unknowns, nulls.
    _expect(
        check_shape(C, {"image": "img"}, urn_name="autonamed", autoname_suffix="5ca7ff1"),
        {**TOP, "__defaults": sorted(TOP["__defaults"] + ["name"]), "image": "img", "name": "autonamed-5ca7ff1"},
        "autoname",
    )
    _expect(
        check_shape(
            C,
            {
                "name": "c3",
                "image": "img",
                "memory": "512",
                "waitTimeout": 120.7,
                "restart": 5,
                "logOpts": {"max-file": 3, "x": True},
                "privileged": "true",
                "rm": "false",
                "command": "single",
                "capabilities": [{"drops": ["ALL"]}],
                "healthcheck": [{"tests": ["NONE"]}],
            },
        ),
        {
            **TOP,
            "__defaults": [
                "containerReadRefreshTimeoutMilliseconds",
                "mustRun",
                "networkMode",
                "removeVolumes",
                "start",
            ],
            "capabilities": {"__defaults": [], "drops": ["ALL"]},
            "command": ["single"],
            "healthcheck": {
                "__defaults": ["interval", "startInterval", "startPeriod", "timeout"],
                "interval": "0s",
                "startInterval": "0s",
                "startPeriod": "0s",
                "tests": ["NONE"],
                "timeout": "0s",
            },
            "image": "img",
            "logOpts": {"max-file": 3.0, "x": True},
            "memory": 512.0,
            "name": "c3",
            "privileged": True,
            "restart": "5",
            "rm": False,
            "waitTimeout": 120.0,
        },
        "coercions",
    )
    _expect(
        check_shape(
            C,
            {
                "name": UNKNOWN,
                "image": UNKNOWN,
                "healthcheck": UNKNOWN,
                "labels": UNKNOWN,
                "uploads": [{"file": "/f", "content": UNKNOWN}],
                "networksAdvanced": [UNKNOWN],
                "wait": None,
            },
        ),
        {
            **TOP,
            "healthcheck": UNKNOWN,
            "image": UNKNOWN,
            "labels": UNKNOWN,
            "name": UNKNOWN,
            "networksAdvanced": [UNKNOWN],
            "uploads": [{"__defaults": [], "content": UNKNOWN, "file": "/f"}],
        },
        "unknowns",
    )

    # 5. Update of a stack whose old inputs came from bridge < v3.127.0: falsy defaults are replayed.
    legacy_olds = {
        "__defaults": [
            "attach",
            "containerReadRefreshTimeoutMilliseconds",
            "logs",
            "memoryReservation",
            "mustRun",
            "name",
            "networkMode",
            "readOnly",
            "removeVolumes",
            "restart",
            "rm",
            "start",
            "stdinOpen",
            "tty",
            "wait",
            "waitTimeout",
        ],
        "attach": False,
        "containerReadRefreshTimeoutMilliseconds": 15000,
        "logs": False,
        "memoryReservation": 0,
        "mustRun": True,
        "name": "c4",
        "networkMode": "bridge",
        "readOnly": False,
        "removeVolumes": True,
        "restart": "no",
        "rm": False,
        "start": True,
        "stdinOpen": False,
        "tty": False,
        "wait": False,
        "waitTimeout": 60,
        "image": "img",
        "healthcheck": {
            "__defaults": ["retries", "startInterval", "startPeriod", "timeout"],
            "tests": ["CMD", "true"],
            "interval": "10s",
            "retries": 0,
            "startInterval": "0s",
            "startPeriod": "0s",
            "timeout": "0s",
        },
    }
    _expect(
        check_shape(
            C,
            {"name": "c4", "image": "img", "healthcheck": {"tests": ["CMD", "true"], "interval": "10s"}},
            olds=legacy_olds,
        ),
        {
            **TOP,
            "__defaults": [
                "attach",
                "containerReadRefreshTimeoutMilliseconds",
                "logs",
                "memoryReservation",
                "mustRun",
                "networkMode",
                "readOnly",
                "removeVolumes",
                "restart",
                "rm",
                "start",
                "stdinOpen",
                "tty",
                "wait",
                "waitTimeout",
            ],
            "attach": False,
            "logs": False,
            "memoryReservation": 0.0,
            "readOnly": False,
            "rm": False,
            "stdinOpen": False,
            "tty": False,
            "wait": False,
            "image": "img",
            "name": "c4",
            "healthcheck": {
                "__defaults": ["retries", "startInterval", "startPeriod", "timeout"],
                "interval": "10s",
                "retries": 0.0,
                "startInterval": "0s",
                "startPeriod": "0s",
                "tests": ["CMD", "true"],
                "timeout": "0s",
            },
        },
        "legacy olds",
    )
    _expect(
        check_shape(
            C, {"image": "img2"}, olds={"__defaults": ["name"], "name": "autoname-update-1234567", "image": "img"}
        ),
        {**TOP, "__defaults": sorted(TOP["__defaults"] + ["name"]), "image": "img2", "name": "autoname-update-1234567"},
        "autoname kept",
    )

    # 6. Network, volume, remote image.
    _expect(
        check_shape(N, {"name": "n1", "driver": "bridge", "labels": [{"label": "env", "value": "staging"}]}),
        {
            "__defaults": ["ipamDriver"],
            "driver": "bridge",
            "ipamDriver": "default",
            "labels": [{"__defaults": [], "label": "env", "value": "staging"}],
            "name": "n1",
        },
        "network",
    )
    vol = {
        "name": "v1",
        "driver": "local",
        "driverOpts": {"type": "tmpfs", "device": "tmpfs", "o": "uid=0,gid=70,mode=0750"},
        "labels": [{"label": "env", "value": "staging"}],
    }
    _expect(
        check_shape(V, vol),
        {**vol, "__defaults": [], "labels": [{"__defaults": [], "label": "env", "value": "staging"}]},
        "volume",
    )
    _expect(
        check_shape(V, {"cluster": {}}, urn_name="vol2", autoname_suffix="5ca7ff1"),
        {
            "__defaults": ["name"],
            "name": "vol2-5ca7ff1",
            "cluster": {
                "__defaults": ["availability", "scope", "sharing", "type"],
                "availability": "active",
                "scope": "single",
                "sharing": "none",
                "type": "block",
            },
        },
        "volume cluster",
    )
    _expect(
        check_shape(IMG, {"name": "hashicorp/vault:1.2", "keepLocally": True}),
        {"__defaults": [], "keepLocally": True, "name": "hashicorp/vault:1.2"},
        "remote image",
    )
    build_args = {"POSTGRES_IMAGE": "postgres:16", "RESTIC_IMAGE": "restic:1"}
    build: dict[str, Any] = {"context": "components/backup_image", "dockerfile": "Dockerfile", "buildArgs": build_args}
    build_img: dict[str, Any] = {"name": "backup:abc", "keepLocally": True, "build": build}
    _expect(
        check_shape(IMG, build_img),
        {**build_img, "__defaults": [], "build": {**build, "__defaults": ["remove"], "remove": True}},
        "remote image build",
    )
    _expect(
        check_shape(IMG, build_img, env={"BUILDX_BUILDER": "mybuilder"})["build"]["builder"],
        "mybuilder",
        "BUILDX_BUILDER",
    )
    _expect(
        check_shape(IMG, build_img, bridge_version=(3, 120, 0)),
        {
            **build_img,
            "__defaults": ["platform"],
            "platform": "",
            "build": {
                **build,
                "__defaults": ["builder", "remove", "useLegacyBuilder"],
                "builder": "",
                "remove": True,
                "useLegacyBuilder": False,
            },
        },
        "remote image build v3.120.0",
    )

    # 7. Vault.
    wire = lambda v: {SIG_KEY: SECRET_SIG, "value": v}  # noqa: E731
    _expect(
        check_shape("vault:index/policy:Policy", {"name": "p", "policy": "x"}),
        {"__defaults": [], "name": "p", "policy": "x"},
        "policy",
    )
    role = {
        "backend": "approle",
        "roleName": "r",
        "tokenPolicies": ["p"],
        "tokenTtl": 3600,
        "tokenMaxTtl": 7200,
        "tokenNoDefaultPolicy": True,
        "tokenType": "service",
        "secretIdTtl": 0,
        "secretIdNumUses": 0,
        "bindSecretId": True,
    }
    _expect(check_shape("vault:appRole/authBackendRole:AuthBackendRole", role), {**role, "__defaults": []}, "role")
    _expect(
        check_shape("vault:appRole/authBackendRole:AuthBackendRole", {"roleName": "r"}),
        {
            "__defaults": ["backend", "bindSecretId", "tokenType"],
            "backend": "approle",
            "bindSecretId": True,
            "roleName": "r",
            "tokenType": "default",
        },
        "role minimal",
    )
    _expect(
        check_shape("vault:appRole/authBackendRoleSecretId:AuthBackendRoleSecretId", {"roleName": "r"}),
        {"__defaults": ["backend"], "backend": "approle", "roleName": "r"},
        "secret id",
    )
    kv = {
        "mount": "secret",
        "name": "n",
        "dataJson": "{}",
        "deleteAllVersions": True,
        "customMetadata": {"maxVersions": 5},
    }
    _expect(
        check_shape("vault:kv/secretV2:SecretV2", kv, secret_factory=wire),
        {**kv, "__defaults": [], "dataJson": wire("{}"), "customMetadata": {"__defaults": [], "maxVersions": 5.0}},
        "kv",
    )
    _expect(
        check_shape(
            "vault:kv/secretV2:SecretV2",
            {"mount": "secret", "dataJson": wire("{}")},
            urn_name="kv3",
            autoname_suffix="5ca7ff1",
        ),
        {"__defaults": ["name"], "dataJson": "{}", "mount": "secret", "name": "kv3-5ca7ff1"},
        "kv plain view",
    )

    # 8. Secrets nested in a list come back wrapping the whole list (engine annotateSecrets).
    shaped = check_shape(
        C, {"name": "c", "image": "i", "uploads": [{"file": "/a", "content": wire("s")}]}, secret_factory=wire
    )
    _expect(shaped["uploads"], wire([{"__defaults": [], "content": "s", "file": "/a"}]), "secret uploads")

    # 9. Random (Plugin Framework): unchanged, no __defaults.
    _expect(
        check_shape("random:index/randomPassword:RandomPassword", {"length": 48, "special": False}),
        {"length": 48.0, "special": False},
        "random password",
    )
    _expect(check_shape("random:index/randomBytes:RandomBytes", {"length": 32}), {"length": 32.0}, "random bytes")

    # 10. applied_defaults() view.
    assert applied_defaults(C)["healthcheck"] == {
        "__object__": {"interval": "0s", "timeout": "0s", "startPeriod": "0s", "startInterval": "0s"}
    }
    assert "rm" not in applied_defaults(C) and applied_defaults(C, bridge_version=(3, 120, 0))["rm"] is False


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_the_program_inputs_come_back_from_check_shaped_inputs_for_every_resource(stack, request):
    """What the rolling-name and volume-name policies rely on: removing what Check added gives back
    exactly what the program declared (numbers compared as the engine carries them)."""
    run = request.getfixturevalue(stack)
    checked = 0
    for resource in run.resources:
        if resource.type not in TF_DEFAULTS or resource.type.startswith("random:"):
            continue
        props = unwrap_secrets(resource.inputs)
        shaped = check_shape(resource.type, props, urn_name=resource.name)
        assert "__defaults" in shaped, resource.urn
        assert canonical(without_check_defaults(shaped)) == canonical(props), resource.urn
        checked += 1
    assert checked >= 20


def test_check_shape_reproduces_the_bridges_recorded_check_output_for_swarm_resources():
    """runtime swarm's resources (docker_service, docker_secret, docker_config): the recorded inputs and what
    the real bridge Check returned for them (tests/unit/fixtures/bridge_check_swarm.json says how it was
    captured). Covers the service's nested defaults (update/rollback/converge configs, secret and config file
    modes, the container spec's isolation, the endpoint's port protocol), a secret's sensitive data, and
    autonaming of all three."""
    import json
    from pathlib import Path

    recorded = json.loads((Path(__file__).parent / "fixtures" / "bridge_check_swarm.json").read_text())

    def wire(value: Any) -> dict:
        return {SIG_KEY: SECRET_SIG, "value": value}

    def as_engine(value: Any) -> Any:  # the engine carries every number as a float
        if isinstance(value, bool) or not isinstance(value, (int, float, dict, list)):
            return value
        if isinstance(value, dict):
            return {k: as_engine(v) for k, v in value.items()}
        if isinstance(value, list):
            return [as_engine(v) for v in value]
        return float(value)

    assert len(recorded["cases"]) == 9
    for case in recorded["cases"]:
        got = check_shape(
            case["token"], case["news"], urn_name=case["name"], autoname_suffix="5ca7ff1", secret_factory=wire
        )
        assert as_engine(got) == as_engine(case["check"]), case["name"]
