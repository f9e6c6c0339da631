"""tasks.py's Program: a usage error is bad input (one line, exit 2) in the program `uv run invoke` runs and in a
TasksProgram built as a library program, while every other invoke Program in the process keeps invoke's own
behaviour (tasks.py changes one instance, never the class). The command line itself is tested in
test_invoke_usage.py."""

from __future__ import annotations

import invoke.main
import pytest
from invoke import Collection, Program

import tasks

COLLECTION = Collection.from_module(tasks)


def exit_of(program: Program, *args: str, capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        program.run(["invoke", *args], exit=True)
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def test_a_tasks_program_makes_an_unknown_flag_one_line_and_exit_2(capsys):
    program = tasks.TasksProgram(namespace=COLLECTION, version="0")
    assert exit_of(program, "logs", "--nope", capsys=capsys) == (2, "", "No idea what '--nope' is!\n")


def test_the_program_invoke_runs_is_a_tasks_program_once_tasks_py_is_loaded():
    assert type(invoke.main.program) is tasks.TasksProgram


def test_another_invoke_program_keeps_invokes_own_exit_code(capsys):
    """The old patch replaced Program.parse_tasks on the class: every Program in the process exited 2."""
    assert exit_of(Program(namespace=COLLECTION, version="0"), "logs", "--nope", capsys=capsys) == (
        1,
        "",
        "No idea what '--nope' is!\n",
    )
