"""The config a CI preview runs with instead of the stack file's deploy connection (docs/ci-credentials.md).

A preview runs the branch's own program, so it gets read-only credentials: the Docker host is reached as
the preview ssh user, whose key is forced into the stack's read-only Docker API proxy, and the Vault
provider uses the preview token itself (it may not create child tokens). Everything else is the stack
file's. The preview workflow passes the printed map to pulumi/actions' `config-map`; nothing is written
to the stack file.

`uv run python -m ci.preview_config --stack staging` prints one JSON object; exit 2 with one line on
stderr for bad input (a stack without `previewDockerProxy: true` has no read-only path to preview with).

`--github-output FILE` is how the preview workflow calls it: the tool itself appends the step outputs to
FILE (`$GITHUB_OUTPUT`), so its failure is the step's failure (a `$(...)` inside `echo` would hide it).
A stack with the proxy gets `preview=true` and `config-map=<json>`; a stack without it gets
`preview=false` and a `::notice` saying no preview runs and why (exit 0: no read-only path is a known
state of a stack, not an error, and the workflow skips the preview and its credentials); bad input is
exit 2 with nothing written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from config.errors import ConfigError
from config.stack_config import StackConfig, load_config
from config.stack_file import StackFileError, read_stack_file
from facts.project import PROJECT
from ops.program_run import ROOT, with_missing_secrets

PREVIEW_SSH_USER = "fr-preview"


class PreviewConfigError(Exception):
    """Bad input: one line, exit 2."""


def preview_docker_host(docker_host: str, user: str = PREVIEW_SSH_USER) -> str:
    """The stack's Docker host with the preview user: ssh://deploy@host:22 -> ssh://fr-preview@host:22."""
    parts = urlsplit(docker_host)
    if parts.scheme != "ssh" or not parts.hostname:
        raise PreviewConfigError(f"dockerHost {docker_host} is not ssh://user@host[:port]")
    port = f":{parts.port}" if parts.port else ""
    return f"ssh://{user}@{parts.hostname}{port}"


def config_map(cfg: StackConfig) -> dict[str, dict[str, object]]:
    """pulumi/actions `config-map`: {"<project>:<key>": {"value": ..., "secret": false}}."""
    if not cfg.preview_docker_proxy:
        raise PreviewConfigError(
            f"stack {cfg.env} has no read-only Docker path for previews: set previewDockerProxy: true in "
            f"Pulumi.{cfg.env}.yaml "
            "after the host setup in docs/ci-credentials.md (the read-only Docker path)"
        )
    values = {"dockerHost": preview_docker_host(cfg.docker_host), "vaultSkipChildToken": "true"}
    return {f"{PROJECT}:{key}": {"value": value, "secret": False} for key, value in values.items()}


def load(stack: str, config_file: Path | None = None) -> StackConfig:
    try:
        config, secret_keys = read_stack_file(config_file or ROOT / f"Pulumi.{stack}.yaml")
    except StackFileError as err:
        raise PreviewConfigError(str(err)) from None
    config, secret_keys = with_missing_secrets(config, secret_keys)  # reads no secret
    prefix = f"{PROJECT}:"
    raw = {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}
    try:
        return load_config(raw, stack, frozenset(k[len(prefix) :] for k in secret_keys if k.startswith(prefix)))
    except ConfigError as err:
        raise PreviewConfigError(str(err)) from None


def github_outputs(cfg: StackConfig) -> str:
    """The step outputs for `--github-output`: `preview=false` for a stack without the read-only proxy,
    else `preview=true` and the one-line `config-map`."""
    if not cfg.preview_docker_proxy:
        return "preview=false\n"
    return f"preview=true\nconfig-map={json.dumps(config_map(cfg), sort_keys=True)}\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.preview_config", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--config-file", type=Path)
    parser.add_argument(
        "--github-output",
        type=Path,
        help="append preview=true|false and config-map to this file ($GITHUB_OUTPUT); no proxy is preview=false, "
        "exit 0",
    )
    args = parser.parse_args(argv)
    try:
        cfg = load(args.stack, args.config_file)
        if args.github_output is None:
            print(json.dumps(config_map(cfg), sort_keys=True))
            return 0
        outputs = github_outputs(cfg)
    except PreviewConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    with args.github_output.open("a", encoding="utf-8") as out:
        out.write(outputs)
    if cfg.preview_docker_proxy:
        print(outputs.splitlines()[1].removeprefix("config-map="))
    else:
        print(
            f"::notice title=No pulumi preview of {cfg.env}::stack {cfg.env} has no read-only Docker path "
            f"(previewDockerProxy is off in Pulumi.{cfg.env}.yaml), so no preview runs and no preview "
            "credential is used; "
            "docs/ci-credentials.md says how to set it up"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
