"""The Vault policies a Vault administrator writes by hand, as files under docs/vault/.

docs/ci-credentials.md and docs/pr-environments.md tell the administrator to `vault policy write NAME
docs/vault/FILE.hcl`; those files are generated here from the same builders the program's tests check
(render.vault_artifacts, render.preview_env), with the services and mounts taken from each committed
stack's own plan. `uv run invoke vault-policies` writes them; tests/unit/test_vault_policy_files.py fails
when a committed file differs from what this returns, so a change to a builder lands with its policy file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facts import tokens
from ops.preview_env import deployer_policy
from ops.program_run import ROOT, ProgramRun, unwrap_secrets
from ops.stack_context import load_stack
from render.naming import PREFIX, preview_service_policy_name
from render.preview_env import DEPLOYER_POLICY_NAME, SERVICES, preview_service_policy_hcl
from render.vault_artifacts import deploy_policy_hcl, preview_policy_hcl, preview_policy_name

DIR = ROOT / "docs" / "vault"
STACKS = ("production", "staging")
"""The committed stacks whose deploy and preview tokens CI holds (docs/ci-credentials.md)."""


@dataclass(frozen=True)
class PolicyFile:
    path: Path
    policy: str
    """The Vault policy name the file is written under (`vault policy write <policy> <path>`)."""
    hcl: str


def _mounts(run: ProgramRun) -> tuple[str, str]:
    """The KV v2 and AppRole mounts the stack's resources use (vaultKvMount, vaultApproleMount)."""
    kv = {str(r.plain_inputs()["mount"]) for r in run.by_type(tokens.KV_SECRET)}
    approle = {str(r.plain_inputs()["backend"]) for r in run.by_type(tokens.APPROLE_ROLE)}
    if len(kv) != 1 or len(approle) != 1:
        raise ValueError(f"stack {run.stack}: expected one KV mount and one AppRole mount, found {kv} and {approle}")
    return kv.pop(), approle.pop()


def role_settings(run: ProgramRun) -> tuple[tuple[str, ...], int]:
    """The bound CIDRs and secret-id TTL the stack's AppRoles carry (the deploy policy pins them)."""
    roles = [unwrap_secrets(r.inputs) for r in run.by_type(tokens.APPROLE_ROLE)]
    (cidrs,) = {tuple(r.get("secretIdBoundCidrs") or ()) for r in roles}
    (ttl,) = {int(r["secretIdTtl"]) for r in roles}
    return cidrs, ttl


def stack_policy_files(stack: str, run: ProgramRun) -> list[PolicyFile]:
    """The deploy and preview policies of one committed stack, for every service its plan gives a Vault side."""
    services = sorted(run.outputs["vault_roles"])
    kv, approle = _mounts(run)
    cidrs, ttl = role_settings(run)
    return [
        PolicyFile(
            DIR / f"deploy-{stack}.hcl",
            f"{PREFIX}-{stack}-deploy",
            deploy_policy_hcl(kv, approle, stack, services, cidrs, ttl),
        ),
        PolicyFile(
            DIR / f"preview-{stack}.hcl", preview_policy_name(stack), preview_policy_hcl(kv, approle, stack, services)
        ),
    ]


def pr_env_policy_files() -> list[PolicyFile]:
    """The platform's policies for PR environments: one per service their agents read with, and the deployer's."""
    files = [
        PolicyFile(DIR / f"previews-{s}.hcl", preview_service_policy_name(s), preview_service_policy_hcl("secret", s))
        for s in SERVICES
    ]
    files.append(PolicyFile(DIR / "pr-envs-deployer.hcl", DEPLOYER_POLICY_NAME, deployer_policy()))
    return files


def policy_files() -> list[PolicyFile]:
    """Every policy file under docs/vault/, in a fixed order."""
    files: list[PolicyFile] = []
    for stack in STACKS:
        files += stack_policy_files(stack, load_stack(stack).plan())
    return files + pr_env_policy_files()


def write(files: list[PolicyFile]) -> list[Path]:
    """Write the files and remove any other .hcl under docs/vault/ (a policy the builders no longer make)."""
    DIR.mkdir(parents=True, exist_ok=True)
    wanted = {f.path for f in files}
    for stale in sorted(set(DIR.glob("*.hcl")) - wanted):
        stale.unlink()
    for f in files:
        f.path.write_text(f.hcl)
    return sorted(wanted)
