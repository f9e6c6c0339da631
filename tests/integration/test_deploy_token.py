"""The deploy Vault token of a committed env on a real OpenBao (docs/ci-credentials.md "The deploy Vault policy and
token"): with the policy `render.vault_artifacts.deploy_policy_hcl` builds, it makes every request
the Vault provider makes to deploy its env, in the provider's own shapes (tests/integration/
vault_provider.py), and cannot give itself another env's secrets: not by rewriting its policies' text,
not by attaching another policy to its roles in any form Vault accepts, then minting a secret-id and
logging in (the escalation a plain path grant allows: write your own role with production's policy).

A leaked deploy token must leave nothing behind that outlives its revocation (issue 16, items 1 and 2,
each reproduced here with the token itself): it cannot change a role it deployed in any way (clear the
CIDR binding, make its tokens periodic, turn bind_secret_id off so the role-id alone logs in, make
secret-ids never expire, choose a role-id), cannot delete a role to bring it back with Vault's defaults,
and mints secret-ids only as the program does (no ttl, use count, CIDR list or value of its own). What it
can still mint expires with the role's secret_id_ttl, and `invoke rotate` destroys it earlier
(test_rotation.py), with the list and accessor destroy the token holds for its own roles only."""

from __future__ import annotations

import json

import hvac.exceptions
import pytest

from tests.conftest import run_stack
from tests.integration.sidecar import Artifacts, apply_vault
from tests.integration.vault_provider import (
    APPROLE,
    VaultHTTP,
    deploy,
    escalations,
    role_body,
    secret_id_metadata,
)
from tests.integration.vault_provider import (
    deploy_token as token_for,
)

pytestmark = pytest.mark.integration

OTHER = {"staging": "production", "production": "staging"}


@pytest.fixture
def deploy_token(openbao, program):
    def make(env: str, artifacts: Artifacts | None = None, child: bool = True) -> VaultHTTP:
        return token_for(openbao, artifacts or program[env], child)

    return make


def delete_roles(openbao, artifacts: Artifacts) -> None:
    """What a first deploy starts from: the env's roles do not exist (an admin deleted them)."""
    root = openbao.client()
    for role in artifacts.roles():
        root.delete(f"auth/{APPROLE}/role/{role}")


def role_state(openbao, role: str) -> dict:
    """The role as root reads it: its settings, role-id and secret-id accessors (None: no such role)."""
    root = openbao.client()
    settings = root.read(f"auth/{APPROLE}/role/{role}")
    if settings is None:
        return {"role": None}
    return {
        "role": settings["data"],
        "role_id": root.read(f"auth/{APPROLE}/role/{role}/role-id")["data"]["role_id"],
        "secret_ids": sorted(accessors(openbao, role)),
    }


def accessors(openbao, role: str) -> list[str]:
    try:
        return openbao.client().list(f"auth/{APPROLE}/role/{role}/secret-id")["data"]["keys"]
    except (TypeError, hvac.exceptions.InvalidPath):
        return []


def logs_in(openbao, role_id: str, secret_id: str) -> bool:
    try:
        openbao.client(token="none").auth.approle.login(role_id=role_id, secret_id=secret_id, use_token=False)
        return True
    except hvac.exceptions.VaultError:
        return False


# Each write a leaked deploy token could make to a role the program deployed, and what it would buy.
ROLE_ATTACKS = {
    "the issue's backdoor: CIDR binding cleared, tokens periodic for a year": {
        "secret_id_bound_cidrs": [],
        "token_bound_cidrs": [],
        "token_period": 31536000,
    },
    "bind_secret_id off: the role-id alone logs in (the preview token reads it)": {"bind_secret_id": False},
    "secret-ids that never expire": {"secret_id_ttl": 0},
    "secret-ids usable a fixed number of times of its choosing": {"secret_id_num_uses": 1000},
    "periodic tokens under the deprecated name": {"period": 31536000},
    "year-long tokens": {"token_ttl": 31536000, "token_max_ttl": 31536000},
    "tokens with a use count": {"token_num_uses": 1000},
    "an explicit max TTL of its own": {"token_explicit_max_ttl": 31536000},
    "batch tokens (not revocable one by one)": {"token_type": "batch"},
    "the default policy on every token": {"token_no_default_policy": False},
    "tokens from any address": {"token_bound_cidrs": ["0.0.0.0/0"]},
    "secret-ids from any address": {"secret_id_bound_cidrs": ["0.0.0.0/0"]},
    "secret-ids local to one cluster": {"local_secret_ids": True},
    "a role-id of its own choosing in the role write": {"role_id": "attacker-chosen-role-id"},
    "the role's own values written again": {},  # filled per role below: even a no-op write is refused
}
SECRET_ID_ATTACKS = {
    "the issue's: never expires, unlimited uses": {"ttl": 0, "num_uses": 0},
    "a year-long secret-id": {"ttl": 31536000},
    "a CIDR list of its own": {"cidr_list": "0.0.0.0/0"},
    "token CIDRs of its own": {"token_bound_cidrs": "0.0.0.0/0"},
    "a secret-id value of its own choosing": {"secret_id": "attacker-chosen-secret-id"},
}


@pytest.mark.parametrize("env", ["staging", "production"])
def test_a_leaked_deploy_token_cannot_change_delete_or_re_id_a_role_it_deployed(env, deploy_token, program, openbao):
    """Issue 16 items 1 and 2: every parameter of every role, and the role-id, stay the program's."""
    artifacts = program[env]
    client = deploy_token(env)
    allowed, changed = {}, {}
    for role, settings in sorted(artifacts.roles().items()):
        before = role_state(openbao, role)
        path = f"auth/{APPROLE}/role/{role}"
        attempts = {what: ("POST", path, body or role_body(settings)) for what, body in ROLE_ATTACKS.items()}
        attempts["write a role-id of its own"] = ("POST", f"{path}/role-id", {"role_id": "attacker-chosen-role-id"})
        attempts["clear the secret-id TTL through its own endpoint"] = ("DELETE", f"{path}/secret-id-ttl", None)
        attempts["clear the CIDR binding through its own endpoint"] = ("DELETE", f"{path}/secret-id-bound-cidrs", None)
        for what, body in SECRET_ID_ATTACKS.items():
            attempts[f"mint a secret-id: {what}"] = ("POST", f"{path}/secret-id", body)
        attempts["mint a secret-id of its own choosing"] = (
            "POST",
            f"{path}/custom-secret-id",
            {"secret_id": "attacker-chosen-secret-id"},
        )
        attempts["delete the role (it would come back with Vault's defaults)"] = ("DELETE", path, None)  # last
        for what, (method, call_path, body) in attempts.items():
            status = client.call(method, call_path, body).status_code
            if status != 403:
                allowed[f"{role}: {what}"] = status
        changed[role] = role_state(openbao, role) != before
        if changed[role]:
            apply_vault(openbao, artifacts)  # the program's role back before the next attack
    assert allowed == {}
    assert changed == dict.fromkeys(changed, False)


@pytest.mark.parametrize("env", ["staging", "production"])
def test_a_secret_id_a_leaked_deploy_token_mints_expires_with_the_programs_ttl(env, deploy_token, program, openbao):
    """The issue's backdoor outlived the token's revocation forever (secret_id_ttl 0). What the token may
    still mint (the program's own request) carries the role's TTL: it dies by itself, and earlier at the
    next `invoke rotate` (test_rotation.py)."""
    artifacts = program[env]
    role = f"finance_report-{env}-app"
    ttl = artifacts.roles()[role]["secret_id_ttl"]
    assert 0 < ttl <= 90 * 86400, "the program gives secret-ids a TTL"
    client = deploy_token(env, child=False)
    minted = client.ok(
        "POST", f"auth/{APPROLE}/role/{role}/secret-id", {"metadata": secret_id_metadata(artifacts)[role]}
    )
    role_id = client.ok("GET", f"auth/{APPROLE}/role/{role}/role-id")["data"]["role_id"]
    openbao.client().auth.token.revoke(client.token)
    assert client.call("GET", "auth/token/lookup-self").status_code == 403, "revoked"
    looked_up = openbao.client().write(
        f"auth/{APPROLE}/role/{role}/secret-id-accessor/lookup",
        secret_id_accessor=minted["data"]["secret_id_accessor"],
    )["data"]
    assert looked_up["secret_id_ttl"] == ttl and looked_up["secret_id_num_uses"] == 0
    assert looked_up["expiration_time"] and not looked_up["expiration_time"].startswith("0001"), "it expires"
    assert logs_in(openbao, role_id, minted["data"]["secret_id"]), "until then (or a rotation) it works"
    openbao.client().write(
        f"auth/{APPROLE}/role/{role}/secret-id-accessor/destroy",
        secret_id_accessor=minted["data"]["secret_id_accessor"],
    )


@pytest.mark.parametrize("env", ["staging", "production"])
def test_the_deploy_token_lists_and_destroys_secret_ids_of_its_own_roles_only(env, deploy_token, program, openbao):
    """What `invoke rotate` needs to destroy every secret-id but the new one, and nothing of the other env."""
    client = deploy_token(env)
    own, other = f"finance_report-{env}-app", f"finance_report-{OTHER[env]}-app"
    metadata = secret_id_metadata(program[env])[own]
    extra = client.ok("POST", f"auth/{APPROLE}/role/{own}/secret-id", {"metadata": metadata})["data"]
    listed = client.call("LIST", f"auth/{APPROLE}/role/{own}/secret-id")
    assert listed.status_code == 200 and extra["secret_id_accessor"] in listed.json()["data"]["keys"]
    openbao.client().write(f"auth/{APPROLE}/role/{other}/secret-id")  # the other env's agent has one
    theirs = accessors(openbao, other)
    assert theirs, "the other env has secret-ids to protect"
    assert client.call("LIST", f"auth/{APPROLE}/role/{other}/secret-id").status_code == 403
    destroy = client.call(
        "POST", f"auth/{APPROLE}/role/{other}/secret-id-accessor/destroy", {"secret_id_accessor": theirs[0]}
    )
    assert destroy.status_code == 403 and accessors(openbao, other) == theirs
    client.ok(
        "POST",
        f"auth/{APPROLE}/role/{own}/secret-id-accessor/destroy",
        {"secret_id_accessor": extra["secret_id_accessor"]},
    )
    assert extra["secret_id_accessor"] not in accessors(openbao, own)


CIDRS = ["127.0.0.1/32", "10.77.0.0/16"]


def test_a_role_the_deploy_token_creates_carries_exactly_the_programs_settings(deploy_token, openbao, program):
    """The one write the token may make to a role is its create (the first deploy, or after an admin
    deleted it): each pinned parameter changed from what the provider sends is refused, lists included
    ([] and a subset or superset of the bound CIDRs; the same CIDRs in another order are the same set, as
    the provider's schema.Set sends them in its own order). Numbers (the TTLs) are not in this table:
    Vault cannot pin a JSON number (test_vault_semantics.py); the token cannot change them after the
    create, and docs/ci-credentials.md's deploy section says so."""
    artifacts = Artifacts(run_stack("staging", {"vaultAddress": openbao.address, "vaultAgentCidrs": json.dumps(CIDRS)}))
    client = deploy_token("staging", artifacts)
    delete_roles(openbao, artifacts)
    try:
        refused = {}
        for role, settings in sorted(artifacts.roles().items()):
            assert settings["secret_id_bound_cidrs"] == CIDRS
            body = role_body(settings)
            changes = {
                "secret_id_bound_cidrs []": {"secret_id_bound_cidrs": []},
                "secret_id_bound_cidrs a subset": {"secret_id_bound_cidrs": CIDRS[:1]},
                "secret_id_bound_cidrs a superset": {"secret_id_bound_cidrs": [*CIDRS, "0.0.0.0/0"]},
                "secret_id_bound_cidrs one string": {"secret_id_bound_cidrs": ",".join(CIDRS)},
                "token_bound_cidrs []": {"token_bound_cidrs": []},
                "token_bound_cidrs anywhere": {"token_bound_cidrs": ["0.0.0.0/0"]},
                "bind_secret_id off": {"bind_secret_id": False},
                "bind_secret_id as a string": {"bind_secret_id": "false"},
                "the default policy": {"token_no_default_policy": False},
                "batch tokens": {"token_type": "batch"},
                "periodic tokens": {"token_period": 31536000},
                "a secret-id use count": {"secret_id_num_uses": 3},
                "a role-id of its own": {"role_id": "attacker-chosen-role-id"},
                "local secret-ids": {"local_secret_ids": True},
            }
            for what, change in changes.items():
                status = client.call("POST", f"auth/{APPROLE}/role/{role}", {**body, **change}).status_code
                if status != 403:
                    refused[f"{role}: {what}"] = status
            assert client.call("GET", f"auth/{APPROLE}/role/{role}").status_code == 404, "nothing was created"
            reordered = {**body, "secret_id_bound_cidrs": CIDRS[::-1], "token_bound_cidrs": CIDRS[::-1]}
            assert client.call("POST", f"auth/{APPROLE}/role/{role}", reordered).status_code == 204
            stored = openbao.client().read(f"auth/{APPROLE}/role/{role}")["data"]
            for key in ("bind_secret_id", "token_no_default_policy", "token_type", "secret_id_ttl", "token_ttl"):
                assert stored[key] == settings[key], key
        assert refused == {}
    finally:
        delete_roles(openbao, artifacts)
        apply_vault(openbao, program["staging"])  # the program's roles back, for the other tests


@pytest.mark.parametrize("env", ["staging", "production"])
def test_the_deploy_token_makes_every_request_the_provider_makes_for_its_env(env, deploy_token, program, openbao):
    """A first deploy (the roles created) and the next one (roles read, secret-ids minted)."""
    artifacts: Artifacts = program[env]
    client = deploy_token(env)
    delete_roles(openbao, artifacts)
    minted = deploy(client, artifacts)
    assert sorted(minted) == sorted(artifacts.roles())
    assert sorted(deploy(client, artifacts)) == sorted(artifacts.roles())


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
