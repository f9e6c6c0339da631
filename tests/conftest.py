"""Shared helpers: run the real program for a stack file, with overrides, under Pulumi mocks."""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# Property tests run on loaded 2-core CI machines: a per-example deadline of Hypothesis's default 200 ms
# turns a slow example (a cold import, a busy core) into a flaky failure. What the tests time is the
# builders' correctness, not their speed (benchmarks/ measures speed).
settings.register_profile("project", deadline=5000)
settings.load_profile("project")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import config.stack_config  # noqa: E402
from config.stack_file import read_stack_file  # noqa: E402
from facts.project import PROJECT  # noqa: E402
from ops.program_run import ProgramRun, run_program, with_missing_secrets  # noqa: E402

# Every run of the program in one test session sees one moment: the secret-ids' renewal window comes from
# the clock (render.vault_artifacts.secret_id_renewal_window), and a test whose two runs straddle a window
# boundary saw every secret-id re-minted between them (CI at 2026-12-03T00:00Z, a boundary: test_rotate
# found every vault agent replaced). Tests of the renewal itself set the clock themselves (monkeypatch).

_SESSION_MOMENT = config.stack_config.clock()
config.stack_config.clock = lambda: _SESSION_MOMENT


def stacks_here() -> str:
    """The stack files in the checkout as an error message lists them (PR environments' aside): a user's own
    Pulumi.<name>.yaml beside the committed ones is listed too. Read from the folder, not from the code
    under test."""
    names = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))
    return ", ".join(n for n in names if not re.fullmatch(r"pr[1-9][0-9]*", n))


def stack_config(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    secret_overrides: Mapping[str, str] | None = None,
    seed: str = "placeholder",
) -> tuple[dict[str, str], list[str]]:
    """The stack file's config with its required secrets filled by generated values; `overrides`
    set (or with None, remove) plain keys, `secret_overrides` set secret keys."""
    config, secret_keys = read_stack_file(ROOT / f"Pulumi.{stack}.yaml")
    config, secret_keys = with_missing_secrets(config, secret_keys, seed)
    for key, value in (overrides or {}).items():
        full = f"{PROJECT}:{key}"
        if value is None:
            config.pop(full, None)
        else:
            config[full] = value if isinstance(value, str) else __import__("json").dumps(value)
    for key, value in (secret_overrides or {}).items():
        full = f"{PROJECT}:{key}"
        config[full] = value
        if full not in secret_keys:
            secret_keys.append(full)
    return config, secret_keys


def stack_policy_config(stack: str) -> dict[str, Any]:
    """The policy pack config of a committed stack, as every command derives it from its stack file."""
    from ops.policy_pack import derived
    from ops.stack_context import load_stack

    return derived(load_stack(stack))


def run_stack(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    secret_overrides: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> ProgramRun:
    config, secret_keys = stack_config(stack, overrides, secret_overrides)
    run = run_program(stack, config, secret_keys, **kwargs)
    return run


@pytest.fixture(scope="session")
def production() -> ProgramRun:
    run = run_stack("production")
    assert run.error is None, f"production program failed: {run.error}"
    return run


@pytest.fixture(scope="session")
def staging() -> ProgramRun:
    run = run_stack("staging")
    assert run.error is None, f"staging program failed: {run.error}"
    return run


@pytest.fixture(scope="session")
def staging_volumes() -> ProgramRun:
    """Staging without adopted host paths: data lives in Pulumi-managed named volumes."""
    run = run_stack("staging", {"postgresDataPath": None, "redisDataPath": None, "adoptVaultValues": "false"})
    assert run.error is None, f"staging program failed: {run.error}"
    return run


def pytest_runtest_makereport(item, call):
    """Under CI a skipped real-systems test is a failure: a layer that did not run did not pass."""
    import os

    from _pytest.reports import TestReport

    report = TestReport.from_item_and_call(item, call)
    if (
        os.environ.get("CI", "").lower() in ("1", "true", "yes")
        and report.skipped
        and item.get_closest_marker("integration")
    ):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI: {report.longrepr}"
    return report


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (README's test command: files spread over workers, `--no-loadscope-reorder`)
    the real-systems files are handed out first, the ones with the most tests first (among them the two
    backup files, about 4 minutes each alone): they mostly wait on containers, and the quick unit files
    then fill the other workers' time instead of holding the long ones back. Each file's tests stay together
    and in file order; in one process the order is pytest's own."""
    import os
    from collections import Counter

    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    per_file = Counter(item.path for item in items)
    items.sort(key=lambda item: ("integration" not in item.path.parts, -per_file[item.path], str(item.path)))
