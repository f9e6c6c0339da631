"""`uv run invoke preview|up`: the one way to run the engine on a stack. With a stub `pulumi` on PATH (it
records its argv and the policy config file it is handed, and exits as told) and a stub `uv` (it records
how the policy venv is made), in a copy of the project: the selected stack is respected, the policy pack
and the config derived from the stack file are always passed, the venv is created once and then reused,
`up` is followed by `status`, and the machine's or the operator's mistakes are one line each."""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ops import deploy, pulumi_cli
from ops.policy_pack import derived
from ops.stack_context import load_stack
from tests.conftest import ROOT, stack_policy_config
from tests.engine import PROGRAM_DIRS

PULUMI_STUB = r"""#!/bin/sh
log="$STUB_LOG"
printf '%s\n' "pulumi $*" >> "$log/argv"
if [ "$1" = version ]; then echo v3.272.0; exit 0; fi
if [ "$1" = stack ] && [ "$2" = --show-name ]; then
  [ -n "$STUB_SELECTED" ] && { echo "$STUB_SELECTED"; exit 0; }
  echo 'error: no stack selected' >&2; exit 255
fi
previous=""
for arg in "$@"; do
  if [ "$previous" = --policy-pack-config ]; then cp "$arg" "$log/policy-config.json"; fi
  previous="$arg"
done
if [ "$1" = preview ] && [ -n "$STUB_CONFIG_WRITE" ]; then echo "$STUB_CONFIG_WRITE" >> "Pulumi.$3.yaml"; fi
exit "${STUB_EXIT:-0}"
"""
UV_STUB = r"""#!/bin/sh
printf '%s\n' "uv $*" >> "$STUB_LOG/argv"
if [ "$1" = venv ]; then mkdir -p "$2/bin" && touch "$2/bin/python"; fi
exit "${STUB_UV_EXIT:-0}"
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project (what `invoke` and the program need), without a policy venv."""
    copy = tmp_path_factory.mktemp("project")
    for directory in (*PROGRAM_DIRS, "ci"):
        shutil.copytree(ROOT / directory, copy / directory, ignore=shutil.ignore_patterns("venv", "__pycache__"))
    for name in ("Pulumi.yaml", "Pulumi.production.yaml", "Pulumi.staging.yaml", "__main__.py", "tasks.py"):
        shutil.copy(ROOT / name, copy / name)
    return copy


@pytest.fixture
def stubs(tmp_path, project):
    """PATH with the stubs first; a fresh log and no venv in the project copy for each test."""
    shutil.rmtree(project / "policies" / "venv", ignore_errors=True)
    bin_dir, log = tmp_path / "bin", tmp_path / "log"
    bin_dir.mkdir()
    log.mkdir()
    for name, text in (("pulumi", PULUMI_STUB), ("uv", UV_STUB)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("PULUMI_STACK", "VIRTUAL_ENV")}
    env.update(PATH=f"{bin_dir}:{os.environ['PATH']}", STUB_LOG=str(log))
    return env, log


def invoke(project: Path, env: dict, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=project,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def calls(log: Path) -> list[list[str]]:
    path = log / "argv"
    return [shlex.split(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_preview_passes_the_pack_and_the_config_derived_from_the_stack_file_and_makes_the_venv_once(project, stubs):
    env, log = stubs
    proc = invoke(project, env, "preview", "--stack", "staging")
    assert proc.returncode == 0, proc.stderr
    venv = project / "policies" / "venv"
    (make_venv, install, pulumi) = [c for c in calls(log) if c[:2] != ["pulumi", "version"]]
    assert make_venv == ["uv", "venv", str(venv), "--python", "3.11"]
    assert install == [
        "uv", "pip", "install", "--require-hashes", "--python", str(venv / "bin" / "python"), "-r",
        str(project / "policies" / "requirements.txt"),
    ]  # fmt: skip
    config_path = pulumi[pulumi.index("--policy-pack-config") + 1]
    assert pulumi == [
        "pulumi", "preview", "--stack", "staging", "--policy-pack", "policies", "--policy-pack-config", config_path,
    ]  # fmt: skip
    # derived from the project copy's stack files, as the task run there derives it
    assert json.loads((log / "policy-config.json").read_text()) == derived(
        load_stack("staging", project / "Pulumi.staging.yaml"), project
    )
    assert not Path(config_path).exists(), "no copy of the policy config is left behind to drift"
    assert f"preview: {shlex.join(pulumi)}" in proc.stdout.splitlines(), "the command it runs is shown"
    # the second run reuses the venv
    (log / "argv").unlink()
    again = invoke(project, env, "preview", "--stack", "staging")
    assert again.returncode == 0 and "policy pack venv: policies/venv (reused)" in again.stdout.splitlines()
    assert [c[:2] for c in calls(log)] == [["pulumi", "preview"]]


@pytest.mark.parametrize(
    ("how", "extra_env"),
    [("PULUMI_STACK", {"PULUMI_STACK": "myorg/production"}), ("pulumi stack select", {"STUB_SELECTED": "production"})],
)
def test_without_stack_the_selected_stack_is_previewed(how, extra_env, project, stubs):
    env, log = stubs
    proc = invoke(project, {**env, **extra_env}, "preview")
    assert proc.returncode == 0, proc.stderr
    (preview,) = [c for c in calls(log) if c[1] == "preview"]
    assert preview[2:4] == ["--stack", "production"], how
    assert json.loads((log / "policy-config.json").read_text())["docker-image-disallow-unpinned"] == {
        "env": "production"
    }


def test_a_failed_pulumi_is_one_line_and_exit_1(project, stubs):
    env, _ = stubs
    proc = invoke(project, {**env, "STUB_EXIT": "255"}, "preview", "--stack", "staging")
    assert (proc.returncode, proc.stderr) == (
        1,
        "preview: `pulumi preview --stack staging` exited 255; its output above says why\n",
    )


def test_the_config_map_reaches_pulumi_as_config_and_never_stays_in_the_stack_file(project, stubs):
    """CI's read-only preview connection (ci.preview_config): pulumi saves `--config` values into the stack
    file, which the command restores."""
    from ci.preview_config import config_map

    env, log = stubs
    mapping = json.dumps(config_map(dataclasses.replace(load_stack("staging").config, preview_docker_proxy=True)))
    before = (project / "Pulumi.staging.yaml").read_bytes()
    proc = invoke(
        project,
        {**env, "STUB_CONFIG_WRITE": "  finance-report:vaultSkipChildToken: 'true'"},
        "preview",
        "--stack",
        "staging",
        "--config-map",
        mapping,
    )
    assert proc.returncode == 0, proc.stderr
    (preview,) = [c for c in calls(log) if c[1] == "preview"]
    assert preview[preview.index("--policy-pack-config") + 2 :] == [
        "--config",
        "finance-report:dockerHost=ssh://fr-preview@dokploy.zitian.party",
        "--config",
        "finance-report:vaultSkipChildToken=true",
    ]
    assert (project / "Pulumi.staging.yaml").read_bytes() == before


@pytest.mark.parametrize(
    ("config_map", "message"),
    [
        ("{nope", "--config-map is not JSON (Expecting property name enclosed in double quotes); expected the object "
         "ci.preview_config prints"),
        ('{"finance-report:s3AccessKey": {"value": "x", "secret": true}}',
         "--config-map: finance-report:s3AccessKey is marked secret; a secret never goes on a command line"),
    ],
)  # fmt: skip
def test_a_bad_config_map_is_bad_input_before_pulumi_runs(config_map, message, project, stubs):
    env, log = stubs
    proc = invoke(project, env, "preview", "--stack", "staging", "--config-map", config_map)
    assert (proc.returncode, proc.stderr) == (2, f"preview: {message}\n")
    assert [c for c in calls(log) if c[1] != "version"] == []


def test_up_with_closed_stdin_asks_and_runs_nothing(project, stubs):
    env, log = stubs
    proc = invoke(project, env, "up", "--stack", "staging")
    assert (proc.returncode, proc.stderr) == (
        1,
        "up: no confirmation (standard input is closed): pass --yes to run without asking; nothing changed\n",
    )
    assert [c for c in calls(log) if c[1] not in ("version",)] == []


def test_without_the_cli_the_pinned_install_line(project, stubs):
    env, _ = stubs
    (Path(env["PATH"].split(":")[0]) / "pulumi").unlink()
    assert shutil.which("pulumi", path=env["PATH"]) is None
    for task, args in (("preview", ["--stack", "staging"]), ("up", ["--stack", "staging", "--yes"])):
        proc = invoke(project, env, task, *args)
        assert (proc.returncode, proc.stdout) == (1, "")
        assert proc.stderr == (
            f"{task}: the pulumi CLI is not on PATH: install the version the workflows pin (`{pulumi_cli.INSTALL}`) "
            f"and put ~/.pulumi/bin on PATH (README Prerequisites); `invoke {task}` runs `pulumi {task}` with the "
            "policy pack\n"
        )


# ------------------------------------------------------------------------------------------ up, in process


class Recorder:
    def __init__(self, code: int = 0):
        self.argv: list[list[str]] = []
        self.configs: list[dict] = []
        self.code = code

    def __call__(self, argv):
        self.argv.append(list(argv))
        self.configs.append(json.loads(Path(argv[argv.index("--policy-pack-config") + 1]).read_text()))
        return self.code


@pytest.fixture
def venv_present(monkeypatch):
    made = []
    monkeypatch.setattr(deploy.pulumi_cli, "ensure_policy_venv", lambda root, say: made.append(root))
    monkeypatch.setattr(deploy.pulumi_cli.shutil, "which", lambda name: f"/usr/bin/{name}")
    return made


def test_up_runs_pulumi_up_with_the_pack_then_status_whose_code_it_returns(venv_present, capsys):
    runner, statuses = Recorder(), []
    code = deploy.main("up", "staging", yes=True, runner=runner, status=lambda s: statuses.append(s) or 1)
    assert code == 1 and statuses == ["staging"], "status's verdict is the command's"
    (argv,) = runner.argv
    assert argv[:8] == [
        "pulumi", "up", "--stack", "staging", "--policy-pack", "policies", "--policy-pack-config", argv[7],
    ] and argv[-1] == "--yes"  # fmt: skip
    assert runner.configs == [stack_policy_config("staging")] and venv_present == [ROOT]
    out = capsys.readouterr().out
    assert "up: stack staging updated; `invoke status --stack staging`:" in out
    assert out.index("up: pulumi up --stack staging") < out.index("up: stack staging updated")


def test_a_failed_up_runs_no_status(venv_present, capsys):
    statuses = []
    code = deploy.main("up", "staging", yes=True, runner=Recorder(2), status=statuses.append)
    assert (code, statuses) == (1, [])
    assert capsys.readouterr().err == "up: `pulumi up --stack staging` exited 2; its output above says why\n"


def test_a_pulumi_killed_by_a_signal_is_named_as_such_not_as_output_to_read(venv_present, capsys):
    """A crashed CLI may print nothing: "its output above says why" would send the operator to nothing."""
    statuses = []
    code = deploy.main("up", "staging", yes=True, runner=Recorder(-11), status=statuses.append)
    assert (code, statuses) == (1, [])
    assert capsys.readouterr().err == (
        "up: `pulumi up --stack staging` was killed by signal SIGSEGV: if nothing else killed it, the Pulumi CLI on "
        "PATH is broken; reinstall it (README Prerequisites: the version the workflows pin)\n"
    )


def test_up_asks_without_a_terminal_and_passes_yes_once_answered(venv_present):
    runner, asked = Recorder(), []
    code = deploy.main(
        "up",
        "staging",
        runner=runner,
        status=lambda s: 0,
        read=lambda q: asked.append(q) or "y",
        interactive=lambda: False,
    )
    assert code == 0 and asked == ["Update stack staging (pulumi up)? [y/N] "] and runner.argv[0][-1] == "--yes"
    # on a terminal pulumi itself previews and asks: no --yes, no question here
    runner = Recorder()
    assert deploy.main("up", "staging", runner=runner, status=lambda s: 0, interactive=lambda: True) == 0
    assert "--yes" not in runner.argv[0]


def test_the_venv_is_made_by_one_function_and_a_failure_leaves_none(tmp_path, monkeypatch):
    monkeypatch.setattr(pulumi_cli.shutil, "which", lambda name: f"/usr/bin/{name}")
    ran = []

    def failing_install(argv):
        ran.append(argv)
        if argv[1] == "venv":
            (tmp_path / "policies" / "venv" / "bin").mkdir(parents=True)
            (tmp_path / "policies" / "venv" / "bin" / "python").touch()
            return 0
        return 2

    with pytest.raises(deploy.OperatorError) as err:
        pulumi_cli.ensure_policy_venv(tmp_path, say=lambda line: None, run=failing_install)
    assert str(err.value).startswith(
        "creating the policy pack's venv failed: `uv pip install --require-hashes --python "
    )
    assert not (tmp_path / "policies" / "venv").exists(), "a half-made venv would be reused next time"
    assert ran == pulumi_cli.venv_commands(tmp_path)
