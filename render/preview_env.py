"""The Vault policies of pull requests' preview envs (pure): the token that deploys and destroys them,
and the platform-owned policy per service their agents read with.

A preview stack (`pr<N>`, facts/envs.py) creates its own AppRoles, secret-ids and KV secrets, so its
deploy token must write them; it must never reach staging's or production's. It writes no ACL policy: a
token that may write a policy's text, or attach any policy to a role, can grant itself any path (mint a
secret-id for a role carrying production's policy, log in, read). So the preview agents' policies are
written once by the platform, one per service (`preview_service_policy_hcl`, reading that service's
secret of every preview under `finance_report/previews/+/`), and a role write may attach only those.

Vault policy paths only glob at the end, and `finance_report-pr*` would also match
`finance_report-production-*`. So the role grants are per leading digit: `finance_report-pr1*` ...
`pr9*`, which match exactly the `pr<N>` names (N has no leading zero; the program refuses any other env
starting with `pr` and a digit). The KV grants need no such care: previews' secrets have their own
subtree.

docs/pr-environments.md writes these policies (as docs/vault/ files); tests/integration/
test_preview_env_vault.py applies them to OpenBao and shows that such a token deploys a preview's
artifacts and is refused everything of staging and production, including through a role or policy it
writes.
"""

from __future__ import annotations

from collections.abc import Sequence

from facts.envs import PREVIEWS_KV_DIR
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

DEPLOYER_POLICY_NAME = f"{naming.PREFIX}-preview-envs-deployer"
DIGITS = "123456789"
SERVICES = tuple(VaultService)  # every service with a Vault side (the program's vault_roles)


def preview_service_policy_hcl(kv_mount: str, service: str) -> str:
    """What a preview's `service` agent reads: that service's secret of any preview, and its own token.
    Previews share it (one preview's agent can read another preview's secret of the same service, all
    throwaway); nothing outside `finance_report/previews/` is reachable."""
    return (
        hcl_block(f"{kv_mount}/data/{naming.PREFIX}/{PREVIEWS_KV_DIR}/+/{service}", ["read"])
        + "\n"
        + hcl_block("auth/token/lookup-self", ["read"])
    )


def deployer_policy_hcl(
    kv_mount: str = "secret",
    approle_mount: str = "approle",
    bound_cidrs: Sequence[str] = (),
    secret_id_ttl: int = SECRET_ID_TTL_SECONDS,
) -> str:
    """What a preview's `pulumi up`/`destroy` does through the Vault provider, on preview names only:
    AppRole roles (carrying only the shared preview policies) with their role-id and secret-ids (create,
    look up, list, destroy), KV v2 data and metadata under the previews' subtree (a destroyed preview
    deletes every version). Plus its own token: look up, create the provider's child token (which inherits
    this policy), revoke it. `bound_cidrs` and `secret_id_ttl` are what previews inherit from staging's
    stack file (ops/preview_env.template.yaml): docs/pr-environments.md gives the command that writes it."""
    crud = ["create", "read", "update", "delete", "list"]
    # One rule covers a role and its sub-paths (role-id, secret-id, accessor lookup and destroy, and the
    # per-field endpoints such as secret-id-ttl), so it allows what the provider sends to any of them:
    # the role's fields pinned to the program's values, a mint's metadata, an accessor. No role-id, no
    # secret-id value, ttl, use count or CIDR list of the caller's own. What it cannot stop, with the
    # update and delete a preview's own updates and destroy need: a number (a TTL) set to any value, a
    # field reset to Vault's default through its own endpoint, a role deleted and created again with
    # Vault's defaults (docs/secrets.md "Incidents"): previews hold throwaway values only.
    settings = approle_settings("pr1", SERVICES[0], bound_cidrs, secret_id_ttl)
    allowed = {
        **role_write_parameters(settings, [naming.preview_service_policy_name(s) for s in SERVICES]),
        **SECRET_ID_MINT_PARAMETERS,
        **ACCESSOR_PARAMETERS,
    }
    blocks = [
        hcl_block("auth/token/lookup-self", ["read"]),
        hcl_block("auth/token/create", ["update"]),
        hcl_block("auth/token/revoke-self", ["update"]),
        hcl_block(f"{kv_mount}/data/{naming.PREFIX}/{PREVIEWS_KV_DIR}/*", crud),
        hcl_block(f"{kv_mount}/metadata/{naming.PREFIX}/{PREVIEWS_KV_DIR}/*", ["read", "update", "delete"]),
    ]
    blocks += [hcl_block(f"auth/{approle_mount}/role/{naming.PREFIX}-pr{digit}*", crud, allowed) for digit in DIGITS]
    return "\n".join(blocks)
