"""The Vault policy of the token that deploys and destroys pull requests' preview envs (pure).

A preview stack (`pr<N>`, policies/envs.py) creates its own Vault policies, AppRoles, secret-ids and KV
secrets, so its deploy token must write them; it must never reach staging's or production's. Vault
policy paths only glob at the end, and `finance_report-pr*` would also match `finance_report-production-*`.
So the grants are per leading digit: `finance_report-pr1*` ... `pr9*`, which match exactly the `pr<N>`
names (N has no leading zero; the program refuses any other env starting with `pr` and a digit).

README "Preview environments" prints this policy; tests/integration/test_preview_env_vault.py applies it
to OpenBao and shows that such a token deploys a preview's artifacts and is refused everything of
staging and production.
"""

from __future__ import annotations

from components import naming

DEPLOYER_POLICY_NAME = f"{naming.PREFIX}-preview-envs-deployer"
DIGITS = "123456789"


def deployer_policy_hcl(kv_mount: str = "secret", approle_mount: str = "approle") -> str:
    """What a preview's `pulumi up`/`destroy` does through the Vault provider, on preview names only:
    policies, AppRole roles with their role-id and secret-ids (create, look up, destroy), KV v2 data and
    metadata (a destroyed preview deletes every version). Plus its own token: look up, create the
    provider's child token (which inherits this policy), revoke it."""
    crud = '["create", "read", "update", "delete"]'
    blocks = [
        ('auth/token/lookup-self', '["read"]'),
        ('auth/token/create', '["update"]'),
        ('auth/token/revoke-self', '["update"]'),
    ]
    for digit in DIGITS:
        env_glob = f"pr{digit}*"
        blocks += [
            (f"sys/policies/acl/{naming.PREFIX}-{env_glob}", crud),
            (f"auth/{approle_mount}/role/{naming.PREFIX}-{env_glob}", crud),
            (f"{kv_mount}/data/{naming.PREFIX}/{env_glob}", crud),
            (f"{kv_mount}/metadata/{naming.PREFIX}/{env_glob}", '["read", "update", "delete"]'),
        ]
    return "\n".join(f'path "{path}" {{\n  capabilities = {caps}\n}}\n' for path, caps in blocks)
