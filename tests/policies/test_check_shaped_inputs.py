"""The policy pack on what the real engine hands it: a resource policy sees each resource's inputs AFTER
its provider's Check (pulumi/pulumi pkg/resource/deploy/step_generator.go: `inputs = resp.Properties`,
then `plugin.AnalyzerResource{Properties: inputs}`), and the Terraform bridge's Check adds the schema
defaults and a `__defaults` list to every object (facts/bridge_check.py, checked against the real
bridge in tests/unit/test_bridge_check.py). Every policy must judge those inputs as it judges the
program's own: the same violations, no more, no fewer."""

from __future__ import annotations

import copy

import pytest

from ci.offline_plan import check_shaped, evaluate_resources, policy_resources
from facts.bridge_check import check_shape, without_check_defaults
from facts.revision import revision_name
from policies import replacement
from policies.registry import POLICIES
from tests.conftest import stack_policy_config

CONTAINER = "docker:index/container:Container"


def _violations(resources, stack):
    config = stack_policy_config(stack)
    return sorted(
        (v.policy, v.enforcementLevel, v.urn, v.message) for v in evaluate_resources(resources, config, POLICIES)
    )


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_every_policy_judges_check_shaped_inputs_as_it_judges_the_programs_own(stack, request):
    run = request.getfixturevalue(stack)
    raw = _violations(policy_resources(run), stack)
    shaped = _violations(check_shaped(policy_resources(run)), stack)
    assert shaped == raw
    assert not [v for v in shaped if v[1] == "mandatory"]


def _rolling(run):
    (backend,) = [
        r for r in check_shaped(policy_resources(run)) if r.resource_type == CONTAINER and "backend" in r.name
    ]
    return backend


def _rolling_violations(resource) -> list[str]:
    found: list[str] = []
    replacement.ROLLING.validate(
        type(
            "Args",
            (),
            {
                "resource_type": resource.resource_type,
                "props": resource.props,
                "name": resource.name,
                "opts": resource.opts,
                "urn": resource.urn,
            },
        )(),
        lambda message, urn=None: found.append(message),
    )
    return found


def test_the_rolling_name_holds_on_check_shaped_inputs(production):
    backend = _rolling(production)
    assert backend.props["__defaults"] and backend.props["networkMode"] == "bridge"  # Check-shaped indeed
    assert _rolling_violations(backend) == []


def test_a_program_argument_left_out_of_the_rolling_name_still_fails_on_check_shaped_inputs(production):
    """The defaults the provider adds are not the program's arguments; everything the program set still is:
    a changed argument under the same name is a violation."""
    backend = copy.deepcopy(_rolling(production))
    backend.props["memory"] = backend.props["memory"] + 1
    assert any("not by the hash of its arguments" in m for m in _rolling_violations(backend))


def test_a_value_the_program_sets_equal_to_a_default_stays_in_the_rolling_name(production):
    """`restart` defaults to "no" in the provider: the program's own "unless-stopped" is not listed in
    `__defaults`, so it is hashed; a backend whose restart is dropped from the program but filled by the
    provider's default is another container, and its old name is a violation."""
    backend = _rolling(production)
    raw = without_check_defaults(backend.props)
    raw.pop("restart")
    shaped = check_shape(CONTAINER, raw)
    assert shaped["restart"] == "no" and "restart" in shaped["__defaults"]
    renamed = {**shaped, "name": backend.props["name"]}
    moved = copy.deepcopy(backend)
    moved.props = renamed
    assert any("not by the hash of its arguments" in m for m in _rolling_violations(moved))
    moved.props = {**shaped, "name": revision_name(backend.props["name"].rsplit("-", 1)[0], raw)}
    assert _rolling_violations(moved) == []
