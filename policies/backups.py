"""The backup policies (invariant 9): every env's database has a scheduled backup service, its repository
is off the Docker host, its retention keeps at least a week of dailies, and the backups sit in a bucket
and behind an S3 key of their own, out of the app's reach (advisory by default; mandatory for production,
config/policy_config.py derives that from the stack).

They read what the backup container declares (program/backup.py, render/backup_job.py): its
`finance-report.service=backup` label and its non-secret settings in `envs` (RESTIC_REPOSITORY,
BACKUP_TIME, BACKUP_INTERVAL_HOURS, BACKUP_KEEP_DAILY, PGHOST).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from facts.tokens import CONTAINER, KV_SECRET, SWARM_CONFIG

from .common import known, labels, plain, service_of, strings, workload, workloads

BACKUP = "backup"
AGENT_FOR_LABEL = "finance-report.agent-for"
ENV_LABEL = "finance-report.env"
DOCKER_PROVIDER = "pulumi:providers:docker"
_TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
# Names and addresses that are the Docker host itself, seen from it or from a container on it.
# 172.17.0.1 is the gateway of Docker's default bridge (docker0): the host, as its containers see it.
HOST_LOCAL_NAMES = {"localhost", "host.docker.internal", "gateway.docker.internal", "0.0.0.0", "172.17.0.1"}


def envs(props: Mapping[str, Any]) -> dict[str, str]:
    return dict(str(e).split("=", 1) for e in plain(props.get("envs")) or [] if "=" in str(e))


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


# ------------------------------------------------------------------------------------------ a backup service per env


def validate_present(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    running = list(workloads(args.resources))  # containers, and Swarm services' tasks
    backups = [(r, p) for r, p in running if service_of(p) == BACKUP]
    for postgres, props in ((r, p) for r, p in running if service_of(p) == "postgres"):
        name = plain(props.get("name"))
        if not known(name):
            continue
        serving = [(b, p) for b, p in backups if envs(p).get("PGHOST") == name]
        if not serving:
            report_violation(
                f"Postgres {name} has no backup service: no {_noun(postgres)} labelled finance-report.service=backup "
                f"dumps it (PGHOST={name}).",
                postgres.urn,
            )
            continue
        for backup, backup_props in serving:
            settings = envs(backup_props)
            if (
                not _TIME_RE.match(settings.get("BACKUP_TIME", ""))
                or not (_int(settings.get("BACKUP_INTERVAL_HOURS")) or 0) > 0
            ):
                report_violation(
                    f"Backup {_noun(backup)} {backup.name} has no schedule: BACKUP_TIME (HH:MM) and "
                    "BACKUP_INTERVAL_HOURS (> 0) must be set.",
                    backup.urn,
                )


def _noun(resource: Any) -> str:
    return "container" if resource.resource_type == CONTAINER else "service"


PRESENT = StackValidationPolicy(
    name="stack-enforce-database-backup",
    description="Requires a scheduled backup service for every Postgres of the stack.",
    validate=validate_present,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Declare program.backup.BackupComponent for the env (program/stack.py does): it sets PGHOST, "
    "BACKUP_TIME "
    "and BACKUP_INTERVAL_HOURS.",
)


# ------------------------------------------------------------------------------------------ off the host


def docker_hosts(args: StackValidationArgs) -> set[str]:
    """Host names of the Docker hosts the stack deploys to (its docker providers' `host`)."""
    hosts = set()
    for r in args.resources:
        if r.resource_type == DOCKER_PROVIDER and known(plain(r.props.get("host"))):
            hosts.add((urlsplit(str(plain(r.props["host"]))).hostname or "").lower())
    return hosts - {""}


def on_host_reason(repository: str, hosts: set[str]) -> str | None:
    """Why a restic repository is not off the Docker host, or None."""
    if not repository.startswith("s3:"):
        return f"is {repository.split(':', 1)[0] or 'a local path'}, not S3-compatible storage"
    endpoint = repository[3:]
    host = (
        (urlsplit(endpoint).hostname or "").lower()
        if "://" in endpoint
        else endpoint.split("/", 1)[0].split(":", 1)[0].lower()
    )
    if not host:
        return "names no S3 endpoint"
    if host in hosts:
        return f"is on the Docker host {host} itself"
    if host in HOST_LOCAL_NAMES:
        return f"points at {host}, the Docker host itself"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if "." not in host:
            return (
                f"names {host}, a name without a domain (a container on the Docker host's networks answers to "
                "such names); write the storage's full name"
            )
        return None
    if address.is_loopback or address.is_unspecified or address.is_link_local:
        return f"points at {host}, the Docker host itself"
    return None


def validate_off_host(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    hosts = docker_hosts(args)
    for r, props in workloads(args.resources):
        if service_of(props) != BACKUP:
            continue
        repository = envs(props).get("RESTIC_REPOSITORY", "")
        if not known(repository):
            continue
        reason = on_host_reason(repository, hosts) if repository else "is not set"
        if reason:
            report_violation(
                f"Backup {_noun(r)} {r.name}: its repository {repository or '(RESTIC_REPOSITORY)'} {reason}; "
                "backups must leave the host.",
                r.urn,
            )


OFF_HOST = StackValidationPolicy(
    name="backup-disallow-on-host-repository",
    description="Prohibits a backup repository on the Docker host: it must be S3-compatible storage elsewhere.",
    validate=validate_off_host,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Set backupS3Endpoint (or s3Endpoint) to the platform MinIO's full URL on another machine, never "
    "the "
    "dockerHost, localhost, a loopback address, Docker's bridge gateway or a container name.",
)


# ------------------------------------------------------------------------------------------ retention


def validate_retention(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    props = workload(args.resource_type, args.props)
    if props is None or service_of(props) != BACKUP:
        return
    minimum = args.get_config()["minDaily"]
    daily = _int(envs(props).get("BACKUP_KEEP_DAILY"))
    if daily is None or daily < minimum:
        report_violation(
            f"Backup {_noun(args)} {args.name} keeps {daily if daily is not None else 'no'} daily backups; keep "
            f"at least {minimum} (backupKeepDaily).",
            None,
        )


RETENTION = ResourceValidationPolicy(
    name="backup-enforce-minimum-retention",
    description="Requires the backup retention to keep at least a configured number of daily backups.",
    validate=validate_retention,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(properties={"minDaily": {"type": "integer", "default": 7, "minimum": 1}}),
    remediation_steps="Set backupKeepDaily to 7 or more.",
)

# ------------------------------------------------------------------------------------------ storage of their own

# The backend's S3 buckets, literal lines of the env-file template its vault-agent uploads (render/app_env.py).
_APP_BUCKET_RE = re.compile(r"^S3(_PUBLIC)?_(BUCKET|ENDPOINT)='([^']*)'$", re.M)
_APP_KEYS = ("S3_ACCESS_KEY", "S3_PUBLIC_ACCESS_KEY")


_DEFAULT_PORTS = {"https": 443, "http": 80}


def _host(endpoint: str) -> str:
    """host[:port] of an endpoint, lower case, without its scheme's default port (https://h:443 is
    https://h); no scheme is https, as restic's s3: backend assumes."""
    parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    host, port = (parts.hostname or "").lower(), parts.port
    return host if port in (None, _DEFAULT_PORTS.get(parts.scheme)) else f"{host}:{port}"


def repository_bucket(repository: str) -> tuple[str, str] | None:
    """(endpoint host, bucket) of an `s3:<endpoint>/<bucket>/<prefix>` repository."""
    if not repository.startswith("s3:"):
        return None
    rest = repository[3:]
    scheme, sep, after = rest.partition("://")
    netloc, _, path = (after if sep else rest).partition("/")
    bucket = path.split("/", 1)[0]
    return (_host(f"{scheme if sep else 'https'}://{netloc}"), bucket) if netloc and bucket else None


def app_buckets(args: StackValidationArgs) -> set[tuple[str, str]]:
    """(endpoint host, bucket) of every bucket the backend is configured with (S3_* and S3_PUBLIC_*)."""
    found = set()
    for r in args.resources:
        if r.resource_type == SWARM_CONFIG:  # runtime swarm: the template is a Swarm config of the app
            contents = _config_text(r.props) if str(plain(r.props.get("name"))).startswith(APP_CONFIG_PREFIX) else []
        elif (
            r.resource_type != CONTAINER
            or labels(r.props).get(AGENT_FOR_LABEL) != "app"
            or not known(plain(r.props.get("uploads")))
        ):
            continue
        else:
            contents = list(strings(r.props.get("uploads")))
        for content in contents:
            values = {(public or "") + kind: value for public, kind, value in _APP_BUCKET_RE.findall(content)}
            for public in ("", "_PUBLIC"):
                if values.get(public + "BUCKET") and values.get(public + "ENDPOINT"):
                    found.add((_host(values[public + "ENDPOINT"]), values[public + "BUCKET"]))
    return found


APP_CONFIG_PREFIX = "finance_report-app-tpl-"  # render.swarm.config_name of the app's templates


def _config_text(props: Mapping[str, Any]) -> list[str]:
    data = plain(props.get("data"))
    if not known(data) or not isinstance(data, str):
        return []
    try:
        return [base64.b64decode(data).decode()]
    except (ValueError, UnicodeDecodeError):
        return []


def kv_data(args: StackValidationArgs, name: str) -> dict[str, Any] | None:
    """The data of the KV secret `name`, or None while unknown. Only compared, never reported."""
    for r in args.resources:
        if r.resource_type == KV_SECRET and plain(r.props.get("name")) == name:
            raw = plain(r.props.get("dataJson"))
            try:
                data = json.loads(raw) if known(raw) and isinstance(raw, str) else None
            except json.JSONDecodeError:
                return None
            return data if isinstance(data, dict) else None
    return None


def validate_separate_storage(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    buckets = app_buckets(args)
    for r, props in workloads(args.resources):
        if service_of(props) != BACKUP:
            continue
        shared = []
        repository = envs(props).get("RESTIC_REPOSITORY", "")
        bucket = repository_bucket(repository) if known(repository) else None
        if bucket in buckets:
            shared.append(f"the app's bucket {bucket[1]}")
        env = labels(props).get(ENV_LABEL)
        app, backup = kv_data(args, f"finance_report/{env}/app"), kv_data(args, f"finance_report/{env}/backup")
        if (
            app is not None
            and backup is not None
            and backup.get("AWS_ACCESS_KEY_ID")
            and backup["AWS_ACCESS_KEY_ID"] in {app.get(k) for k in _APP_KEYS}
        ):
            shared.append("the app's S3 key")
        if shared:
            report_violation(
                f"Backup {_noun(r)} {r.name}: its repository shares {' and '.join(shared)}, so the backend, "
                f"or anyone holding the app's S3 key, can delete every backup. {SEPARATE_FIX}",
                r.urn,
            )


SEPARATE_FIX = (
    "Set backupS3Bucket, and backupS3AccessKey/backupS3SecretKey to a key limited to the backup prefix; enable "
    "versioning or object lock on the backup bucket."
)

SEPARATE = StackValidationPolicy(
    name="backup-enforce-separate-storage",
    description="Requires a backup bucket and S3 key apart from the app's, so the app's key cannot delete the backups "
    "(advisory by default, mandatory for production: config/policy_config.py).",
    validate=validate_separate_storage,
    enforcement_level=EnforcementLevel.ADVISORY,
    severity=Severity.HIGH,
    remediation_steps=SEPARATE_FIX + " The bucket and the key are made on the storage side (docs/backups.md).",
)

POLICIES = [PRESENT, OFF_HOST, RETENTION, SEPARATE]
