"""Env names with a meaning of their own (pure; shared by the program and the policy pack).

A pull request's preview environment is `pr<N>` (docs/pr-environments.md). N has no leading zero, so
the preview deployer's Vault globs (`finance_report-pr1*` ... `pr9*`, render/preview_env.py) cover
exactly these envs, and never `production`, whose name also starts with "pr". Any other env starting with
`pr` and a digit is refused (config/stack_config.py), so no committed env can fall under those globs.
"""

from __future__ import annotations

import re

PREVIEW_ENV_RE = re.compile(r"^pr[1-9][0-9]{0,8}$")
COMMITTED_ENVS = ("production", "staging")
# Previews' KV secrets live under their own subtree, so one platform-owned policy per service can read
# them (`finance_report/previews/+/<service>`) without a glob that could reach another env's paths.
PREVIEWS_KV_DIR = "previews"


def is_preview_env(env: str) -> bool:
    """Whether `env` is a pull request's preview environment: its data lives and dies with the PR."""
    return PREVIEW_ENV_RE.match(env) is not None


def looks_like_preview_env(env: str) -> bool:
    """`pr` then a digit: reserved for previews, so only `pr<N>` itself may use it."""
    return re.match(r"^pr[0-9]", env) is not None


def kv_env_prefix(env: str) -> str:
    """Where an env's KV secrets live inside the KV mount: `finance_report/<env>/`, or for a preview
    `finance_report/previews/<env>/`."""
    return f"finance_report/{PREVIEWS_KV_DIR}/{env}/" if is_preview_env(env) else f"finance_report/{env}/"
