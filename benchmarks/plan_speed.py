"""Offline plan wall time for both stacks beside the time to import the Pulumi SDKs it uses.

Each figure is measured in a fresh interpreter (imports are cached within one), median of N runs.
Usage: uv run python benchmarks/plan_speed.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMPORTS = "import pulumi, pulumi_command, pulumi_docker, pulumi_vault, pulumi_random, pulumi_policy"


def timed(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    baseline = statistics.median(timed("pass") for _ in range(runs))
    imports = statistics.median(timed(IMPORTS) for _ in range(runs))
    print(f"python startup:             {baseline:6.2f} s (median of {runs})")
    print(f"import Pulumi SDKs:         {imports:6.2f} s")
    for stack in ("production", "staging"):
        code = (
            f"import sys; sys.path.insert(0, '.'); from ci.offline_plan import plan; p = plan({stack!r}); assert "
            "p.exit_code == 0"
        )
        total = statistics.median(timed(code) for _ in range(runs))
        print(f"offline plan {stack:<11}   {total:6.2f} s  = {total / imports:4.2f} x the SDK import time")


if __name__ == "__main__":
    main()
