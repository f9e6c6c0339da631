"""traefik-enforce-tls-routing."""

from __future__ import annotations

import re

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from facts.tokens import CONTAINER

from .common import labels

HOST_RE = re.compile(r"Host\(([^)]*)\)")


def hosts_in(rule: str) -> list[str]:
    hosts = []
    for group in HOST_RE.findall(rule):
        hosts += [h.strip().strip("`\"'") for h in group.split(",") if h.strip()]
    return hosts


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CONTAINER:
        return
    config = args.get_config()
    domain, entrypoint = config["domain"], config["tlsEntrypoint"]
    lab = labels(args.props)
    if lab.get("traefik.enable") != "true":
        return
    if not lab.get("traefik.docker.network"):
        report_violation(
            f"Container {args.name} enables Traefik without traefik.docker.network; set it to the Traefik "
            "network so routing does not pick a random network."
        )
    routers = {k.split(".")[3] for k in lab if k.startswith("traefik.http.routers.")}
    if not routers:
        report_violation(f"Container {args.name} enables Traefik but declares no router.")
    for router in sorted(routers):
        prefix = f"traefik.http.routers.{router}"
        entrypoints = [e.strip() for e in lab.get(f"{prefix}.entrypoints", "").split(",") if e.strip()]
        if entrypoints != [entrypoint]:
            report_violation(
                f"Router {router} on {args.name} uses entrypoints {entrypoints or '(all)'}; expected only "
                f"the TLS entrypoint {entrypoint}."
            )
        if not lab.get(f"{prefix}.tls.certresolver"):
            report_violation(f"Router {router} on {args.name} has no tls.certresolver; set {prefix}.tls.certresolver.")
        rule = lab.get(f"{prefix}.rule", "")
        hosts = hosts_in(rule)
        if not hosts:
            report_violation(
                f"Router {router} on {args.name} has no Host rule; every router must match a host inside {domain}."
            )
        for host in hosts:
            if not (host == domain or host.endswith("." + domain)):
                report_violation(
                    f"Router {router} on {args.name} matches host {host}, outside the configured domain {domain}."
                )


POLICY = ResourceValidationPolicy(
    name="traefik-enforce-tls-routing",
    description="Requires Traefik-enabled containers to route only through the TLS entrypoint with a cert resolver, to "
    "hosts inside the domain, on a named network.",
    validate=validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(
        properties={
            "domain": {"type": "string", "description": "Domain every Host rule must lie in."},
            "tlsEntrypoint": {"type": "string", "default": "websecure"},
        },
        required=["domain"],
    ),
    remediation_steps="Build labels with render.traefik.api_labels/web_labels, which set entrypoints, "
    "tls.certresolver, the "
    "Host rule and traefik.docker.network.",
)
