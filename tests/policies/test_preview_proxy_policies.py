"""The policy pack over a stack that runs the preview proxy: the proxy is the one container allowed the
Docker socket, and only while nothing can reach it but its own socket (no network, no published port).
Every other container with the socket, and the proxy put on a network, still fail CIS 5.31."""

from __future__ import annotations

import copy

import pytest

from ci.offline_plan import evaluate, evaluate_resources, policy_resources
from policies.registry import POLICIES
from tests.conftest import run_stack, stack_policy_config
from tests.policies.test_policies import PACK_CONFIG, hardened, resource

CONTAINER = "docker:index/container:Container"
SOCKET_POLICY = "docker-container-disallow-docker-socket"
SOCKET = {"hostPath": "/var/run/docker.sock", "containerPath": "/var/run/docker.sock"}


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_a_stack_with_the_proxy_has_no_mandatory_violation(stack):
    run = run_stack(stack, {"previewDockerProxy": "true"})
    assert run.error is None, run.error
    assert [c for c in run.by_type(CONTAINER) if c.name == "preview-docker-proxy-container"]
    violations = evaluate(run, stack_policy_config(stack), POLICIES)
    assert [v for v in violations if v.enforcementLevel == "mandatory"] == [], violations
    assert {v.policy for v in violations} <= {"vault-approle-configure-hygiene", "backup-enforce-separate-storage"}


def proxy(**changes):
    props = hardened("docker-proxy", {"traefik.enable": "false"}, networkMode="none", volumes=[SOCKET])
    props.pop("networksAdvanced")
    props.update(changes)
    return resource(CONTAINER, "preview-docker-proxy-container", props)


def socket_violations(res):
    return [v for v in evaluate_resources([res], PACK_CONFIG, POLICIES) if v.policy == SOCKET_POLICY]


def test_the_proxy_with_no_network_may_hold_the_socket():
    assert socket_violations(proxy()) == []


@pytest.mark.parametrize(
    "changes",
    [
        {"networkMode": "bridge"},
        {"networksAdvanced": [{"name": "finance_report-internal"}]},
        {"ports": [{"internal": 2375, "external": 2375}]},
    ],
)
def test_the_proxy_on_a_network_or_a_published_port_may_not_hold_the_socket(changes):
    (violation,) = socket_violations(proxy(**changes))
    assert violation.enforcementLevel == "mandatory"
    assert violation.message == (
        "Container preview-docker-proxy-container mounts the Docker socket /var/run/docker.sock and is "
        "reachable from a "
        "network or a published port (CIS 5.31); the docker-proxy must run with network_mode none."
    )


def test_any_other_container_with_the_socket_still_fails_even_without_a_network():
    props = hardened("backend", {"traefik.enable": "false"}, networkMode="none", volumes=[SOCKET])
    (violation,) = socket_violations(resource(CONTAINER, "backend", props))
    assert violation.message == "Container backend mounts the Docker socket /var/run/docker.sock (CIS 5.31)."


def test_the_real_proxy_container_fails_the_socket_policy_once_given_a_network():
    run = run_stack("staging", {"previewDockerProxy": "true"})
    (res,) = [r for r in policy_resources(run) if r.name == "preview-docker-proxy-container"]
    res = copy.deepcopy(res)
    res.props["networkMode"] = "bridge"
    assert [v.policy for v in socket_violations(res)] == [SOCKET_POLICY]
