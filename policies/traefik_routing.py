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

from facts.tokens import CONTAINER, SERVICE

from .common import kind, labels

HOST_RE = re.compile(r"Host\(([^)]*)\)")


def hosts_in(rule: str) -> list[str]:
    hosts = []
    for group in HOST_RE.findall(rule):
        hosts += [h.strip().strip("`\"'") for h in group.split(",") if h.strip()]
    return hosts


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in (CONTAINER, SERVICE):
        return
    config = args.get_config()
    domain, entrypoint = config["domain"], config["tlsEntrypoint"]
    lab = labels(args.props)  # a service's own labels: what Traefik's swarm provider reads
    if lab.get("traefik.enable") != "true":
        return
    what = f"{kind(args.resource_type)} {args.name}"
    if args.resource_type == SERVICE:
        validate_swarm_labels(what, lab, report_violation)
    elif not lab.get("traefik.docker.network"):
        report_violation(
            f"Container {args.name} enables Traefik without traefik.docker.network; set it to the Traefik "
            "network so routing does not pick a random network."
        )
    routers = {k.split(".")[3] for k in lab if k.startswith("traefik.http.routers.")}
    if not routers:
        report_violation(f"{what} enables Traefik but declares no router.")
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


def validate_swarm_labels(what: str, lab: dict, report_violation: ReportViolation) -> None:
    """Traefik's swarm provider: the network label is traefik.swarm.network, a traefik.docker.* label on a
    service is deprecated and both together an error (traefik pkg/provider/docker/shared_labels.go:72,81), and
    every Traefik service needs its port: Swarm gives no port detection (providers/swarm.md:363-370)."""
    if not lab.get("traefik.swarm.network"):
        report_violation(
            f"{what} enables Traefik without traefik.swarm.network; set it to the Traefik network so routing does "
            "not pick a random network."
        )
    docker_labels = sorted(k for k in lab if k.startswith("traefik.docker."))
    if docker_labels:
        report_violation(f"{what} carries {', '.join(docker_labels)}; Traefik's swarm provider reads traefik.swarm.*.")
    services = {k.split(".")[3] for k in lab if k.startswith("traefik.http.services.")}
    services |= {v for k, v in lab.items() if k.startswith("traefik.http.routers.") and k.endswith(".service")}
    for name in sorted(services):
        if not lab.get(f"traefik.http.services.{name}.loadbalancer.server.port"):
            report_violation(
                f"{what} routes to Traefik service {name} without traefik.http.services.{name}.loadbalancer.server."
                "port; Swarm gives Traefik no port to detect."
            )


POLICY = ResourceValidationPolicy(
    name="traefik-enforce-tls-routing",
    description="Requires Traefik-enabled containers and services to route only through the TLS entrypoint with a cert "
    "resolver, to hosts inside the domain, on a named network (for a service: traefik.swarm.network and a port).",
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
