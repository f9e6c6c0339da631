"""The policy pack's venv installs exactly what uv.lock locks, verified by hash (issue 16 item 4): it runs
inside `pulumi up`, beside the ssh agent and the deploy tokens, so a range resolved at install time (any
new release of any transitive dependency) was code the deploy ran unreviewed.

policies/requirements.txt is generated from uv.lock's `policy-pack` dependency group (pyproject.toml):
    uv export --only-group policy-pack --no-emit-project --format requirements-txt --frozen \\
      > policies/requirements.txt
Every line is pinned with its hashes, so pip installs it in hash-checking mode even without
--require-hashes ("Specifying --hash against any requirement will activate this mode globally": pypa/pip
docs/html/topics/secure-installs.md); every command that creates the venv passes --require-hashes too.
The Pulumi CLI never installs a local pack's requirements itself: it refuses a missing venv with the
commands to run (pulumi v3.259.0 sdk/python/toolchain/pip.go:418-438). That the hashes match the files
the index serves is shown where the venv is installed from it: .ci/run (and every workflow) installs with
--require-hashes and imports the pack."""

from __future__ import annotations

import re
import shutil
import subprocess

from ops import pulumi_cli
from tests.conftest import ROOT

EXPORT = ["export", "--only-group", "policy-pack", "--no-emit-project", "--format", "requirements-txt", "--frozen"]
REQUIREMENTS = ROOT / "policies" / "requirements.txt"


def uv() -> str:
    found = shutil.which("uv") or shutil.which("uv", path=str(ROOT / ".venv" / "bin"))
    assert found, "uv runs the tests: it must be on PATH"
    return found


def test_the_policy_requirements_are_what_uv_lock_exports_today():
    exported = subprocess.run([uv(), *EXPORT], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    assert REQUIREMENTS.read_text() == exported.stdout, (
        "policies/requirements.txt drifted from uv.lock: regenerate it with `uv "
        + " ".join(EXPORT)
        + " > policies/requirements.txt`"
    )


def test_every_requirement_is_pinned_with_a_hash():
    lines = [line for line in REQUIREMENTS.read_text().splitlines() if line.strip() and not line.startswith("#")]
    blocks: list[list[str]] = []
    for line in lines:
        if line.startswith((" ", "\t")):
            blocks[-1].append(line.strip())
        else:
            blocks.append([line])
    names = {re.split(r"[=<>!~; \[]", block[0], maxsplit=1)[0].lower() for block in blocks}
    assert len(blocks) >= 10 and {"pulumi-policy", "python-hcl2", "pulumi"} <= names, "the pack's whole closure"
    for block in blocks:
        requirement = block[0].split(" ;")[0].rstrip(" \\")
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+(\[[^\]]+\])?==[^=<>!~*]+", requirement), f"not pinned: {block[0]}"
        assert any(h.startswith("--hash=sha256:") for h in block[1:]), f"no hash: {block[0]}"


def install_commands() -> dict[str, list[str]]:
    """Every command, in the workflows, .ci/run, the docs and the tools' own advice (the workflows make the venv through
    `invoke preview|up`, i.e. ops/pulumi_cli.venv_commands), that installs the pack's
    requirements."""
    sources = {p.relative_to(ROOT).as_posix(): p.read_text() for p in (ROOT / ".github/workflows").glob("*.yml")}
    sources[".ci/run"] = (ROOT / ".ci/run").read_text()
    for page in sorted((ROOT / "docs").glob("*.md")):
        sources[page.relative_to(ROOT).as_posix()] = page.read_text()
    sources["ops/pulumi_cli.py:VENV_SETUP"] = pulumi_cli.VENV_SETUP
    found = {}
    for name, text in sources.items():
        lines = [
            line.strip() for line in text.splitlines() if "policies/requirements.txt" in line and "install" in line
        ]
        if lines:
            found[name] = lines
    return found


def test_every_install_of_the_pack_venv_requires_hashes():
    found = install_commands()
    assert {".ci/run", "docs/deploy.md", "ops/pulumi_cli.py:VENV_SETUP"} <= set(found)
    missing = {name: line for name, lines in found.items() for line in lines if "--require-hashes" not in line}
    assert missing == {}
