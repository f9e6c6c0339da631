"""The deploy Vault token of a committed env on a real OpenBao (README "The deploy Vault policy and
token"): with the policy `render.vault_artifacts.deploy_policy_hcl` builds, it makes every request
the Vault provider makes to deploy its env, in the provider's own shapes (tests/integration/
vault_provider.py), and cannot give itself another env's secrets: not by rewriting its policies' text,
not by attaching another policy to its roles in any form Vault accepts, then minting a secret-id and
logging in (the escalation a plain path grant allows: write your own role with production's policy)."""

from __future__ import annotations

import pytest

from render.vault_artifacts import deploy_policy_hcl
from tests.integration.sidecar import Artifacts
from tests.integration.vault_provider import APPROLE, VaultHTTP, deploy, escalations

pytestmark = pytest.mark.integration

OTHER = {"staging": "production", "production": "staging"}


@pytest.fixture
def deploy_token(openbao, program):
    def make(env: str) -> VaultHTTP:
        root = openbao.client()
        services = sorted(program[env].run.outputs["vault_roles"])
        root.sys.create_or_update_acl_policy(
            name=f"finance_report-{env}-deploy", policy=deploy_policy_hcl("secret", APPROLE, env, services)
        )
        token = root.auth.token.create(
            policies=[f"finance_report-{env}-deploy"], no_default_policy=True, no_parent=True, ttl="20m"
        )["auth"]["client_token"]
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
def test_no_role_of_the_deploy_token_takes_a_policy_but_its_own(env, deploy_token, program, openbao):
    """Every role, not one: the other env's policy of the same service, and each other service's policy
    of the same env (the backup role given the app's policy would read the app's secrets)."""
    client = deploy_token(env)
    deploy(client, program[env])  # every role exists with its own policy: "beside its own" means it
    other = OTHER[env]
    services = sorted(program[env].run.outputs["vault_roles"])
    assert len(services) >= 4, services
    allowed = {}
    for service in services:
        role = f"finance_report-{env}-{service}"
        targets = [f"finance_report-{other}-{service}"] + [
            f"finance_report-{env}-{s}" for s in services if s != service
        ]
        for target in targets:
            for what, response in escalations(client, role, target).items():
                if response.status_code != 403:
                    allowed[f"{role} <- {target}: {what}"] = response.status_code
    assert allowed == {}
    root = openbao.client()
    for service in services:
        role = f"finance_report-{env}-{service}"
        assert root.read(f"auth/{APPROLE}/role/{role}")["data"]["token_policies"] == [role], "nothing changed"
    # What a login with a secret-id the token mints for its own role can read: its own secret, not the other env's.
    own_role = f"finance_report-{env}-app"
    role_id = client.ok("GET", f"auth/{APPROLE}/role/{own_role}/role-id")["data"]["role_id"]
    secret_id = client.ok("POST", f"auth/{APPROLE}/role/{own_role}/secret-id", {})["data"]["secret_id"]
    login = openbao.client(token="none").auth.approle.login(role_id=role_id, secret_id=secret_id, use_token=False)[
        "auth"
    ]
    assert login["policies"] == [own_role]
    agent = VaultHTTP(openbao.address, login["client_token"])
    assert agent.call("GET", f"secret/data/finance_report/{other}/app").status_code == 403
    assert agent.call("GET", f"secret/data/finance_report/{env}/app").status_code == 200


@pytest.mark.parametrize("env", ["staging", "production"])
def test_the_deploy_token_writes_each_of_its_policies_with_the_programs_text_only(env, deploy_token, program, openbao):
    client = deploy_token(env)
    other = OTHER[env]
    widened = f'path "secret/data/finance_report/{other}/app" {{\n  capabilities = ["read"]\n}}\n'
    texts = program[env].policies()
    assert len(texts) >= 4, sorted(texts)
    refused = {}
    for name, program_text in sorted(texts.items()):
        service = name.rsplit("-", 1)[1]
        refused[f"rewrite {name} to read the other env"] = client.call(
            "PUT", f"sys/policies/acl/{name}", {"policy": widened}
        )
        refused[f"append a path to {name}"] = client.call(
            "PUT", f"sys/policies/acl/{name}", {"policy": program_text + widened}
        )
        refused[f"write the other env's {service} policy"] = client.call(
            "PUT", f"sys/policies/acl/finance_report-{other}-{service}", {"policy": widened}
        )
    refused["write a policy of another name"] = client.call(
        "PUT", f"sys/policies/acl/finance_report-{env}-extra", {"policy": widened}
    )
    assert {what: r.status_code for what, r in refused.items()} == {what: 403 for what in refused}
    root = openbao.client()
    for name, program_text in sorted(texts.items()):
        assert root.sys.read_acl_policy(name)["data"]["policy"] == program_text
        assert client.call("PUT", f"sys/policies/acl/{name}", {"policy": program_text}).status_code == 204, (
            "the program's own text is written"
        )
