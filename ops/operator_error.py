"""The error an operator command ends with: one line, and its exit code (1 failed, 2 bad input)."""

from __future__ import annotations


class OperatorError(Exception):
    default_code = 2

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = self.default_code if code is None else code
