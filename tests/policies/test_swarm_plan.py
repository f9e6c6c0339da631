"""The offline plan of a `runtime: swarm` stack (ci/offline_plan.py, ci/memory_budget.py): the stack file an
operator writes (staging's, with the runtime switched), how the engine would replace each Swarm resource, and
the memory the stack takes per node."""

from __future__ import annotations

import pytest

from ci.memory_budget import stack_memory
from ci.offline_plan import plan, replace_plan, with_budget
from tests.conftest import ROOT, run_stack

SWARM_KEYS = "  finance-report:runtime: swarm\n  finance-report:swarmDataNode: dokploy\n"


@pytest.fixture(scope="module")
def swarm_plan(tmp_path_factory):
    path = tmp_path_factory.mktemp("swarm") / "Pulumi.staging.yaml"
    path.write_text((ROOT / "Pulumi.staging.yaml").read_text() + SWARM_KEYS)
    result = plan("staging", path)
    with_budget(result, path)
    return result


def test_the_swarm_stack_file_plans_clean_and_the_plan_says_the_approle_pair_is_in_raft(swarm_plan):
    assert swarm_plan.exit_code == 0
    assert swarm_plan.mandatory == []
    (warning,) = [w for w in swarm_plan.run.warnings if "raft" in w]
    assert "autolock" in warning and "docs/swarm.md" in warning


def test_each_swarm_resource_is_replaced_as_the_provider_would(swarm_plan):
    by_name = {r.name: r for r in swarm_plan.run.resources}
    backend = replace_plan(by_name["app-backend"])
    # updated in place but for name, mode and networks (facts.providers.REPLACE_FACTS[SERVICE]); then delete-first
    assert backend == {
        "strategy": "delete-before-replace",
        "decidedBy": "program option",
        "properties": ["mode", "name", "taskSpec.networksAdvanceds"],
        "alsoReplaceOn": [],
    }
    for name in ("app-vault-swarm-secret-id", "app-vault-config-agent.hcl", "app-task-script"):
        r = replace_plan(by_name[name])
        assert r["strategy"] == "create-before-delete" and {"data", "name"} <= set(r["properties"]), name


def test_the_plan_json_carries_the_swarm_stacks_memory_per_node_and_nothing_new_for_containers(swarm_plan):
    stacks = swarm_plan.to_json()["memoryBudget"]["stacks"]
    assert stacks["staging"]["perNodeMb"] == {"any node": 2560, "dokploy": 1984, "every node": 64}
    assert "perNodeMb" not in stacks["production"]


def test_a_swarm_stack_counts_replicas_and_one_extra_task_of_each_start_first_service():
    run = run_stack(
        "staging",
        {"runtime": "swarm", "swarmDataNode": "db1", "backendReplicas": "3", "prefectApiUrl": "https://p.zitian.party"},
    )
    memory = stack_memory("staging", run)
    # backend 3 x 768, frontend 2 x 512, worker 1 x 512 on any node; postgres 512, redis 256, three agents 3 x 64,
    # backup 1024 pinned to db1; agent-bin 64 on every node
    assert memory.nodes == {"any node": 3 * 768 + 2 * 512 + 512, "db1": 512 + 256 + 3 * 64 + 1024, "every node": 64}
    assert memory.steady_mb == sum(memory.nodes.values())
    assert memory.rolling_mb == 768 + 512 + 512
