"""The generated sections of docs/ (ci/docs_tables.py) are what the tools print now: `uv run invoke docs`
rewrites them, and a page that drifted fails here. The outputs table covers every output the program
exports, each with a line saying what it is."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ci import docs_tables
from ops.command import OperatorError
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


# ------------------------------------------------------------------------------------------ `uv run invoke docs`


def test_every_committed_generated_file_is_what_invoke_docs_writes():
    """The per-file form of "`invoke docs` on a clean tree changes nothing": every page with its blocks and
    every whole file (Vault policies, the diagram) equals what the command would write, and no policy file
    is left that no builder makes."""
    files = docs_tables.generated()
    drifted = sorted(str(path.relative_to(ROOT)) for path, text in files.items() if path.read_text() != text)
    assert drifted == [], f"{drifted} drifted: run `uv run invoke docs`"
    assert docs_tables.stale(files) == []
    assert {ROOT / page for page in docs_tables.SECTIONS} | {ROOT / "docs/images/production.svg"} <= set(files)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path.name}: {old!r} not found"
    path.write_text(text.replace(old, new, 1))


def test_invoke_docs_rewrites_every_hand_edited_block_and_file_and_nothing_else(tmp_path):
    """A copy of the project (the files git tracks, as they are on disk) committed in a repository of its own:
    after hand edits inside generated blocks and files, and a policy file nobody generates, `uv run invoke
    docs` brings `git status` back to clean and names exactly the files it rewrote."""
    repo = tmp_path / "project"
    for name in git(ROOT, "ls-files", "-z").split("\0"):
        source = ROOT / name
        if name and source.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "copy")
    edit(repo / "README.md", "| `uv run invoke backup` | Back up", "| `uv run invoke backup` | Back it all up")
    edit(repo / "docs/rotation.md", "| `secret-key` |", "| `the-secret-key` |")
    edit(repo / "docs/logs-and-status.md", "`backup`, or `agent:", "or `agent:")
    edit(repo / "docs/pr-environments.md", "Host memory budget (", "Host memory budget, by hand (")
    edit(repo / "docs/outputs.md", "| `env` |", "| `environment` |")
    edit(repo / "docs/troubleshooting.md", "| 130 |", "| 131 |")
    edit(repo / "docs/configuration.md", "| `domain` |", "| `domainName` |")
    edit(repo / "docs/policies.md", "| mandatory |", "| advisory |")
    edit(repo / "docs/architecture.md", "| `facts/` |", "| `facts-and-more/` |")
    edit(repo / "Pulumi.yaml", "  domain:\n    type: string\n", "  domain:\n    type: integer\n")
    policy = sorted((repo / "docs/vault").glob("*.hcl"))[0]
    policy.write_text(policy.read_text() + '\npath "secret/*" { capabilities = ["sudo"] }\n')
    (repo / "docs/vault/nobody-makes-this.hcl").write_text('path "secret/*" { capabilities = ["read"] }\n')
    (repo / "docs/images/production.svg").write_text("<svg/>\n")
    edited = set(git(repo, "status", "--porcelain").replace("?? ", " M ").split())
    edited.discard("M")

    proc = subprocess.run(
        [sys.executable, "-m", "invoke", "docs"], cwd=repo, capture_output=True, text=True, timeout=300
    )

    assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    assert git(repo, "status", "--porcelain") == "", git(repo, "diff")
    rewritten = {line.removeprefix("docs: rewrote ") for line in proc.stdout.splitlines()}
    assert rewritten == edited, proc.stdout


def test_a_page_that_lost_a_block_s_start_line_is_one_line_naming_it():
    text = (ROOT / "docs/rotation.md").read_text().replace(docs_tables.begin("rotation"), "")
    with pytest.raises(OperatorError, match=r"^docs/rotation\.md has no generated block rotation: its start line"):
        docs_tables.rendered("docs/rotation.md", text)
