"""`uv run invoke adopt --stack S`: once, before the first `pulumi up` of an env whose Vault already holds
its values (the compose deployment's), make them the stack's own.

1. Read the env's KV secrets (`<kvMount>/data/finance_report/<env>/{postgres,redis,app}`) with VAULT_TOKEN.
   A path that does not exist is fine: its values are generated at the first `up`.
2. `pulumi import` each value the program generates (render/secrets.GENERATED) into its random
   resource, under the exact URN the program declares (the component parents are imported with it):
   the first `up` then writes today's values back, nobody is logged out, no password changes, and
   `pulumi up --replace <urn>` rotates them later.
3. Keep what the program does not generate (older LLM keys, keys it does not know) in the secret config
   `vaultKeptValues`, and set operator secrets the stack file lacks (S3 keys...) from Vault, so no KV
   write drops or blanks them. Set `vaultValuesAdopted: true`.

Values travel only in memory, on stdin, or in an import file on /dev/shm (tmpfs) readable by the caller
only and removed right after; none is printed. Exit 0 done (or nothing to do), 1 failed, 2 bad input.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clients.net_errors import why_unreachable
from config.stack_config import StackConfig
from facts.project import PROJECT
from facts.services import VaultService
from ops import pulumi_cli
from ops.command import OperatorError, confirm, run_task
from ops.program_run import ROOT, ProgramRun
from ops.stack_context import load_stack, resolve_stack
from render import naming
from render.app_env import APP_SECRET_KEYS
from render.secrets import GENERATED

SERVICES = tuple(VaultService)
# Keys the program writes itself (the rest of a KV document is kept as it is).
OWNED = {
    "postgres": {"POSTGRES_PASSWORD", "APP_DB_PASSWORD", "BACKUP_DB_PASSWORD"},
    "redis": {"PASSWORD"},
    "app": set(APP_SECRET_KEYS),
    "backup": {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "RESTIC_PASSWORD", "PGPASSWORD", "HEARTBEAT_URL"},
}
OPERATOR_SECRETS = {
    "S3_ACCESS_KEY": "s3AccessKey",
    "S3_SECRET_KEY": "s3SecretKey",
    "S3_PUBLIC_ACCESS_KEY": "s3PublicAccessKey",
    "S3_PUBLIC_SECRET_KEY": "s3PublicSecretKey",
    "ZAI_API_KEY": "zaiApiKey",
}


@dataclass
class Adoption:
    """What adopting an env does, computed from the program's plan and today's Vault values (pure)."""

    imports: list[dict[str, Any]] = field(default_factory=list)
    """`pulumi import --file` resources: the component chain, then each generated value (id = the value)."""
    kept: dict[str, dict[str, Any]] = field(default_factory=dict)
    """service -> KEY -> today's value (any JSON value) of what the program does not write itself."""
    operator_secrets: dict[str, str] = field(default_factory=dict)
    """config key -> value for operator secrets the stack file lacks."""
    adopted: list[str] = field(default_factory=list)
    """URNs of the imported values (what to report; no value)."""

    def import_file(self) -> dict[str, Any]:
        return {"resources": self.imports}


def _chain(run: ProgramRun, urn: str) -> list[Any]:
    """The resource and its component ancestors, outermost first."""
    by_urn = {r.urn: r for r in run.resources}
    chain = []
    while urn in by_urn:
        chain.append(by_urn[urn])
        urn = by_urn[urn].parent or ""
    return list(reversed(chain))


def _require_strings(vault: Mapping[str, Mapping[str, Any]], kv_mount: str, env: str) -> None:
    """What the program imports or sets from Vault is a string; anything else is named, never shown."""
    for service, document in vault.items():
        for key, value in (document or {}).items():
            if (key in OWNED[service] or key in OPERATOR_SECRETS) and value is not None and not isinstance(value, str):
                raise OperatorError(
                    f"Vault {kv_mount}/data/{naming.kv_name(env, service)}: {key} is a JSON "
                    f"{type(value).__name__}, expected a string (the program writes it as one); fix it in "
                    "Vault, then adopt again"
                )


def plan_adoption(
    run: ProgramRun, cfg: StackConfig, vault: Mapping[str, Mapping[str, Any]], configured: set[str]
) -> Adoption:
    """`vault`: service -> today's KV document (absent when the path does not exist). `configured`: the
    config keys the stack file sets."""
    _require_strings(vault, cfg.vault_kv_mount, cfg.env)
    result = Adoption()
    seen_components: set[str] = set()
    generated_keys: dict[str, set[str]] = {s: set() for s in SERVICES}
    for value in GENERATED:
        resource = next((r for r in run.resources if r.name == value.resource), None)
        if resource is None or (value.kind == "fernet" and not cfg.llm_encryption):
            # llmEncryption off: today's keys all stay as they are, first (the generated key goes after
            # them, decrypt-only: render.secrets.llm_keys); none is imported into the generated one.
            continue
        generated_keys[value.service].add(value.key)
        today = (vault.get(value.service) or {}).get(value.key)
        if not today:
            continue
        import_id = value.import_id(today)
        rest = value.kept_rest(today)
        if rest:
            result.kept.setdefault(value.service, {})[value.key] = rest
        if not import_id:
            continue
        chain = _chain(run, resource.urn)
        for component in chain[:-1]:
            if component.urn in seen_components:
                continue
            seen_components.add(component.urn)
            parent = next((c.urn for c in chain if c.urn == component.parent), None)
            entry = {"type": component.type, "name": component.urn, "logicalName": component.name, "component": True}
            if parent:
                entry["parent"] = parent
            result.imports.append(entry)
        result.imports.append(
            {
                "type": resource.type,
                "name": resource.urn,
                "logicalName": resource.name,
                "id": import_id,
                "parent": resource.parent,
            }
        )
        result.adopted.append(resource.urn)
    for service, document in vault.items():
        for key, value in (document or {}).items():
            if key in OPERATOR_SECRETS:
                if value and OPERATOR_SECRETS[key] not in configured:
                    result.operator_secrets[OPERATOR_SECRETS[key]] = value
            elif key not in OWNED[service] or (key in ("LLM_ENCRYPTION_KEYS",) and key not in generated_keys[service]):
                result.kept.setdefault(service, {})[key] = value  # as it is, empty or not
    return result


# ------------------------------------------------------------------------------------------ Vault


def read_vault(address: str, token: str, kv_mount: str, env: str, timeout: int = 30) -> dict[str, dict[str, Any]]:
    """Today's KV documents of the env; a path that does not exist is simply absent."""
    import hvac
    import hvac.exceptions
    import requests

    client = hvac.Client(url=address, token=token, timeout=timeout)
    found: dict[str, dict[str, Any]] = {}
    for service in SERVICES:
        path = naming.kv_name(env, service)
        try:
            answer = client.secrets.kv.v2.read_secret_version(
                path=path, mount_point=kv_mount, raise_on_deleted_version=True
            )
        except hvac.exceptions.InvalidPath:
            continue
        except hvac.exceptions.Forbidden:
            raise OperatorError(
                f"Vault refused to read {kv_mount}/data/{path}: the token needs read on the env's KV paths"
            ) from None
        except requests.RequestException as err:
            raise OperatorError(
                f"cannot reach Vault at {address}: {why_unreachable(err)}; check --vault-address (or "
                "vaultAddress) and that this machine reaches it"
            ) from None
        except hvac.exceptions.VaultError as err:
            raise OperatorError(
                f"cannot read {kv_mount}/data/{path} from Vault at {address}: Vault answered {type(err).__name__}"
            ) from None
        # Every value, whatever its JSON type: what the program does not own is written back as it was.
        found[service] = dict(answer["data"]["data"] or {})
    return found


# ------------------------------------------------------------------------------------------ Pulumi CLI


Runner = Callable[[Sequence[str], bytes | None], subprocess.CompletedProcess[bytes]]


def run_cli(argv: Sequence[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    # Output is captured, never shown: `pulumi import` may echo what it imported.
    return subprocess.run(list(argv), input=stdin, capture_output=True, timeout=1800, cwd=ROOT)


def apply(adoption: Adoption, stack: str, run: Runner = run_cli) -> None:
    """Import, then the config, through the Pulumi CLI."""
    if adoption.imports:
        directory = Path(tempfile.mkdtemp(prefix="fr-adopt-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
        path = directory / "import.json"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(adoption.import_file(), handle)
            done = run(
                [
                    "pulumi",
                    "import",
                    "--stack",
                    stack,
                    "--file",
                    str(path),
                    "--yes",
                    "--protect=false",
                    "--generate-code=false",
                    "--non-interactive",
                ],
                None,
            )
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        if done.returncode != 0:
            raise OperatorError(
                f"pulumi import failed (exit {done.returncode}); run it again after fixing: {_last_line(done)}"
            )
    settings: list[tuple[str, bytes, bool]] = [
        (k, v.encode(), True) for k, v in sorted(adoption.operator_secrets.items())
    ]
    if adoption.kept:
        settings.append(("vaultKeptValues", json.dumps(adoption.kept, sort_keys=True).encode(), True))
    settings.append(("vaultValuesAdopted", b"true", False))
    for key, value, secret in settings:
        # the value goes on stdin: never in argv, where any user of the machine could read it
        done = run(
            ["pulumi", "config", "set", "--stack", stack, *(["--secret"] if secret else []), f"{PROJECT}:{key}"], value
        )
        if done.returncode != 0:
            raise OperatorError(f"pulumi config set {key} failed (exit {done.returncode}): {_last_line(done)}")


def _last_line(done: subprocess.CompletedProcess[bytes]) -> str:
    text = (done.stderr or b"").decode(errors="replace").strip().splitlines()
    return text[-1][:200] if text else "no output"


# ------------------------------------------------------------------------------------------ command


def load(stack: str, config_file: Path | None) -> tuple[StackConfig, ProgramRun, set[str]]:
    context = load_stack(stack, config_file)
    return context.config, context.plan(), context.configured


def adopt(
    stack: str,
    config_file: str | None = None,
    vault_address: str | None = None,
    yes: bool = False,
    dry_run: bool = False,
    runner: Runner = run_cli,
    answer: Callable[[str], str] = input,
    check_cli: Callable[[str], str | None] = pulumi_cli.missing_cli,
) -> int:
    stack = resolve_stack(stack)
    cfg, run, configured = load(stack, Path(config_file) if config_file else None)
    if cfg.vault_values_adopted:
        print(f"adopt: stack {stack} has adopted its Vault values already (vaultValuesAdopted: true); nothing to do")
        return 0
    token = os.environ.get("VAULT_TOKEN")
    if not token:
        raise OperatorError("VAULT_TOKEN is not set: a token that can read the env's KV paths is needed")
    missing = None if dry_run else check_cli("adoption imports into the stack's state with `pulumi import`")
    if missing is not None:
        raise OperatorError(missing)
    vault = read_vault(vault_address or cfg.vault_address, token, cfg.vault_kv_mount, cfg.env)
    adoption = plan_adoption(run, cfg, vault, configured)
    print(
        f"adopt: stack {stack}: {len(adoption.adopted)} generated value(s) to import, "
        f"{sum(len(v) for v in adoption.kept.values())} value(s) to keep, "
        f"{len(adoption.operator_secrets)} operator secret(s) to set"
    )
    for urn in adoption.adopted:
        print(f"  import {urn.rsplit('::', 1)[-1]}")
    for service, keys in sorted(adoption.kept.items()):
        print(f"  keep   {service}: {', '.join(sorted(keys))}")
    for key in sorted(adoption.operator_secrets):
        print(f"  set    {key} (secret)")
    if dry_run:
        return 0
    confirm(f"Import these into stack {stack}'s state and config?", yes, answer)
    apply(adoption, stack, runner)
    print(
        f"adopt: done; commit Pulumi.{stack}.yaml (vaultValuesAdopted, encrypted kept values), then "
        f"`pulumi preview --stack {stack}`"
    )
    return 0


def main(*args: Any, **kwargs: Any) -> int:
    """`uv run invoke adopt` as a command (one line and an exit code on error)."""
    return run_task("adopt", adopt, *args, **kwargs)
