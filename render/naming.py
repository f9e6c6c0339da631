"""Names operators use today (app-contract "Naming used by operators today"). Pure functions only."""

from __future__ import annotations

from facts.envs import is_preview_env, kv_env_prefix, looks_like_preview_env  # noqa: F401 - re-exported for the program

PREFIX = "finance_report"
PRODUCTION = "production"


def preview_env(pr: int) -> str:
    """The env (and stack) name of pull request `pr` (docs/pr-environments.md)."""
    env = f"pr{pr}"
    if not is_preview_env(env):
        raise ValueError(f"pull request number {pr!r} gives no preview env name (expected 1 to 999999999)")
    return env


def env_suffix(env: str) -> str:
    """`""` for production, `-<env>` for every other environment."""
    return "" if env == PRODUCTION else f"-{env}"


def container_name(service: str, env: str) -> str:
    """`finance_report-<service><suffix>`: also the DNS name other containers use."""
    return f"{PREFIX}-{service}{env_suffix(env)}"


def agent_container_name(service: str, env: str) -> str:
    return f"{PREFIX}-{service}-vault-agent{env_suffix(env)}"


def site_host(env: str, domain: str) -> str:
    return f"report{env_suffix(env)}.{domain}"


def kv_name(env: str, service: str) -> str:
    """Secret name inside the KV v2 mount: `finance_report/<env>/<service>`, a preview's under
    `finance_report/previews/<env>/` (facts/envs.py)."""
    return f"{kv_env_prefix(env)}{service}"


def kv_data_path(mount: str, env: str, service: str) -> str:
    """API path the agent reads: `secret/data/finance_report/<env>/<service>`."""
    return f"{mount}/data/{kv_name(env, service)}"


def vault_policy_name(env: str, service: str) -> str:
    """The ACL policy a service's AppRole tokens carry. Previews share one per service, written once by the
    platform (render/preview_env.py): the preview deployer may not write policies, since a token
    that writes a policy's text can grant itself anything."""
    if is_preview_env(env):
        return preview_service_policy_name(service)
    return f"{PREFIX}-{env}-{service}"


def preview_service_policy_name(service: str) -> str:
    return f"{PREFIX}-previews-{service}"


def approle_role_name(env: str, service: str) -> str:
    return f"{PREFIX}-{env}-{service}"


def internal_network_prefix(env: str) -> str:
    """Carries Postgres, Redis and backend traffic; `internal` so datastores have no route out. The name
    is this, then a hash of what replaces the network (program/named.py)."""
    return f"{PREFIX}-internal{env_suffix(env)}"


def vault_network_prefix(env: str) -> str:
    """Egress-only network the vault agents use to reach Vault (they need no other peer)."""
    return f"{PREFIX}-vault{env_suffix(env)}"


def secrets_volume_prefix(service: str, env: str) -> str:
    """The volume's name is this, then a hash of what replaces it (program/named.py)."""
    return f"{PREFIX}-{service}-secrets{env_suffix(env)}"


def data_volume_name(service: str, env: str) -> str:
    return f"{PREFIX}-{service}-data{env_suffix(env)}"


def traefik_name(part: str, env: str) -> str:
    """Traefik router/service/middleware names (`finance-report-api`, `finance-report-web`, ...)."""
    return f"finance-report-{part}{env_suffix(env)}"
