"""Helpers shared by the policies: reading engine-shaped (camelCase) properties and options."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyConfigSchema, Secret

from facts.tokens import CONTAINER, SERVICE

DATASTORES = ("postgres", "redis")
SERVICE_LABEL = "finance-report.service"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's marker for a value not known at preview
SECRETS_ROOT = "/run/secrets"

# Config of the policies that judge Vault paths: this stack's env and the KV v2 mount.
ENV_KV_SCHEMA = PolicyConfigSchema(
    properties={"env": {"type": "string"}, "kvMount": {"type": "string", "default": "secret"}},
    required=["env"],
)

# Name parts that say a variable holds a credential (TOKENIZERS_PARALLELISM does not; DB_PASSWORD does).
SECRET_WORDS = {
    "PASSWORD",
    "PASSWD",
    "PASS",
    "PWD",
    "SECRET",
    "SECRETS",
    "TOKEN",
    "TOKENS",
    "CREDENTIAL",
    "CREDENTIALS",
    "REQUIREPASS",
    "APIKEY",
    "PASSPHRASE",
}
KEY_QUALIFIERS = {"API", "ACCESS", "PRIVATE", "SECRET", "ENCRYPTION", "SIGNING", "MASTER"}
# A *_FILE variable may hold only the path of a rendered file under /run/secrets.
SECRET_FILE_PATH_RE = re.compile(r"^/run/secrets/[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
URL_WITH_PASSWORD_RE = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@", re.I)
TOKEN_RE = re.compile(
    r"(-----BEGIN [A-Z ]*PRIVATE "
    r"KEY-----|\bhv[sbr]\.[A-Za-z0-9_-]{20,}|\bgh[pousr]_[A-Za-z0-9]{30,}|\bAKIA[0-9A-Z]{16}\b)"
)
INLINE_ASSIGNMENT_RE = re.compile(
    r"\b([A-Z0-9_]*(PASSWORD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY))\s*=\s*['\"]?([^\s'\"$`]{4,})"
)
SECRET_FLAG_RE = re.compile(r"^--?(password|passwd|pass|requirepass|secret|token|api-?key)(=.+)?$", re.I)


def plain(value: Any) -> Any:
    """Engine values may arrive wrapped as secrets, and as the analyzer's read-only proxies of lists and
    dicts; policies judge plain values."""
    if isinstance(value, Secret):
        return plain(value.value)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [plain(v) for v in value]
    return value


def known(value: Any) -> bool:
    return value is not None and value != UNKNOWN


def labels(props: Mapping[str, Any]) -> dict[str, str]:
    raw = plain(props.get("labels")) or []
    if isinstance(raw, Mapping):
        return {str(k): str(v) for k, v in raw.items()}
    return {item.get("label"): item.get("value") for item in raw if isinstance(item, Mapping)}


def network_names(props: Mapping[str, Any]) -> list[str]:
    return [n.get("name") for n in plain(props.get("networksAdvanced")) or [] if isinstance(n, Mapping)]


def service_of(props: Mapping[str, Any]) -> str | None:
    """The service a container runs: its `finance-report.service` label."""
    return labels(props).get(SERVICE_LABEL)


def is_datastore(props: Mapping[str, Any]) -> bool:
    return service_of(props) in DATASTORES


def is_vault_agent(props: Mapping[str, Any]) -> bool:
    return service_of(props) == "vault-agent"


def strings(value: Any) -> Iterable[str]:
    value = plain(value)
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, Sequence):
        for v in value:
            yield from strings(v)


def is_secret_key(name: str) -> bool:
    """Whether an env or label name says it carries a credential: one of its words is a credential word,
    or it is a qualified KEY (API_KEY, S3_ACCESS_KEY, LLM_ENCRYPTION_KEYS...)."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", name.upper()) if w]
    if any(w in SECRET_WORDS for w in words):
        return True
    return any(w in ("KEY", "KEYS") and i > 0 and words[i - 1] in KEY_QUALIFIERS for i, w in enumerate(words))


def secret_value_reason(value: str) -> str | None:
    """Why a string looks like it carries a credential, or None."""
    if URL_WITH_PASSWORD_RE.search(value):
        return "a URL with an embedded password"
    if TOKEN_RE.search(value):
        return "a token or private key"
    match = INLINE_ASSIGNMENT_RE.search(value)
    if match:
        return f"an inline assignment to {match.group(1)}"
    return None


def option(resource: Any, name: str) -> bool | None:
    """A resource option, or None when the engine does not expose it to policies (retainOnDelete)."""
    return getattr(getattr(resource, "opts", None), name, None)


# ------------------------------------------------------------------------------------------ runtime swarm

MIB = 1024 * 1024


def kind(resource_type: str) -> str:
    """How a message names the resource: Container, or Service under runtime swarm."""
    return "Service" if resource_type == SERVICE else "Container"


def workload(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """What runs: a container's props as they are, or a Swarm service's task as a container carries the same
    settings (env, labels, command, health check, mounts, capabilities, memory, logs, ports, networks), so the
    invariants of a container are judged on a service alike. None for anything else.

    A service's labels are its own (what Traefik and the tools read) followed by its task containers'. Its
    networks are named by id (facts.providers.SERVICE_NETWORK_READ_AS_ID). What the service resource cannot
    express is left out (no_new_privileges, swap, privileged: facts.providers.SERVICE_NO_NEW_PRIVILEGES)."""
    if resource_type == CONTAINER:
        return props
    if resource_type != SERVICE:
        return None
    props = plain(props)
    task = props.get("taskSpec") or {}
    spec = task.get("containerSpec") or {}
    memory = ((task.get("resources") or {}).get("limits") or {}).get("memoryBytes")
    log = task.get("logDriver") or {}
    return {
        "name": props.get("name"),
        "image": spec.get("image"),
        "envs": [f"{k}={v}" for k, v in (spec.get("env") or {}).items()],
        "labels": [*(props.get("labels") or []), *(spec.get("labels") or [])],
        "entrypoints": spec.get("commands"),
        "command": spec.get("args"),
        "healthcheck": spec.get("healthcheck"),
        "mounts": spec.get("mounts"),
        "capabilities": {"drops": spec.get("capDrops") or [], "adds": spec.get("capAdds") or []},
        "user": spec.get("user"),
        "memory": memory / MIB if known(memory) and isinstance(memory, (int, float)) else memory,
        "logDriver": log.get("name"),
        "logOpts": log.get("options"),
        "ports": (props.get("endpointSpec") or {}).get("ports"),
        "networksAdvanced": [{"name": n.get("id") or n.get("name")} for n in task.get("networksAdvanceds") or []],
    }


def workloads(resources: Iterable[Any]) -> Iterable[tuple[Any, Mapping[str, Any]]]:
    """(resource, workload props) of every container and service of a stack."""
    for resource in resources:
        props = workload(resource.resource_type, resource.props)
        if props is not None:
            yield resource, props
