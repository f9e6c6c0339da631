"""The program's Vault artifacts (policy HCL, KV layout, AppRole settings) on a real OpenBao server:
each service of each env reads exactly its own secret and nothing else (invariant 2)."""

from __future__ import annotations

import ipaddress
import json

import hvac.exceptions
import pytest

from tests.integration.sidecar import approle_pair

pytestmark = pytest.mark.integration

SERVICES = ("postgres", "redis", "app")
ENVS = ("production", "staging")


def login(openbao, role: str):
    role_id, secret_id = approle_pair(openbao, role)
    client = openbao.client(token="none")
    client.auth.approle.login(role_id=role_id, secret_id=secret_id)
    return client


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("service", SERVICES)
def test_each_role_reads_its_own_secret_and_nothing_else(openbao, program, env, service):
    client = login(openbao, f"finance_report-{env}-{service}")
    own = client.secrets.kv.v2.read_secret_version(
        path=f"finance_report/{env}/{service}", mount_point="secret", raise_on_deleted_version=True
    )
    assert own["data"]["data"] == program[env].kv()[service][1]
    assert client.auth.token.lookup_self()["data"]["policies"] == [f"finance_report-{env}-{service}"], (
        "no default policy"
    )

    denied = []
    for other_env in ENVS:
        for other in SERVICES:
            if (other_env, other) == (env, service):
                continue
            try:
                client.secrets.kv.v2.read_secret_version(
                    path=f"finance_report/{other_env}/{other}", mount_point="secret", raise_on_deleted_version=True
                )
            except hvac.exceptions.Forbidden:
                denied.append((other_env, other))
    assert len(denied) == len(ENVS) * len(SERVICES) - 1, "every other service and env must be denied"

    forbidden_calls = {
        "write own": lambda: client.secrets.kv.v2.create_or_update_secret(
            path=f"finance_report/{env}/{service}", secret={"x": "y"}, mount_point="secret"
        ),
        "list env": lambda: client.secrets.kv.v2.list_secrets(path=f"finance_report/{env}", mount_point="secret"),
        "list root": lambda: client.secrets.kv.v2.list_secrets(path="", mount_point="secret"),
        "read metadata of another": lambda: client.secrets.kv.v2.read_secret_metadata(
            path=f"finance_report/{env}/{'app' if service != 'app' else 'redis'}", mount_point="secret"
        ),
        "read policies": lambda: client.sys.read_acl_policy(f"finance_report-{env}-{service}"),
        "mint secret-ids": lambda: client.auth.approle.generate_secret_id(role_name=f"finance_report-{env}-{service}"),
    }
    allowed = []
    for label, call in forbidden_calls.items():
        try:
            call()
            allowed.append(label)
        except (hvac.exceptions.Forbidden, hvac.exceptions.InvalidPath):
            pass
    assert allowed == [], f"{env}/{service} was allowed: {allowed}"


def test_a_destroyed_secret_id_no_longer_logs_in(openbao, program):
    """What replacing the Pulumi-managed secret-id does to the old one: the provider deletes it by
    accessor, and it must stop working."""
    role = "finance_report-staging-redis"
    client = openbao.client()
    role_id = client.auth.approle.read_role_id(role_name=role)["data"]["role_id"]
    old = client.auth.approle.generate_secret_id(role_name=role)["data"]
    new = client.auth.approle.generate_secret_id(role_name=role)["data"]
    client.auth.approle.destroy_secret_id_accessor(role_name=role, secret_id_accessor=old["secret_id_accessor"])
    with pytest.raises(hvac.exceptions.InvalidRequest):
        openbao.client(token="none").auth.approle.login(role_id=role_id, secret_id=old["secret_id"])
    assert openbao.client(token="none").auth.approle.login(role_id=role_id, secret_id=new["secret_id"])["auth"][
        "client_token"
    ]


def test_tokens_are_bounded_as_the_program_declares(openbao, program):
    client = login(openbao, "finance_report-production-app")
    token = client.auth.token.lookup_self()["data"]
    settings = program["production"].roles()["finance_report-production-app"]
    assert 0 < token["ttl"] <= settings["token_ttl"]
    assert token["explicit_max_ttl"] == 0 and settings["token_max_ttl"] > 0


@pytest.mark.parametrize("cidrs,logs_in", [(["203.0.113.7/32"], False), (["127.0.0.1/32"], True)])
def test_vault_agent_cidrs_bind_the_roles_secret_ids_and_tokens_to_the_hosts_address(openbao, program, cidrs, logs_in):
    """vaultAgentCidrs, as the program declares it on each AppRole (secret_id_bound_cidrs and
    token_bound_cidrs): a secret-id used from another address is refused, from the bound one it logs in.
    The harness reaches OpenBao from 127.0.0.1. Applied under a role name of this test's own, so the
    other tests' roles are untouched."""
    from tests.conftest import run_stack
    from tests.integration.sidecar import Artifacts

    artifacts = Artifacts(run_stack("staging", {"vaultAddress": openbao.address, "vaultAgentCidrs": json.dumps(cidrs)}))
    settings = artifacts.roles()["finance_report-staging-app"]
    assert settings["secret_id_bound_cidrs"] == cidrs and settings["token_bound_cidrs"] == cidrs
    role = f"frh-cidr-{'open' if logs_in else 'bound'}"
    client = openbao.client()
    client.auth.approle.create_or_update_approle(role_name=role, mount_point="approle", **settings)
    role_id = client.auth.approle.read_role_id(role_name=role)["data"]["role_id"]
    secret_id = client.auth.approle.generate_secret_id(role_name=role)["data"]["secret_id"]
    agent = openbao.client(token="none")
    if logs_in:
        token = agent.auth.approle.login(role_id=role_id, secret_id=secret_id)["auth"]["client_token"]
        bound = openbao.client(token=token).auth.token.lookup_self()["data"]["bound_cidrs"]
        assert [ipaddress.ip_network(c) for c in bound] == [ipaddress.ip_network(c) for c in cidrs], (
            "the token is bound too (Vault shows /32 as the bare address)"
        )
    else:
        with pytest.raises(hvac.exceptions.VaultError, match="source address"):
            agent.auth.approle.login(role_id=role_id, secret_id=secret_id)


def test_allowed_parameters_pin_strings_booleans_and_whole_lists_but_never_a_json_number(openbao):
    """What the deploy and preview policies can pin (render.vault_artifacts.role_write_parameters;
    facts.providers.VAULT_JSON_NUMBERS_UNPINNABLE): a string, a boolean and a list compared whole (an empty,
    shorter or longer list refused), while a JSON number is matched by no allowed value, as an int or as
    a string: a number parameter is either allowed with any value or refused. So the deploy token may not
    update a role at all (DEPLOY_ROLE_NARROWING): its TTLs could not be held to the program's."""
    import requests

    root = openbao.client()
    root.sys.create_or_update_acl_policy(
        name="frh-pin-probe",
        policy='path "auth/approle/role/frh-pin-probe" {\n  capabilities = ["create", "update"]\n'
        '  allowed_parameters = {\n    "token_type" = ["service"]\n    "bind_secret_id" = [true]\n'
        '    "secret_id_bound_cidrs" = [["127.0.0.1/32", "10.0.0.0/8"]]\n    "token_ttl" = [3600, "3600"]\n  }\n}\n',
    )
    token = root.auth.token.create(policies=["frh-pin-probe"], no_default_policy=True, ttl="5m")["auth"]["client_token"]

    def status(body: dict) -> int:
        return requests.post(
            f"{openbao.address}/v1/auth/approle/role/frh-pin-probe",
            headers={"X-Vault-Token": token},
            json=body,
            timeout=10,
        ).status_code

    accepted = {
        "the pinned string": {"token_type": "service"},
        "the pinned boolean": {"bind_secret_id": True},
        "the pinned list": {"secret_id_bound_cidrs": ["127.0.0.1/32", "10.0.0.0/8"]},
        "the number as a string": {"token_ttl": "3600"},
    }
    refused = {
        "another string": {"token_type": "batch"},
        "the boolean as a string": {"bind_secret_id": "true"},
        "an empty list": {"secret_id_bound_cidrs": []},
        "a shorter list": {"secret_id_bound_cidrs": ["127.0.0.1/32"]},
        "a longer list": {"secret_id_bound_cidrs": ["127.0.0.1/32", "10.0.0.0/8", "0.0.0.0/0"]},
        "the pinned number itself, as a JSON number": {"token_ttl": 3600},
    }
    assert {what: status(body) for what, body in accepted.items()} == dict.fromkeys(accepted, 204)
    assert {what: status(body) for what, body in refused.items()} == dict.fromkeys(refused, 403)
    root.delete("auth/approle/role/frh-pin-probe")
