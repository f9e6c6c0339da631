"""The deployment picture (`uv run invoke diagram`, ci/diagram.py) is drawn from the program's plan: every
container, network, mount, Vault path and the backup target the plan declares is in it, nothing changes
with a routine tag bump, and the committed docs/images/production.{dot,svg} are what the program and
Debian's `dot` give today (README and docs/design.md show them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ci import diagram
from facts import tokens
from tests.conftest import ROOT, run_stack

COMMITTED_DOT = ROOT / "docs/images/production.dot"
COMMITTED_SVG = ROOT / "docs/images/production.svg"


def image_tag(run) -> str:
    """The stack's imageTag, as the backend image the plan pulls carries it."""
    names = [str(r.plain_inputs()["name"]) for r in run.by_type(tokens.REMOTE_IMAGE)]
    (tag,) = {name.rsplit(":", 1)[1] for name in names if "finance_report-backend" in name}
    return tag


def test_the_committed_dot_source_is_what_production_s_plan_gives(production):
    assert diagram.dot_source(production, image_tag(production)) == COMMITTED_DOT.read_text(), (
        "docs/images/production.dot drifted from the program: run `uv run invoke diagram --stack production`"
    )


def test_the_committed_svg_is_dot_of_the_committed_source():
    """Needs Debian's graphviz: `.ci/run` installs it and stops when `dot` is missing, so there this runs;
    elsewhere without it the skip says what to install (the DOT source above is still checked)."""
    if shutil.which("dot") is None:
        pytest.skip("graphviz's dot is not installed: `apt-get install graphviz`")
    rendered = subprocess.run(
        ["dot", "-Tsvg"], input=COMMITTED_DOT.read_text(), capture_output=True, text=True, check=True
    ).stdout
    assert rendered == COMMITTED_SVG.read_text(), "run `uv run invoke diagram --stack production`"


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_everything_the_plan_declares_is_drawn(stack, production, staging):
    run = {"production": production, "staging": staging}[stack]
    picture = diagram.DeploymentPicture(run, image_tag(run))
    source = picture.graph().source
    for container in run.by_type(tokens.CONTAINER):
        assert f'"container {picture.container_name(container)}"' in source, container.urn
        for network in container.plain_inputs()["networksAdvanced"]:
            assert f'"network {network["name"]}"' in source, container.urn
        for mount in picture.mounts_of(container):
            assert f'"mount {mount.source}"' in source, container.urn
    for kv in run.by_type(tokens.KV_SECRET):
        path = f"{kv.plain_inputs()['mount']}/data/{kv.plain_inputs()['name']}"
        assert f'"vault {path}" -> "container ' in source, f"no secret flow from {path}"
    for role in run.by_type(tokens.APPROLE_ROLE):
        assert f"AppRole {role.plain_inputs()['roleName']}" in source, role.urn
    assert f"restic repository (encrypted)\\n{run.outputs['backup_repository']}" in source
    assert str(run.outputs["site_url"]) in source


def test_a_read_only_mount_points_at_its_consumer_and_an_agent_renders_into_its_volume(production):
    source = diagram.dot_source(production, image_tag(production))
    backend = '"container finance_report-backend-<revision>"'
    app_volume = next(
        m.source
        for c in production.by_type(tokens.CONTAINER)
        if c.name == "app-vault-agent"
        for m in diagram.DeploymentPicture(production, "x").mounts_of(c)
    )
    assert f'"mount {app_volume}" -> {backend} [label="ro /run/secrets/app"]' in source
    assert f'"container finance_report-app-vault-agent" -> "mount {app_volume}" [label="renders into' in source


def test_a_tag_bump_leaves_the_picture_alone_and_a_removed_container_leaves_it(production):
    """The revision suffix and the app tag are placeholders: a deploy of a new tag does not make the
    committed picture stale. A change of shape does: without prefectApiUrl there is no worker."""
    bumped = run_stack("production", {"imageTag": "v9.9.9"})
    assert bumped.error is None
    assert diagram.dot_source(bumped, "v9.9.9") == diagram.dot_source(production, image_tag(production))
    no_worker = run_stack("production", {"prefectApiUrl": None})
    assert no_worker.error is None
    source = diagram.dot_source(no_worker, image_tag(no_worker))
    assert "prefect-worker" not in source and "prefect-worker" in COMMITTED_DOT.read_text()


def run_task(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "invoke", "diagram", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_the_task_writes_the_svg_and_its_source_where_asked(tmp_path):
    if shutil.which("dot") is None:
        pytest.skip("graphviz's dot is not installed: `apt-get install graphviz`")
    done = run_task("--stack", "staging", "--out", str(tmp_path / "staging.svg"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "staging.dot").read_text().startswith("digraph finance_report_staging {")
    assert (tmp_path / "staging.svg").read_text().lstrip().startswith("<?xml")


def test_without_dot_the_task_says_how_to_get_it_in_one_line(tmp_path):
    """PATH without graphviz: one line naming the package, exit 1, no traceback (the DOT source is kept)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    done = run_task("--stack", "staging", "--out", str(tmp_path / "s.svg"), env={**os.environ, "PATH": str(bin_dir)})
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "diagram: graphviz's `dot` is not installed: `apt-get install graphviz` (Debian/Ubuntu) or `brew install "
        "graphviz`, then run this again"
    ]
    assert (tmp_path / "s.dot").exists()


def test_an_unknown_stack_is_one_line_exit_2():
    done = run_task("--stack", "nosuch")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "Pulumi.nosuch.yaml" in done.stderr


@pytest.mark.parametrize(
    "out,why",
    [
        ("x.png", "expected a path ending in .svg (the picture is SVG)"),
        ("/nonexistent-folder-for-a-test/x.svg", "expected a path in an existing folder"),
    ],
)
def test_an_out_path_that_cannot_hold_the_svg_is_bad_input_and_nothing_is_written(out, why):
    done = run_task("--stack", "staging", "--out", out)
    assert (done.returncode, done.stderr.strip()) == (2, f"diagram: --out = {out!r} is invalid: {why}")
    assert not Path("/nonexistent-folder-for-a-test").exists()
