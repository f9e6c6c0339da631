"""What the real engine and providers do with the program's resources, stated as data with its upstream
source. Mocks cannot show any of this; the program, the offline plan, the policies and the real-systems
tests all read it from here, so a fact is stated once and a change to one is a change to all.

Versions: pulumi 3.272 (engine read at v3.259.0), pulumi-docker 5.2.0 bridging
kreuzwerker/terraform-provider-docker v4.5.0 (read at pulumi-docker v5.1.0, whose `upstream` is the same
v4.5.0), pulumi-vault 7.14.0 bridging hashicorp/terraform-provider-vault v5.10.1, pulumi-command 1.2.1,
pulumi-terraform-bridge v3.133.0. Citations are `repository@version:path:line`. Where a pinned version
was not available to read, the nearest one was read and is named; docs/testing.md "Only checkable on a
real host" lists what these facts could not show here.

Pure data and small pure functions only: the policy pack ships this module as part of the pack.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from facts.tokens import (
    COMMAND,
    CONTAINER,
    KV_SECRET,
    NETWORK,
    RANDOM_BYTES,
    RANDOM_PASSWORD,
    REMOTE_IMAGE,
    SECRET_ID,
    SERVICE,
    SWARM_CONFIG,
    SWARM_SECRET,
    VAULT_POLICY,
    VOLUME,
)

DOCKER_TF = "kreuzwerker/terraform-provider-docker@v4.5.0:internal/provider"


@dataclass(frozen=True)
class Fact:
    statement: str
    source: str


# -------------------------------------------------------------------------------------------------- replace strategy

ENGINE_DBR_RULE = Fact(
    "The engine replaces delete-first when the provider's Diff says so, unless the program sets deleteBeforeReplace; "
    "an explicit False (Python SDK: deleteBeforeReplaceDefined) overrides the provider.",
    "pulumi/pulumi@v3.259.0:pkg/resource/deploy/step_generator.go:2041-2047; "
    "sdk/python/lib/pulumi/runtime/resource.py:1132-1133 (the installed pulumi 3.272.0: "
    "resource.py:1297-1298)",
)
PROVIDER_DELETE_BEFORE_REPLACE = {
    CONTAINER: Fact(
        "docker_container is declared DeleteBeforeReplace.", "pulumi/pulumi-docker@v5.1.0:provider/resources.go:112-114"
    ),
}
# The bridge also answers delete-first for a resource whose auto-namable `name` the program sets
# explicitly (pulumi-docker enables autonaming): containers, networks and volumes with a fixed name.
NAMED_DELETE_BEFORE_REPLACE = (
    {
        t: Fact(
            "An explicitly set autonamed `name` makes the bridge answer DeleteBeforeReplace.",
            "pulumi/pulumi-docker@v5.1.0:provider/resources.go:404; "
            "pulumi/pulumi-terraform-bridge@v3.133.0:pkg/tfbridge/provider.go:1253-1254, schema.go:238-243",
        )
        for t in (CONTAINER, NETWORK, VOLUME)
    }
    | {
        # docker_service, docker_secret and docker_config have no DeleteBeforeReplace in pulumi-docker's
        # ResourceInfo (provider/resources.go:109-111,134-135), but their `name` is autonamed like every other.
        t: Fact(
            "An explicitly set autonamed `name` makes the bridge answer DeleteBeforeReplace.",
            "pulumi/pulumi-docker@v5.1.0:provider/resources.go:109-111,134-135,404; "
            "pulumi/pulumi-terraform-bridge@v3.133.0:pkg/tfbridge/provider.go:1253-1254",
        )
        for t in (SERVICE, SWARM_SECRET, SWARM_CONFIG)
    }
    | {
        # pulumi-vault enables autonaming for every resource with a `name` too: a replaced policy or KV secret
        # (a new mount or path) is deleted before its successor exists.
        t: Fact(
            "An explicitly set autonamed `name` makes the bridge answer DeleteBeforeReplace.",
            "pulumi/pulumi-vault@v7.11.0:provider/resources.go:561; "
            "pulumi/pulumi-terraform-bridge@v3.133.0:pkg/tfbridge/provider.go:1253-1254",
        )
        for t in (VAULT_POLICY, KV_SECRET)
    }
)
# Before a delete-first replacement the engine deletes, first, every dependent whose inputs take a value
# from the replaced resource and which the provider would replace if that value changed: a container
# attached to a replaced network, or mounting a replaced volume, goes down with it.
DEPENDENT_REPLACEMENTS = Fact(
    "A delete-before-replace replacement first deletes the transitive dependents that a changed input would replace.",
    "pulumi/pulumi@v3.259.0:pkg/resource/deploy/step_generator.go:2047-2068, 3268-3345",
)

CREATE_BEFORE_DELETE, DELETE_BEFORE_REPLACE = "create-before-delete", "delete-before-replace"


def provider_deletes_first(type_: str, props: Mapping[str, Any]) -> bool:
    """Whether the provider's Diff answers DeleteBeforeReplace for a replacement of this resource."""
    return type_ in PROVIDER_DELETE_BEFORE_REPLACE or (type_ in NAMED_DELETE_BEFORE_REPLACE and bool(props.get("name")))


def effective_strategy(type_: str, props: Mapping[str, Any], option: bool | None) -> tuple[str, str]:
    """(strategy, why) the engine uses to replace the resource: the program's option when set, else the provider's."""
    if option is not None:
        return (DELETE_BEFORE_REPLACE if option else CREATE_BEFORE_DELETE), "program option"
    if provider_deletes_first(type_, props):
        return DELETE_BEFORE_REPLACE, "provider default"
    return CREATE_BEFORE_DELETE, "engine default"


# ----------------------------------------------------------------------------------------------------- what replaces

# docker_container: every argument is ForceNew except these. Of those, Update applies only the first set
# (ContainerUpdate); changing any other leaves the running container as it was.
CONTAINER_UPDATED_IN_PLACE = Fact(
    "Update applies restart, max_retry_count, cpu_shares, memory, memory_reservation, cpu_set, memory_swap and the "
    "device I/O limits through ContainerUpdate.",
    f"{DOCKER_TF}/resource_docker_container_funcs.go:1016-1019",
)
CONTAINER_IN_PLACE = frozenset(
    {
        "restart",
        "maxRetryCount",
        "cpuShares",
        "memory",
        "memoryReservation",
        "cpuSet",
        "memorySwap",
        "deviceReadBps",
        "deviceReadIops",
        "deviceWriteBps",
        "deviceWriteIops",
    }
)
CONTAINER_UPDATE_IGNORED_FACT = Fact(
    "healthcheck, init, tmpfs, cpu_period and cpu_quota are not ForceNew, and Update does not apply them: a change is "
    "recorded in state while the container keeps its old settings.",
    f"{DOCKER_TF}/resource_docker_container.go:482,1045,1126,1164,1170; resource_docker_container_funcs.go:1016-1076",
)
CONTAINER_UPDATE_IGNORED = frozenset({"healthcheck", "init", "tmpfs", "cpuPeriod", "cpuQuota"})
# Settings of the provider's own behaviour, not of the container.
CONTAINER_PROVIDER_ONLY = frozenset(
    {
        "rm",
        "start",
        "wait",
        "waitTimeout",
        "attach",
        "logs",
        "mustRun",
        "removeVolumes",
        "destroyGraceSeconds",
        "containerReadRefreshTimeoutMilliseconds",
    }
)
REPLACE_EXCEPT = {
    CONTAINER: CONTAINER_IN_PLACE | CONTAINER_UPDATE_IGNORED | CONTAINER_PROVIDER_ONLY,
    # docker_volume: name, labels, driver, driver_opts are ForceNew (only cluster.availability updates).
    VOLUME: frozenset({"cluster"}),
    # docker_network has no Update: every argument is ForceNew.
    NETWORK: frozenset(),
    # docker_image: name, pull_triggers, triggers, platform and the fields of `build` are ForceNew.
    REMOTE_IMAGE: frozenset({"keepLocally", "forceRemove"}),
    # vault_approle_auth_backend_role_secret_id has no Update: every argument is ForceNew.
    SECRET_ID: frozenset(),
    # docker_secret and docker_config have no Update: name, data (data_raw) and labels are ForceNew.
    SWARM_SECRET: frozenset(),
    SWARM_CONFIG: frozenset(),
}
REPLACE_FACTS = {
    CONTAINER: Fact(
        "Every docker_container argument not listed as updatable is ForceNew.",
        f"{DOCKER_TF}/resource_docker_container.go:57-1170",
    ),
    VOLUME: Fact(
        "docker_volume name, labels, driver and driver_opts are ForceNew.",
        f"{DOCKER_TF}/resource_docker_volume.go:41-67",
    ),
    NETWORK: Fact(
        "docker_network has no UpdateContext: every argument is ForceNew.",
        f"{DOCKER_TF}/resource_docker_network.go:17-90",
    ),
    REMOTE_IMAGE: Fact(
        "docker_image name, pull_triggers, triggers, platform and every field of build are ForceNew.",
        f"{DOCKER_TF}/resource_docker_image.go:36-95,101-479",
    ),
    SECRET_ID: Fact(
        "The secret-id resource has no Update; every argument is ForceNew.",
        "hashicorp/terraform-provider-vault@v5.10.1:vault/resource_approle_auth_backend_role_secret_id.go:26-132",
    ),
    SERVICE: Fact(
        "docker_service is updated in place (ServiceUpdate with the whole new spec); only name, mode and auth are "
        "ForceNew at the top level, and in task_spec the networks_advanced entries, container_spec.hosts and "
        "container_spec.sysctl.",
        f"{DOCKER_TF}/resource_docker_service.go:22-27,54-59,357-361,502-506,701-733,762-768; "
        "resource_docker_service_funcs.go:169-198",
    ),
    SWARM_SECRET: Fact(
        "docker_secret has no UpdateContext: name, data and labels are ForceNew (a new value is a new secret).",
        f"{DOCKER_TF}/resource_docker_secret.go:17-45",
    ),
    SWARM_CONFIG: Fact(
        "docker_config has no UpdateContext: name, data, data_raw and labels are ForceNew.",
        f"{DOCKER_TF}/resource_docker_config.go:19-55",
    ),
    COMMAND: Fact(
        "Only `triggers` replaces a command; other changes re-run `create` as an update.",
        "pulumi/pulumi-command@v1.2.1:provider/pkg/provider/common/inputs.go:10; local/commandController.go:79-83",
    ),
}
REPLACE_ONLY = {COMMAND: frozenset({"triggers"})}
# A service's ForceNew inputs, as engine paths (REPLACE_FACTS[SERVICE]); every other change is an update.
SERVICE_FORCE_NEW = (
    ("name",),
    ("mode",),
    ("auth",),
    ("taskSpec", "networksAdvanceds"),
    ("taskSpec", "containerSpec", "hosts"),
    ("taskSpec", "containerSpec", "sysctl"),
)


def _at(props: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = props
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def replacing_properties(type_: str, props: Mapping[str, Any]) -> list[str] | None:
    """The set inputs of a resource whose change replaces it, or None when no fact is known for its type.
    A service's nested ones are named by their dotted path (taskSpec.networksAdvanceds)."""
    if type_ == SERVICE:
        return sorted(".".join(path) for path in SERVICE_FORCE_NEW if _at(props, path) is not None)
    if type_ in REPLACE_ONLY:
        return sorted(k for k in props if k in REPLACE_ONLY[type_])
    if type_ not in REPLACE_EXCEPT:
        return None
    return sorted(k for k in props if k not in REPLACE_EXCEPT[type_])


def ignored_updates(props: Mapping[str, Any]) -> list[str]:
    """Container settings the program sets that the provider would never apply after create: a fixed-name
    container must list them in replace_on_changes, or a change to them is silently lost."""
    return sorted(k for k in props if k in CONTAINER_UPDATE_IGNORED and props[k] not in (None, {}, []))


# -------------------------------------------------------------------------------------------------- stop and removal

STOP_ON_DELETE = Fact(
    "Deleting a container sends ContainerStop with t = destroy_grace_seconds, or t=0 (stop signal, then "
    "SIGKILL at once) "
    "when it is unset; stop_timeout is not used at delete.",
    f"{DOCKER_TF}/resource_docker_container_funcs.go:1085-1093; moby/moby@v28.5.2:daemon/stop.go:57-67",
)


def delete_stop_seconds(props: Mapping[str, Any]) -> int:
    """The `t` of the stop the provider sends when it deletes (or replaces) the container."""
    grace = props.get("destroyGraceSeconds") or 0
    return int(grace) if grace > 0 else 0


# --------------------------------------------------------------------------------------------------- read-back forms

GO_DURATION_FACT = Fact(
    "Health-check durations are parsed with time.ParseDuration and read back with Duration.String() (60s -> 1m0s); the "
    "field is not ForceNew and has no DiffSuppressFunc, so any other spelling is a diff after every refresh.",
    f"{DOCKER_TF}/resource_docker_container_funcs.go:147-157,960-967; go1.19.8:src/time/time.go:623-694",
)
GO_DURATION_FIELDS = {
    CONTAINER: (
        ("healthcheck", "interval"),
        ("healthcheck", "timeout"),
        ("healthcheck", "startPeriod"),
        ("healthcheck", "startInterval"),
    )
}

_UNITS = (("h", 3600), ("m", 60))


def go_duration(seconds: int) -> str:
    """Whole seconds as Go's time.Duration.String() prints them: 5s, 1m0s, 1m30s, 1h0m0s, 0s."""
    if seconds < 0:
        raise ValueError("durations here are non-negative whole seconds")
    if seconds == 0:
        return "0s"
    out, rest, started = "", seconds, False
    for unit, size in _UNITS:
        count, rest = divmod(rest, size)
        if count or started:
            out += f"{count}{unit}"
            started = True
    return f"{out}{rest}s"


_GO_DURATION_RE = re.compile(r"^(?:([1-9][0-9]*)h)?(?:([0-9]+)m)?([0-9]+)s$")


def is_go_duration(text: str) -> bool:
    """True when `text` is what Duration.String() prints for a whole number of seconds."""
    match = _GO_DURATION_RE.match(text or "")
    if not match:
        return False
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return go_duration(hours * 3600 + minutes * 60 + seconds) == text


SHORT_DURATION_FACT = Fact(
    "docker_service reads its durations back through shortDur(): Duration.String() with a trailing `m0s` and then "
    "`h0m` cut (60s -> 1m, 3600s -> 1h, 90s -> 1m30s); the fields have no DiffSuppressFunc, so any other spelling "
    "(1m0s, 60s) is a diff after every refresh.",
    f"{DOCKER_TF}/resource_docker_service_structures.go:78-93,159-164,289-301,456-476,1341-1350",
)
# Engine paths of a service's read-back durations (converge_config is the provider's own and is not read back).
SHORT_DURATION_FIELDS = {
    SERVICE: (
        ("taskSpec", "containerSpec", "stopGracePeriod"),
        ("taskSpec", "containerSpec", "healthcheck", "interval"),
        ("taskSpec", "containerSpec", "healthcheck", "timeout"),
        ("taskSpec", "containerSpec", "healthcheck", "startPeriod"),
        ("taskSpec", "restartPolicy", "delay"),
        ("taskSpec", "restartPolicy", "window"),
        ("updateConfig", "delay"),
        ("updateConfig", "monitor"),
        ("rollbackConfig", "delay"),
        ("rollbackConfig", "monitor"),
    )
}


def short_duration(seconds: int) -> str:
    """Whole seconds as the service resource reads them back (shortDur): 5s, 1m, 1m30s, 1h, 1h30m, 0s."""
    text = go_duration(seconds)
    if text.endswith("m0s"):
        text = text[:-2]
    if text.endswith("h0m"):
        text = text[:-2]
    return text


def is_short_duration(text: str) -> bool:
    """True when `text` is what shortDur prints for a whole number of seconds."""
    match = re.match(r"^(?:([1-9][0-9]*)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?$", text or "")
    if not text or not match:
        return False
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return short_duration(hours * 3600 + minutes * 60 + seconds) == text


def value_at(props: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The engine value at a nested path (None when any step is missing)."""
    return _at(props, path)


CONTAINER_READ_BACK_FACT = Fact(
    "Read sets these container attributes from ContainerInspect; env, labels and uploads are not read back, "
    "log_opts only "
    "when set in config, memory_swap as MiB only when > 0 (else the raw 0 or -1).",
    f"{DOCKER_TF}/resource_docker_container_funcs.go:758-981",
)
# Pulumi property -> where Read takes it from (docker inspect), for the attributes the program sets.
CONTAINER_READ_BACK = {
    "name": "Name without the leading /",
    "image": "Image (the id) when the input is sha256:..., else Config.Image",
    "command": "Config.Cmd",
    "entrypoints": "Config.Entrypoint",
    "user": "Config.User",
    "securityOpts": "HostConfig.SecurityOpt",
    "restart": "HostConfig.RestartPolicy.Name",
    "init": "HostConfig.Init",
    "capabilities": "HostConfig.CapAdd / CapDrop",
    "mounts": "Mounts (getDockerContainerMounts)",
    "privileged": "HostConfig.Privileged",
    "memory": "HostConfig.Memory / MiB",
    "memorySwap": "HostConfig.MemorySwap / MiB when > 0, else raw",
    "logDriver": "HostConfig.LogConfig.Type",
    "logOpts": "HostConfig.LogConfig.Config (daemon defaults for the same driver merged in)",
    "healthcheck": "Config.Healthcheck, durations via Duration.String()",
    "stopSignal": "Config.StopSignal",
    "stopTimeout": "Config.StopTimeout",
}

# ------------------------------------------------------------------------------------------------------------ uploads

UPLOAD_MODE = Fact(
    "An upload without `permissions` is written 0644 (0744 when executable); uploads are copied into the created "
    "container's filesystem before it starts, and are never read back.",
    f"{DOCKER_TF}/resource_docker_container_funcs.go:549-584,959",
)
DEFAULT_UPLOAD_MODE = 0o644

# ------------------------------------------------------------------------------------------------------ swarm services

SERVICE_NETWORK_READ_AS_ID = Fact(
    "A service's networks_advanced entries are read back as `id` (the daemon stores the network's id in the spec), "
    "and `name` and `id` are ForceNew: a network given by name is a replacement of the service on every refresh.",
    f"{DOCKER_TF}/resource_docker_service.go:701-719; resource_docker_service_structures.go:526-531, 1137-1163",
)
SERVICE_CONVERGE = Fact(
    "With converge_config, an update polls until UpdateStatus is `completed` and fails on `rollback_completed`, "
    "`paused` or `rollback_paused` (`service rollback completed: <message>`), or on its timeout (`Service with ID "
    "(<id>) did not converge after <timeout>`); a create that does not converge deletes the service again. Without "
    "it, create and update return at once. converge_config conflicts with mode.global.",
    f"{DOCKER_TF}/resource_docker_service_funcs.go:52-75,200-223,341-355,434-449; resource_docker_service.go:963-968",
)
SWARM_TASK_HEALTH = Fact(
    "A Swarm task whose container has a health check is reported running only once the check says healthy (a "
    "service update with converge_config waits for that), and a running task whose check turns unhealthy is shut "
    "down and replaced.",
    "moby/moby@b985e2313a:daemon/cluster/executor/container/controller.go:256-300 (Start waits for "
    "health_status: healthy), 305-322 and 714-731 (Wait: unhealthy -> Shutdown)",
)
SERVICE_STOP_ON_DELETE = Fact(
    "Deleting a service removes it and, when stop_grace_period is set (not 0s), waits up to that long for each "
    "task's container to be removed: Swarm itself stops each task with the spec's stop signal and grace.",
    f"{DOCKER_TF}/resource_docker_service_funcs.go:261-335",
)
SERVICE_REGISTRY_AUTH = Fact(
    "Every service create and update sends registry credentials (the service's auth block, else the provider's "
    "registry_auth for the image's registry); the daemon keeps them in the spec's PullOptions, i.e. in Swarm's "
    "raft store.",
    f"{DOCKER_TF}/resource_docker_service_funcs.go:42-45,185-190,646-661; "
    "moby/moby@v20.10.24:daemon/cluster/services.go:227,323-325",
)
SERVICE_NO_NEW_PRIVILEGES = Fact(
    "docker_service's container_spec has no no_new_privileges (privileges holds only credential_spec and "
    "se_linux_context), so a service's tasks get it only from the daemon default (`no-new-privileges: true` in "
    "daemon.json); `invoke doctor` checks that default.",
    f"{DOCKER_TF}/resource_docker_service.go:131-195",
)
SERVICE_NO_SWAP = Fact(
    "docker_service has no swap setting (resources hold memory_bytes and nano_cpus only): a task may use swap as "
    "the daemon's default allows.",
    f"{DOCKER_TF}/resource_docker_service.go:529-601",
)
SERVICE_TMPFS_OPTIONS = Fact(
    "A service's tmpfs mount takes size_bytes and mode only (no uid/gid): the mount belongs to root.",
    f"{DOCKER_TF}/resource_docker_service.go:277-296; resource_docker_service_structures.go:847-870",
)
SWARM_SECRET_TARGET = Fact(
    "A secret or config reference whose file name is an absolute path is mounted there; a relative one under "
    "/run/secrets (secrets) or / (configs). A secret's data lives in the managers' raft store and reaches only the "
    "nodes running a task that references it.",
    "moby/moby@v20.10.24:container/container.go:713-731; daemon/container_operations_unix.go:162-225",
)

# -------------------------------------------------------------------------------------------------------- health wait

WAIT_FAILURE = Fact(
    "When `wait` times out the container is saved with an initialization error; the next update retries as an "
    "in-place update that neither waits nor recreates: a later `pulumi up` succeeds with the unhealthy container.",
    f"{DOCKER_TF}/resource_docker_container_funcs.go:456-460,584-621; "
    "pulumi/pulumi@v3.259.0:pkg/resource/deploy/step_generator.go:2178-2183",
)

# ------------------------------------------------------------------------------------------------------------ volumes

VOLUME_CREATE_REUSES = Fact(
    "Creating a volume whose name exists returns the existing volume without reconciling its driver options.",
    "moby/moby@v28.5.2:volume/service/store.go:602-607; " + f"{DOCKER_TF}/resource_docker_volume.go:278-284",
)

# ------------------------------------------------------------------------------------------------------------ secrets

NESTED_SECRETS = Fact(
    "The engine marks an output secret when its input was top-level secret (step_executor) and, for "
    "providers that do not "
    "accept secrets, a whole array or object input that contains a secret (annotateSecrets); "
    "additionalSecretOutputs are "
    "always secret. Only the option makes a nested secret's property secret whatever the provider's protocol.",
    "pulumi/pulumi@v3.259.0:pkg/resource/deploy/step_executor.go:525-564; "
    "pkg/resource/plugin/provider_plugin.go:914-931",
)
# Properties that may hold a secret inside a list or object and are therefore declared secret outputs.
NESTED_SECRET_PROPERTIES = {CONTAINER: ("uploads",)}
SECRET_OUTPUTS = {
    SECRET_ID: Fact(
        "secretId and wrappingToken are additional secret outputs.",
        "pulumi-vault 7.14.0 sdk/python/pulumi_vault/approle/auth_backend_role_secret_id.py:654",
    ),
    KV_SECRET: Fact(
        "data, dataJson and dataJsonWo are additional secret outputs.",
        "pulumi-vault 7.14.0 sdk/python/pulumi_vault/kv/secret_v2.py:751",
    ),
    RANDOM_PASSWORD: Fact(
        "bcryptHash and result are additional secret outputs.",
        "pulumi-random 4.21.4 sdk/python/pulumi_random/random_password.py:612",
    ),
    RANDOM_BYTES: Fact(
        "base64 and hex are additional secret outputs.",
        "pulumi-random 4.21.4 sdk/python/pulumi_random/random_bytes.py:244",
    ),
}

# ----------------------------------------------------------------------------------------------------- Vault provider

VAULT_CHILD_TOKEN = Fact(
    "Unless skip_child_token, the Vault provider creates a child token (update on auth/token/create) with TTL "
    "max_lease_ttl_seconds, default 1200 s; resources outliving it fail mid-update.",
    "hashicorp/terraform-provider-vault@v5.10.1:internal/provider/meta.go:592,616-622; provider.go:94-125",
)
VAULT_DEFAULT_MAX_LEASE_TTL = 1200
KV_DATA_SOURCE_MISSING = Fact(
    'The vault_kv_secret_v2 data source fails with `no secret found at "<mount>/data/<name>"` when the '
    "secret does not exist.",
    "hashicorp/terraform-provider-vault@v5.10.1:vault/data_source_kv_secret_v2.go:123-128",
)

# ------------------------------------------------------------------------------ Docker API the provider calls to read

READ_PATHS_FACT = Fact(
    "Refresh and preview read with: HEAD/GET /_ping and GET /version (client setup), GET /containers/json and "
    "GET /containers/{id}/json (container Read), GET /images/json and GET /images/{name}/json (image Read), "
    "GET /networks/{id} (network Read, getNetwork), GET /volumes/{name} (volume Read); Check and Diff call no API.",
    f"{DOCKER_TF}/config.go:193-206; resource_docker_container_funcs.go:765,775; "
    "resource_docker_image_funcs.go:109-166; "
    "resource_docker_network_funcs.go:92-165; resource_docker_volume.go:294; data_source_docker_network.go:146-151",
)
# (method, path template) of every Docker API call a preview or refresh of the program's resources makes.
READ_CALLS = (
    ("HEAD", "/_ping"),
    ("GET", "/_ping"),
    ("GET", "/version"),
    ("GET", "/info"),
    ("GET", "/containers/json"),
    ("GET", "/containers/{id}/json"),
    ("GET", "/images/json"),
    ("GET", "/images/{name}/json"),
    ("GET", "/networks/{id}"),
    ("GET", "/volumes/{name}"),
)

# ------------------------------------------------------------------------------- Vault API the provider calls to read

VAULT_TF = "hashicorp/terraform-provider-vault@v5.10.1"
VAULT_READ_PATHS_FACT = Fact(
    "With skip_child_token, Configure calls auth/token/lookup-self (and the unauthenticated sys/seal-status); refresh "
    "reads GET sys/policies/acl/<name> (vault/api v1.23.0 Sys.GetPolicy), GET <kv>/data/<name> and, when the secret "
    "has custom metadata, GET <kv>/metadata/<name>, GET auth/<approle>/role/<role> and .../role-id, and looks a "
    "secret-id up with POST auth/<approle>/role/<role>/secret-id-accessor/lookup (an update).",
    f"{VAULT_TF}:internal/provider/meta.go:331,346-355,575; vault/resource_policy.go:123; "
    "vault/resource_kv_secret_v2.go:302,346; "
    "vault/resource_approle_auth_backend_role.go:215,257; "
    "vault/resource_approle_auth_backend_role_secret_id.go:279-284",
)
# (Vault capability, path template) of every call a preview or refresh of the program's Vault resources
# makes. Placeholders: {kv}, {approle} (mounts), {name} (KV secret name), {policy}, {role}.
VAULT_READ_CALLS = (
    ("read", "auth/token/lookup-self"),
    ("read", "sys/policies/acl/{policy}"),
    ("read", "{kv}/data/{name}"),
    ("read", "{kv}/metadata/{name}"),
    ("read", "auth/{approle}/role/{role}"),
    ("read", "auth/{approle}/role/{role}/role-id"),
    ("update", "auth/{approle}/role/{role}/secret-id-accessor/lookup"),
)

VAULT_WRITE_FACT = Fact(
    "`pulumi up` writes: KV v2 data (create/update; no delete: the KV secrets are retained on delete), ACL "
    "policies (put/delete), AppRole roles and their role-id (write/delete), secret-ids (write; destroyed through "
    "their accessor), and the provider's child token (auth/token/create) unless skip_child_token.",
    "hashicorp/terraform-provider-vault@v5.10.1:vault/resource_kv_secret_v2.go:246; resource_policy.go:87,107; "
    "resource_approle_auth_backend_role.go:161,177,319; resource_approle_auth_backend_role_secret_id.go:214,385; "
    "internal/provider/meta.go:617-622",
)
# (capabilities, path template) the deploy token needs beyond VAULT_READ_CALLS.
VAULT_WRITE_CALLS = (
    (("create", "update"), "{kv}/data/{name}"),
    (("create", "update", "delete"), "sys/policies/acl/{policy}"),
    (("create", "update", "delete"), "auth/{approle}/role/{role}"),
    (("update",), "auth/{approle}/role/{role}/role-id"),
    (("update",), "auth/{approle}/role/{role}/secret-id"),
    (("update",), "auth/{approle}/role/{role}/secret-id-accessor/destroy"),
)
VAULT_CHILD_TOKEN_CALL = (("update",), "auth/token/create")
# `invoke rotate` lists a role's secret-id accessors, then destroys every one but the new (ops/rotate.py).
VAULT_ROTATION_CALLS = ((("list",), "auth/{approle}/role/{role}/secret-id"),)

# What the provider sends when it writes a role and a policy: the deploy tokens' policies list exactly
# these parameters (Vault refuses any other once allowed_parameters is set), and pin the ones that could
# widen what a role's tokens may read (render/vault_artifacts.py, pinned_write_blocks).
VAULT_WRITE_PARAMS_FACT = Fact(
    "A role write sends the token fields (token_bound_cidrs, token_policies as a list, token_explicit_max_ttl, "
    "token_max_ttl, token_no_default_policy, token_period, token_type, token_ttl, token_num_uses, alias_metadata) "
    "and bind_secret_id, secret_id_num_uses, secret_id_ttl, secret_id_bound_cidrs, local_secret_ids; a policy "
    'write is PUT sys/policies/acl/<name> with {"policy": <text>}.',
    "hashicorp/terraform-provider-vault@v5.10.1:vault/auth_token.go:250-293; "
    "vault/resource_approle_auth_backend_role.go:97-140,161,286; "
    'vault/resource_policy.go:87 (vault/api Sys.PutPolicyWithContext: body {"policy": rules})',
)
VAULT_ROLE_WRITE_PARAMS = (
    "token_bound_cidrs",
    "token_policies",
    "token_explicit_max_ttl",
    "token_max_ttl",
    "token_no_default_policy",
    "token_period",
    "token_type",
    "token_ttl",
    "token_num_uses",
    "alias_metadata",
    "bind_secret_id",
    "secret_id_num_uses",
    "secret_id_ttl",
    "secret_id_bound_cidrs",
    "local_secret_ids",
)
VAULT_ROLE_CREATE_FACT = Fact(
    "A role create sends a field only when it is set: the numbers and lists through GetOk, which drops 0 and "
    "empty lists; bind_secret_id, token_no_default_policy and local_secret_ids through GetOkExists; the CIDR "
    "lists and token_policies as a schema.Set's List(), in the set's own order, not the program's. An update "
    "sends only the fields that changed.",
    "hashicorp/terraform-provider-vault@v5.10.1:vault/resource_approle_auth_backend_role.go:97-141; "
    "vault/auth_token.go:250-332",
)
VAULT_JSON_NUMBERS_UNPINNABLE = Fact(
    "A JSON number in a request body is decoded as a json.Number and compared with reflect.DeepEqual against the "
    "policy's allowed_parameters values, which HCL parses as int or string: no value matches it, so a number "
    "parameter can only be allowed with any value ([]) or refused. A list parameter is compared whole; a string "
    "value is a glob.",
    "openbao/openbao@df6ce2ceba:sdk/helper/jsonutil/json.go:99; internal/vault/policy/acl.go:856-889; "
    "internal/vault/policy/policy.go:582-586 (hashicorp/vault vault/acl.go valueInSlice is the same code)",
)
VAULT_POLICY_WRITE_PARAM = "policy"
# A secret-id write (mint) and an accessor lookup/destroy send these.
VAULT_SECRET_ID_WRITE_PARAMS = ("secret_id", "cidr_list", "token_bound_cidrs", "metadata", "ttl", "num_uses")
VAULT_ACCESSOR_PARAM = "secret_id_accessor"
VAULT_SECRET_ID_PARAMS_FACT = Fact(
    "A secret-id mint sends secret_id (custom only), cidr_list, token_bound_cidrs, ttl and num_uses when set, and "
    'metadata always (re-marshalled by normalizeDataJSON: keys sorted, no spaces; "" when unset); its read and '
    "delete send secret_id_accessor.",
    "hashicorp/terraform-provider-vault@v5.10.1:vault/resource_approle_auth_backend_role_secret_id.go:167-214,282-283,"
    "380-387,424-425; the Pulumi resource's inputs are exactly these fields (pulumi/pulumi-vault@c074a1cb "
    "sdk/python/pulumi_vault/approle/auth_backend_role_secret_id.py:61-81); the program sets backend, role_name "
    "and metadata only (program/vault_agent.py)",
)


# ------------------------------------------------------------------------------------------------------ engine config

PROJECT_DEFAULTS_MERGED = Fact(
    "The CLI puts the default of every key Pulumi.yaml declares into the config of a stack that does not set it, "
    "so the program cannot tell a declared key left unset from one set to its default; a key declared without a "
    "default is required of every stack. Keys a stack sets but Pulumi.yaml does not declare are passed through. "
    "Hence a renamed key's old name is not declared, and its new name counts as set only away from its default "
    "(config/stack_config.current_keys).",
    "pulumi/pulumi@v3.259.0:pkg/workspace/config.go:319-324 (no default: missing), 327-346 (default merged)",
)
