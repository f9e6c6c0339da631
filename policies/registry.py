"""Every policy of the pack, in report order."""

from __future__ import annotations

from . import (
    backups,
    container_secrets,
    datastore_data,
    datastore_exposure,
    engine_forms,
    hardening,
    image_pinning,
    preview_isolation,
    replacement,
    resource_limits,
    runtime_health,
    secrets_mount,
    stack_agents,
    stack_env_isolation,
    traefik_routing,
    vault_approle,
    vault_kv_path,
    vault_least_privilege,
)

POLICIES = [
    container_secrets.POLICY,
    secrets_mount.POLICY,
    traefik_routing.POLICY,
    image_pinning.POLICY,
    datastore_data.POLICY,
    datastore_exposure.POLICY,
    *hardening.POLICIES,
    runtime_health.POLICY,
    resource_limits.MEMORY,
    resource_limits.LOGS,
    vault_least_privilege.POLICY,
    vault_kv_path.POLICY,
    vault_approle.POLICY,
    stack_agents.POLICY,
    stack_env_isolation.POLICY,
    preview_isolation.POLICY,
    replacement.ROLLING,
    replacement.FIXED,
    engine_forms.GRACE,
    engine_forms.DURATIONS,
    engine_forms.SECRET_OUTPUTS,
    *backups.POLICIES,
]
