"""The preview Vault token on a real OpenBao: with the policy docs/vault/ holds for its env (built by
vault_artifacts.preview_policy_hcl) it makes every call the Vault provider makes to read that env's
resources (facts.providers.VAULT_READ_CALLS, filled with the program's own roles, policies and KV paths),
and it cannot write them, list anything, read the other env, or create a token (previews skip the
child token)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from facts.providers import VAULT_READ_CALLS
from render.vault_artifacts import preview_policy_hcl, preview_policy_name
from tests.integration.sidecar import Artifacts

pytestmark = pytest.mark.integration

KV, APPROLE = "secret", "approle"  # both stack files use the default mounts


def call(bao, token: str, method: str, path: str, body: dict[str, Any] | None = None) -> int:
    url = f"{bao.address}/v1/{path}"
    if method == "LIST":
        method, url = "GET", url + "?list=true"
    return requests.request(method, url, headers={"X-Vault-Token": token}, json=body, timeout=10).status_code


def services(artifacts: Artifacts) -> list[str]:
    return sorted(artifacts.run.outputs["vault_roles"])


@pytest.fixture(scope="module")
def preview_tokens(openbao, program):
    """One token per env, created the way docs/ci-credentials.md says: the env's preview policy only, no default
    policy."""
    root = openbao.client()
    tokens = {}
    for artifacts in program.values():
        env = artifacts.env
        root.sys.create_or_update_acl_policy(
            name=preview_policy_name(env), policy=preview_policy_hcl(KV, APPROLE, env, services(artifacts))
        )
        tokens[env] = root.auth.token.create(policies=[preview_policy_name(env)], no_default_policy=True, ttl="1h")[
            "auth"
        ]["client_token"]
    return tokens


@pytest.fixture(scope="module")
def accessors(openbao, program):
    """A secret-id per role, as the program's secret-id resources create them; the provider's read looks
    each one up by accessor."""
    root = openbao.client()
    out = {}
    for artifacts in program.values():
        for role in artifacts.roles():
            out[role] = root.auth.approle.generate_secret_id(role_name=role)["data"]["secret_id_accessor"]
    return out


def provider_reads(artifacts: Artifacts) -> list[tuple[str, str, dict | None]]:
    """(method, path, body) of every read the provider makes for this env's Vault resources."""
    env, calls = artifacts.env, []
    for capability, template in VAULT_READ_CALLS:
        for service in services(artifacts):
            role = artifacts.run.outputs["vault_roles"][service]
            path = template.format(
                kv=KV,
                approle=APPROLE,
                name=f"finance_report/{env}/{service}",
                policy=artifacts.run.outputs["vault_policies"][service],
                role=role,
            )
            calls.append(("POST", path, role) if capability == "update" else ("GET", path, None))
    return list(dict.fromkeys(calls))


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_the_preview_token_makes_every_read_the_provider_makes_for_its_env(
    stack, openbao, program, preview_tokens, accessors
):
    artifacts = program[stack]
    token = preview_tokens[artifacts.env]
    failures = []
    for method, path, role in provider_reads(artifacts):
        body = {"secret_id_accessor": accessors[role]} if role else None
        status = call(openbao, token, method, path, body)
        if status != 200:
            failures.append(f"{method} {path}: {status}")
    assert failures == []
    assert len(provider_reads(artifacts)) == 1 + 6 * len(services(artifacts))


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_the_preview_token_cannot_write_list_read_the_other_env_or_create_tokens(
    stack, openbao, program, preview_tokens, accessors
):
    artifacts = program[stack]
    env = artifacts.env
    other = next(a for a in program.values() if a.env != env)
    token = preview_tokens[env]
    role = artifacts.run.outputs["vault_roles"]["app"]
    policy = artifacts.run.outputs["vault_policies"]["app"]
    forbidden = [
        ("POST", f"{KV}/data/finance_report/{env}/app", {"data": {"SECRET_KEY": "x"}}),
        ("DELETE", f"{KV}/data/finance_report/{env}/app", None),
        ("POST", f"{KV}/metadata/finance_report/{env}/app", {"max_versions": 1}),
        ("DELETE", f"{KV}/metadata/finance_report/{env}/app", None),
        ("PUT", f"sys/policies/acl/{policy}", {"policy": 'path "*" { capabilities = ["sudo"] }'}),
        ("DELETE", f"sys/policies/acl/{policy}", None),
        ("POST", f"auth/{APPROLE}/role/{role}", {"token_ttl": 1}),
        ("DELETE", f"auth/{APPROLE}/role/{role}", None),
        ("POST", f"auth/{APPROLE}/role/{role}/role-id", {"role_id": "chosen"}),
        ("POST", f"auth/{APPROLE}/role/{role}/secret-id", {}),
        ("POST", f"auth/{APPROLE}/role/{role}/secret-id-accessor/destroy", {"secret_id_accessor": accessors[role]}),
        ("POST", "auth/token/create", {"policies": [preview_policy_name(env)]}),
        ("POST", "auth/token/create-orphan", {}),
        ("LIST", f"{KV}/metadata/finance_report", None),
        ("LIST", f"{KV}/metadata/finance_report/{env}", None),
        ("LIST", f"{KV}/metadata/finance_report/{other.env}", None),
        ("LIST", f"auth/{APPROLE}/role", None),
        ("LIST", f"auth/{APPROLE}/role/{role}/secret-id", None),
        ("LIST", "sys/policies/acl", None),
        ("GET", f"{KV}/data/finance_report/{other.env}/app", None),
        ("GET", f"sys/policies/acl/{other.run.outputs['vault_policies']['app']}", None),
        ("GET", f"auth/{APPROLE}/role/{other.run.outputs['vault_roles']['app']}/role-id", None),
        (
            "POST",
            f"auth/{APPROLE}/role/{other.run.outputs['vault_roles']['app']}/secret-id-accessor/lookup",
            {"secret_id_accessor": accessors[other.run.outputs["vault_roles"]["app"]]},
        ),
        ("GET", f"sys/policies/acl/{preview_policy_name(other.env)}", None),
    ]
    allowed = [f"{m} {p}: {s}" for m, p, b in forbidden if (s := call(openbao, token, m, p, b)) != 403]
    assert allowed == []
    # nothing changed: the env's app secret and role are what the program wrote
    root = openbao.client()
    assert (
        root.secrets.kv.v2.read_secret_version(path=f"finance_report/{env}/app", mount_point=KV)["data"]["data"]
        == artifacts.kv()["app"][1]
    )
    assert root.auth.approle.read_role(role_name=role)["data"]["token_ttl"] == artifacts.roles()[role]["token_ttl"]


def test_the_preview_policy_never_names_a_path_outside_its_env(program):
    for artifacts in program.values():
        hcl = preview_policy_hcl(KV, APPROLE, artifacts.env, services(artifacts))
        paths = re.findall(r'^path "([^"]+)"', hcl, re.M)
        assert paths and all(artifacts.env in p or p == "auth/token/lookup-self" for p in paths), paths
