"""The AppRole side of issue 16 under mocks: what the deploy and preview policies pin is exactly what the
provider sends for the roles the program declares, secret-ids expire (secretIdTtlDays, bounded) and are
re-minted at the first deploy of each renewal window (recreating the agents only), and production's
`pulumi up` refuses to run without vaultAgentCidrs. The same policies on a real OpenBao, attacked with
the tokens themselves: tests/integration/test_deploy_token.py and test_preview_env_vault.py; an agent
surviving a re-mint on dockerd: tests/integration/test_agent_token_lifecycle.py."""

from __future__ import annotations

import itertools
import json

import hcl2
import pytest

from config import stack_config
from config.errors import ConfigError
from ops import rotate
from ops.program_run import run_program, unwrap_secrets
from render.preview_env import deployer_policy_hcl
from render.vault_artifacts import SECRET_ID_TTL_SECONDS, deploy_policy_hcl
from tests.conftest import run_stack
from tests.conftest import stack_config as config_of

ROLE = "vault:appRole/authBackendRole:AuthBackendRole"
SECRET_ID = "vault:appRole/authBackendRoleSecretId:AuthBackendRoleSecretId"
CIDRS = ["203.0.113.7/32", "198.51.100.0/24"]
# What the provider's create sends for a field the program sets (facts.providers.VAULT_ROLE_CREATE_FACT):
# Pulumi input name -> Vault parameter.
SENT = {
    "tokenPolicies": "token_policies",
    "tokenTtl": "token_ttl",
    "tokenMaxTtl": "token_max_ttl",
    "tokenNoDefaultPolicy": "token_no_default_policy",
    "tokenType": "token_type",
    "secretIdTtl": "secret_id_ttl",
    "secretIdNumUses": "secret_id_num_uses",
    "bindSecretId": "bind_secret_id",
    "secretIdBoundCidrs": "secret_id_bound_cidrs",
    "tokenBoundCidrs": "token_bound_cidrs",
}
NUMBERS = {"token_ttl", "token_max_ttl", "secret_id_ttl", "secret_id_num_uses"}


def provider_create_body(inputs: dict) -> dict:
    """approleAuthBackendRoleUpdateFields(create=True): numbers and lists only when non-zero/non-empty
    (GetOk), the booleans always (GetOkExists)."""
    body = {}
    for name, param in SENT.items():
        value = inputs.get(name)
        if param in ("bind_secret_id", "token_no_default_policy"):
            body[param] = bool(value)
        elif value not in (None, 0, 0.0, "", []):
            body[param] = int(value) if isinstance(value, float) else value
    return body


def rules(hcl: str) -> dict[str, dict]:
    return {path: body for block in hcl2.loads(hcl)["path"] for path, body in block.items()}


def allowed_of(rule: dict) -> dict[str, list]:
    params = rule["allowed_parameters"]
    return params[0] if isinstance(params, list) else params


def policy_of(run, env: str) -> str:
    roles = [r.inputs for r in run.by_type(ROLE)]
    (cidrs,) = {tuple(r.get("secretIdBoundCidrs") or ()) for r in roles}
    (ttl,) = {int(r["secretIdTtl"]) for r in roles}
    return deploy_policy_hcl("secret", "approle", env, sorted(run.outputs["vault_roles"]), cidrs, ttl)


@pytest.mark.parametrize("cidrs", [[], CIDRS], ids=["unbound", "bound"])
def test_the_deploy_policy_allows_each_role_exactly_what_the_provider_sends_to_create_it(cidrs):
    run = run_stack("staging", {"vaultAgentCidrs": json.dumps(cidrs)})
    found = rules(policy_of(run, "staging"))
    for role in run.by_type(ROLE):
        body = provider_create_body(role.inputs)
        rule = found[f"auth/approle/role/{role.inputs['roleName']}"]
        assert sorted(rule["capabilities"]) == ["create", "read"], f"{role.urn}: created once, never changed"
        allowed = allowed_of(rule)
        assert set(body) <= set(allowed), f"{role.urn}: the provider's own create would be refused"
        unsent = set(allowed) - set(body)
        assert unsent == {"local_secret_ids"}, f"{role.urn}: allows fields the program never sends: {unsent}"
        assert allowed["local_secret_ids"] == [False]
        for param, value in body.items():
            if param in NUMBERS:
                assert allowed[param] == [], "Vault cannot pin a JSON number (VAULT_JSON_NUMBERS_UNPINNABLE)"
            elif isinstance(value, list) and param != "token_policies":
                assert sorted(map(tuple, allowed[param])) == sorted(itertools.permutations(value)), (
                    f"{role.urn}: {param} in every order the provider's set may send, nothing else"
                )
            elif param == "token_policies":
                assert allowed[param] == [*value, value], role.urn
            else:
                assert allowed[param] == [value], f"{role.urn}: {param}"
        assert "token_period" not in allowed and "period" not in allowed and "role_id" not in allowed


def test_the_deploy_token_writes_no_role_id_and_mints_secret_ids_with_metadata_only(staging):
    found = rules(policy_of(staging, "staging"))
    for service, role in staging.outputs["vault_roles"].items():
        base = f"auth/approle/role/{role}"
        assert found[f"{base}/role-id"]["capabilities"] == ["read"], service
        assert sorted(found[f"{base}/secret-id"]["capabilities"]) == ["list", "update"], service
        assert allowed_of(found[f"{base}/secret-id"]) == {"metadata": []}, service
        for accessor_path in ("secret-id-accessor/lookup", "secret-id-accessor/destroy"):
            assert allowed_of(found[f"{base}/{accessor_path}"]) == {"secret_id_accessor": []}, service
        assert not [p for p in found if p.startswith(f"{base}/") and p.rsplit("/", 1)[-1] in ("custom-secret-id",)]


def test_the_preview_deployer_pins_the_same_fields_and_no_mint_parameter_of_its_own():
    found = rules(deployer_policy_hcl("secret", "approle", CIDRS, SECRET_ID_TTL_SECONDS))
    role_rules = {p: b for p, b in found.items() if p.startswith("auth/approle/role/")}
    assert len(role_rules) == 9
    for path, rule in role_rules.items():
        allowed = allowed_of(rule)
        assert allowed["bind_secret_id"] == [True] and allowed["token_type"] == ["service"], path
        assert sorted(map(tuple, allowed["secret_id_bound_cidrs"])) == sorted(itertools.permutations(CIDRS)), path
        for never in ("role_id", "secret_id", "ttl", "num_uses", "cidr_list", "token_period", "period"):
            assert never not in allowed, f"{path} allows {never}"
        assert allowed["metadata"] == [] and allowed["secret_id_accessor"] == []


def test_secret_ids_expire_after_secret_id_ttl_days_within_bounds():
    for days in (12, 30, 32):
        run = run_stack("staging", {"secretIdTtlDays": str(days)})
        assert run.error is None, run.error
        assert {int(r.inputs["secretIdTtl"]) for r in run.by_type(ROLE)} == {days * 86400}
    for days in ("11", "33", "0", "thirty"):
        run = run_stack("staging", {"secretIdTtlDays": days})
        assert str(run.error) == (
            f'config finance-report:secretIdTtlDays = "{days}" is invalid: expected an integer from 12 to 32'
        )
        assert run.resources == []
    default = run_stack("staging")
    assert {int(r.inputs["secretIdTtl"]) for r in default.by_type(ROLE)} == {30 * 86400}


def metadata_by_service(run) -> dict[str, dict]:
    return {
        json.loads(unwrap_secrets(r.inputs)["metadata"])["service"]: json.loads(unwrap_secrets(r.inputs)["metadata"])
        for r in run.by_type(SECRET_ID)
    }


def test_the_first_deploy_of_a_new_renewal_window_re_mints_every_secret_id_and_recreates_only_the_agents(
    monkeypatch,
):
    """A window is a third of the TTL: a deploy in the same window changes nothing, one in the next window
    replaces every secret-id (its metadata is ForceNew) and, through the uploaded secret-id, exactly the
    agent containers; the datastores and the app keep running."""
    ttl = 30 * 86400
    start = 1_900_000_000 // (ttl // 3) * (ttl // 3)
    runs = {}
    for label, moment in (("start", start), ("same window", start + ttl // 3 - 1), ("next window", start + ttl // 3)):
        monkeypatch.setattr(stack_config, "clock", lambda moment=moment: float(moment))
        runs[label] = run_stack("production", {"vaultAgentCidrs": json.dumps(CIDRS[:1])})
        assert runs[label].error is None, runs[label].error
    assert metadata_by_service(runs["start"]) == metadata_by_service(runs["same window"])
    assert rotate.changed_containers(runs["start"], runs["same window"]) == ()
    before, after = metadata_by_service(runs["start"]), metadata_by_service(runs["next window"])
    assert set(before) == {"app", "postgres", "redis", "backup"}
    for service in before:
        assert before[service]["renewal_window"] != after[service]["renewal_window"], service
        assert {k: v for k, v in before[service].items() if k != "renewal_window"} == {
            "env": "production",
            "service": service,
        }
    # Under mocks a new secret-id input gives a new secret-id (the mocks derive it from the inputs).
    recreated = {(r.service, r.agent_for) for r in rotate.changed_containers(runs["start"], runs["next window"])}
    assert recreated == {("vault-agent", s) for s in before}


def test_production_refuses_pulumi_up_without_vault_agent_cidrs_and_a_preview_warns_in_one_line():
    config, keys = config_of("production", {"vaultValuesAdopted": "true"})
    up = run_program("production", config, keys, preview=False)
    assert isinstance(up.error, ConfigError)
    assert str(up.error) == (
        "config finance-report:vaultAgentCidrs = [] is invalid: expected the Docker host's egress address as "
        "Vault sees it, before production's first `pulumi up`: `pulumi config set --path 'vaultAgentCidrs[0]' "
        "<address>/32 --stack production`"
    )
    assert up.resources == []
    preview = run_program("production", config, keys)
    assert preview.error is None
    assert [w for w in preview.warnings if "vaultAgentCidrs" in w] == [
        "vaultAgentCidrs is empty: `pulumi up` will refuse to run; set the Docker host's egress address as Vault "
        "sees it, before production's first `pulumi up`: `pulumi config set --path 'vaultAgentCidrs[0]' "
        "<address>/32 --stack production`"
    ]
    bound, keys = config_of("production", {"vaultValuesAdopted": "true", "vaultAgentCidrs": json.dumps(CIDRS[:1])})
    assert run_program("production", bound, keys, preview=False).error is None
    staging, keys = config_of("staging", {"vaultValuesAdopted": "true"})
    assert run_program("staging", staging, keys, preview=False).error is None, "staging may run unbound"


def test_more_cidrs_than_the_deploy_policy_can_pin_in_every_order_are_refused():
    run = run_stack("staging", {"vaultAgentCidrs": json.dumps([f"10.0.{i}.0/24" for i in range(5)])})
    assert str(run.error).endswith("is invalid: expected at most 4 distinct CIDRs")
    run = run_stack("staging", {"vaultAgentCidrs": json.dumps(CIDRS[:1] * 2)})
    assert str(run.error).endswith("is invalid: expected at most 4 distinct CIDRs")
