"""`uv run invoke preview-env --pr N`: the stack file of pull request N's preview env.

A preview env is its own stack `pr<N>` (docs/pr-environments.md): its own env name, hence its own
container, volume and network names, Vault policies, AppRoles, KV paths and database; smaller limits; the
previews' own S3 bucket. It is generated from ops/preview_env.template.yaml and the base stack's file
(staging): the template says which keys are copied (the platform a preview is a client of) and which are
set; a template that would copy an env's data paths, bucket, adoption state or credentials is refused.

Writes `Pulumi.pr<N>.yaml` (in --out-dir, default the project); its policy config is derived from it like
every stack's (config/policy_config.py), so nothing else is written. An existing preview stack file keeps
its encrypted values (the S3 keys `pulumi config set --secret` stored).
With --existing-stacks (the JSON of `pulumi stack ls --json`) it refuses a new preview beyond
`maxPreviewEnvs`. Exit 0 written, 1 over capacity, 2 bad input (one line on stderr).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from config.schema import FIELDS_BY_KEY
from config.stack_file import StackFileError, parse_stack_file, read_stack_file
from facts.envs import COMMITTED_ENVS
from facts.project import PROJECT
from ops.program_run import ROOT
from ops.stack_context import load_stack
from render import naming
from render.preview_env import deployer_policy_hcl

TEMPLATE = Path(__file__).resolve().parent / "preview_env.template.yaml"
# Never copied from the base stack: its names, data, adoption state, feature hooks into its services, and
# every secret. A preview derives names from its own env and gets its own credentials.
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


class PreviewEnvError(Exception):
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
        raise PreviewEnvError(f"{label}: not valid YAML: {str(err).splitlines()[0]}") from None
    if not isinstance(doc, dict) or set(doc) != {"base", "inherit", "config"}:
        raise PreviewEnvError(f"{label}: expected exactly the keys base, inherit and config")
    base, inherit, config = doc["base"], doc["inherit"] or [], doc["config"] or {}
    if base not in COMMITTED_ENVS:
        raise PreviewEnvError(
            f"{label}: base = {base!r}; expected one of the committed stacks {', '.join(COMMITTED_ENVS)}"
        )
    for key in [*inherit, *config]:
        if key not in FIELDS_BY_KEY:
            raise PreviewEnvError(f"{label}: {key} is not a config key of the program")
    for key in inherit:
        if key in NEVER_INHERITED:
            raise PreviewEnvError(
                f"{label}: inherit lists {key}, which a preview must never copy from {base} (its names, "
                "data, adoption state or credentials)"
            )
    for key in config:
        if key in NEVER_SET:
            raise PreviewEnvError(f"{label}: config sets {key}, which a preview template must not set")
    return Template(base, tuple(inherit), dict(config))


def load_template(path: Path = TEMPLATE) -> Template:
    try:
        return parse_template(path.read_text(), str(path))
    except OSError as err:
        raise PreviewEnvError(f"cannot read template {path}: {err.strerror}") from None


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


def preview_config(
    pr: int, base: Mapping[str, str], template: Template, image_tag: str | None = None
) -> dict[str, Any]:
    """`finance-report:<key>` -> value of pull request `pr`'s stack (pure)."""
    try:
        env = naming.preview_env(pr)
    except ValueError as err:
        raise PreviewEnvError(str(err)) from None
    config: dict[str, Any] = {f"{PROJECT}:env": env}
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
        f"# Preview environment of pull request #{pr}: generated by `uv run invoke preview-env --pr {pr}` from\n"
        f"# ops/preview_env.template.yaml and the base stack's file. Not committed; regenerate it instead of editing.\n"
    )
    text = header + yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=200)
    # What the CLI reads back must be what was meant (YAML 1.2 strings, e.g. a tag of digits stays text).
    parsed = parse_stack_file(text.encode(), f"Pulumi.pr{pr}.yaml")
    for key, value in config.items():
        if parsed.config.get(key) != engine_text(value):
            raise PreviewEnvError(f"{key} would be read back as {parsed.config.get(key)!r}, not {engine_text(value)!r}")
    return text


def capacity_problem(env: str, existing_stacks: Sequence[str], max_envs: int) -> str | None:
    """Why a new preview may not start: `existing_stacks` are the project's stack names."""
    previews = sorted({name.rsplit("/", 1)[-1] for name in existing_stacks} - {env}, key=lambda n: (len(n), n))
    previews = [n for n in previews if naming.is_preview_env(n)]
    if env in {name.rsplit("/", 1)[-1] for name in existing_stacks}:
        return None  # an update of a running preview takes no more room
    if len(previews) >= max_envs:
        running = ", ".join(previews) or "none"
        return (
            f"{len(previews)} preview env(s) run already ({running}) and maxPreviewEnvs is {max_envs}: close "
            "one, or raise maxPreviewEnvs after checking the host memory budget (`uv run invoke plan --stack "
            "staging`)"
        )
    return None


def stack_names(text: str, label: str) -> list[str]:
    """Names from `pulumi stack ls --json` (a list of objects with `name`)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise PreviewEnvError(
            f"{label}: not JSON ({err.msg} at line {err.lineno}); expected the output of `pulumi stack ls --json`"
        ) from None
    if not isinstance(doc, list) or not all(isinstance(e, dict) and isinstance(e.get("name"), str) for e in doc):
        raise PreviewEnvError(
            f"{label}: expected a JSON list of stacks with a name, as `pulumi stack ls --json` prints"
        )
    return [e["name"] for e in doc]


def generate(
    pr: int, out_dir: Path = ROOT, image_tag: str | None = None, template_path: Path = TEMPLATE, root: Path = ROOT
) -> tuple[Path, dict[str, Any]]:
    """Write the preview's stack file; return its path and the stack config."""
    template = load_template(template_path)
    try:
        base, _ = read_stack_file(root / f"Pulumi.{template.base}.yaml")
    except StackFileError as err:
        raise PreviewEnvError(str(err)) from None
    config = preview_config(pr, base, template, image_tag)
    env = config[f"{PROJECT}:env"]
    stack_path = out_dir / f"Pulumi.{env}.yaml"
    existing = yaml.safe_load(stack_path.read_text()) if stack_path.exists() else None
    text = stack_file_text(pr, config, existing)
    out_dir.mkdir(parents=True, exist_ok=True)
    stack_path.write_text(text)
    return stack_path, config


def main(pr: Any, out_dir: str | None = None, image_tag: str | None = None, existing_stacks: str | None = None) -> int:
    try:
        # Digits without a leading zero: `042` is not silently pr42 (another pull request's env).
        if not str(pr).isdigit() or (len(str(pr)) > 1 and str(pr).startswith("0")):
            hint = " (digits, no leading zero)" if str(pr).isdigit() else ""
            raise PreviewEnvError(f"--pr = {pr!r} is invalid: expected a pull-request number such as 42{hint}")
        number = int(str(pr))
        env = naming.preview_env(number) if 0 < number < 10**9 else None
        if env is None:
            raise PreviewEnvError(f"--pr = {pr!r} is invalid: expected a pull-request number from 1 to 999999999")
        target = Path(out_dir) if out_dir else ROOT
        if existing_stacks is not None:
            try:
                names = stack_names(Path(existing_stacks).read_text(), existing_stacks)
            except OSError as err:
                raise PreviewEnvError(f"cannot read {existing_stacks}: {err.strerror}") from None
            template = load_template()
            try:
                base, _ = read_stack_file(ROOT / f"Pulumi.{template.base}.yaml")
            except StackFileError as err:
                raise PreviewEnvError(str(err)) from None
            limit = int(preview_config(number, base, template).get(f"{PROJECT}:maxPreviewEnvs", 0))
            problem = capacity_problem(env, names, limit)
            if problem:
                print(f"preview-env: {problem}", file=sys.stderr)
                return 1
        stack_path, _ = generate(number, target, image_tag)
    except PreviewEnvError as err:
        print(f"preview-env: {err}", file=sys.stderr)
        return 2
    plan = f"uv run invoke plan --stack {env}" + (f" --config-file {stack_path}" if out_dir else "")
    print(f"preview-env: wrote {stack_path}; next: `{plan}`")
    return 0


def deployer_policy(base_file: Path | None = None) -> str:
    """The previews' deploy token's policy (docs/pr-environments.md), pinned to what every preview
    inherits from the base stack: the Vault mounts, vaultAgentCidrs and secretIdTtlDays."""
    cfg = load_stack(load_template().base, base_file).config
    return deployer_policy_hcl(
        cfg.vault_kv_mount, cfg.vault_approle_mount, cfg.vault_agent_cidrs, cfg.secret_id_ttl_days * 86400
    )
