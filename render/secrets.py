"""Generated secrets and the values adopted from Vault (invariant 8: adoption without data loss).

The program owns the values it generates (random resources): after `invoke adopt` imported today's values
into their state, they are kept until `pulumi up --replace <urn>` rotates them, and Vault is never read by
the program (a preview cannot fail on a missing KV path). Values in an env's KV secrets that the program
does not generate (older LLM encryption keys, keys of features it does not know) are carried in the
secret config `vaultKeptValues` by `invoke adopt` and written back unchanged: a KV write never drops or
blanks them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

GENERATED_PASSWORD = {"length": 32, "special": True, "override_special": "!#%+-.:=?@^_~"}
# Arguments that `pulumi import` of an existing value records differently (its length, character classes):
# never a reason to regenerate the value. Rotation is an explicit replace.
IMPORT_IGNORED = [
    "length",
    "special",
    "overrideSpecial",
    "upper",
    "lower",
    "numeric",
    "number",
    "minLower",
    "minUpper",
    "minNumeric",
    "minSpecial",
    "keepers",
]


def generated_options(parent: pulumi.Resource) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=parent, ignore_changes=IMPORT_IGNORED)


def kept_merge(
    owned: Mapping[str, pulumi.Input[str]], kept: pulumi.Input[Mapping[str, Any] | None]
) -> pulumi.Output[dict]:
    """The KV document: kept values, then the program's own (which win). Always secret."""
    merged = pulumi.Output.all(pulumi.Output.from_input(kept), pulumi.Output.all(**owned)).apply(
        lambda ko: {**(ko[0] or {}), **ko[1]}
    )
    return pulumi.Output.secret(merged)


def llm_keys(generated: str | None, kept: str | None) -> str:
    """LLM_ENCRYPTION_KEYS, newest first: the generated key (when llmEncryption is on), then every key
    kept from before, so data encrypted with them stays readable."""
    return ",".join(k for k in [generated, *((kept or "").split(","))] if k)


class Generated:
    """A value the program generates, and where it is written: `invoke adopt` imports today's value of
    `service`'s KV `key` into the random resource `resource` (its Pulumi name)."""

    def __init__(self, resource: str, service: str, key: str, kind: str):
        self.resource, self.service, self.key, self.kind = resource, service, key, kind

    def import_id(self, vault_value: str) -> str | None:
        """The id `pulumi import` takes for today's value: the password itself, or for the newest Fernet
        key its 32 bytes as standard base64 (random_bytes' import id)."""
        if self.kind == "password":
            return vault_value or None
        newest = (vault_value or "").split(",")[0].strip()
        return newest.replace("-", "+").replace("_", "/") or None

    def kept_rest(self, vault_value: str) -> str | None:
        """What of today's value the import does not carry (older Fernet keys): kept as it is."""
        if self.kind != "fernet":
            return None
        rest = ",".join(k for k in (vault_value or "").split(",")[1:] if k)
        return rest or None


GENERATED = (
    Generated("postgres-password", "postgres", "POSTGRES_PASSWORD", "password"),
    Generated("postgres-app-password", "postgres", "APP_DB_PASSWORD", "password"),
    Generated("postgres-backup-password", "postgres", "BACKUP_DB_PASSWORD", "password"),
    Generated("redis-password", "redis", "PASSWORD", "password"),
    Generated("app-secret-key", "app", "SECRET_KEY", "password"),
    Generated("app-llm-key", "app", "LLM_ENCRYPTION_KEYS", "fernet"),
    # A re-created stack must keep the repository password, or every backup made with it is lost.
    Generated("backup-restic-password", "backup", "RESTIC_PASSWORD", "password"),
)
