"""The confirmation question the operator commands ask before they change anything (backup, restore,
rotate, rollback): `<question> [y/N] `, yes only for y or yes.

Standard input at its end (`</dev/null`, a CI step, a closed pipe) cannot answer: that is
`NoConfirmation`, one line naming `--yes`, and the command exits 1 ("not done") exactly as for a no,
never with a traceback and never with 2 ("bad input": nothing was wrong with the command line).
"""

from __future__ import annotations

from collections.abc import Callable

NO_ANSWER = "no confirmation (standard input is closed): pass --yes to run without asking"


class NoConfirmation(Exception):
    """The question could not be answered: one line, exit 1, nothing done."""

    def __init__(self, message: str = NO_ANSWER):
        super().__init__(message)


def ask(question: str, read: Callable[[str], str] = input) -> bool:
    try:
        answer = read(f"{question} [y/N] ")
    except EOFError:
        raise NoConfirmation() from None
    return answer.strip().lower() in ("y", "yes")
