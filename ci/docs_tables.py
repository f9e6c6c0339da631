"""The generated sections of the pages in docs/, each between `<!-- generated: NAME -->` and
`<!-- end generated -->`: `uv run invoke docs` rewrites them, tests/unit/test_docs_tables.py fails when a
page drifts from what the tools print. A page may hold hand-written text around its sections."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ops.program_run import run_program

ROOT = Path(__file__).resolve().parent.parent
END = "<!-- end generated -->"


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


# page -> section name -> what prints it
SECTIONS: dict[str, dict[str, Callable[[], str]]] = {
    "docs/troubleshooting.md": {"exit-codes": exit_codes},
    "docs/outputs.md": {"outputs": outputs},
}


def begin(name: str) -> str:
    return f"<!-- generated: {name} (uv run invoke docs) -->\n"


def section(text: str, name: str) -> str:
    """The current text of section `name` in a page; ValueError when the page lacks it."""
    match = re.search(re.escape(begin(name)) + r"(.*?)" + re.escape(END), text, re.S)
    if match is None:
        raise ValueError(f"no generated section {name}")
    return match.group(1)


def rendered(page: str, text: str) -> str:
    """The page with each of its sections replaced by what the tools print now."""
    for name, make in SECTIONS[page].items():
        content = make()
        start = text.index(begin(name)) + len(begin(name))
        end = text.index(END, start)
        text = text[:start] + content + text[end:]
    return text


def write_docs(root: Path = ROOT) -> list[Path]:
    changed = []
    for page in SECTIONS:
        path = root / page
        text = path.read_text()
        new = rendered(page, text)
        if new != text:
            path.write_text(new)
            changed.append(path)
    return changed
