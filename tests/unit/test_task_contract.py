"""One error wording and exit-code table for every task: each task in tasks.py (read from the invoke
Collection, so a new task fails here until it is classified) is run through invoke itself for every case
that applies to it, and each mistake is one line on stderr, `<task>: ...`, with the documented exit code:

- a stack that has no file lists the stacks there (exit 2); no stack at all says how to name one (exit 2);
- a task that drives the Pulumi CLI, on a machine without it, gives the pinned install line (exit 1);
- a task that asks, with standard input closed, says so in one line and changes nothing (exit 1);
- no message carries an errno, an exception class or a traceback (every case checks its lines).

docs/troubleshooting.md's exit-code table is generated from ops/command.py EXIT_CODES (drift-tested)."""

from __future__ import annotations

import copy
import inspect
import io
import json
import re
import sys
from pathlib import Path

import pytest
from invoke import Collection, Program

import tasks
from ops import pulumi_cli
from ops.command import EXIT_CODES, NO_ANSWER
from tests.conftest import ROOT, stacks_here
from tests.unit.fake_docker import Engine, Exec, backup_row, fake_docker

COLLECTION = Collection.from_module(tasks)
TASKS = dict(COLLECTION.tasks)
NOT_A_MESSAGE = re.compile(r"Errno|Error:|Exception|Traceback")

# Tasks that work on a stack, with the other flags that get each as far as reading the stack file.
STACK_TASKS = {
    "plan": [],
    "policy-config": [],
    "status": ["--no-http"],
    "doctor": ["--no-pull"],
    "adopt": [],
    "backup": ["--yes"],
    "backups": [],
    "restore": ["--from", "latest", "--yes"],
    "logs": ["--service", "backend"],
    "rotate": ["--what", "secret-key", "--dry-run"],
    "rollback": ["--list"],
    "preview": [],
    "up": ["--yes"],
    "diagram": [],
}
# Tasks without a stack: generators of files and docs, and the two that create a stack's file.
NO_STACK_TASKS = {
    "new-stack",
    "pr-env",
    "preview-env",
    "config-reference",
    "architecture",
    "docs",
    "readme-tables",
    "vault-policies",
}
# Tasks that run the Pulumi CLI, with the flags that get each to it.
CLI_TASKS = {
    "rotate": ["--stack", "staging", "--what", "secret-key", "--yes"],
    "rollback": ["--stack", "production", "--list"],
    "adopt": ["--stack", "staging", "--yes"],
    "preview": ["--stack", "staging"],
    "up": ["--stack", "staging", "--yes"],
}
# Tasks without --config-file say so in the missing-stack line: they run the CLI on the project's file.
NO_CONFIG_FILE = {"rollback", "preview", "up", "diagram"}


def parameters(name: str) -> set[str]:
    return {a.name for a in copy.deepcopy(TASKS[name]).get_arguments()}


def module_of(name: str) -> str:
    """The module the task hands its work to (`from ops.x import main` in its body)."""
    match = re.search(r"from ((?:ops|ci)\.\w+) import", inspect.getsource(TASKS[name].body))
    return match.group(1) if match else ""


def run(args: list[str], monkeypatch, capsys, stdin: str = "") -> tuple[int, str, str]:
    """`uv run invoke ARGS` in this process: invoke's own parser and the task, standard input `stdin`."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    with pytest.raises(SystemExit) as exited:
        # on a copy: parsing pops each flag's text out of a task's help dict (invoke/tasks.py arg_opts)
        Program(namespace=copy.deepcopy(COLLECTION), version="0").run(["invoke", *args], exit=True)
    out, err = capsys.readouterr()
    # every message: `<task>: ...`, without an errno, an exception class or a traceback
    assert not NOT_A_MESSAGE.search(err), err
    assert all(line.startswith(f"{args[0]}: ") for line in err.splitlines()), err
    return int(exited.value.code or 0), out, err


@pytest.fixture
def no_pulumi(monkeypatch, tmp_path):
    """PATH without a pulumi CLI (none is installable here anyway) and no stack chosen by the environment."""
    monkeypatch.delenv("PULUMI_STACK", raising=False)
    monkeypatch.setattr(pulumi_cli.shutil, "which", lambda name, *a, **k: None if name == "pulumi" else f"/bin/{name}")


@pytest.fixture
def a_pulumi(monkeypatch, tmp_path):
    """A pulumi on PATH that nothing here runs (the cases stop before): `which` finds it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text("#!/bin/sh\necho 'stub pulumi: not to be run here' >&2\nexit 99\n")
    (bin_dir / "pulumi").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
    monkeypatch.delenv("PULUMI_STACK", raising=False)


# ------------------------------------------------------------------------------------------ the table is complete


def test_every_task_is_classified_and_the_cases_follow_its_parameters():
    assert set(TASKS) == set(STACK_TASKS) | NO_STACK_TASKS, "classify the new task here"
    assert not set(STACK_TASKS) & NO_STACK_TASKS
    for name in TASKS:
        assert ("stack" in parameters(name)) == (name in STACK_TASKS), name
        uses_cli = "missing_cli" in Path(ROOT / (module_of(name).replace(".", "/") + ".py")).read_text()
        assert uses_cli == (name in CLI_TASKS), name
        assert ("config_file" in parameters(name)) == (name in STACK_TASKS and name not in NO_CONFIG_FILE), name
    asks = {name for name in TASKS if "yes" in parameters(name)}
    assert asks == set(CLOSED_STDIN), "a task that asks needs its closed-stdin case"


# ------------------------------------------------------------------------------------------ a missing stack


@pytest.mark.parametrize("name", sorted(STACK_TASKS))
def test_a_stack_without_a_file_lists_the_stacks_there(name, monkeypatch, capsys, no_pulumi):
    code, out, err = run([name, "--stack", "nosuch", *STACK_TASKS[name]], monkeypatch, capsys)
    offer = "" if name in NO_CONFIG_FILE else ", or pass --config-file PATH"
    assert (code, err) == (
        2,
        f"{name}: no stack file Pulumi.nosuch.yaml: the stacks here are {stacks_here()}; `uv run invoke "
        f"new-stack nosuch` writes one{offer}\n",
    ), out


@pytest.mark.parametrize("name", sorted(STACK_TASKS))
def test_no_stack_at_all_says_how_to_name_one(name, monkeypatch, capsys, no_pulumi):
    code, _, err = run([name, *STACK_TASKS[name]], monkeypatch, capsys)
    assert (code, err) == (
        2,
        f"{name}: --stack is required (or PULUMI_STACK, or `pulumi stack select`): one of {stacks_here()}\n",
    )


# ------------------------------------------------------------------------------------------ a missing CLI


@pytest.mark.parametrize("name", sorted(CLI_TASKS))
def test_without_the_pulumi_cli_the_pinned_install_line(name, monkeypatch, capsys, no_pulumi):
    monkeypatch.setenv("VAULT_TOKEN", "t-generated-for-the-test")
    code, _, err = run([name, *CLI_TASKS[name]], monkeypatch, capsys)
    assert code == 1 and len(err.splitlines()) == 1, err
    assert err.startswith(
        f"{name}: the pulumi CLI is not on PATH: install the version the workflows pin (`{pulumi_cli.INSTALL}`) "
        "and put ~/.pulumi/bin on PATH (README Prerequisites); "
    ), err


# ------------------------------------------------------------------------------------------ closed stdin


def backup_host(tmp_path, staging, snapshots=None) -> tuple[Engine, str]:
    listing = Exec(frames=[(1, json.dumps(snapshots))]) if snapshots is not None else None
    return Engine(containers=[backup_row(staging)], execs=[listing] if listing else []), str(tmp_path / "d.sock")


VERIFIED = [{"id": "ab" * 32, "short_id": "abababab", "time": "2026-01-02T02:30:00Z", "tags": ["kind=db", "verified"]}]


def reach_backup(monkeypatch, tmp_path, staging):
    return backup_host(tmp_path, staging)


def reach_restore(monkeypatch, tmp_path, staging):
    return backup_host(tmp_path, staging, VERIFIED)


def deployable_checkout(monkeypatch, module) -> None:
    """A clean checkout of main's tip (the checkout guard's refusals: tests/unit/test_git_guard.py)."""
    from ops.git_guard import GitState

    monkeypatch.setattr(module, "read_git_state", lambda root: GitState("c" * 40, (), "c" * 40))


def reach_rotate(monkeypatch, tmp_path, staging):
    from ops import rotate

    deployable_checkout(monkeypatch, rotate)
    monkeypatch.setattr(rotate, "deploy_history", lambda stack: [])

    monkeypatch.setenv("VAULT_TOKEN", "t-generated-for-the-test")
    (tmp_path / "policies" / "venv").mkdir(parents=True)
    monkeypatch.setattr(rotate, "POLICY_VENV", tmp_path / "policies" / "venv")


def reach_rollback(monkeypatch, tmp_path, staging):
    from ops import rollback

    history = json.loads((ROOT / "tests/unit/fixtures/stack_history_production.json").read_text())
    monkeypatch.setattr(rollback, "engine_history", lambda stack, root: history)
    monkeypatch.setattr(rollback.pulumi_cli, "missing_policy_venv", lambda root: None)
    deployable_checkout(monkeypatch, rollback)


def reach_adopt(monkeypatch, tmp_path, staging):
    from ops import adopt

    monkeypatch.setenv("VAULT_TOKEN", "t-generated-for-the-test")
    monkeypatch.setattr(adopt, "read_vault", lambda *args, **kwargs: {})


def reach_up(monkeypatch, tmp_path, staging):
    pass  # up asks before it makes the venv or runs anything


# task -> (flags, what gets it to its question)
CLOSED_STDIN = {
    "backup": (["--stack", "staging"], reach_backup),
    "restore": (["--stack", "staging", "--from", "latest", "--no-http"], reach_restore),
    "rotate": (["--stack", "staging", "--what", "secret-key"], reach_rotate),
    "rollback": (["--stack", "production"], reach_rollback),
    "adopt": (["--stack", "staging"], reach_adopt),
    "up": (["--stack", "staging"], reach_up),
}


@pytest.mark.parametrize("name", sorted(CLOSED_STDIN))
def test_closed_stdin_is_one_line_and_changes_nothing(name, monkeypatch, capsys, tmp_path, staging, a_pulumi):
    args, reach = CLOSED_STDIN[name]
    engine = reach(monkeypatch, tmp_path, staging)
    if engine is not None:
        engine, socket_path = engine
        with fake_docker(Path(socket_path), engine) as host:
            code, out, err = run([name, *args, "--docker-host", host], monkeypatch, capsys)
        assert [c for c in engine.commands if c[1:2] != ["list"]] == [], "nothing but the listing ran"
    else:
        code, out, err = run([name, *args], monkeypatch, capsys)
    assert (code, err) == (1, f"{name}: {NO_ANSWER}; nothing changed\n"), out[-500:]
    assert out.rstrip().endswith("[y/N]"), "the question was asked"


# ------------------------------------------------------------------------------------------ wording and the table


def test_the_troubleshooting_page_shows_the_exit_code_table_as_the_code_defines_it():
    from ci.docs_tables import begin, section

    text = (ROOT / "docs/troubleshooting.md").read_text()
    assert section(text, "exit-codes") == "".join(
        ["| exit | meaning |\n", "|---|---|\n", *(f"| {c} | {m} |\n" for c, m in EXIT_CODES.items())]
    ), "docs/troubleshooting.md drifted: run `uv run invoke docs`"
    assert begin("exit-codes") in text and sorted(EXIT_CODES) == [0, 1, 2, 3, 130]


def test_every_tasks_list_line_is_a_whole_sentence():
    """`invoke --list` shows a docstring's first line only: it must not stop mid-sentence."""
    for name, task in TASKS.items():
        first = (task.__doc__ or "").strip().splitlines()[0]
        assert first.endswith(".") and len(first) <= 120, f"{name}: {first!r}"
