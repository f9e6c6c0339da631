"""vault-policy-enforce-least-privilege (invariant 2): parses the policy HCL."""

from __future__ import annotations

import re

import hcl2
from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, Severity

from facts.envs import kv_env_prefix
from facts.tokens import VAULT_POLICY

from .common import ENV_KV_SCHEMA, known, plain

NAME_RE = re.compile(r"^finance_report-(?P<env>[a-z][a-z0-9]*)-(?P<service>[a-z][a-z0-9-]*)$")
SELF_PATHS = {"auth/token/lookup-self": {"read"}}


# Vault still honours the pre-0.9 `policy = "<level>"` key of a path block, as these capabilities
# (hashicorp/vault vault/policy.go, parsePaths: OldDenyPathPolicy ... OldSudoPathPolicy).
LEGACY_POLICY = {
    "deny": {"deny"},
    "read": {"read", "list"},
    "write": {"create", "read", "update", "delete", "list"},
    "sudo": {"create", "read", "update", "delete", "list", "sudo"},
}


def parse_paths(text: str) -> dict[str, set[str]]:
    """`path "x" { capabilities = [...] }` blocks -> {x: capabilities}. Raises ValueError if unparsable,
    or if it holds anything this check cannot judge (another block, another key of a path)."""
    try:
        parsed = hcl2.loads(text)
    except Exception as err:  # hcl2 raises lark errors of several types
        raise ValueError(str(err).splitlines()[0]) from None
    others = sorted(k for k in parsed if k != "path")
    if others:
        raise ValueError(f"has {others[0]!r} outside a path block; only path blocks are expected")
    paths: dict[str, set[str]] = {}
    for block in parsed.get("path", []):
        for raw_path, body in block.items():
            path = raw_path.strip('"')
            unknown = sorted(k for k in body if k not in ("capabilities", "policy"))
            if unknown:
                raise ValueError(f"sets {unknown[0]} on {path}; only capabilities are expected")
            caps = set(body.get("capabilities", []))
            if "policy" in body:
                level = str(body["policy"])
                if level not in LEGACY_POLICY:
                    raise ValueError(f"sets policy = {level!r} on {path}; expected one of {sorted(LEGACY_POLICY)}")
                caps |= LEGACY_POLICY[level]
            # Vault merges every block of one path: their capabilities add up.
            paths.setdefault(path, set()).update(caps)
    return paths


def allowed_paths(kv_mount: str, env: str, service: str) -> dict[str, set[str]]:
    base = f"{kv_env_prefix(env)}{service}"
    return {f"{kv_mount}/data/{base}": {"read"}, f"{kv_mount}/metadata/{base}": {"read", "list"}, **SELF_PATHS}


def problems(name: str, text: str, kv_mount: str, env: str) -> list[str]:
    match = NAME_RE.match(name)
    if not match:
        return [f"is named {name}; expected finance_report-<env>-<service> so its scope is visible"]
    if match.group("env") != env:
        return [f"belongs to env {match.group('env')}, not this stack's env {env}"]
    try:
        paths = parse_paths(text)
    except ValueError as err:
        return [f"cannot be judged: {err}"]
    allowed = allowed_paths(kv_mount, env, match.group("service"))
    found = []
    for path, caps in sorted(paths.items()):
        if "sudo" in caps:
            found.append(f"grants sudo on {path}")
        if "*" in path or "+" in path:
            found.append(f"uses a wildcard in {path}, which can cross env or service boundaries")
        elif path not in allowed:
            found.append(
                f"grants {sorted(caps)} on {path}, outside its own KV path "
                f"{kv_mount}/data/{kv_env_prefix(env)}{match.group('service')}"
            )
        elif caps - allowed[path]:
            found.append(f"grants {sorted(caps - allowed[path])} on {path}; only {sorted(allowed[path])} is needed")
    return found


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != VAULT_POLICY:
        return
    name, text = plain(args.props.get("name")), plain(args.props.get("policy"))
    if not (known(name) and known(text)):
        return
    config = args.get_config()
    for problem in problems(str(name), str(text), config["kvMount"], config["env"]):
        report_violation(f"Vault policy {name} {problem}.")


POLICY = ResourceValidationPolicy(
    name="vault-policy-enforce-least-privilege",
    description="Requires each Vault policy to read only its own env's and service's KV path (and token lookup-self), "
    "with no wildcard and no sudo.",
    validate=validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    config_schema=ENV_KV_SCHEMA,
    remediation_steps="Generate policies with render.vault_artifacts.policy_hcl(kv_mount, env, service).",
)
