"""The Vault policies of PR environments (pure): the token that deploys and destroys them,
and the platform-owned policy per service their agents read with.

A PR env stack (`pr<N>`, facts/envs.py) creates its own AppRoles, secret-ids and KV secrets, so its
deploy token must write them; it must never reach staging's or production's. It writes no ACL policy: a
token that may write a policy's text, or attach any policy to a role, can grant itself any path (mint a
secret-id for a role carrying production's policy, log in, read). So the PR env agents' policies are
written once by the platform, one per service (`pr_env_service_policy_hcl`, reading that service's
secret of every PR env under `finance_report/previews/+/`), and a role write may attach only those.

Vault policy paths only glob at the end, and `finance_report-pr*` would also match
`finance_report-production-*`. So the role grants are per leading digit: `finance_report-pr1*` ...
`pr9*`, which match exactly the `pr<N>` names (N has no leading zero; the program refuses any other env
starting with `pr` and a digit). The KV grants need no such care: PR envs' secrets have their own
subtree.

docs/pr-environments.md writes these policies (as docs/vault/ files); tests/integration/
test_pr_env_vault.py applies them to OpenBao and shows that such a token deploys a PR env's
artifacts and is refused everything of staging and production, including through a role or policy it
writes.
"""

from __future__ import annotations

from collections.abc import Sequence

from facts.envs import PR_ENVS_KV_DIR
from facts.services import VaultService
from render import naming
from render.vault_artifacts import (
    ACCESSOR_PARAMETERS,
    SECRET_ID_MINT_PARAMETERS,
    SECRET_ID_TTL_SECONDS,
    approle_settings,
    hcl_block,
    role_write_parameters,
)

# The name of a Vault policy that exists on the live server (docs/pr-environments.md): kept as it was when
# PR environments were called preview envs, so no token or role loses it.
DEPLOYER_POLICY_NAME = f"{naming.PREFIX}-preview-envs-deployer"
DIGITS = "123456789"
SERVICES = tuple(VaultService)  # every service with a Vault side (the program's vault_roles)


def pr_env_service_policy_hcl(kv_mount: str, service: str) -> str:
    """What a PR env's `service` agent reads: that service's secret of any PR env, and its own token.
    PR envs share it (one PR env's agent can read another PR env's secret of the same service, all
    throwaway); nothing outside `finance_report/previews/` is reachable."""
    return (
        hcl_block(f"{kv_mount}/data/{naming.PREFIX}/{PR_ENVS_KV_DIR}/+/{service}", ["read"])
        + "\n"
        + hcl_block("auth/token/lookup-self", ["read"])
    )


def deployer_policy_hcl(
    kv_mount: str = "secret",
    approle_mount: str = "approle",
    bound_cidrs: Sequence[str] = (),
    secret_id_ttl: int = SECRET_ID_TTL_SECONDS,
) -> str:
    """What a PR env's `pulumi up`/`destroy` does through the Vault provider, on PR env names only:
    AppRole roles (carrying only the shared PR env policies) with their role-id and secret-ids (create,
    look up, list, destroy), KV v2 data and metadata under the PR envs' subtree (a destroyed PR env
    deletes every version). Plus its own token: look up, create the provider's child token (which inherits
    this policy), revoke it. `bound_cidrs` and `secret_id_ttl` are what PR envs inherit from staging's
    stack file (ops/pr_env.template.yaml): docs/pr-environments.md gives the command that writes it."""
    crud = ["create", "read", "update", "delete", "list"]
    # One rule covers a role and its sub-paths (role-id, secret-id, accessor lookup and destroy, and the
    # per-field endpoints such as secret-id-ttl), so it allows what the provider sends to any of them:
    # the role's fields pinned to the program's values, a mint's metadata, an accessor. No role-id, no
    # secret-id value, ttl, use count or CIDR list of the caller's own. What it cannot stop, with the
    # update and delete a PR env's own updates and destroy need: a number (a TTL) set to any value, a
    # field reset to Vault's default through its own endpoint, a role deleted and created again with
    # Vault's defaults (docs/secrets.md "Incidents"): PR envs hold throwaway values only.
    settings = approle_settings("pr1", SERVICES[0], bound_cidrs, secret_id_ttl)
    allowed = {
        **role_write_parameters(settings, [naming.pr_env_service_policy_name(s) for s in SERVICES]),
        **SECRET_ID_MINT_PARAMETERS,
        **ACCESSOR_PARAMETERS,
    }
    blocks = [
        hcl_block("auth/token/lookup-self", ["read"]),
        hcl_block("auth/token/create", ["update"]),
        hcl_block("auth/token/revoke-self", ["update"]),
        hcl_block(f"{kv_mount}/data/{naming.PREFIX}/{PR_ENVS_KV_DIR}/*", crud),
        hcl_block(f"{kv_mount}/metadata/{naming.PREFIX}/{PR_ENVS_KV_DIR}/*", ["read", "update", "delete"]),
    ]
    blocks += [hcl_block(f"auth/{approle_mount}/role/{naming.PREFIX}-pr{digit}*", crud, allowed) for digit in DIGITS]
    return "\n".join(blocks)
