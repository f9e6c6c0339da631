"""tasks.py's Program: a usage error is bad input (one line, exit 2) in the program `uv run invoke` runs and in a
TasksProgram built as a library program, while every other invoke Program in the process keeps invoke's own
behaviour (tasks.py changes one instance, never the class). The command line itself is tested in
test_invoke_usage.py."""

from __future__ import annotations

import copy

import invoke.main
import pytest
from invoke import Collection, Program

import tasks

COLLECTION = Collection.from_module(tasks)


def exit_of(program_class: type[Program], *args: str, capsys) -> tuple[int, str, str]:
    """`invoke ARGS` through a program of that class, on a copy of tasks.py's tasks: parsing pops each flag's
    text out of a task's help dict (invoke/tasks.py arg_opts), which other tests read."""
    program = program_class(namespace=copy.deepcopy(COLLECTION), version="0")
    with pytest.raises(SystemExit) as exited:
        program.run(["invoke", *args], exit=True)
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def test_a_tasks_program_makes_an_unknown_flag_one_line_and_exit_2(capsys):
    assert exit_of(tasks.TasksProgram, "logs", "--nope", capsys=capsys) == (2, "", "No idea what '--nope' is!\n")


def test_the_program_invoke_runs_is_a_tasks_program_once_tasks_py_is_loaded():
    assert type(invoke.main.program) is tasks.TasksProgram


def test_another_invoke_program_keeps_invokes_own_exit_code(capsys):
    """The old patch replaced Program.parse_tasks on the class: every Program in the process exited 2."""
    assert exit_of(Program, "logs", "--nope", capsys=capsys) == (
        1,
        "",
        "No idea what '--nope' is!\n",
    )


def test_a_program_run_in_this_process_leaves_every_tasks_help_for_the_next_test(monkeypatch, capsys):
    """invoke's Task.get_arguments pops each flag's text out of the task's help dict (invoke/tasks.py
    arg_opts): a Program run here on tasks.py's own Task objects emptied `tasks.rotate.help`, and
    test_rotate failed whenever xdist ran it after this file in the same worker (CI, stop 21)."""
    from tests.unit import test_task_contract

    before = {name: dict(task.help) for name, task in COLLECTION.tasks.items()}
    assert before["rotate"], "tasks.py documents rotate's flags"
    exit_of(tasks.TasksProgram, "rotate", "--help", capsys=capsys)
    exit_of(Program, "logs", "--nope", capsys=capsys)
    test_task_contract.run(["rotate", "--help"], monkeypatch, capsys)
    assert {name: dict(task.help) for name, task in COLLECTION.tasks.items()} == before
