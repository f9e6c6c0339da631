"""Generated secrets that data depends on (pure; shared by the program and the policy pack).

Losing one loses what it protects, and a new value does not bring it back: the backend's SECRET_KEY signs
every session, the LLM key encrypts the users' LLM data (LLM_ENCRYPTION_KEYS, app contract), the restic
password encrypts every backup. So each is `protect`ed in production and staging (no update or destroy
can delete it, docs/secrets.md "What is on disk, in state and in Vault"), declared in every plan whatever the
config (llmEncryption only decides whether the LLM key encrypts or only decrypts), and the mandatory
policy generated-secret-enforce-protection refuses a plan that drops one or leaves it unprotected. A
preview's are throwaway: its destroy removes them.
"""

from __future__ import annotations

RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
RANDOM_BYTES = "random:index/randomBytes:RandomBytes"

# Pulumi resource name -> (type, what depends on it). The names are part of the URNs the state holds:
# renaming or re-parenting one needs an alias, or the engine generates a new value.
DATA_BEARING_SECRETS: dict[str, tuple[str, str]] = {
    "app-secret-key": (RANDOM_PASSWORD, "SECRET_KEY signs every session"),
    "app-llm-key": (RANDOM_BYTES, "the LLM data encrypted with it"),
    "backup-restic-password": (RANDOM_PASSWORD, "every backup in the restic repository"),
}
