"""The preview deployer's Vault token on a real OpenBao (docs/pr-environments.md).

The compose deployment's previews borrowed staging's AppRole; here a preview stack creates its own roles
with a token whose policy (render/preview_env.deployer_policy_hcl, no default policy) covers `pr<N>`
names only and writes no ACL policy: its roles may carry only the platform's shared preview policies.
Shown with a generated preview's own artifacts (KV secrets, AppRoles from its captured inputs), in the
provider's request shapes (vault_provider.py): that token does everything the Vault provider does to
deploy and destroy them (child token, writes, role-id, secret-id mint, lookup and destroy, delete of every
KV version, deletes), its agents read their own service's secret only, and it is refused everything of
staging's and production's, including through a role it writes: it cannot give a role another policy in
any form Vault accepts, or write a policy.
"""

from __future__ import annotations

import hvac.exceptions
import pytest

from config.stack_file import read_stack_file
from ops import preview_env
from ops.program_run import run_program, with_missing_secrets
from render import naming
from render.preview_env import DEPLOYER_POLICY_NAME, SERVICES, deployer_policy_hcl, preview_service_policy_hcl
from tests.integration.sidecar import Artifacts
from tests.integration.vault_provider import VaultHTTP, deploy, destroy, escalations

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def preview(openbao, tmp_path_factory):
    stack_path, _ = preview_env.generate(4242, tmp_path_factory.mktemp("preview"))
    config, secret_keys = read_stack_file(stack_path)
    config["finance-report:vaultAddress"] = openbao.address
    config, secret_keys = with_missing_secrets(config, secret_keys)
    run = run_program("pr4242", config, secret_keys)
    assert run.error is None, run.error
    return Artifacts(run)


@pytest.fixture(scope="module")
def deployer(openbao):
    """The previews' deploy token, and the platform's shared preview policies (docs/pr-environments.md: once, before the
    first preview), both written by root."""
    root = openbao.client()
    for service in SERVICES:
        root.sys.create_or_update_acl_policy(
            name=naming.preview_service_policy_name(service), policy=preview_service_policy_hcl("secret", service)
        )
    root.sys.create_or_update_acl_policy(name=DEPLOYER_POLICY_NAME, policy=deployer_policy_hcl("secret", "approle"))
    token = root.auth.token.create(policies=[DEPLOYER_POLICY_NAME], no_default_policy=True, no_parent=True, ttl="1h")[
        "auth"
    ]["client_token"]
    # The Vault provider works with a child token of the one it is given (it inherits the policy).
    child = openbao.client(token=token).auth.token.create(ttl="20m")["auth"]["client_token"]
    return VaultHTTP(openbao.address, child)


def test_the_deployer_deploys_and_destroys_its_preview_and_leaves_nothing(openbao, preview, deployer):
    assert preview.policies() == {}, "a preview writes no ACL policy"
    minted = deploy(deployer, preview)
    assert sorted(minted) == sorted(preview.roles()), "a secret-id for every role the program declares"
    role_id = deployer.ok("GET", "auth/approle/role/finance_report-pr4242-app/role-id")["data"]["role_id"]
    agent = openbao.client(token="none")
    login = agent.auth.approle.login(
        role_id=role_id, secret_id=minted["finance_report-pr4242-app"]["secret_id"], use_token=False
    )
    assert login["auth"]["policies"] == ["finance_report-previews-app"]
    reader = VaultHTTP(openbao.address, login["auth"]["client_token"])
    assert reader.call("GET", "secret/data/finance_report/previews/pr4242/app").status_code == 200
    assert reader.call("GET", "secret/data/finance_report/previews/pr4242/postgres").status_code == 403, (
        "another service's secret"
    )
    destroy(deployer, preview, minted)
    root = openbao.client()
    for service in ("app", "postgres", "redis", "backup"):
        with pytest.raises(hvac.exceptions.InvalidPath):  # no version left, no metadata: nothing to undelete
            root.secrets.kv.v2.read_secret_metadata(
                path=f"finance_report/previews/pr4242/{service}", mount_point="secret"
            )
    with pytest.raises(hvac.exceptions.InvalidRequest):
        agent.auth.approle.login(
            role_id=role_id, secret_id=minted["finance_report-pr4242-app"]["secret_id"], use_token=False
        )


@pytest.mark.parametrize(
    "target",
    [
        "finance_report-production-app",
        "finance_report-staging-postgres",
        "finance_report-preview-envs-deployer",
        "root",
        "default",
    ],
)
def test_the_deployer_cannot_give_a_preview_role_any_other_policy(openbao, preview, deployer, target):
    """The escalation a plain role grant allows: write a pr<N> role carrying production's policy, mint
    a secret-id, log in, read. Every form Vault accepts is refused; the role keeps its preview policy."""
    deploy(deployer, preview)
    attempts = escalations(deployer, "finance_report-pr4242-app", target)
    assert {what: r.status_code for what, r in attempts.items()} == {what: 403 for what in attempts}
    fresh = deployer.call("POST", "auth/approle/role/finance_report-pr9-new", {"token_policies": [target]})
    assert fresh.status_code == 403, "nor a new preview-named role"
    assert openbao.client().read("auth/approle/role/finance_report-pr4242-app")["data"]["token_policies"] == [
        "finance_report-previews-app"
    ]


PREVIEW_ROLE_ATTACKS = {
    "bind_secret_id off: the role-id alone logs in": {"bind_secret_id": False},
    "CIDR binding set to anywhere": {"secret_id_bound_cidrs": ["0.0.0.0/0"], "token_bound_cidrs": ["0.0.0.0/0"]},
    "CIDR lists written empty": {"secret_id_bound_cidrs": [], "token_bound_cidrs": []},
    "periodic tokens": {"token_period": 31536000},
    "periodic tokens under the deprecated name": {"period": 31536000},
    "a secret-id use count": {"secret_id_num_uses": 1000},
    "tokens with a use count": {"token_num_uses": 1000},
    "batch tokens": {"token_type": "batch"},
    "the default policy on every token": {"token_no_default_policy": False},
    "secret-ids local to one cluster": {"local_secret_ids": True},
    "a role-id of its own choosing": {"role_id": "attacker-chosen-role-id"},
}
PREVIEW_SECRET_ID_ATTACKS = {
    "never expires, unlimited uses": {"ttl": 0, "num_uses": 0},
    "a CIDR list of its own": {"cidr_list": "0.0.0.0/0"},
    "token CIDRs of its own": {"token_bound_cidrs": "0.0.0.0/0"},
}


def test_the_deployer_can_set_a_preview_roles_fields_only_to_the_programs_values(openbao, preview, deployer):
    """Issue 16 items 1 and 2 for previews: the deployer must update and delete pr<N> roles (a preview's
    own updates and destroy), so pins are its only guard: every field the program sets as a string, a
    boolean or a list, the role-id, and a mint's parameters. The TTLs are numbers, which Vault cannot pin
    (test_vault_semantics.py), and a deleted role comes back with Vault's defaults: docs/secrets.md "Incidents"
    says what that leaves a leaked preview deployer token (previews hold throwaway values only)."""
    deploy(deployer, preview)
    root = openbao.client()
    allowed = {}
    for role in sorted(preview.roles()):
        path = f"auth/approle/role/{role}"
        before = root.read(path)["data"], root.read(f"{path}/role-id")["data"]
        attempts = {what: ("POST", path, body) for what, body in PREVIEW_ROLE_ATTACKS.items()}
        attempts["write a role-id of its own"] = ("POST", f"{path}/role-id", {"role_id": "attacker-chosen"})
        attempts["turn bind_secret_id off through its own endpoint"] = (
            "POST",
            f"{path}/bind-secret-id",
            {"bind_secret_id": False},
        )
        for what, body in PREVIEW_SECRET_ID_ATTACKS.items():
            attempts[f"mint a secret-id: {what}"] = ("POST", f"{path}/secret-id", body)
        attempts["mint a secret-id of its own choosing"] = ("POST", f"{path}/custom-secret-id", {"secret_id": "x" * 36})
        for what, (method, call_path, body) in attempts.items():
            status = deployer.call(method, call_path, body).status_code
            if status != 403:
                allowed[f"{role}: {what}"] = status
        assert (root.read(path)["data"], root.read(f"{path}/role-id")["data"]) == before, f"{role} changed"
    assert allowed == {}


def test_the_deployer_writes_no_acl_policy_at_all(deployer):
    text = 'path "secret/data/finance_report/production/app" {\n  capabilities = ["read"]\n}\n'
    for name in ("finance_report-pr4242-app", "finance_report-previews-app", "finance_report-pr1-x"):
        assert deployer.call("PUT", f"sys/policies/acl/{name}", {"policy": text}).status_code == 403, name


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_the_deployer_is_refused_everything_of_staging_and_production(openbao, deployer, program, stack):
    artifacts: Artifacts = program[stack]
    env = artifacts.env
    attempts = {
        "read the database password": ("GET", f"secret/data/finance_report/{env}/postgres", None),
        "overwrite the app secrets": ("POST", f"secret/data/finance_report/{env}/app", {"data": {"SECRET_KEY": "x"}}),
        "delete the KV history": ("DELETE", f"secret/metadata/finance_report/{env}/redis", None),
        "mint a secret-id for its role": ("POST", f"auth/approle/role/finance_report-{env}-postgres/secret-id", {}),
        "read its role-id": ("GET", f"auth/approle/role/finance_report-{env}-app/role-id", None),
        "widen its policy": (
            "PUT",
            f"sys/policies/acl/finance_report-{env}-app",
            {"policy": 'path "secret/*" {\n  capabilities = ["read"]\n}\n'},
        ),
        "delete its role": ("DELETE", f"auth/approle/role/finance_report-{env}-redis", None),
        "write a policy outside the previews": (
            "PUT",
            "sys/policies/acl/finance_report-prod-app",
            {"policy": 'path "secret/*" {\n  capabilities = ["read"]\n}\n'},
        ),
    }
    statuses = {what: deployer.call(*call).status_code for what, call in attempts.items()}
    assert statuses == {what: 403 for what in attempts}, f"the preview deployer may do some of this to {stack}"
    root = openbao.client()
    stored = root.secrets.kv.v2.read_secret_version(
        path=f"finance_report/{env}/app", mount_point="secret", raise_on_deleted_version=True
    )["data"]["data"]
    assert stored == artifacts.kv()["app"][1], "a refused write changed nothing"
    assert f"finance_report-{env}-app" in root.auth.approle.list_roles(mount_point="approle")["data"]["keys"]
