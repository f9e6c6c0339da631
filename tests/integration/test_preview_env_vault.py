"""The preview deployer's Vault token on a real OpenBao (README "Preview environments").

The compose deployment's previews borrowed staging's AppRole; here a preview stack creates its own, with
a token whose policy (components/preview_env.deployer_policy_hcl, no default policy) covers `pr<N>` names
only. Shown with a generated preview's own artifacts (policies, KV secrets, AppRoles from its captured
inputs): that token does everything the Vault provider does to deploy and destroy them (child token,
writes, role-id, secret-id mint, lookup and destroy, delete of every KV version, deletes), and is refused
every one of those on staging's and production's names: it cannot read staging's database password,
mint a secret-id for staging's roles, or rewrite their policies.
"""

from __future__ import annotations

import hvac.exceptions
import pytest

from components.preview_env import DEPLOYER_POLICY_NAME, deployer_policy_hcl
from tests.integration.sidecar import Artifacts
from tools import preview_env
from tools.program_run import run_program, with_missing_secrets
from tools.stack_file import read_stack_file

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def preview(openbao, tmp_path_factory):
    stack_path, _, _ = preview_env.generate(4242, tmp_path_factory.mktemp("preview"))
    config, secret_keys = read_stack_file(stack_path)
    config["finance-report:vaultAddress"] = openbao.address
    config, secret_keys = with_missing_secrets(config, secret_keys)
    run = run_program("pr4242", config, secret_keys)
    assert run.error is None, run.error
    return Artifacts(run)


@pytest.fixture(scope="module")
def deployer(openbao):
    root = openbao.client()
    root.sys.create_or_update_acl_policy(name=DEPLOYER_POLICY_NAME, policy=deployer_policy_hcl("secret", "approle"))
    token = root.auth.token.create(policies=[DEPLOYER_POLICY_NAME], no_default_policy=True, no_parent=True, ttl="1h")["auth"]["client_token"]
    # The Vault provider works with a child token of the one it is given (it inherits the policy).
    child = openbao.client(token=token).auth.token.create(ttl="20m")["auth"]["client_token"]
    return openbao.client(token=child)


def deploy(client, artifacts: Artifacts) -> dict[str, str]:
    """What `pulumi up` does through the Vault provider; returns role -> minted secret-id."""
    for name, hcl in artifacts.policies().items():
        client.sys.create_or_update_acl_policy(name=name, policy=hcl)
        client.sys.read_acl_policy(name=name)
    for service, (mount, data) in artifacts.kv().items():
        path = f"finance_report/{artifacts.env}/{service}"
        client.secrets.kv.v2.create_or_update_secret(path=path, secret=data, mount_point=mount)
        client.secrets.kv.v2.read_secret_version(path=path, mount_point=mount, raise_on_deleted_version=True)
    minted = {}
    for role, settings in artifacts.roles().items():
        client.auth.approle.create_or_update_approle(role_name=role, mount_point="approle", **settings)
        client.auth.approle.read_role(role_name=role, mount_point="approle")
        client.auth.approle.read_role_id(role_name=role, mount_point="approle")
        minted[role] = client.auth.approle.generate_secret_id(role_name=role, metadata={"service": role.rsplit("-", 1)[1]}, mount_point="approle")["data"]
    return minted


def destroy(client, artifacts: Artifacts, minted: dict[str, dict]) -> None:
    """What `pulumi destroy` does: secret-ids (looked up by accessor, then destroyed), roles, every KV
    version with its metadata (delete_all_versions), policies."""
    for role, secret in minted.items():
        client.auth.approle.read_secret_id_accessor(role_name=role, secret_id_accessor=secret["secret_id_accessor"], mount_point="approle")
        client.auth.approle.destroy_secret_id_accessor(role_name=role, secret_id_accessor=secret["secret_id_accessor"], mount_point="approle")
        client.auth.approle.delete_role(role_name=role, mount_point="approle")
    for service, (mount, _) in artifacts.kv().items():
        client.secrets.kv.v2.delete_metadata_and_all_versions(path=f"finance_report/{artifacts.env}/{service}", mount_point=mount)
    for name in artifacts.policies():
        client.sys.delete_acl_policy(name=name)


def test_the_deployer_deploys_and_destroys_its_preview_and_leaves_nothing(openbao, preview, deployer):
    minted = deploy(deployer, preview)
    assert sorted(minted) == sorted(preview.roles()), "a secret-id for every role the program declares"
    role_id = deployer.auth.approle.read_role_id(role_name="finance_report-pr4242-app", mount_point="approle")["data"]["role_id"]
    agent = openbao.client(token="none")
    login = agent.auth.approle.login(role_id=role_id, secret_id=minted["finance_report-pr4242-app"]["secret_id"], use_token=False)
    assert set(login["auth"]["policies"]) == {"finance_report-pr4242-app"}
    destroy(deployer, preview, minted)
    root = openbao.client()
    for service in ("app", "postgres", "redis"):
        with pytest.raises(hvac.exceptions.InvalidPath):  # no version left, no metadata: nothing to undelete
            root.secrets.kv.v2.read_secret_metadata(path=f"finance_report/pr4242/{service}", mount_point="secret")
    assert not [p for p in root.sys.list_acl_policies()["data"]["keys"] if p.startswith("finance_report-pr4242")]
    with pytest.raises(hvac.exceptions.InvalidRequest):
        agent.auth.approle.login(role_id=role_id, secret_id=minted["finance_report-pr4242-app"]["secret_id"], use_token=False)


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_the_deployer_is_refused_everything_of_staging_and_production(openbao, deployer, program, stack):
    artifacts: Artifacts = program[stack]
    env = artifacts.env
    attempts = {
        "read the database password": lambda: deployer.secrets.kv.v2.read_secret_version(path=f"finance_report/{env}/postgres", mount_point="secret", raise_on_deleted_version=True),
        "overwrite the app secrets": lambda: deployer.secrets.kv.v2.create_or_update_secret(path=f"finance_report/{env}/app", secret={"SECRET_KEY": "x"}, mount_point="secret"),
        "delete the KV history": lambda: deployer.secrets.kv.v2.delete_metadata_and_all_versions(path=f"finance_report/{env}/redis", mount_point="secret"),
        "mint a secret-id for its role": lambda: deployer.auth.approle.generate_secret_id(role_name=f"finance_report-{env}-postgres", mount_point="approle"),
        "read its role-id": lambda: deployer.auth.approle.read_role_id(role_name=f"finance_report-{env}-app", mount_point="approle"),
        "widen its policy": lambda: deployer.sys.create_or_update_acl_policy(name=f"finance_report-{env}-app", policy='path "secret/*" {\n  capabilities = ["read"]\n}\n'),
        "delete its role": lambda: deployer.auth.approle.delete_role(role_name=f"finance_report-{env}-redis", mount_point="approle"),
        "write a policy outside the previews": lambda: deployer.sys.create_or_update_acl_policy(name="finance_report-prod-app", policy='path "secret/*" {\n  capabilities = ["read"]\n}\n'),
    }
    allowed = []
    for what, attempt in attempts.items():
        try:
            attempt()
            allowed.append(what)
        except hvac.exceptions.Forbidden:
            pass
    assert allowed == [], f"the preview deployer may {allowed} of {stack}"
    root = openbao.client()
    stored = root.secrets.kv.v2.read_secret_version(path=f"finance_report/{env}/app", mount_point="secret", raise_on_deleted_version=True)["data"]["data"]
    assert stored == artifacts.kv()["app"][1], "a refused write changed nothing"
    assert f"finance_report-{env}-app" in root.auth.approle.list_roles(mount_point="approle")["data"]["keys"]
