"""The generated sections of docs/ (ci/docs_tables.py) are what the tools print now: `uv run invoke docs`
rewrites them, and a page that drifted fails here. The outputs table covers every output the program
exports, each with a line saying what it is."""

from __future__ import annotations

import pytest

from ci import docs_tables
from tests.conftest import ROOT


@pytest.mark.parametrize("page", sorted(docs_tables.SECTIONS))
def test_each_generated_section_is_what_the_tools_print(page):
    text = (ROOT / page).read_text()
    assert docs_tables.rendered(page, text) == text, f"{page} drifted: run `uv run invoke docs`"


def test_the_outputs_table_lists_every_output_of_the_program(production):
    table = docs_tables.section((ROOT / "docs/outputs.md").read_text(), "outputs")
    for key in production.outputs:
        assert f"| `{key}` |" in table, key
    assert "| `networks` | {`internal`, `vault_egress`, `backup_egress`, `traefik`} |" in table


def test_an_output_without_a_line_saying_what_it_is_fails_the_table(monkeypatch):
    from program import stack

    monkeypatch.setattr(stack, "OUTPUTS", {k: v for k, v in stack.OUTPUTS.items() if k != "image_tag"})
    with pytest.raises(ValueError, match=r"the program exports image_tag without a line in program\.stack\.OUTPUTS"):
        docs_tables.outputs()
    monkeypatch.setattr(stack, "OUTPUTS", {**stack.OUTPUTS, "image_tag": "x", "nothing": "an output never exported"})
    with pytest.raises(ValueError, match="OUTPUTS names nothing, which the program never exports"):
        docs_tables.outputs()
