"""`uv run invoke new-stack NAME --domain D --docker-host H [...]`: a new stack file from the program's own
config schema (config/schema.py), and the steps from it to a first `invoke preview`.

It writes `Pulumi.NAME.yaml` with the env, the values given (each checked by its key's own rule), the
`dockerSshOpts` the committed stacks recommend, and a comment per required key still to set. It never
writes a secret: each required one is printed as the `pulumi config set --secret` command that stores it
encrypted. It never overwrites a stack file. Exit 0 written, 2 bad input (one line, nothing written).

What `pulumi stack init NAME` (an alias of `stack new`) does with the file, read in pulumi/pulumi at
1b5949891b: it reads the existing Pulumi.NAME.yaml and keeps its config
(pkg/cmd/pulumi/stack/secrets.go:133-157, readStackConfiguration); on a DIY backend (S3/MinIO, file) the
default secrets provider is a passphrase (pkg/backend/diy/backend.go:1713-1717), which stores a new
`encryptionsalt:` in the file (pkg/secrets/passphrase/manager.go:301-327), and the file is saved only
when that changed (secrets.go:321-335, io.go:450-456), as an edit that keeps its comments
(sdk/go/common/encoding/marshal.go:100-105). On Pulumi Cloud the service encrypts secrets and nothing is
added (pkg/backend/httpstate/backend.go:2933-2938).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import yaml

from config.schema import FIELDS, FIELDS_BY_KEY, Secret
from config.stack_config import stack_env
from config.stack_file import parse_stack_file, read_stack_file
from facts.envs import is_pr_env
from facts.project import PROJECT
from ops.command import bad_input, run_task
from ops.program_run import ROOT
from ops.stack_context import committed_stacks

# The flags new-stack takes, as the config keys they set.
FLAGS = {
    "domain": "domain",
    "docker_host": "dockerHost",
    "vault_address": "vaultAddress",
    "image_tag": "imageTag",
    "s3_endpoint": "s3Endpoint",
}


def flag_name(key: str) -> str:
    return "--" + next(f for f, k in FLAGS.items() if k == key).replace("_", "-")


def recommended_ssh_opts(root: Path = ROOT) -> list[str]:
    """The dockerSshOpts the committed stacks use (one ssh connection per update, no prompt in CI); none
    when they disagree or set none."""
    found = set()
    for stack in committed_stacks(root):
        config, _ = read_stack_file(root / f"Pulumi.{stack}.yaml")
        found.add(config.get(f"{PROJECT}:dockerSshOpts", "[]"))
    return json.loads(found.pop()) if len(found) == 1 else []


def checked(values: Mapping[str, str]) -> dict[str, Any]:
    """Each given value through its key's own check (a ConfigError names the key, value and expectation)."""
    result = {}
    for key, value in values.items():
        field = FIELDS_BY_KEY[key]
        assert not isinstance(field.check, Secret)  # new-stack's flags (FLAGS) are none of them secrets
        field.check(key, value)
        result[key] = value
    return result


def unset_keys(given: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(required plain keys not given, required secrets): what the operator still has to set."""
    plain = [f.key for f in FIELDS if f.required and not f.secret and f.key not in given]
    secret = [f.key for f in FIELDS if f.required and f.secret]
    return plain, secret


def stack_file_text(name: str, given: Mapping[str, Any], ssh_opts: Sequence[str]) -> str:
    """Pulumi.NAME.yaml: the env, the given values, the recommended ssh options, and a comment per
    required key still to set (a secret never)."""
    config: dict[str, Any] = {f"{PROJECT}:env": name}
    config.update({f"{PROJECT}:{key}": value for key, value in given.items()})
    if ssh_opts:
        config[f"{PROJECT}:dockerSshOpts"] = list(ssh_opts)
    plain, secret = unset_keys(given)
    header = [
        f"# Stack {name}: written by `uv run invoke new-stack {name}` from the program's config schema",
        "# (docs/configuration.md lists every key). Secrets are never written here in plaintext:",
        *(f"#   pulumi config set --secret --stack {name} {key}" for key in secret),
        "# stores each one encrypted (as a `secure:` value) after `pulumi stack init`.",
    ]
    if plain:
        header += ["# Still to set (required):"] + [
            f"#   pulumi config set --stack {name} {key} ...   # {FIELDS_BY_KEY[key].description}" for key in plain
        ]
    if ssh_opts:
        header += [
            "# dockerSshOpts: what the committed stacks use: one ssh connection for the whole update (sshd's",
            "# MaxStartups throttles bursts), host keys checked, no prompt in CI.",
        ]
    text = "\n".join(header) + "\n" + yaml.safe_dump({"config": config}, sort_keys=False, width=200)
    # What the CLI reads back must be what was meant (YAML 1.2 strings: a tag of digits stays text).
    parsed = parse_stack_file(text.encode(), f"Pulumi.{name}.yaml")
    for key, value in config.items():
        expected = json.dumps(value) if isinstance(value, list) else str(value)
        if parsed.config.get(key) != expected:
            raise bad_input(f"{key} = {value!r} would be read back as {parsed.config.get(key)!r}; quote it")
    return text


def login_lines(s3_endpoint: str | None) -> list[str]:
    host = urlsplit(s3_endpoint).netloc if s3_endpoint else "<minio-host[:port]>"
    return [
        "  pulumi login                       # Pulumi Cloud: the service encrypts the stack's secrets",
        "  # or a self-hosted S3/MinIO backend: secrets encrypted with a passphrase you keep",
        "  export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... PULUMI_CONFIG_PASSPHRASE=...",
        f"  pulumi login 's3://<state-bucket>?endpoint={host}&s3ForcePathStyle=true'",
    ]


def next_steps(name: str, path: Path, given: Mapping[str, Any], root: Path = ROOT) -> list[str]:
    plain, secret = unset_keys(given)
    where = "" if path == root / f"Pulumi.{name}.yaml" else f" --config-file {path}"
    lines = [f"new-stack: wrote {path}", "next:", "1. log in to a state backend (once per machine):"]
    lines += login_lines(given.get("s3Endpoint"))
    lines += [
        f"2. pulumi stack init {name}          # keeps {path.name}'s config; a passphrase adds encryptionsalt",
    ]
    if plain:
        lines += ["3. the required values still unset:"]
        lines += [f"  pulumi config set --stack {name} {key} ..." for key in plain]
    lines += [f"{4 if plain else 3}. the secrets (each prompts for its value; never on the command line):"]
    lines += [f"  pulumi config set --secret --stack {name} {key}" for key in secret]
    step = 5 if plain else 4
    lines += [
        f"{step}. uv run invoke plan --stack {name}{where}      # offline: the program and every policy",
        f"{step + 1}. uv run invoke preview --stack {name}   # the real engine against the host, with the policy pack",
    ]
    return lines


def new_stack(
    name: str,
    domain: str | None = None,
    docker_host: str | None = None,
    vault_address: str | None = None,
    image_tag: str | None = None,
    s3_endpoint: str | None = None,
    out_dir: str | None = None,
    out: TextIO | None = None,
    root: Path = ROOT,
) -> int:
    out = out or sys.stdout
    if not name:
        raise bad_input("a stack name is required: `uv run invoke new-stack NAME --domain ... --docker-host ...`")
    if is_pr_env(name):  # valid as an env, but a PR environment's stack comes from its template (maxPrEnvs, ...)
        raise bad_input(
            f"{name} is a PR environment's name: `uv run invoke pr-env --pr {name[2:]}` writes its stack file from "
            "ops/pr_env.template.yaml"
        )
    stack_env("", name)  # the env is the stack's name: the same rules (ConfigError: key env, the value)
    values = {
        key: value
        for key, value in zip(FLAGS.values(), (domain, docker_host, vault_address, image_tag, s3_endpoint), strict=True)
        if value
    }
    for key in ("domain", "dockerHost"):
        if key not in values:
            raise bad_input(f"{flag_name(key)} is required: {FIELDS_BY_KEY[key].description}")
    given = checked(values)
    directory = Path(out_dir) if out_dir else root
    path = directory / f"Pulumi.{name}.yaml"
    refusal = f"{path} exists already; new-stack never overwrites a stack file (edit it, or remove it first)"
    if path.exists():
        raise bad_input(refusal)
    text = stack_file_text(name, given, recommended_ssh_opts(root))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x") as created:  # "x": never over a file that appeared meanwhile
            created.write(text)
    except FileExistsError:
        raise bad_input(refusal) from None
    print("\n".join(next_steps(name, path, given, root)), file=out)
    return 0


def main(*args: Any, **kwargs: Any) -> int:
    """`uv run invoke new-stack` as a command."""
    return run_task("new-stack", new_stack, *args, **kwargs)
