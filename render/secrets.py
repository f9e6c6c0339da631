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
from typing import Any, TypedDict

import pulumi

from facts.envs import is_pr_env


class PasswordArgs(TypedDict):
    length: int
    special: bool
    override_special: str


GENERATED_PASSWORD: PasswordArgs = {"length": 32, "special": True, "override_special": "!#%+-.:=?@^_~"}
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


def generated_options(parent: pulumi.Resource, protect: bool = False) -> pulumi.ResourceOptions:
    """`protect` for a value data depends on (facts.generated_secrets.DATA_BEARING_SECRETS) outside a PR env."""
    return pulumi.ResourceOptions(parent=parent, ignore_changes=IMPORT_IGNORED, protect=protect)


def keeps_data(env: str) -> bool:
    """Whether the env's data-bearing generated secrets are protected: every env but a PR env."""
    return not is_pr_env(env)


def kept_merge(
    owned: Mapping[str, pulumi.Input[str]], kept: pulumi.Input[Mapping[str, Any] | None]
) -> pulumi.Output[dict[str, Any]]:
    """The KV document: kept values, then the program's own (which win). Always secret."""
    merged = pulumi.Output.all(pulumi.Output.from_input(kept), pulumi.Output.all(**owned)).apply(
        lambda ko: {**(ko[0] or {}), **ko[1]}
    )
    return pulumi.Output.secret(merged)


def llm_keys(generated: str | None, kept: str | None, encrypt_with_generated: bool = True) -> str:
    """LLM_ENCRYPTION_KEYS. The app encrypts with the first key and decrypts with any (app contract), and
    has no decrypt-only mode: a key data was encrypted with must stay in the list. With llmEncryption on
    the generated key comes first, then every key kept from before; off, the kept keys come first and the
    generated key after them: never dropped, so whatever it encrypted stays readable."""
    kept_keys = [k for k in (kept or "").split(",") if k]
    order = [generated, *kept_keys] if encrypt_with_generated else [*kept_keys, generated]
    return ",".join(dict.fromkeys(k for k in order if k))


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
