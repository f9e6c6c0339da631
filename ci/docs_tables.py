"""Every generated file and block of the project, and `uv run invoke docs`, which writes them all in place.

A generated block sits in a hand-written page between a start and an end line: mostly
`<!-- generated: NAME (uv run invoke docs) -->` and `<!-- end generated -->`; where a test reads the block by
its surroundings (docs/architecture.md's own marker, docs/pr-environments.md's fenced budget, Pulumi.yaml's
`config:` block, which runs to the end of the file) the start and end are those surroundings. A generated file
is written whole (docs/vault/*.hcl, docs/images/production.{dot,svg}). The tests fail when a committed page or
file differs from what `generated()` returns (tests/unit/test_docs_tables.py and the drift test of each
block's own module).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.command import OperatorError, run_task
from ops.program_run import run_program

ROOT = Path(__file__).resolve().parent.parent
END = "<!-- end generated -->"
DIAGRAM_STACKS = ("production",)
"""The stacks whose deployment picture is committed under docs/images/ (README shows production's)."""


def begin(name: str) -> str:
    return f"<!-- generated: {name} (uv run invoke docs) -->\n"


@dataclass(frozen=True)
class Block:
    """The text of `page` between `start` and `end` (None: the end of the file) is what `make` returns."""

    name: str
    make: Callable[[], str]
    start: str | None = None
    """Default: begin(name)."""
    end: str | None = END

    @property
    def opening(self) -> str:
        return self.start if self.start is not None else begin(self.name)


# ------------------------------------------------------------------------------------------ what each block is


def exit_codes() -> str:
    from ops.command import exit_code_table

    return exit_code_table()


def _shown(value: Any) -> str:
    """A cell: a scalar as production has it; an object by its keys (their values carry revision hashes
    that change with every program change)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"`{k}`" for k in value) + "}"
    return f"`{json.dumps(value)}`"


def outputs() -> str:
    """docs/outputs.md's table: every stack output the program exports, production's value, what it is."""
    from ops.stack_context import load_stack
    from program.stack import OUTPUTS

    context = load_stack("production")
    run = context.plan()
    proxied = {**context.engine_config, "finance-report:previewDockerProxy": "true"}
    with_proxy = run_program("production", proxied, context.secret_keys)
    rows = ["| output | production | what it is |", "|---|---|---|"]
    for key, meaning in OUTPUTS.items():
        if key in run.outputs:
            shown = _shown(run.outputs[key])
        elif key in with_proxy.outputs:
            shown = "(only with previewDockerProxy) " + _shown(with_proxy.outputs[key])
        else:
            raise ValueError(f"program.stack.OUTPUTS names {key}, which the program never exports")
        rows.append(f"| `{key}` | {shown} | {meaning} |")
    missing = sorted((set(run.outputs) | set(with_proxy.outputs)) - set(OUTPUTS))
    if missing:
        raise ValueError(f"the program exports {', '.join(missing)} without a line in program.stack.OUTPUTS")
    return "\n".join(rows) + "\n"


def commands() -> str:
    from ci.commands import commands_table

    return commands_table()


def rotation() -> str:
    from ops.rotate import readme_table

    return readme_table()


def logs_services() -> str:
    from ops.logs import readme_services

    return readme_services() + "\n"


def memory_budget() -> str:
    from ci.memory_budget import host_budget

    return "\n".join(host_budget("staging").lines()) + "\n"


def config_table() -> str:
    from ci.config_reference import readme_table

    return readme_table()


def policy_table() -> str:
    from ci.config_reference import policy_table

    return policy_table()


def project_config() -> str:
    import yaml

    from ci.config_reference import project_config_block

    return str(yaml.safe_dump({"config": project_config_block()}, sort_keys=False, width=120))


def architecture() -> str:
    from ci.architecture import markdown

    return markdown()


# page -> its generated blocks
SECTIONS: dict[str, list[Block]] = {
    "README.md": [Block("commands", commands)],
    "docs/troubleshooting.md": [Block("exit-codes", exit_codes)],
    "docs/outputs.md": [Block("outputs", outputs)],
    "docs/rotation.md": [Block("rotation", rotation)],
    "docs/logs-and-status.md": [Block("logs-services", logs_services)],
    # tests/unit/test_memory_budget.py reads the fenced block after this sentence
    "docs/pr-environments.md": [
        Block(
            "memory-budget",
            memory_budget,
            start="`uv run invoke docs` writes it here):\n\n```\n",
            end="```",
        )
    ],
    "docs/configuration.md": [Block("config", config_table)],
    "docs/policies.md": [Block("policies", policy_table)],
    # tests/unit/test_layers.py reads ci.architecture's own markers
    "docs/architecture.md": [
        Block("architecture", architecture, start="<!-- generated: uv run invoke architecture -->\n")
    ],
    "Pulumi.yaml": [
        Block("config", project_config, start="# Generated from config/schema.py by `uv run invoke docs`.\n", end=None)
    ],
}


def section(text: str, name: str) -> str:
    """The current text of the marked section `name` in a page; ValueError when the page lacks it."""
    match = re.search(re.escape(begin(name)) + r"(.*?)" + re.escape(END), text, re.S)
    if match is None:
        raise ValueError(f"no generated section {name}")
    return match.group(1)


def rendered(page: str, text: str) -> str:
    """The page with each of its blocks replaced by what the tools print now; ValueError when the page lacks
    one of them (a hand edit that removed a marker)."""
    for block in SECTIONS[page]:
        opening = block.opening
        if opening not in text:
            raise OperatorError(
                f"{page} has no generated block {block.name}: its start line {opening.strip()!r} is gone; put it "
                "back (git diff shows where it was), then run this again"
            )
        start = text.index(opening) + len(opening)
        end = len(text) if block.end is None else text.index(block.end, start)
        text = text[:start] + block.make() + text[end:]
    return text


# ------------------------------------------------------------------------------------------ generated files


def generated_files(root: Path = ROOT) -> dict[Path, str]:
    """Every file written whole, by path under `root`: the Vault policies and the deployment pictures."""
    from ci import diagram, vault_policies
    from ops.stack_context import load_stack

    files = {root / f.path.relative_to(ROOT): f.hcl for f in vault_policies.policy_files()}
    for stack in DIAGRAM_STACKS:
        context = load_stack(stack)
        source = diagram.dot_source(context.plan(), context.config.image_tag)
        files[root / "docs" / "images" / f"{stack}.dot"] = source
        files[root / "docs" / "images" / f"{stack}.svg"] = diagram.svg(source)
    return files


def generated(root: Path = ROOT) -> dict[Path, str]:
    """Every generated file's whole text as the tools make it now: pages with their blocks, whole files."""
    pages = {root / page: rendered(page, (root / page).read_text()) for page in SECTIONS}
    return {**pages, **generated_files(root)}


def stale(files: dict[Path, str], root: Path = ROOT) -> list[Path]:
    """Policy files under docs/vault/ that no builder makes any more (`generated()` lacks them)."""
    return sorted(set((root / "docs" / "vault").glob("*.hcl")) - set(files))


def write_docs(root: Path = ROOT) -> list[Path]:
    """`uv run invoke docs`: write every generated file and block under `root` in place and remove stale
    policy files; return the files that changed."""
    files = generated(root)
    changed = []
    for path, text in files.items():
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            changed.append(path)
    for path in stale(files, root):
        path.unlink()
        changed.append(path)
    return changed


def rewrite(root: Path = ROOT) -> int:
    from graphviz import ExecutableNotFound

    try:
        changed = write_docs(root)
    except ExecutableNotFound:
        raise OperatorError(
            "graphviz's `dot` is not installed: `apt-get install graphviz` (Debian/Ubuntu) or `brew install "
            "graphviz`, then run this again"
        ) from None
    for path in changed:
        print(f"docs: rewrote {path.relative_to(root)}")
    return 0


def main() -> int:
    """`uv run invoke docs` as a command: one line and an exit code on any error (ops/command.py)."""
    return run_task("docs", rewrite)
