"""Container hardening after the CIS Docker Benchmark, section 5: one policy per rule, each with its
own level."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, Severity

from facts.tokens import SERVICE

from .common import kind, plain, service_of, workload

DOCKER_PROXY = "docker-proxy"  # render.labels.DOCKER_PROXY: the pack ships without components/


def _container(check, services: bool = True):
    """Run `check` on every container, and on every Swarm service's task unless the service resource cannot
    express the setting (`services` False: facts.providers.SERVICE_NO_NEW_PRIVILEGES)."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type == SERVICE and not services:
            return
        props = workload(args.resource_type, args.props)
        if props is not None:
            problem = check(props)
            if problem:
                report_violation(f"{kind(args.resource_type)} {args.name} {problem}.")

    return validate


def _privileged(props):
    return "runs privileged (CIS 5.4)" if plain(props.get("privileged")) else None


def _is_read_only_proxy(props):
    """The preview proxy (program/docker_proxy.py) is the one container that holds the socket: it is
    what keeps the socket from preview credentials. It must have no network (nothing on a Docker network
    can reach it) and publish nothing; its allow-list is tested against a real engine."""
    return (
        service_of(props) == DOCKER_PROXY
        and plain(props.get("networkMode")) == "none"
        and not plain(props.get("ports"))
        and not plain(props.get("networksAdvanced"))
    )


def _docker_socket(props):
    paths = [str(v.get("hostPath", "")) for v in plain(props.get("volumes")) or []]
    paths += [str(m.get("source", "")) for m in plain(props.get("mounts")) or [] if m.get("type") == "bind"]
    hit = [p for p in paths if p.endswith("docker.sock")]
    if not hit or _is_read_only_proxy(props):
        return None
    if service_of(props) == DOCKER_PROXY:
        return (
            f"mounts the Docker socket {hit[0]} and is reachable from a network or a published port (CIS 5.31); "
            "the docker-proxy must run with network_mode none"
        )
    return f"mounts the Docker socket {hit[0]} (CIS 5.31)"


def _no_new_privileges(props):
    opts = plain(props.get("securityOpts")) or []
    return (
        None
        if any(o in ("no-new-privileges", "no-new-privileges:true", "no-new-privileges=true") for o in opts)
        else "lacks security_opts no-new-privileges:true (CIS 5.25)"
    )


def _host_namespaces(props):
    for field, cis in (("networkMode", "5.9"), ("pidMode", "5.15"), ("ipcMode", "5.16"), ("usernsMode", "5.30")):
        if plain(props.get(field)) == "host":
            return f"shares the host's {field[:-4]} namespace (CIS {cis})"
    return None


def _capabilities(props):
    caps = plain(props.get("capabilities")) or {}
    drops = [c.upper() for c in caps.get("drops") or []]
    return (
        None
        if "ALL" in drops
        else "does not drop all capabilities (CIS 5.3); drop ALL and add back only what the image needs"
    )


def _policy(name, description, check, level, severity, remediation, services=True):
    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=_container(check, services),
        enforcement_level=level,
        severity=severity,
        remediation_steps=remediation,
    )


POLICIES = [
    _policy(
        "docker-container-disallow-privileged",
        "Prohibits privileged containers (CIS 5.4).",
        _privileged,
        EnforcementLevel.MANDATORY,
        Severity.CRITICAL,
        "Remove privileged=True; add the specific capability instead.",
    ),
    _policy(
        "docker-container-disallow-docker-socket",
        "Prohibits mounting the Docker socket (CIS 5.31), except in the preview proxy, which has no network.",
        _docker_socket,
        EnforcementLevel.MANDATORY,
        Severity.CRITICAL,
        "Remove the docker.sock mount; a container with it controls the host.",
    ),
    _policy(
        "docker-container-enforce-no-new-privileges",
        "Requires no-new-privileges (CIS 5.25) on containers; a Swarm service gets it from the daemon default, "
        "which `invoke doctor` checks.",
        _no_new_privileges,
        EnforcementLevel.MANDATORY,
        Severity.HIGH,
        "Build container args with render.hardening.hardened_container_args().",
        services=False,
    ),
    _policy(
        "docker-container-disallow-host-namespaces",
        "Prohibits host network, PID, IPC and user namespaces (CIS 5.9, 5.15, 5.16, 5.30).",
        _host_namespaces,
        EnforcementLevel.MANDATORY,
        Severity.HIGH,
        "Remove network_mode/pid_mode/ipc_mode/userns_mode=host; use Docker networks.",
    ),
    _policy(
        "docker-container-enforce-capability-drop",
        "Requires dropping all Linux capabilities and adding back only those the image needs (CIS 5.3).",
        _capabilities,
        EnforcementLevel.ADVISORY,
        Severity.MEDIUM,
        "Set capabilities drops=[ALL] and adds=[...] with what the image's entrypoint needs.",
    ),
]
