"""preview-stack-disallow-shared-resources: a pull request's preview env shares nothing with another env.

The compose deployment's previews borrowed staging's AppRole, so a preview could read staging's database
password. A preview (`pr<N>`, facts/envs.py) runs a branch's own program, so this stack policy checks
what that program declares, whatever the branch changed:

- no other env's name as a word anywhere in its resources (names, networks, KV paths, Vault policies and
  roles, buckets, labels): production, staging, the `knownEnvs` and every other `pr<N>`;
- no host directory mounted (a host path is where the committed envs keep their data);
- Traefik routes only its own host `report-<env>.<domain>` (production's host carries no env word);
- its data volumes and KV secrets are neither protected nor retained: closing the PR destroys them
  (a protected volume would fail the destroy and linger).

For every env, committed ones included: everything labelled `finance-report.env` carries the stack's own
env, since the operator tools (status, logs, the memory budget) and the data policy go by that label.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from facts.envs import COMMITTED_ENVS, is_preview_env
from facts.tokens import CONTAINER, KV_SECRET, VOLUME

from .common import labels, option, plain, strings

ENV_LABEL = "finance-report.env"
_PREVIEW_WORD = re.compile(r"(?<![a-z0-9])pr[1-9][0-9]*(?![a-z0-9])")
_HOST = re.compile(r"Host\(`([^`]*)`\)")


def _keys(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from _keys(v)


def foreign_env_words(text: str, env: str, known_envs: Iterable[str]) -> set[str]:
    """Other envs' names that appear in `text` as whole words (`pr1` is not inside `pr12`)."""
    found = set()
    for other in set(known_envs) | set(COMMITTED_ENVS):
        if other != env and re.search(rf"(?<![a-z0-9]){re.escape(other)}(?![a-z0-9])", text):
            found.add(other)
    found |= {m.group(0) for m in _PREVIEW_WORD.finditer(text) if m.group(0) != env}
    return found


def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    config = args.get_config()
    env = config["env"]
    preview = is_preview_env(env)
    for resource in args.resources:
        props = plain(resource.props)
        claimed = labels(props).get(ENV_LABEL) if isinstance(props, dict) and "labels" in props else None
        if claimed is not None and claimed != env:
            report_violation(
                f"{resource.name} is labelled {ENV_LABEL}={claimed} in env {env}: the operator tools and "
                f"policies would count it as {claimed}'s.",
                resource.urn,
            )
        if not preview:
            continue
        texts = [*strings(props), *_keys(props)]
        foreign = sorted({word for text in texts for word in foreign_env_words(text, env, config["knownEnvs"])})
        if foreign:
            report_violation(
                f"{resource.name} of preview env {env} references env(s) {', '.join(foreign)}: a preview "
                "shares no name, network, Vault path, role or bucket with another env.",
                resource.urn,
            )
        if resource.resource_type == CONTAINER:
            for volume in props.get("volumes") or []:
                if volume.get("hostPath"):
                    report_violation(
                        f"{resource.name} of preview env {env} mounts host path {volume['hostPath']}: a "
                        "preview keeps its data in its own volumes.",
                        resource.urn,
                    )
            for text in strings(props.get("labels")):
                for host in _HOST.findall(text):
                    if not host.startswith(f"report-{env}."):
                        report_violation(
                            f"{resource.name} of preview env {env} routes host {host}; a preview serves only "
                            f"report-{env}.<domain>.",
                            resource.urn,
                        )
        if resource.resource_type in (VOLUME, KV_SECRET):
            what = "data volume" if resource.resource_type == VOLUME else "KV secret"
            if option(resource, "protect"):
                report_violation(
                    f"{what} {resource.name} of preview env {env} is protected: destroying the preview on PR "
                    "close would fail and leave it behind.",
                    resource.urn,
                )
            if option(resource, "retain_on_delete"):
                report_violation(
                    f"{what} {resource.name} of preview env {env} is retainOnDelete: destroying the preview "
                    "would leave it behind.",
                    resource.urn,
                )


POLICY = StackValidationPolicy(
    name="preview-stack-disallow-shared-resources",
    description="Prohibits a pull request's preview env from using another env's names, paths, hosts or data, and any "
    "resource from claiming another env's label.",
    validate=validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    config_schema=PolicyConfigSchema(
        properties={
            "env": {"type": "string"},
            "knownEnvs": {"type": "array", "items": {"type": "string"}, "default": list(COMMITTED_ENVS)},
        },
        required=["env"],
    ),
    remediation_steps="Generate the preview's stack with `uv run invoke preview-env --pr <N>` and derive every name "
    "from the "
    "env with render.naming.",
)
