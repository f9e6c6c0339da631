"""The policy pack's config for one stack, derived from the stack's own config (pure).

Every setting that names the env or its platform (the env, the domain, the KV mount, the Traefik network
and entrypoint, the envs the project knows) comes from the stack's `StackConfig`, so there is no second
copy of them to drift from the stack file; the pack's own knobs (limits), the same for every stack, come from
one committed file (`policies/settings.json`) that may set neither a derived key nor an enforcement level.
The offline plan, `invoke preview`/`up`/`rotate`/`rollback` and the PR environment generator all use this
one builder; `uv run invoke policy-config --stack S` prints its result for a hand-run `pulumi preview`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from config.stack_config import StackConfig
from render import naming

Derive = Callable[[StackConfig, tuple[str, ...]], Any]


def _env(cfg: StackConfig, known: tuple[str, ...]) -> str:
    return cfg.env


def _known_envs(cfg: StackConfig, known: tuple[str, ...]) -> list[str]:
    return sorted({*known, cfg.env})


# policy name -> setting -> how it follows from the stack. Each is a value the stack file states (or
# defaults), never one to type twice.
DERIVED: dict[str, dict[str, Derive]] = {
    "traefik-enforce-tls-routing": {
        "domain": lambda cfg, known: cfg.domain,
        "tlsEntrypoint": lambda cfg, known: cfg.traefik_entrypoint,
    },
    "docker-image-disallow-unpinned": {"env": _env},
    "datastore-disallow-exposure": {"traefikNetwork": lambda cfg, known: cfg.traefik_network},
    "vault-policy-enforce-least-privilege": {"env": _env, "kvMount": lambda cfg, known: cfg.vault_kv_mount},
    "vault-kv-enforce-env-path": {"env": _env, "kvMount": lambda cfg, known: cfg.vault_kv_mount},
    "stack-disallow-cross-env-references": {"env": _env, "knownEnvs": _known_envs},
    "pr-env-disallow-shared-resources": {"env": _env, "knownEnvs": _known_envs},
    # Production's backups must be out of the app key's reach (docs/backups.md); elsewhere a warning.
    "backup-enforce-separate-storage": {
        "enforcementLevel": lambda cfg, known: "mandatory" if cfg.env == naming.PRODUCTION else "advisory"
    },
}
# The settings a policy config states about one stack: a `--policy-config` whose values differ from the
# stack's is for another stack (ops/policy_pack.py names both).
IDENTITY = ("env", "domain")


_NO_LEVELS = (
    "expected settings without an enforcement level (levels are the policy pack's code, policies/registry.py, "
    "or derived from the stack file)"
)


class PolicySettingsError(ValueError):
    """The committed pack settings set what the stack decides, or are not an object of policy sections."""


def check_settings(settings: Any, label: str = "policies/settings.json") -> dict[str, Any]:
    """The pack's shared settings, refused when they are not `{policy: {setting: value}}`, set an enforcement
    level, or set a value derived from the stack."""
    if not isinstance(settings, dict):
        raise PolicySettingsError(f"{label}: expected a JSON object keyed by policy name")
    for policy, section in settings.items():
        if policy.startswith("$"):
            continue
        # A level here would apply to every stack's preview and up, mandatory policies included, with no plan
        # line saying so ("all" is the engine's key for every policy of the pack).
        if isinstance(section, str) or policy == "all":
            raise PolicySettingsError(f"{label}: {policy} = {json.dumps(section)} is invalid: {_NO_LEVELS}")
        if isinstance(section, dict) and "enforcementLevel" in section:
            shown = json.dumps({"enforcementLevel": section["enforcementLevel"]})
            shown = shown if len(section) == 1 else shown[:-1] + ", ...}"
            raise PolicySettingsError(f"{label}: {policy} = {shown} is invalid: {_NO_LEVELS}")
        if not isinstance(section, dict):
            raise PolicySettingsError(f"{label}: {policy} = {str(section)[:60]}; expected an object of settings")
        derived = sorted(set(section) & set(DERIVED.get(policy, {})))
        if derived:
            raise PolicySettingsError(
                f"{label}: {policy}.{derived[0]} comes from the stack file (each stack's own value); remove it "
                "from the shared settings"
            )
    return settings


def policy_config(cfg: StackConfig, known_envs: Iterable[str], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The pack config for the stack `cfg` describes: the shared `settings` plus every derived value.
    `known_envs` are the envs of the project's committed stacks (the stack's own is added)."""
    known = tuple(known_envs)
    shared = check_settings(dict(settings))
    # `$comment` and the like document the file; the engine would take them for policy names.
    result: dict[str, Any] = copy.deepcopy({k: v for k, v in shared.items() if not k.startswith("$")})
    for policy, derived in DERIVED.items():
        section = dict(result.get(policy, {}))
        section.update({key: derive(cfg, known) for key, derive in derived.items()})
        result[policy] = section
    return result


def identity_mismatch(given: Mapping[str, Any], derived: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(setting, the given file's value, the stack's value) of the first env or domain a given policy
    config states differently from the stack's derived one; None when it agrees."""
    for key in IDENTITY:
        for policy, section in derived.items():
            other = given.get(policy)
            stated = isinstance(section, dict) and key in section
            if stated and isinstance(other, dict) and key in other and other[key] != section[key]:
                return key, str(other[key]), str(section[key])
    return None
