"""Renders Pulumi.yaml's `config:` block and docs/configuration.md's table from `config.stack_config.FIELDS`.

`uv run invoke config-reference` prints both; tests fail when either file drifts from FIELDS.
"""

from __future__ import annotations

from typing import Any

from config.schema import FIELDS, Field


def project_config_block() -> dict[str, dict[str, Any]]:
    """The `config:` mapping of Pulumi.yaml. Required secrets are declared `secret: true` so the CLI
    itself refuses a plaintext value; optional secrets carry an empty default (the program rejects a
    plaintext non-empty value for them)."""
    block: dict[str, dict[str, Any]] = {}
    for spec in FIELDS:
        entry: dict[str, Any] = {"type": spec.type, "description": spec.description}
        if spec.type == "array":
            entry["items"] = {"type": "string"}
        if spec.secret and spec.required:
            entry["secret"] = True
        if not spec.required:
            entry["default"] = spec.default
        block[spec.key] = entry
    return block


def _cell(spec: Field) -> str:
    if spec.required:
        return "**required**"
    return (
        "`"
        + (
            str(spec.default).lower()
            if isinstance(spec.default, bool)
            else (repr(spec.default) if spec.default in ("", []) else str(spec.default))
        )
        + "`"
    )


def readme_table() -> str:
    rows = ["| key | type | default | secret | description |", "|---|---|---|---|---|"]
    for spec in FIELDS:
        rows.append(
            f"| `{spec.key}` | {spec.type} | {_cell(spec)} | {'yes' if spec.secret else ''} | "
            f"{spec.description.replace('|', '/')} |"
        )
    return "\n".join(rows) + "\n"


def policy_table() -> str:
    """docs/policies.md's table of the policy pack, from policies.registry."""
    from policies.registry import POLICIES

    rows = ["| policy | level | what it checks |", "|---|---|---|"]
    for policy in POLICIES:
        rows.append(f"| `{policy.name}` | {policy.enforcement_level.value} | {policy.description.replace('|', '/')} |")
    return "\n".join(rows) + "\n"
