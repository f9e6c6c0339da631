"""The deploy Vault token of a committed env on a real OpenBao (README "The deploy Vault policy and
token"): with the policy `components.vault_artifacts.deploy_policy_hcl` builds, it makes every request
the Vault provider makes to deploy its env, in the provider's own shapes (tests/integration/
vault_provider.py), and cannot give itself another env's secrets: not by rewriting its policies' text,
not by attaching another policy to its roles in any form Vault accepts, then minting a secret-id and
logging in (the escalation a plain path grant allows: write your own role with production's policy)."""

from __future__ import annotations

import pytest

from components.vault_artifacts import deploy_policy_hcl
from tests.integration.sidecar import Artifacts
from tests.integration.vault_provider import APPROLE, VaultHTTP, deploy, escalations

pytestmark = pytest.mark.integration

OTHER = {"staging": "production", "production": "staging"}


@pytest.fixture
def deploy_token(openbao, program):
    def make(env: str) -> VaultHTTP:
        root = openbao.client()
        services = sorted(program[env].run.outputs["vault_roles"])
        root.sys.create_or_update_acl_policy(name=f"finance_report-{env}-deploy", policy=deploy_policy_hcl("secret", APPROLE, env, services))
        token = root.auth.token.create(policies=[f"finance_report-{env}-deploy"], no_default_policy=True, no_parent=True, ttl="20m")["auth"]["client_token"]
        # The Vault provider works through a child token of the one it is given (it inherits the policy).
        child = openbao.client(token=token).auth.token.create(ttl="10m")["auth"]["client_token"]
        return VaultHTTP(openbao.address, child)

    return make


@pytest.mark.parametrize("env", ["staging", "production"])
def test_the_deploy_token_makes_every_request_the_provider_makes_for_its_env(env, deploy_token, program):
    artifacts: Artifacts = program[env]
    minted = deploy(deploy_token(env), artifacts)
    assert sorted(minted) == sorted(artifacts.roles())


@pytest.mark.parametrize("env", ["staging", "production"])
def test_the_deploy_token_cannot_give_its_roles_another_envs_policy(env, deploy_token, program, openbao):
    client = deploy_token(env)
    other = OTHER[env]
    own_role = f"finance_report-{env}-app"
    attempts = escalations(client, own_role, f"finance_report-{other}-app")
    assert {what: r.status_code for what, r in attempts.items()} == {what: 403 for what in attempts}
    root = openbao.client()
    assert root.read(f"auth/{APPROLE}/role/{own_role}")["data"]["token_policies"] == [f"finance_report-{env}-app"], "nothing changed"
    # What a login with a secret-id the token mints for its own role can read: its own secret, not the other env's.
    role_id = client.ok("GET", f"auth/{APPROLE}/role/{own_role}/role-id")["data"]["role_id"]
    secret_id = client.ok("POST", f"auth/{APPROLE}/role/{own_role}/secret-id", {})["data"]["secret_id"]
    login = openbao.client(token="none").auth.approle.login(role_id=role_id, secret_id=secret_id, use_token=False)["auth"]
    assert login["policies"] == [f"finance_report-{env}-app"]
    agent = VaultHTTP(openbao.address, login["client_token"])
    assert agent.call("GET", f"secret/data/finance_report/{other}/app").status_code == 403
    assert agent.call("GET", f"secret/data/finance_report/{env}/app").status_code == 200


@pytest.mark.parametrize("env", ["staging", "production"])
def test_the_deploy_token_writes_its_policies_with_the_programs_text_only(env, deploy_token, program, openbao):
    client = deploy_token(env)
    other = OTHER[env]
    name = f"finance_report-{env}-app"
    widened = f'path "secret/data/finance_report/{other}/app" {{\n  capabilities = ["read"]\n}}\n'
    program_text = program[env].policies()[name]
    refused = {
        "rewrite its policy to read the other env": client.call("PUT", f"sys/policies/acl/{name}", {"policy": widened}),
        "append a path to its policy": client.call("PUT", f"sys/policies/acl/{name}", {"policy": program_text + widened}),
        "write a policy of another name": client.call("PUT", f"sys/policies/acl/finance_report-{env}-extra", {"policy": widened}),
        "write the other env's policy": client.call("PUT", f"sys/policies/acl/finance_report-{other}-app", {"policy": widened}),
    }
    assert {what: r.status_code for what, r in refused.items()} == {what: 403 for what in refused}
    assert openbao.client().sys.read_acl_policy(name)["data"]["policy"] == program_text
    assert client.call("PUT", f"sys/policies/acl/{name}", {"policy": program_text}).status_code == 204, "the program's own text is written"
