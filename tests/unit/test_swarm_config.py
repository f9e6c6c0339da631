"""The `runtime` key and the keys of runtime swarm (config/swarm.py): a bad value stops the real program
before any resource is registered, with one line naming the key, the value and what is expected; a
containers stack reads none of the swarm keys."""

from __future__ import annotations

import secrets

import pytest

from config.errors import ConfigError
from tests.conftest import run_stack

SWARM = {"runtime": "swarm", "swarmDataNode": "dokploy"}

BAD = [
    (
        {"runtime": "kubernetes"},
        None,
        'config finance-report:runtime = "kubernetes" is invalid: expected containers or swarm',
    ),
    (
        {"runtime": "swarm"},
        None,
        'config finance-report:swarmDataNode = "" is invalid: expected the hostname of the Swarm node that holds '
        "the data (`docker node ls`) when runtime is swarm",
    ),
    (
        {**SWARM, "swarmDataNode": "-bad-"},
        None,
        'config finance-report:swarmDataNode = "-bad-" is invalid: expected a Swarm node hostname such as dokploy '
        "(docker node ls)",
    ),
    (
        {**SWARM, "backendReplicas": "0"},
        None,
        'config finance-report:backendReplicas = "0" is invalid: expected an integer from 1 to 20',
    ),
    (
        {**SWARM, "backendConstraints": ["node.labels.app=true"]},
        None,
        'config finance-report:backendConstraints = ["node.labels.app=true"] is invalid: expected a list of Swarm '
        'constraints such as ["node.labels.app==true", "node.role!=manager"] (node.hostname, node.id, node.role, '
        "node.platform.os|arch or node.labels.<key>, then == or !=, then a value)",
    ),
    (
        {**SWARM, "registryUser": "ci"},
        {"registryToken": "generated-" + secrets.token_hex(8)},
        "config finance-report:registryToken = [secret] is invalid: expected empty when runtime is swarm: Swarm "
        "would keep the pull token in its raft store with every service (use public images, or `docker login` on "
        "each node)",
    ),
]


@pytest.mark.parametrize("overrides,secret_overrides,message", BAD, ids=[m.split(" =")[0][22:] for *_, m in BAD])
def test_a_bad_swarm_setting_stops_the_program_with_one_line_and_registers_nothing(
    overrides, secret_overrides, message
):
    run = run_stack("staging", overrides, secret_overrides)
    assert isinstance(run.error, ConfigError), run.error
    assert str(run.error) == message
    assert run.resources == []
    for value in (secret_overrides or {}).values():
        assert value not in str(run.error)


def test_a_containers_stack_reads_none_of_the_swarm_keys():
    """A bad swarm value in a containers stack is not read (the key documents itself as runtime swarm only),
    and `runtime: containers` written out plans exactly what the default plans."""
    default = run_stack("staging")
    explicit = run_stack("staging", {"runtime": "containers", "backendConstraints": ["node.role==manager"]})
    assert default.error is None and explicit.error is None
    assert [(r.urn, r.inputs, r.options) for r in explicit.resources] == [
        (r.urn, r.inputs, r.options) for r in default.resources
    ]
