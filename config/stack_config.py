"""One frozen, validated config value per stack (`StackConfig`), from the raw values Pulumi hands over.

`load_config` is pure: it takes the raw strings of the stack's config (plus which keys were stored as
secrets) and returns a `StackConfig` or raises `ConfigError` naming the key, the value and what is
expected. It runs before any resource is registered (invariant 7). Each key's own check is declared on
its field (config/schema.py); what is here are the rules between keys: the env and the stack, the app
images and imageTag, defaults taken from other keys, pairs that go together. Secret values are never
echoed in an error; they are shown as `[secret]`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from config.errors import ConfigError, UnknownKeyError
from config.schema import FIELDS, FIELDS_BY_KEY, RENAMED_KEYS, pinned_image, read_field, suggest_key
from config.swarm import SwarmSettings, swarm_settings
from config.values import ENV_RE, SHA_RE, ImageRef
from facts.project import PROJECT
from render import naming, vault_artifacts

MEMORY_SERVICES = ("postgres", "redis", "backend", "frontend", "prefect", "agent")
# Secrets production cannot run without although other envs may: the backups' own S3 key, so the app's key
# (which the backend holds) cannot delete them (docs/backups.md). The offline plan fills them with
# placeholders as it fills every required secret.
PRODUCTION_SECRETS = ("backupS3AccessKey", "backupS3SecretKey")


@dataclass(frozen=True)
class BackupSettings:
    """The backup settings of one stack, validated."""

    restic_image: str
    """Pinned image whose static restic binary the backup image copies."""
    endpoint: str
    """S3 endpoint of the repository (http(s) URL, no path)."""
    bucket: str
    prefix: str
    """Key prefix of this env's repository inside the bucket: nothing outside it is ever read or pruned."""
    time: str
    """HH:MM UTC of the first backup of the day."""
    interval_hours: int
    keep_daily: int
    keep_weekly: int
    keep_safety_days: int
    """Days a safety backup (taken before a restore) is kept, counted from the newest one."""
    max_drop_percent: int
    """Largest drop since the previous verified backup that may still be verified."""
    memory_mb: int

    @property
    def repository(self) -> str:
        return repository_url(self.endpoint, self.bucket, self.prefix)


def default_prefix(env: str) -> str:
    return f"finance_report/{env}/postgres"


def repository_url(endpoint: str, bucket: str, prefix: str) -> str:
    """restic's S3 repository form: `s3:<endpoint>/<bucket>/<prefix>`."""
    return f"s3:{endpoint.rstrip('/')}/{bucket}/{prefix}"


@dataclass(frozen=True)
class StackConfig:
    env: str
    domain: str
    docker_host: str
    docker_ssh_opts: tuple[str, ...]
    vault_address: str
    vault_kv_mount: str
    vault_approle_mount: str
    image_tag: str
    backend_image: ImageRef
    frontend_image: ImageRef
    postgres_image: ImageRef
    redis_image: ImageRef
    vault_agent_image: ImageRef
    memory_mb: Mapping[str, int]  # service -> MiB (postgres, redis, backend, frontend, prefect, agent)
    log_max_size: str
    log_max_files: int
    traefik_network: str
    traefik_entrypoint: str
    traefik_cert_resolver: str
    postgres_data_path: str
    redis_data_path: str
    adopt_vault_values: bool
    vault_values_adopted: bool
    vault_skip_child_token: bool
    vault_token_ttl_seconds: int
    vault_agent_cidrs: tuple[str, ...]
    vault_ca_cert: str
    s3_endpoint: str
    s3_public_endpoint: str
    s3_bucket: str
    s3_public_bucket: str
    ai_provider: str
    llm_encryption: bool
    otel_endpoint: str
    otel_service_name: str
    prefect_api_url: str
    openpanel_client_id: str
    git_commit_sha: str
    public_health_gate: bool
    cutover_watch_seconds: int
    registry_user: str
    preview_docker_proxy: bool = False
    preview_docker_proxy_gid: int = 23750
    preview_docker_proxy_image: ImageRef | None = None
    host_memory_mb: int = 0
    max_pr_envs: int = 0
    secret_id_ttl_days: int = vault_artifacts.SECRET_ID_TTL_DAYS
    secret_id_renewal_window: str = ""
    """The renewal window this run falls in (render.vault_artifacts.secret_id_renewal_window)."""
    # Operator-supplied secrets stay Outputs (secret-marked) from the moment they are read.
    secrets: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    backup: BackupSettings | None = None
    runtime: str = "containers"
    swarm: SwarmSettings | None = None
    """runtime swarm only (config/swarm.py)."""
    warnings: tuple[str, ...] = ()
    """One line each, for the program to log (a renamed key still read under its old name)."""


# Words that appear in the program's names as services or networks: an env of that name makes
# `finance_report-postgres-redis` both "Postgres of env redis" and "role redis of env postgres".
RESERVED_ENVS = frozenset(
    {
        "postgres",
        "redis",
        "app",
        "backend",
        "frontend",
        "worker",
        "prefect",
        "vault",
        "agent",
        "internal",
        "secrets",
        "data",
        "backup",
        "egress",
        "scratch",
        "previews",
    }
)
ENV_EXPECTED = "lowercase letters and digits, starting with a letter, at most 20 (no '-' or '/')"


def load_config(
    raw: Mapping[str, str],
    stack: str,
    secret_keys: frozenset[str] = frozenset(),
    secret_values: Mapping[str, Any] | None = None,
) -> StackConfig:
    """Validate raw stack config (keys without the project prefix) of stack `stack` into a StackConfig.

    The env is the stack's name: a stack file whose `env` names another env (a staging stack writing
    production's KV paths and names) is refused. `secret_values` maps secret keys to their values as the
    program should carry them (Outputs in a real run); when omitted the raw values are used.
    """
    try:
        return _load_config(raw, stack, secret_keys, secret_values)
    except ConfigError as err:
        # A value stored encrypted is never shown, whatever key it sits under.
        raise (err.as_secret() if err.key in secret_keys else err) from None


def stack_env(value: str, stack: str) -> str:
    """The env a stack deploys: its own name (`env`, when set, must say the same)."""
    env = value or stack
    if env != stack:
        raise ConfigError(
            "env",
            env,
            f"the stack's own name {stack} (a stack deploys only its own env; remove the key to derive it "
            "from the stack)",
        )
    if not ENV_RE.match(env):
        raise ConfigError("env", env, f"a stack name usable as env: {ENV_EXPECTED}")
    if naming.looks_like_pr_env(env) and not naming.is_pr_env(env):
        raise ConfigError(
            "env",
            env,
            "pr<N> with N a pull-request number without leading zero: `pr` then a digit is reserved for "
            "PR environments",
        )
    if env in RESERVED_ENVS:
        raise ConfigError(
            "env",
            env,
            f"an env name that is not a service or network word ({', '.join(sorted(RESERVED_ENVS))}): "
            "finance_report-<service>-<env> and finance_report-<env>-<service> names would collide",
        )
    return env


def _load_config(
    raw: Mapping[str, str], stack: str, secret_keys: frozenset[str], secret_values: Mapping[str, Any] | None
) -> StackConfig:
    raw, warnings = current_keys(raw, secret_keys)
    unknown = sorted(set(raw) - set(FIELDS_BY_KEY))
    if unknown:
        raise UnknownKeyError(unknown[0], suggest_key(unknown[0]))
    env = stack_env(read_field(FIELDS_BY_KEY["env"], raw, secret_keys), stack)
    v = {f.key: read_field(f, raw, secret_keys) for f in FIELDS if f.key != "env"}

    tag = v["imageTag"]

    def app_image(key: str) -> ImageRef:
        repo = v[key]
        return pinned_image(key, f"{repo}@{tag}" if tag.startswith("sha256:") else f"{repo}:{tag}")

    for key in ("postgresDataPath", "redisDataPath"):
        if v[key] and naming.is_pr_env(env):
            raise ConfigError(
                key,
                v[key],
                "empty in a PR env: its data lives in its own volume, never in a host directory another env may use",
            )
    cidrs = v["vaultAgentCidrs"]
    if len(cidrs) > vault_artifacts.MAX_BOUND_CIDRS or len(set(cidrs)) != len(cidrs):
        # The deploy policy allows each list in every order the provider may send it (n! lists).
        raise ConfigError("vaultAgentCidrs", list(cidrs), f"at most {vault_artifacts.MAX_BOUND_CIDRS} distinct CIDRs")
    s3_bucket = v["s3Bucket"] or f"finance-report-{env}"
    present = {f.key: v[f.key] for f in FIELDS if f.secret}
    values = dict(secret_values) if secret_values is not None else {k: raw[k] for k, ok in present.items() if ok}
    if present["registryToken"] and not v["registryUser"]:
        raise ConfigError("registryUser", "", "the user of registryToken (set both, or neither for anonymous pulls)")
    if env == naming.PRODUCTION:
        for key in PRODUCTION_SECRETS:
            if not present[key]:
                raise ConfigError(
                    key,
                    None,
                    "a secret in production: an S3 key of the backups' own, limited to their bucket, so the app's "
                    f"key cannot delete them (docs/backups.md): run `pulumi config set --secret {key}`",
                )
    if v["registryUser"] and not present["registryToken"]:
        raise ConfigError(
            "registryToken",
            None,
            f"a secret: the token of registryUser {v['registryUser']} (set both, or neither for anonymous pulls): "
            "run `pulumi config set --secret registryToken`",
        )

    return StackConfig(
        env=env,
        domain=v["domain"],
        docker_host=v["dockerHost"],
        docker_ssh_opts=v["dockerSshOpts"],
        vault_address=v["vaultAddress"].rstrip("/"),
        vault_kv_mount=v["vaultKvMount"],
        vault_approle_mount=v["vaultApproleMount"],
        image_tag=tag,
        backend_image=app_image("backendImage"),
        frontend_image=app_image("frontendImage"),
        postgres_image=v["postgresImage"],
        redis_image=v["redisImage"],
        vault_agent_image=v["vaultAgentImage"],
        memory_mb={service: v[f"{service}MemoryMb"] for service in MEMORY_SERVICES},
        log_max_size=v["logMaxSize"],
        log_max_files=v["logMaxFiles"],
        traefik_network=v["traefikNetwork"],
        traefik_entrypoint=v["traefikEntrypoint"],
        traefik_cert_resolver=v["traefikCertResolver"],
        postgres_data_path=v["postgresDataPath"],
        redis_data_path=v["redisDataPath"],
        adopt_vault_values=v["adoptVaultValues"],
        vault_values_adopted=v["vaultValuesAdopted"],
        vault_skip_child_token=v["vaultSkipChildToken"],
        vault_token_ttl_seconds=v["vaultTokenTtlSeconds"],
        vault_agent_cidrs=v["vaultAgentCidrs"],
        vault_ca_cert=v["vaultCaCert"],
        s3_endpoint=v["s3Endpoint"],
        s3_public_endpoint=v["s3PublicEndpoint"] or v["s3Endpoint"],
        s3_bucket=s3_bucket,
        s3_public_bucket=v["s3PublicBucket"] or s3_bucket,
        ai_provider=v["aiProvider"],
        llm_encryption=v["llmEncryption"],
        otel_endpoint=v["otelEndpoint"],
        otel_service_name=v["otelServiceName"],
        prefect_api_url=v["prefectApiUrl"],
        openpanel_client_id=v["openpanelClientId"],
        public_health_gate=v["publicHealthGate"],
        cutover_watch_seconds=v["cutoverWatchSeconds"],
        registry_user=v["registryUser"],
        preview_docker_proxy=v["previewDockerProxy"],
        preview_docker_proxy_gid=v["previewDockerProxyGid"],
        preview_docker_proxy_image=v["previewDockerProxyImage"],
        host_memory_mb=v["hostMemoryMb"],
        max_pr_envs=v["maxPrEnvs"],
        secret_id_ttl_days=v["secretIdTtlDays"],
        secret_id_renewal_window=vault_artifacts.secret_id_renewal_window(clock(), v["secretIdTtlDays"] * 86400),
        # Main builds are tagged with their commit (sha7); a release tag (vX.Y.Z) or a digest is not one.
        git_commit_sha=v["gitCommitSha"] or (tag if SHA_RE.match(tag) else ""),
        secrets=values,
        backup=_backup_settings(v, env, v["s3Endpoint"], s3_bucket),
        runtime=v["runtime"],
        swarm=swarm_settings(v, present["registryToken"]),
        warnings=warnings,
    )


def current_keys(
    raw: Mapping[str, Any], secret_keys: frozenset[str] = frozenset()
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """`raw` with each renamed key (config/schema.RENAMED_KEYS) under its current name, and a warning for
    each old name read. The new key counts as set only at a value other than its default: the CLI merges
    Pulumi.yaml's default into every stack that lacks it (facts/providers.PROJECT_DEFAULTS_MERGED), so a
    stack file with only the old key reaches the program with the new one at its default beside it."""
    current, warnings = dict(raw), []
    for old, new in RENAMED_KEYS.items():
        if raw.get(old) is None:
            continue
        spec = FIELDS_BY_KEY[new]
        old_value = read_field(spec, {new: raw[old]}, secret_keys)  # checked as the new key, named as the old
        new_value = read_field(spec, raw, secret_keys)
        if new_value != spec.default:
            raise ConfigError(
                old,
                old_value,
                f"unset: it is the old name of {new}, which this stack sets too ({new_value}); remove {old}",
            )
        current[new] = current.pop(old)
        warnings.append(
            f"config {PROJECT}:{old} is deprecated: it was renamed {new}, which is unset, so the old key is read; "
            "rename it in the stack file"
        )
    return current, tuple(warnings)


clock = time.time
"""What "now" is for the secret-id renewal window (tests replace it)."""


def _backup_settings(v: Mapping[str, Any], env: str, s3_endpoint: str, s3_bucket: str) -> BackupSettings:
    endpoint = v["backupS3Endpoint"] or s3_endpoint
    if urlsplit(endpoint).path not in ("", "/"):
        raise ConfigError(
            "backupS3Endpoint", endpoint, "an endpoint URL without a path (the bucket and prefix are their own keys)"
        )
    prefix = v["backupS3Prefix"] or default_prefix(env)
    if env not in prefix.split("/"):
        # A prefix shared by two envs would let one env's retention prune the other's backups.
        raise ConfigError("backupS3Prefix", prefix, f"a prefix of this env's own, containing the path segment {env}")
    return BackupSettings(
        restic_image=str(v["backupResticImage"]),
        endpoint=endpoint.rstrip("/"),
        bucket=v["backupS3Bucket"] or s3_bucket,
        prefix=prefix,
        time=v["backupTime"],
        interval_hours=v["backupIntervalHours"],
        keep_daily=v["backupKeepDaily"],
        keep_weekly=v["backupKeepWeekly"],
        keep_safety_days=v["backupKeepSafetyDays"],
        max_drop_percent=v["backupMaxDropPercent"],
        memory_mb=v["backupMemoryMb"],
    )
