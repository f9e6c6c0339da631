"""swarm-secret-enforce-approle-only (runtime swarm, docs/swarm.md "Secret zero"): Swarm keeps secrets and
configs in its raft store, on every manager's disk. The one secret runtime swarm puts there is each service's
AppRole pair (role-id, secret-id), granted only to that service's own tasks (C1 and C2 of
docs/design/swarm.md): no application secret is a Swarm secret, no Swarm config holds a KV value, and no
service is granted another service's credentials.
"""

from __future__ import annotations

import base64
import json
import re

from pulumi_policy import EnforcementLevel, ReportViolation, Severity, StackValidationArgs, StackValidationPolicy

from facts.tokens import KV_SECRET, SERVICE, SWARM_CONFIG, SWARM_SECRET

from .common import known, labels, plain, service_of, workload

APPROLE_SECRET_RE = re.compile(
    r"^finance_report-(?P<owner>postgres|redis|app|backup)-(role-id|secret-id)(-[a-z][a-z0-9]*)?-[0-9a-f]{8}$"
)
CREDENTIAL_DIR = "/vault/approle/"  # render.vault_artifacts.ROLE_ID_PATH, SECRET_ID_PATH
CREDENTIAL_MODE = 0o400
# Who may hold a Vault service's AppRole pair: its agent service, or (the app) the tasks that run their own agent.
APP_CONSUMERS = ("backend", "prefect-worker")
MIN_VALUE_LENGTH = 8  # shorter values ("", "zai", "true") would match by chance


def _allowed(owner: str, props: dict) -> bool:
    lab = labels(workload(SERVICE, props) or {})
    if service_of(workload(SERVICE, props) or {}) == "vault-agent":
        return lab.get("finance-report.agent-for") == owner
    return owner == "app" and service_of(workload(SERVICE, props) or {}) in APP_CONSUMERS


def kv_values(args: StackValidationArgs) -> dict[str, str]:
    """value -> KV secret name, for every known string value of the stack's KV secrets."""
    found: dict[str, str] = {}
    for r in args.resources:
        raw = plain(r.props.get("dataJson")) if r.resource_type == KV_SECRET else None
        if not known(raw) or not isinstance(raw, str):
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            continue
        for value in data.values() if isinstance(data, dict) else []:
            if isinstance(value, str) and len(value) >= MIN_VALUE_LENGTH:
                found[value] = str(plain(r.props.get("name")))
    return found


def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for r in args.resources:
        if r.resource_type != SWARM_SECRET:
            continue
        name = plain(r.props.get("name"))
        if known(name) and not APPROLE_SECRET_RE.match(str(name)):
            report_violation(
                f"Swarm secret {name} is not one service's AppRole role-id or secret-id; Swarm keeps it in its raft "
                "store: render application secrets from Vault inside the task instead.",
                r.urn,
            )
    for r in args.resources:
        if r.resource_type != SERVICE:
            continue
        props = plain(r.props)
        refs = ((props.get("taskSpec") or {}).get("containerSpec") or {}).get("secrets") or []
        for ref in refs:
            secret = str(ref.get("secretName") or "")
            match = APPROLE_SECRET_RE.match(secret)
            if known(ref.get("secretName")) and match and not _allowed(match.group("owner"), props):
                report_violation(
                    f"Service {r.name} is granted {secret}, an AppRole credential of {match.group('owner')}; a "
                    "service's AppRole reaches only its own tasks.",
                    r.urn,
                )
            mode = ref.get("fileMode")
            if not str(ref.get("fileName", "")).startswith(CREDENTIAL_DIR) or mode not in (CREDENTIAL_MODE, None):
                report_violation(
                    f"Service {r.name} mounts Swarm secret {secret or ref.get('secretId')} at "
                    f"{ref.get('fileName')} mode {oct(int(mode)) if isinstance(mode, (int, float)) else mode}; "
                    f"expected under {CREDENTIAL_DIR}, mode 0400.",
                    r.urn,
                )
    values = kv_values(args)
    for r in args.resources:
        data = plain(r.props.get("data")) if r.resource_type == SWARM_CONFIG else None
        if not known(data) or not isinstance(data, str):
            continue
        try:
            text = base64.b64decode(data).decode()
        except (ValueError, UnicodeDecodeError):
            continue
        holds = sorted({kv for value, kv in values.items() if value in text})
        if holds:
            report_violation(
                f"Swarm config {plain(r.props.get('name'))} holds a value of the KV secret {', '.join(holds)}; "
                "configs are stored in raft in plaintext: keep the value in Vault and render it in the task.",
                r.urn,
            )


POLICY = StackValidationPolicy(
    name="swarm-secret-enforce-approle-only",
    description="Requires every Swarm secret to be one service's AppRole credential, granted only to that service's "
    "tasks and mounted 0400, and no Swarm config to hold a KV value.",
    validate=validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Create Swarm secrets only through program.swarm_vault.SwarmVault; deliver application "
    "secrets as files its agent renders (docs/swarm.md).",
)
