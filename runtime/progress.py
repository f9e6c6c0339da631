"""Progress lines of long work (the rollout gate, `invoke backup` and `invoke restore`): each printed as it
happens, prefixed with the time since the work started (`+h:mm:ss`), so a wait of minutes or hours shows
what it is doing; silent with `quiet` (results and errors are printed by the caller either way)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


def elapsed(seconds: float) -> str:
    whole = int(seconds)
    return f"+{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


class Progress:
    def __init__(
        self,
        out: TextIO | None = None,
        quiet: bool = False,
        clock: Callable[[], float] = time.monotonic,
        say: Callable[[str], None] | None = None,
    ):
        self.out, self.quiet, self.clock = out, quiet, clock
        self.say = say
        self.start = clock()

    def __call__(self, text: str) -> None:
        if self.quiet:
            return
        line = f"{elapsed(self.clock() - self.start)} {text}"
        if self.say is not None:
            self.say(line)
        else:
            print(line, file=self.out or sys.stdout, flush=True)
