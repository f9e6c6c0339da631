"""The preview token's Vault policy (docs/ci-credentials.md) is built from facts.providers.VAULT_READ_CALLS
for one env's own services: reads only (plus the secret-id accessor lookup the provider's read uses), no
glob, no list, no token creation. docs/vault/ holds the exact HCL for both stacks. Its behaviour on a real
OpenBao is in tests/integration/test_preview_credentials.py."""

from __future__ import annotations

import hcl2
import pytest

from facts.providers import VAULT_READ_CALLS
from render.vault_artifacts import preview_policy_hcl, preview_policy_name
from tests.conftest import ROOT

SERVICES = ("postgres", "redis", "app")


def grants(hcl: str) -> dict[str, list[str]]:
    return {path: body["capabilities"] for block in hcl2.loads(hcl)["path"] for path, body in block.items()}


@pytest.mark.parametrize("env", ["production", "staging"])
def test_every_read_call_is_granted_on_each_service_of_the_env_and_nothing_else(env):
    found = grants(preview_policy_hcl("secret", "approle", env, SERVICES))
    expected = {}
    for capability, template in VAULT_READ_CALLS:
        for service in SERVICES:
            path = template.format(
                kv="secret",
                approle="approle",
                name=f"finance_report/{env}/{service}",
                policy=f"finance_report-{env}-{service}",
                role=f"finance_report-{env}-{service}",
            )
            expected[path] = [capability]
    assert found == expected


def test_the_policy_reads_and_never_lists_writes_or_creates_tokens():
    found = grants(preview_policy_hcl("secret", "approle", "staging", SERVICES))
    for path, capabilities in found.items():
        assert "*" not in path and "+" not in path, path
        if path.endswith("/secret-id-accessor/lookup"):
            assert capabilities == ["update"], path  # the provider's read is a POST that returns metadata only
        else:
            assert capabilities == ["read"], path
    assert not any(path.startswith("auth/token/create") for path in found)
    assert not any("production" in path for path in found)


def test_the_mounts_come_from_config():
    found = grants(preview_policy_hcl("kv2", "approle-ci", "staging", ["app"]))
    assert (
        "kv2/data/finance_report/staging/app" in found
        and "auth/approle-ci/role/finance_report-staging-app/role-id" in found
    )


def test_the_ci_credentials_page_writes_the_exact_preview_policy_of_each_stack(production, staging):
    page = (ROOT / "docs/ci-credentials.md").read_text()
    for run in (production, staging):
        env = run.outputs["env"]
        hcl = preview_policy_hcl("secret", "approle", env, sorted(run.outputs["vault_roles"]))
        assert f"vault policy write {preview_policy_name(env)} docs/vault/preview-{env}.hcl\n" in page
        assert (ROOT / f"docs/vault/preview-{env}.hcl").read_text() == hcl, (
            f"docs/vault/preview-{env}.hcl is stale: run `uv run invoke vault-policies`"
        )
