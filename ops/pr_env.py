"""`uv run invoke pr-env --pr N`: the stack file of pull request N's PR env.

A PR env is its own stack `pr<N>` (docs/pr-environments.md): its own env name, hence its own
container, volume and network names, Vault policies, AppRoles, KV paths and database; smaller limits; the
PR envs' own S3 bucket. It is generated from ops/pr_env.template.yaml and the base stack's file
(staging): the template says which keys are copied (the platform a PR env is a client of) and which are
set; a template that would copy an env's data paths, bucket, adoption state or credentials is refused.

Writes `Pulumi.pr<N>.yaml` (in --out-dir, default the project); its policy config is derived from it like
every stack's (config/policy_config.py), so nothing else is written. An existing PR env stack file keeps
its encrypted values (the S3 keys `pulumi config set --secret` stored).
With --existing-stacks (the JSON of `pulumi stack ls --json`) it refuses a new PR env beyond
`maxPrEnvs`. Exit 0 written, 1 over capacity, 2 bad input (one line on stderr).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from config.errors import ConfigError
from config.schema import FIELDS_BY_KEY
from config.stack_config import current_keys
from config.stack_file import StackFileError, parse_stack_file, read_stack_file
from facts.envs import COMMITTED_ENVS
from facts.project import PROJECT
from ops.program_run import ROOT
from ops.stack_context import load_stack
from render import naming
from render.pr_env import deployer_policy_hcl

TEMPLATE = Path(__file__).resolve().parent / "pr_env.template.yaml"
# Never copied from the base stack: its names, data, adoption state, feature hooks into its services, and
# every secret. A PR env derives names from its own env and gets its own credentials.
NEVER_INHERITED = frozenset(
    {
        "env",
        "postgresDataPath",
        "redisDataPath",
        "adoptVaultValues",
        "vaultValuesAdopted",
        "s3Bucket",
        "s3PublicBucket",
        "prefectApiUrl",
        "gitCommitSha",
        "previewDockerProxy",
        "otelEndpoint",
    }
    | {f.key for f in FIELDS_BY_KEY.values() if f.secret}
)
# Never set by the template either: the env comes from the PR number, data paths and secrets never.
NEVER_SET = frozenset(
    {"env", "postgresDataPath", "redisDataPath", "adoptVaultValues", "vaultValuesAdopted"}
    | {f.key for f in FIELDS_BY_KEY.values() if f.secret}
)
TOP_LEVEL_KEPT = ("secretsprovider", "encryptedkey", "encryptionsalt")


class PrEnvError(Exception):
    """Bad input or template: one line, exit 2."""


@dataclass(frozen=True)
class Template:
    base: str
    inherit: tuple[str, ...]
    config: Mapping[str, Any]


def parse_template(text: str, label: str = "template") -> Template:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise PrEnvError(f"{label}: not valid YAML: {str(err).splitlines()[0]}") from None
    if not isinstance(doc, dict) or set(doc) != {"base", "inherit", "config"}:
        raise PrEnvError(f"{label}: expected exactly the keys base, inherit and config")
    base, inherit, config = doc["base"], doc["inherit"] or [], doc["config"] or {}
    if base not in COMMITTED_ENVS:
        raise PrEnvError(f"{label}: base = {base!r}; expected one of the committed stacks {', '.join(COMMITTED_ENVS)}")
    for key in [*inherit, *config]:
        if key not in FIELDS_BY_KEY:
            raise PrEnvError(f"{label}: {key} is not a config key of the program")
    for key in inherit:
        if key in NEVER_INHERITED:
            raise PrEnvError(
                f"{label}: inherit lists {key}, which a PR env must never copy from {base} (its names, "
                "data, adoption state or credentials)"
            )
    for key in config:
        if key in NEVER_SET:
            raise PrEnvError(f"{label}: config sets {key}, which a PR env template must not set")
    return Template(base, tuple(inherit), dict(config))


def load_template(path: Path = TEMPLATE) -> Template:
    try:
        return parse_template(path.read_text(), str(path))
    except OSError as err:
        raise PrEnvError(f"cannot read template {path}: {err.strerror}") from None


def typed(key: str, text: str) -> Any:
    """A base stack file's value (a string, as the engine passes it) as YAML writes it for its type: the
    CLI checks stack values against Pulumi.yaml's declared types."""
    kind = FIELDS_BY_KEY[key].type
    if kind == "integer":
        return int(text)
    if kind == "boolean":
        return text.strip().lower() == "true"
    if kind == "array":
        return json.loads(text)
    return text


def engine_text(value: Any) -> str:
    """How the engine hands a value written in a stack file to the program."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def pr_env_config(pr: int, base: Mapping[str, str], template: Template, image_tag: str | None = None) -> dict[str, Any]:
    """`finance-report:<key>` -> value of pull request `pr`'s stack (pure)."""
    try:
        env = naming.pr_env(pr)
    except ValueError as err:
        raise PrEnvError(str(err)) from None
    config: dict[str, Any] = {f"{PROJECT}:env": env}
    prefix = f"{PROJECT}:"
    try:  # a base stack file may still use a renamed key's old name
        current, _ = current_keys({k[len(prefix) :]: v for k, v in base.items() if k.startswith(prefix)})
    except ConfigError as err:
        raise PrEnvError(str(err)) from None
    base = {f"{prefix}{k}": v for k, v in current.items()}
    for key in template.inherit:
        full = f"{PROJECT}:{key}"
        if full in base:
            config[full] = typed(key, base[full])
    for key, value in template.config.items():
        config[f"{PROJECT}:{key}"] = value
    if image_tag:
        config[f"{PROJECT}:imageTag"] = image_tag
    return config


def stack_file_text(pr: int, config: Mapping[str, Any], existing: Mapping[str, Any] | None = None) -> str:
    """The YAML of Pulumi.pr<N>.yaml; `existing` is the current file's document, whose encrypted values
    and secrets-provider settings are kept."""
    document: dict[str, Any] = {}
    kept_config: dict[str, Any] = {}
    if existing:
        document.update({k: existing[k] for k in TOP_LEVEL_KEPT if k in existing})
        for key, value in (existing.get("config") or {}).items():
            if isinstance(value, dict) and set(value) == {"secure"} and key not in config:
                kept_config[key] = value
    document["config"] = {**dict(config), **kept_config}
    header = (
        f"# PR environment of pull request #{pr}: generated by `uv run invoke pr-env --pr {pr}` from\n"
        f"# ops/pr_env.template.yaml and the base stack's file. Not committed; regenerate it instead of editing.\n"
    )
    text = header + yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=200)
    # What the CLI reads back must be what was meant (YAML 1.2 strings, e.g. a tag of digits stays text).
    parsed = parse_stack_file(text.encode(), f"Pulumi.pr{pr}.yaml")
    for key, value in config.items():
        if parsed.config.get(key) != engine_text(value):
            raise PrEnvError(f"{key} would be read back as {parsed.config.get(key)!r}, not {engine_text(value)!r}")
    return text


def capacity_problem(env: str, existing_stacks: Sequence[str], max_envs: int) -> str | None:
    """Why a new PR env may not start: `existing_stacks` are the project's stack names."""
    pr_envs = sorted({name.rsplit("/", 1)[-1] for name in existing_stacks} - {env}, key=lambda n: (len(n), n))
    pr_envs = [n for n in pr_envs if naming.is_pr_env(n)]
    if env in {name.rsplit("/", 1)[-1] for name in existing_stacks}:
        return None  # an update of a running PR env takes no more room
    if len(pr_envs) >= max_envs:
        running = ", ".join(pr_envs) or "none"
        return (
            f"{len(pr_envs)} PR env(s) run already ({running}) and maxPrEnvs is {max_envs}: close "
            "one, or raise maxPrEnvs after checking the host memory budget (`uv run invoke plan --stack "
            "staging`)"
        )
    return None


def stack_names(text: str, label: str) -> list[str]:
    """Names from `pulumi stack ls --json` (a list of objects with `name`)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise PrEnvError(
            f"{label}: not JSON ({err.msg} at line {err.lineno}); expected the output of `pulumi stack ls --json`"
        ) from None
    if not isinstance(doc, list) or not all(isinstance(e, dict) and isinstance(e.get("name"), str) for e in doc):
        raise PrEnvError(f"{label}: expected a JSON list of stacks with a name, as `pulumi stack ls --json` prints")
    return [e["name"] for e in doc]


def generate(
    pr: int, out_dir: Path = ROOT, image_tag: str | None = None, template_path: Path = TEMPLATE, root: Path = ROOT
) -> tuple[Path, dict[str, Any]]:
    """Write the PR env's stack file; return its path and the stack config."""
    template = load_template(template_path)
    try:
        base, _ = read_stack_file(root / f"Pulumi.{template.base}.yaml")
    except StackFileError as err:
        raise PrEnvError(str(err)) from None
    config = pr_env_config(pr, base, template, image_tag)
    env = config[f"{PROJECT}:env"]
    stack_path = out_dir / f"Pulumi.{env}.yaml"
    existing = yaml.safe_load(stack_path.read_text()) if stack_path.exists() else None
    text = stack_file_text(pr, config, existing)
    out_dir.mkdir(parents=True, exist_ok=True)
    stack_path.write_text(text)
    return stack_path, config


def main(pr: Any, out_dir: str | None = None, image_tag: str | None = None, existing_stacks: str | None = None) -> int:
    try:
        if pr in (None, ""):
            raise PrEnvError("--pr is required: the pull request's number, such as 42")
        # Digits without a leading zero: `042` is not silently pr42 (another pull request's env).
        if not str(pr).isdigit() or (len(str(pr)) > 1 and str(pr).startswith("0")):
            hint = " (digits, no leading zero)" if str(pr).isdigit() else ""
            raise PrEnvError(f"--pr = {pr!r} is invalid: expected a pull-request number such as 42{hint}")
        number = int(str(pr))
        env = naming.pr_env(number) if 0 < number < 10**9 else None
        if env is None:
            raise PrEnvError(f"--pr = {pr!r} is invalid: expected a pull-request number from 1 to 999999999")
        target = Path(out_dir) if out_dir else ROOT
        if existing_stacks is not None:
            try:
                names = stack_names(Path(existing_stacks).read_text(), existing_stacks)
            except OSError as err:
                raise PrEnvError(f"cannot read {existing_stacks}: {err.strerror}") from None
            template = load_template()
            try:
                base, _ = read_stack_file(ROOT / f"Pulumi.{template.base}.yaml")
            except StackFileError as err:
                raise PrEnvError(str(err)) from None
            limit = int(pr_env_config(number, base, template).get(f"{PROJECT}:maxPrEnvs", 0))
            problem = capacity_problem(env, names, limit)
            if problem:
                print(f"pr-env: {problem}", file=sys.stderr)
                return 1
        stack_path, _ = generate(number, target, image_tag)
    except PrEnvError as err:
        print(f"pr-env: {err}", file=sys.stderr)
        return 2
    plan = f"uv run invoke plan --stack {env}" + (f" --config-file {stack_path}" if out_dir else "")
    print(f"pr-env: wrote {stack_path}; next: `{plan}`")
    return 0


def deployer_policy(base_file: Path | None = None) -> str:
    """The PR envs' deploy token's policy (docs/pr-environments.md), pinned to what every PR env
    inherits from the base stack: the Vault mounts, vaultAgentCidrs and secretIdTtlDays."""
    cfg = load_stack(load_template().base, base_file).config
    return deployer_policy_hcl(
        cfg.vault_kv_mount, cfg.vault_approle_mount, cfg.vault_agent_cidrs, cfg.secret_id_ttl_days * 86400
    )
