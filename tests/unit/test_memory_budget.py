"""The host memory budget (ci/memory_budget.py) over the real program: what it counts comes from the
containers' captured memory limits; a rolling container counts twice (old and new revision during a
cutover); PR envs count maxPrEnvs times; disagreeing stacks, an over-budget host and the plan's
report and exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ci.memory_budget import Budget, StackMemory, committed_stacks, host_budget, stack_memory
from tests.conftest import ROOT, run_stack


def project(tmp_path: Path, **changes: dict[str, str]) -> Path:
    """A copy of the committed stack files with some values replaced (stack -> {key: value})."""
    for stack in ("production", "staging"):
        text = (ROOT / f"Pulumi.{stack}.yaml").read_text()
        for key, value in changes.get(stack, {}).items():
            lines = [line for line in text.splitlines() if not line.strip().startswith(f"finance-report:{key}:")]
            text = "\n".join(lines) + f"\n  finance-report:{key}: {value}\n"
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(text)
    return tmp_path


def test_a_stack_counts_every_containers_limit_and_its_rolling_ones_twice(production):
    memory = stack_memory("production", production)
    containers = production.by_type("docker:index/container:Container")
    rolling = [c for c in containers if c.options["deleteBeforeReplace"] is False]
    assert sorted(c.name for c in rolling) == ["app-backend", "app-frontend"]
    assert memory.steady_mb == sum(int(c.inputs["memory"]) for c in containers) > 0
    assert memory.rolling_mb == sum(int(c.inputs["memory"]) for c in rolling) > 0


def test_a_larger_backend_limit_raises_the_peak_twice_over():
    base = stack_memory("staging", run_stack("staging"))
    bigger = stack_memory("staging", run_stack("staging", {"backendMemoryMb": "868"}))
    assert bigger.peak_mb - base.peak_mb == 2 * 100


def test_the_committed_stacks_share_one_host_and_fit_its_budget(tmp_path):
    # The committed files alone (a user's own stack beside them is theirs to size)
    budget = host_budget("production", root=project(tmp_path))
    assert committed_stacks(project(tmp_path)) == ["production", "staging"]
    assert budget.host == "dokploy.zitian.party" and budget.problems == [] and not budget.over
    assert [s.stack for s in budget.stacks] == ["production", "staging"]
    assert budget.pr_env is not None and budget.pr_env.peak_mb < min(s.peak_mb for s in budget.stacks)
    assert budget.peak_mb == sum(s.peak_mb for s in budget.stacks) + budget.max_pr_envs * budget.pr_env.peak_mb


def test_pr_envs_count_max_pr_envs_times(tmp_path):
    none = host_budget("staging", root=project(tmp_path, production={"maxPrEnvs": "0"}, staging={"maxPrEnvs": "0"}))
    three = host_budget("staging", root=project(tmp_path, production={"maxPrEnvs": "3"}, staging={"maxPrEnvs": "3"}))
    assert none.pr_env is None and none.problems == []
    assert three.peak_mb - none.peak_mb == 3 * three.pr_env.peak_mb


def test_a_host_that_is_too_small_fails_and_says_by_how_much(tmp_path):
    root = project(tmp_path, production={"hostMemoryMb": "4096"}, staging={"hostMemoryMb": "4096"})
    budget = host_budget("production", root=root)
    assert budget.over
    assert budget.problems == [
        f"the peak, {budget.peak_mb} MiB, exceeds hostMemoryMb 4096 MiB: lower memory limits or "
        "maxPrEnvs, or give the host more memory"
    ]


def test_stacks_on_one_host_must_agree_on_its_memory(tmp_path):
    root = project(tmp_path, staging={"hostMemoryMb": "8192"})
    budget = host_budget("production", root=root)
    assert (
        budget.problems[0]
        == "hostMemoryMb differs between the stacks on dokploy.zitian.party: production 20480, staging 8192; "
        "set the same value in each"
    )


def test_a_stack_on_another_host_is_not_counted(tmp_path):
    root = project(tmp_path, staging={"dockerHost": "ssh://deploy@other.zitian.party", "hostMemoryMb": "8192"})
    budget = host_budget("production", root=root)
    assert [s.stack for s in budget.stacks] == ["production"]
    assert budget.problems == ["maxPrEnvs is 2 but PR envs are based on staging, which deploys to another host"]


def test_a_half_written_stack_on_another_host_does_not_stop_this_hosts_budget(tmp_path):
    """A user's new stack, as `invoke new-stack` leaves it before its values are set (no vaultAddress here),
    on a host of its own: nothing about it can change this host's budget, so it must not stop the plan."""
    root = project(tmp_path)
    (root / "Pulumi.mine.yaml").write_text(
        "config:\n  finance-report:domain: mine.example.org\n"
        "  finance-report:dockerHost: ssh://deploy@mine.example.org\n"
    )
    budget = host_budget("production", root=root)
    assert [s.stack for s in budget.stacks] == ["production", "staging"]
    assert budget.problems == []


def test_a_broken_stack_on_the_same_host_is_bad_input_naming_its_file(tmp_path):
    import pytest

    from ops.command import OperatorError

    root = project(tmp_path)
    (root / "Pulumi.mine.yaml").write_text(
        "config:\n  finance-report:domain: mine.example.org\n"
        "  finance-report:dockerHost: ssh://deploy@dokploy.zitian.party\n"
    )
    with pytest.raises(OperatorError) as err:
        host_budget("production", root=root)
    assert err.value.exit_code == 2
    assert str(err.value).startswith("Pulumi.mine.yaml: config finance-report:vaultAddress = (not set) is invalid")


def test_zero_host_memory_is_reported_as_not_checked():
    budget = Budget("h", 0, 2, [StackMemory("s", 10**6, 10**6)])
    assert not budget.over and budget.lines() == ["Host memory budget (h): not checked (hostMemoryMb is 0)"]


def run_plan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "invoke", "plan", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_the_offline_plan_reports_the_budget_and_fails_when_it_is_exceeded(tmp_path):
    proc = run_plan("--stack", "production")
    assert proc.returncode == 0, proc.stderr
    assert (
        "Host memory budget (dokploy.zitian.party): peak " in proc.stdout and "of hostMemoryMb 20480 MiB" in proc.stdout
    )
    small = tmp_path / "Pulumi.production.yaml"
    small.write_text((ROOT / "Pulumi.production.yaml").read_text().replace("hostMemoryMb: 20480", "hostMemoryMb: 2048"))
    proc = run_plan("--stack", "production", "--config-file", str(small), "--json")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["memoryBudget"]["over"] is True and doc["memoryBudget"]["hostMemoryMb"] == 2048
    policies = {v["policy"] for v in doc["violations"] if v["enforcementLevel"] == "mandatory"}
    assert policies == {"host-memory-budget"}


def test_the_pr_environments_page_shows_the_budget_the_plan_prints_today():
    """docs/pr-environments.md's "Today:" block is what `uv run invoke plan --stack staging` prints for the budget: a
    container added to the program (the backup service once) changes both."""
    import re

    page = (ROOT / "docs/pr-environments.md").read_text()
    block = re.search(r"when the peak exceeds `hostMemoryMb`\. Today \([^)]*\):\n\n```\n(.*?)```", page, re.S)
    assert block, "docs/pr-environments.md's memory budget block is missing"
    assert block.group(1) == "\n".join(host_budget("staging").lines()) + "\n", (
        "docs/pr-environments.md's memory budget is stale: `uv run invoke readme-tables` prints it"
    )


def test_a_stack_file_with_the_old_key_maxpreviewenvs_still_counts_its_pr_envs(tmp_path):
    """maxPreviewEnvs was renamed maxPrEnvs (config/schema.RENAMED_KEYS); a stack file not yet renamed counts
    the same and agrees with a renamed one."""
    (tmp_path / "old").mkdir(), (tmp_path / "new").mkdir()
    old = project(tmp_path / "old", production={"maxPrEnvs": "0"}, staging={"maxPrEnvs": "0"})
    for stack in ("production", "staging"):
        path = old / f"Pulumi.{stack}.yaml"
        path.write_text(path.read_text().replace("finance-report:maxPrEnvs: 0", "finance-report:maxPreviewEnvs: 3"))
    renamed = host_budget("staging", root=project(tmp_path / "new", staging={"maxPrEnvs": "3"}))
    budget = host_budget("staging", root=old)
    assert budget.problems == [] and budget.max_pr_envs == 3
    assert budget.peak_mb == renamed.peak_mb
