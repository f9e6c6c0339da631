"""Reading a stack's config inside the Pulumi program (the language host hands it over), validated by
config/stack_config.py before any resource is registered."""

from __future__ import annotations

import pulumi

from config.errors import ConfigError, ProviderKeyError, provider_key_problem
from config.schema import FIELDS, FIELDS_BY_KEY
from config.stack_config import StackConfig, load_config
from facts.project import PROJECT


def read_pulumi_config() -> StackConfig:
    """Read this stack's config through the Pulumi SDK and validate it. Secret keys are read with
    `get_secret` so they stay secret-marked Outputs from here on."""
    from pulumi.runtime.config import is_config_secret

    cfg = pulumi.Config(PROJECT)
    raw: dict[str, str] = {}
    secret_keys = set()
    for spec in FIELDS:
        value = cfg.get(spec.key)
        if value is not None:
            raw[spec.key] = value
        if is_config_secret(f"{PROJECT}:{spec.key}"):
            secret_keys.add(spec.key)
    reject_unknown_keys(raw)
    secret_values = {spec.key: cfg.get_secret(spec.key) for spec in FIELDS if spec.secret and raw.get(spec.key)}
    config = load_config(raw, pulumi.get_stack(), frozenset(secret_keys), secret_values)
    check_adoption(config, pulumi.runtime.is_dry_run())
    check_agent_cidrs(config, pulumi.runtime.is_dry_run())
    return config


def check_agent_cidrs(config: StackConfig, preview: bool) -> None:
    """Production's secret-ids and agent tokens must work from the Docker host only: a secret-id read off
    the host's disk, or minted with a leaked deploy token, is then useless anywhere else. The committed
    stack file cannot know the host's egress address, so `pulumi up` refuses to run without it (like an
    unadopted env) and a preview (and `invoke plan`) warns in one line."""
    if config.env != "production" or config.vault_agent_cidrs:
        return
    expected = (
        "the Docker host's egress address as Vault sees it, before production's first `pulumi up`: `pulumi "
        "config set --path 'vaultAgentCidrs[0]' <address>/32 --stack production`"
    )
    if preview:
        pulumi.log.warn(f"vaultAgentCidrs is empty: `pulumi up` will refuse to run; set {expected}")
        return
    raise ConfigError("vaultAgentCidrs", [], expected)


def check_adoption(config: StackConfig, preview: bool) -> None:
    """An env whose Vault already holds values must have them imported before the first `pulumi up`, or
    the up would replace them with new ones: everyone logged out, data encrypted with the old LLM keys
    unreadable. A preview only warns, so plans and reviews of such an env still run."""
    if not config.adopt_vault_values or config.vault_values_adopted:
        return
    message = f"run `uv run invoke adopt --stack {config.env}` first: it imports the values in Vault into this stack"
    if preview:
        pulumi.log.warn(
            f"adoptVaultValues is true and vaultValuesAdopted is not: `pulumi up` will refuse to run; {message}"
        )
        return
    raise ConfigError(
        "vaultValuesAdopted", False, f"true before the first `pulumi up` of an env with values in Vault: {message}"
    )


def reject_unknown_keys(raw: dict[str, str]) -> None:
    """A misspelt key in a stack file would otherwise be silently ignored; surface it as unknown."""
    from pulumi.runtime.config import CONFIG

    prefix = f"{PROJECT}:"
    for full_key, value in sorted(CONFIG.get().items()):
        if provider_key_problem(full_key):
            raise ProviderKeyError(full_key)
        if full_key.startswith(prefix):
            key = full_key[len(prefix) :]
            if key not in FIELDS_BY_KEY:
                raw[key] = value
