"""docker-image-disallow-unpinned (invariant 5)."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from facts.tokens import REMOTE_IMAGE

from .common import known, plain, workload


def pin_problem(ref: str) -> str | None:
    if ref.startswith("sha256:"):
        return None  # an image id: immutable
    rest, _, digest = ref.partition("@")
    if digest:
        return None if digest.startswith("sha256:") and len(digest) == 71 else f"has a malformed digest {digest}"
    last = rest.rsplit("/", 1)[-1]
    tag = last.rsplit(":", 1)[1] if ":" in last else ""
    if not tag:
        return "has no tag or digest"
    if tag == "latest":
        return "uses the floating tag latest"
    return None


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    production = args.get_config()["env"] == "production"
    if args.resource_type == REMOTE_IMAGE:
        ref = plain(args.props.get("name"))
    elif (props := workload(args.resource_type, args.props)) is not None:  # a container or a service's task
        ref = plain(props.get("image"))
    else:
        return
    if not known(ref):
        return
    problem = pin_problem(str(ref))
    if problem:
        where = " in production" if production else ""
        report_violation(
            f"Image {ref} of {args.name} {problem}{where}; pin a release tag (vX.Y.Z or sha7) or a sha256 digest."
        )


POLICY = ResourceValidationPolicy(
    name="docker-image-disallow-unpinned",
    description="Prohibits untagged and `latest` images; every image is a pinned tag or digest.",
    validate=validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(properties={"env": {"type": "string"}}, required=["env"]),
    remediation_steps=(
        "Set imageTag (and postgresImage/redisImage/vaultAgentImage) to a release tag or a sha256 digest."
    ),
)
