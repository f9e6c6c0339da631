"""Config errors: one line naming the key, the value as it may be shown, and what is expected.

A secret value is never shown (`[secret]`), nor the value under an unknown key (a secret set under a
misspelt key would be printed in clear); credentials inside URLs are hidden; long values are cut.
`pulumi.RunError` makes the language host print the message alone, without a Python traceback.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi

from facts.project import PROJECT


class ConfigError(pulumi.RunError):
    """A user error in stack config. `pulumi.RunError` makes the language host print the message alone,
    without a Python traceback."""

    def __init__(self, key: str, value: Any, expected: str, secret: bool = False):
        shown = "[secret]" if secret and value not in (None, "") else show_value(value)
        self.key, self.value, self.expected, self.secret = key, value, expected, secret
        super().__init__(f"config {PROJECT}:{key} = {shown} is invalid: expected {expected}")

    def as_secret(self) -> ConfigError:
        """The same error, its value hidden (the stack file holds it encrypted)."""
        return self if self.secret else ConfigError(self.key, self.value, self.expected, secret=True)


class UnknownKeyError(ConfigError):
    """A key the program does not read. Its value is never shown: a secret set under a misspelt key
    would otherwise be printed in clear."""

    def __init__(self, key: str, suggestion: str | None):
        self.key, self.value, self.secret = key, None, True
        hint = f"did you mean {suggestion}? " if suggestion else ""
        self.expected = hint
        pulumi.RunError.__init__(
            self,
            f"config {PROJECT}:{key} is not a known key (its value is not shown): {hint}"
            "docs/configuration.md lists every key",
        )


# The program declares its own docker and vault providers from finance-report keys. A `docker:` or
# `vault:` key configures only the default provider, which it never uses: the setting would be silently
# ignored (and a `vault:token` would sit in the stack file).
PROVIDER_NAMESPACES = ("docker", "vault")
PROVIDER_KEY_HOMES = {
    "docker:host": f"{PROJECT}:dockerHost",
    "docker:sshOpts": f"{PROJECT}:dockerSshOpts",
    "docker:registryAuth": f"{PROJECT}:registryUser and {PROJECT}:registryToken",
    "vault:address": f"{PROJECT}:vaultAddress",
    "vault:token": "the VAULT_TOKEN environment variable",
    "vault:caCertFile": f"{PROJECT}:vaultCaCert",
    "vault:skipChildToken": f"{PROJECT}:vaultSkipChildToken",
    "vault:maxLeaseTtlSeconds": f"{PROJECT}:vaultTokenTtlSeconds",
}


def provider_key_problem(full_key: str) -> str | None:
    """Why a `docker:`/`vault:` stack config key is refused, and where its setting belongs; None for others."""
    namespace = full_key.partition(":")[0]
    if namespace not in PROVIDER_NAMESPACES:
        return None
    home = PROVIDER_KEY_HOMES.get(full_key, f"the {PROJECT}:* key docs/configuration.md lists for it")
    return (
        f"config {full_key} configures the default {namespace} provider, which this program never uses (its "
        f"value is not shown): set {home} instead, and remove the key"
    )


class ProviderKeyError(ConfigError):
    def __init__(self, full_key: str):
        self.key, self.value, self.secret, self.expected = full_key, None, True, ""
        pulumi.RunError.__init__(self, provider_key_problem(full_key))


MAX_SHOWN = 80
URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]*@")


# A URL's query may carry a token (`?token=...`) as its user part may carry a password.
URL_QUERY = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^\s?#]*)\?[^\s#]*")


def hide_credentials(value: Any) -> Any:
    if isinstance(value, str):
        return URL_CREDENTIALS.sub(r"\1[credentials hidden]@", URL_QUERY.sub(r"\1?[query hidden]", value))
    if isinstance(value, list):
        return [hide_credentials(v) for v in value]
    if isinstance(value, dict):
        return {k: hide_credentials(v) for k, v in value.items()}
    return value


def show_value(value: Any) -> str:
    """A config value as an error message may show it, as JSON (the way a stack file writes it, so
    `true`, not Python's `True`): credentials in URLs hidden, in every element of a list or object too;
    long values cut."""
    if value is None:
        return "(not set)"
    if isinstance(value, str):
        text = hide_credentials(value)
        if len(text) > MAX_SHOWN:
            return json.dumps(text[:MAX_SHOWN]) + f"... ({len(value)} characters)"
        return json.dumps(text)
    text = json.dumps(hide_credentials(value), ensure_ascii=False, default=str)
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN]}... ({len(text)} characters)"
