"""The requests the Vault provider makes to deploy and destroy a stack's Vault side, in its own shapes
(hashicorp/terraform-provider-vault v5.10.1, facts.providers.VAULT_WRITE_PARAMS_FACT and
VAULT_SECRET_ID_PARAMS_FACT): a role write carries token_policies as a JSON list and only the fields
the program sets; a policy write is PUT sys/policies/acl/<name> {"policy": text}. Deploy tokens whose
policies pin parameters are tested with these exact bodies, so a pin that refused the provider's own
request would fail here, not on the first real deploy."""

from __future__ import annotations

import json
from typing import Any

import requests

from tests.integration.sidecar import Artifacts

APPROLE = "approle"


class VaultHTTP:
    def __init__(self, address: str, token: str):
        self.address, self.token = address, token

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        return requests.request(
            method, f"{self.address}/v1/{path}", headers={"X-Vault-Token": self.token}, json=body, timeout=10
        )

    def ok(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.call(method, path, body)
        assert response.status_code in (200, 204), f"{method} {path}: {response.status_code} {response.text[:300]}"
        return response.json() if response.status_code == 200 else {}


def role_body(settings: dict[str, Any]) -> dict[str, Any]:
    """approleAuthBackendRoleUpdateFields(create=True): set fields only (GetOk drops zero values and
    empty lists), the two booleans always (GetOkExists)."""
    body = {k: v for k, v in settings.items() if v not in (None, 0, "", [], False)}
    for key in ("token_no_default_policy", "bind_secret_id"):
        if key in settings:
            body[key] = bool(settings[key])
    return body


def provider_metadata(text: str) -> str:
    """A secret-id's metadata as the provider sends it: normalizeDataJSON re-marshals the JSON object
    (Go's json.Marshal: keys sorted, no spaces) (terraform-provider-vault v5.10.1
    vault/resource_approle_auth_backend_role_secret_id.go:177-185)."""
    return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))


def secret_id_metadata(artifacts: Artifacts) -> dict[str, str]:
    """role name -> the metadata the program declares on that role's secret-id, as the provider sends it."""
    from ops.program_run import unwrap_secrets

    roles = {
        r.name.rsplit("-role", 1)[0]: unwrap_secrets(r.inputs)["roleName"]
        for r in artifacts.run.by_type("vault:appRole/authBackendRole:AuthBackendRole")
    }
    out = {}
    for r in artifacts.run.by_type("vault:appRole/authBackendRoleSecretId:AuthBackendRoleSecretId"):
        out[roles[r.name.rsplit("-secret-id", 1)[0]]] = provider_metadata(unwrap_secrets(r.inputs)["metadata"])
    assert sorted(out) == sorted(roles.values()), "every role has one secret-id"
    return out


def deploy(client: VaultHTTP, artifacts: Artifacts) -> dict[str, dict[str, str]]:
    """What `pulumi up` does through the Vault provider; returns role -> minted secret-id data. A role
    that exists is read, not written: the provider writes a role only when it creates it or the program
    changed one of its settings (tests that need the create start from a deleted role)."""
    for name, text in artifacts.policies().items():
        client.ok("PUT", f"sys/policies/acl/{name}", {"policy": text})
        client.ok("GET", f"sys/policies/acl/{name}")
    names = artifacts.kv_names()
    for service, (mount, data) in artifacts.kv().items():
        client.ok("POST", f"{mount}/data/{names[service]}", {"data": data})
        client.ok("GET", f"{mount}/data/{names[service]}")
    minted = {}
    metadata = secret_id_metadata(artifacts)
    for role, settings in artifacts.roles().items():
        if client.call("GET", f"auth/{APPROLE}/role/{role}").status_code == 404:
            client.ok("POST", f"auth/{APPROLE}/role/{role}", role_body(settings))
        client.ok("GET", f"auth/{APPROLE}/role/{role}")
        client.ok("GET", f"auth/{APPROLE}/role/{role}/role-id")
        minted[role] = client.ok("POST", f"auth/{APPROLE}/role/{role}/secret-id", {"metadata": metadata[role]})["data"]
        client.ok(
            "POST",
            f"auth/{APPROLE}/role/{role}/secret-id-accessor/lookup",
            {"secret_id_accessor": minted[role]["secret_id_accessor"]},
        )
    return minted


def destroy(client: VaultHTTP, artifacts: Artifacts, minted: dict[str, dict[str, str]]) -> None:
    """What `pulumi destroy` does: secret-ids (destroyed by accessor), roles, every KV version with its
    metadata (a preview's delete_all_versions), policies."""
    for role, secret in minted.items():
        client.ok(
            "POST",
            f"auth/{APPROLE}/role/{role}/secret-id-accessor/destroy",
            {"secret_id_accessor": secret["secret_id_accessor"]},
        )
        client.ok("DELETE", f"auth/{APPROLE}/role/{role}")
    names = artifacts.kv_names()
    for service, (mount, _) in artifacts.kv().items():
        client.ok("DELETE", f"{mount}/metadata/{names[service]}")
    for name in artifacts.policies():
        client.ok("DELETE", f"sys/policies/acl/{name}")


def escalations(client: VaultHTTP, own_role: str, target_policy: str) -> dict[str, requests.Response]:
    """Every way a token that writes `own_role` could give it `target_policy`: the response to each."""
    role = f"auth/{APPROLE}/role/{own_role}"
    own = client.call("GET", role).json().get("data", {}).get("token_policies", [])
    return {
        "attach it as the role's policy": client.call("POST", role, {"token_policies": [target_policy]}),
        "attach it beside its own": client.call("POST", role, {"token_policies": [*own, target_policy]}),
        "attach it in a comma-joined string": client.call(
            "POST", role, {"token_policies": ",".join([*own, target_policy])}
        ),
        "attach it in upper case": client.call("POST", role, {"token_policies": [target_policy.upper()]}),
        "attach it through the deprecated `policies`": client.call("POST", role, {"policies": [target_policy]}),
        "send a parameter the provider never sends": client.call(
            "POST", role, {"token_policies": own, "period": "768h"}
        ),
    }


def deploy_policy_of(artifacts: Artifacts) -> str:
    """The env's deploy policy, built from what the program declares on its roles (CIDRs, secret-id TTL)."""
    from render.vault_artifacts import deploy_policy_hcl

    roles = artifacts.roles()
    cidrs = {tuple(r.get("secret_id_bound_cidrs") or ()) for r in roles.values()}
    ttls = {r["secret_id_ttl"] for r in roles.values()}
    assert len(cidrs) == 1 and len(ttls) == 1, "every role of an env has the same binding and TTL"
    services = sorted(artifacts.run.outputs["vault_roles"])
    return deploy_policy_hcl("secret", APPROLE, artifacts.env, services, cidrs.pop(), ttls.pop())


def deploy_token(openbao, artifacts: Artifacts, child: bool = True) -> VaultHTTP:
    """A token with the env's deploy policy (docs/ci-credentials.md "The deploy Vault policy and token"), written by
    root; by default the child token the Vault provider works through (it inherits the policy)."""
    env = artifacts.env
    root = openbao.client()
    root.sys.create_or_update_acl_policy(name=f"finance_report-{env}-deploy", policy=deploy_policy_of(artifacts))
    token = root.auth.token.create(
        policies=[f"finance_report-{env}-deploy"], no_default_policy=True, no_parent=True, ttl="20m"
    )["auth"]["client_token"]
    if not child:
        return VaultHTTP(openbao.address, token)
    return VaultHTTP(openbao.address, openbao.client(token=token).auth.token.create(ttl="10m")["auth"]["client_token"])
