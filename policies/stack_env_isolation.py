"""stack-disallow-cross-env-references (invariant 2: staging can never read production)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from facts.envs import PR_ENVS_KV_DIR, is_pr_env

from .common import strings


def _shared_pr_env_policy(token: str, env: str) -> bool:
    """The platform's PR env policies (`finance_report-previews-<service>`), which a PR env's roles carry."""
    return (
        is_pr_env(env)
        and re.fullmatch(rf"finance_report-{PR_ENVS_KV_DIR}-(postgres|redis|app|backup)", token) is not None
    )


def foreign_references(text: str, env: str, other_envs: list[str]) -> list[str]:
    found = []
    # `finance_report/<env>/` (KV names, backup repository paths), a PR env's KV under `previews/`
    for match in re.finditer(rf"finance_report/(?:({PR_ENVS_KV_DIR})/)?([a-z][a-z0-9]*)/", text):
        if match.group(2) != env or (match.group(1) and not is_pr_env(env)):
            found.append(match.group(0))
    for match in re.finditer(r"finance_report-([a-z][a-z0-9]*)-(postgres|redis|app|backup)\b", text):
        if match.group(1) != env and not _shared_pr_env_policy(match.group(0), env):
            found.append(match.group(0))
    for other in other_envs:
        # env-suffixed names (containers, volumes, networks, Traefik routers, hosts) of another env
        for match in re.finditer(rf"(finance_report-[a-z0-9_-]+?|finance-report-[a-z0-9-]+?|report)-{other}\b", text):
            found.append(match.group(0))
    if env != "production":
        # Production names carry no suffix, so in another env every operator name must carry its own.
        for match in re.finditer(r"(?<![/\w.])finance_report-[a-z0-9_-]*[a-z0-9]", text):  # not image repositories
            token = match.group(0)
            if not (
                token.endswith(f"-{env}")
                or f"-{env}-" in token
                or token.startswith(f"finance_report-{env}-")
                or _shared_pr_env_policy(token, env)
            ):
                found.append(token)
        for match in re.finditer(r"traefik\.http\.(routers|services|middlewares)\.([a-z0-9-]+)", text):
            if not match.group(2).endswith(f"-{env}"):
                found.append(match.group(0))
    return found


def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    config = args.get_config()
    env = config["env"]
    others = [e for e in config["knownEnvs"] if e != env and e != "production"]
    for resource in args.resources:
        texts = list(strings(resource.props)) + [str(k) for k in _keys(resource.props)]
        hits = sorted({hit for text in texts for hit in foreign_references(text, env, others)})
        if hits:
            report_violation(
                f"{resource.name} of env {env} references another env's names or paths: {', '.join(hits)}.",
                resource.urn,
            )


def _keys(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from _keys(v)


POLICY = StackValidationPolicy(
    name="stack-disallow-cross-env-references",
    description="Prohibits resources of one env from referencing another env's names, KV paths, policies or networks.",
    validate=validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    config_schema=PolicyConfigSchema(
        properties={
            "env": {"type": "string"},
            "knownEnvs": {"type": "array", "items": {"type": "string"}, "default": ["production", "staging"]},
        },
        required=["env"],
    ),
    remediation_steps="Derive every name and path from the stack's own env with render.naming.",
)
