"""Stack configuration: one declared schema, one frozen and validated value per stack.

`FIELDS` is the single declaration of every config key. `Pulumi.yaml`'s `config:` block and README's
reference table are checked against it by tests, so a key cannot be documented one way and read another.

`load_config` is pure: it takes the raw strings Pulumi hands over (plus which keys were stored as
secrets) and returns a `StackConfig` or raises `ConfigError` naming the key, the value and what is
expected. It runs before any resource is registered (invariant 7). Secret values are never echoed in an
error; they are shown as `[secret]`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pulumi

if TYPE_CHECKING:  # program.backup imports this module: its settings type is imported for typing only
    from program.backup import BackupSettings

from render import naming

PROJECT = "finance-report"
REQUIRED = object()  # marker: the key has no default and must be set in the stack file


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
            f"config {PROJECT}:{key} is not a known key (its value is not shown): {hint}README's "
            "configuration reference lists every key",
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
    home = PROVIDER_KEY_HOMES.get(full_key, f"README's configuration reference ({PROJECT}:* keys)")
    return (
        f"config {full_key} configures the default {namespace} provider, which this program never uses (its "
        f"value is not shown): set {home} instead, and remove the key"
    )


class ProviderKeyError(ConfigError):
    def __init__(self, full_key: str):
        self.key, self.value, self.secret, self.expected = full_key, None, True, ""
        pulumi.RunError.__init__(self, provider_key_problem(full_key))


MAX_SHOWN = 80
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]*@")


def _hide_credentials(value: Any) -> Any:
    if isinstance(value, str):
        return _URL_CREDENTIALS.sub(r"\1[credentials hidden]@", value)
    if isinstance(value, list):
        return [_hide_credentials(v) for v in value]
    if isinstance(value, dict):
        return {k: _hide_credentials(v) for k, v in value.items()}
    return value


def show_value(value: Any) -> str:
    """A config value as an error message may show it, as JSON (the way a stack file writes it, so
    `true`, not Python's `True`): credentials in URLs hidden, in every element of a list or object too;
    long values cut."""
    if value is None:
        return "(not set)"
    if isinstance(value, str):
        text = _hide_credentials(value)
        if len(text) > MAX_SHOWN:
            return json.dumps(text[:MAX_SHOWN]) + f"... ({len(value)} characters)"
        return json.dumps(text)
    text = json.dumps(_hide_credentials(value), ensure_ascii=False, default=str)
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN]}... ({len(text)} characters)"


@dataclass(frozen=True)
class Field:
    """One config key, as declared in Pulumi.yaml."""

    key: str
    type: str  # Pulumi.yaml types: string | integer | boolean | array
    description: str
    default: Any = REQUIRED
    secret: bool = False

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


FIELDS: tuple[Field, ...] = (
    Field(
        "env",
        "string",
        "Environment name; must equal the stack name (empty: the stack name). Lowercase letters and digits.",
        "",
    ),
    Field("domain", "string", "Internal domain; the site is served at report<suffix>.<domain>."),
    Field("dockerHost", "string", "Docker host of the Dokploy server, as ssh://user@host[:port]."),
    Field("dockerSshOpts", "array", "Extra ssh options for the Docker host connection.", []),
    Field(
        "previewDockerProxy",
        "boolean",
        "Run the read-only Docker API proxy that `pulumi preview` reaches through the preview ssh user "
        "(README: CI credentials).",
        False,
    ),
    Field(
        "previewDockerProxyGid",
        "integer",
        "Host group of the preview ssh user: the only group (besides root) that may open the proxy's socket.",
        23750,
    ),
    Field(
        "previewDockerProxyImage",
        "string",
        "Pinned HAProxy image of the read-only Docker API proxy.",
        "haproxy:3.2.21-alpine",
    ),
    Field(
        "vaultAddress",
        "string",
        "Vault address (https://...; http only for loopback). The token comes from VAULT_TOKEN.",
    ),
    Field(
        "vaultCaCert",
        "string",
        "PEM of the CA that signed Vault's certificate, when it is a private CA (empty: the agent image's "
        "roots; `pulumi` itself reads VAULT_CACERT).",
        "",
    ),
    Field("vaultKvMount", "string", "Mount path of the KV v2 engine.", "secret"),
    Field("vaultApproleMount", "string", "Mount path of the AppRole auth method.", "approle"),
    Field("imageTag", "string", "Tag (sha7 or vX.Y.Z) or sha256 digest of the backend and frontend images."),
    Field("backendImage", "string", "Backend image repository.", "ghcr.io/wangzitian0/finance_report-backend"),
    Field("frontendImage", "string", "Frontend image repository.", "ghcr.io/wangzitian0/finance_report-frontend"),
    Field("postgresImage", "string", "Pinned PostgreSQL 16 image.", "postgres:16.10-alpine"),
    Field("redisImage", "string", "Pinned Redis 7 image.", "redis:7.4.6-alpine"),
    Field(
        "vaultAgentImage",
        "string",
        "Pinned image that provides the `vault` binary for the agent sidecars.",
        "hashicorp/vault:1.18.5",
    ),
    Field("postgresMemoryMb", "integer", "Memory limit of the PostgreSQL container, MiB.", 1024),
    Field("redisMemoryMb", "integer", "Memory limit of the Redis container, MiB.", 256),
    Field("backendMemoryMb", "integer", "Memory limit of each backend container, MiB.", 1024),
    Field("frontendMemoryMb", "integer", "Memory limit of each frontend container, MiB.", 512),
    Field("prefectMemoryMb", "integer", "Memory limit of the prefect worker, MiB.", 512),
    Field("agentMemoryMb", "integer", "Memory limit of each vault-agent sidecar, MiB.", 64),
    Field("logMaxSize", "string", "json-file log rotation: size of one file (e.g. 10m).", "10m"),
    Field("logMaxFiles", "integer", "json-file log rotation: number of files kept.", 3),
    Field("traefikNetwork", "string", "Existing Traefik network (referenced, never created).", "dokploy-network"),
    Field("traefikEntrypoint", "string", "Traefik TLS entrypoint.", "websecure"),
    Field("traefikCertResolver", "string", "Traefik certificate resolver.", "letsencrypt"),
    Field(
        "postgresDataPath",
        "string",
        "Adopt an existing host data directory for PostgreSQL (empty: a protected named volume).",
        "",
    ),
    Field(
        "redisDataPath",
        "string",
        "Adopt an existing host data directory for Redis (empty: a protected named volume).",
        "",
    ),
    Field(
        "adoptVaultValues",
        "boolean",
        "Vault already holds this env's values (compose deployment): `pulumi up` refuses to run until `uv "
        "run invoke adopt` has imported them.",
        False,
    ),
    Field(
        "vaultValuesAdopted",
        "boolean",
        "Set by `uv run invoke adopt` once today's Vault values are in the stack's state.",
        False,
    ),
    Field(
        "vaultKeptValues",
        "string",
        "Set by `uv run invoke adopt` (secret JSON): values in the env's KV secrets that the program does "
        "not generate, written back unchanged.",
        "",
        secret=True,
    ),
    Field(
        "vaultSkipChildToken",
        "boolean",
        "Use VAULT_TOKEN itself instead of a child token (read-only preview tokens may not create tokens).",
        False,
    ),
    Field(
        "vaultTokenTtlSeconds",
        "integer",
        "TTL of the Vault provider's child token; must outlast the longest `pulumi up`.",
        3600,
    ),
    Field(
        "vaultAgentCidrs",
        "array",
        "CIDRs the agents reach Vault from (the Docker host's egress address); bound to every AppRole "
        "secret-id and token.",
        [],
    ),
    Field("s3Endpoint", "string", "S3 (MinIO) endpoint URL used by the backend."),
    Field("s3PublicEndpoint", "string", "Public S3 endpoint URL (empty: same as s3Endpoint).", ""),
    Field("s3Bucket", "string", "Private bucket (empty: finance-report-<env>).", ""),
    Field("s3PublicBucket", "string", "Public bucket (empty: same as s3Bucket).", ""),
    Field("s3AccessKey", "string", "S3 access key (secret).", secret=True),
    Field("s3SecretKey", "string", "S3 secret key (secret).", secret=True),
    Field("s3PublicAccessKey", "string", "Public-bucket access key (secret; empty: feature off).", "", secret=True),
    Field("s3PublicSecretKey", "string", "Public-bucket secret key (secret; empty: feature off).", "", secret=True),
    Field("aiProvider", "string", "AI_PROVIDER passed to the backend.", "zai"),
    Field("zaiApiKey", "string", "ZAI_API_KEY (secret; empty: AI features off).", "", secret=True),
    Field("llmEncryption", "boolean", "Generate a Fernet key for LLM_ENCRYPTION_KEYS.", False),
    Field("otelEndpoint", "string", "OTEL_EXPORTER_OTLP_ENDPOINT (empty: tracing off).", ""),
    Field("otelServiceName", "string", "OTEL_SERVICE_NAME of the backend.", "finance-report-backend"),
    Field("prefectApiUrl", "string", "PREFECT_API_URL; set to run the prefect worker (empty: no worker).", ""),
    Field("openpanelClientId", "string", "OpenPanel client id for the frontend (public; empty: analytics off).", ""),
    Field(
        "gitCommitSha",
        "string",
        "GIT_COMMIT_SHA given to the backend (empty: the image tag when it is a commit sha, else empty).",
        "",
    ),
    Field(
        "publicHealthGate",
        "boolean",
        "After an update, `pulumi up` waits until https://report<suffix>.<domain>/api/health and / answer "
        "through Traefik.",
        True,
    ),
    Field(
        "cutoverWatchSeconds",
        "integer",
        "After a new backend/frontend revision is healthy, `pulumi up` watches it this long (no restart, "
        "still healthy) before the old one goes; 0: no watch.",
        60,
    ),
    Field(
        "registryUser",
        "string",
        "User for pulling the backend and frontend images from a private registry (empty: anonymous pulls).",
        "",
    ),
    Field("registryToken", "string", "Token for registryUser (secret).", "", secret=True),
    # Backups (program/backup.py, README "Backups and restore").
    Field(
        "backupResticImage",
        "string",
        "Pinned official restic image; the backup image (built on the Docker host over postgresImage) copies "
        "its binary.",
        "restic/restic:0.18.0",
    ),
    Field(
        "backupS3Endpoint",
        "string",
        "S3 endpoint of the encrypted backup repository (empty: s3Endpoint); never the Docker host.",
        "",
    ),
    Field(
        "backupS3Bucket",
        "string",
        "Bucket of the backup repository, versioned (empty: s3Bucket; production's policy requires one of its own).",
        "",
    ),
    Field(
        "backupS3Prefix",
        "string",
        "Key prefix of this env's repository (empty: finance_report/<env>/postgres); must contain the env's name.",
        "",
    ),
    Field(
        "backupS3AccessKey",
        "string",
        "S3 access key for the backup repository, limited to its bucket or prefix (secret; required in "
        "production; elsewhere empty: s3AccessKey).",
        "",
        secret=True,
    ),
    Field(
        "backupS3SecretKey",
        "string",
        "S3 secret key for the backup repository (secret; required in production; elsewhere empty: s3SecretKey).",
        "",
        secret=True,
    ),
    Field(
        "backupHeartbeatUrl",
        "string",
        "URL the backup service GETs after each verified backup, for an external monitor (secret; empty: none).",
        "",
        secret=True,
    ),
    Field("backupTime", "string", "UTC time (HH:MM) of the daily backup.", "02:30"),
    Field("backupIntervalHours", "integer", "Hours between backups, counted from backupTime (24: daily).", 24),
    Field("backupKeepDaily", "integer", "Verified daily backups kept (the policy requires at least 7).", 7),
    Field("backupKeepWeekly", "integer", "Verified weekly backups kept beyond the dailies.", 4),
    Field(
        "backupKeepSafetyDays",
        "integer",
        "Days the safety backup taken before each restore is kept (apart from the dailies and weeklies).",
        14,
    ),
    Field(
        "backupMaxDropPercent",
        "integer",
        "Largest drop, since the previous verified backup, of the table count or of a large table's rows that a "
        "backup may show and still be verified (100: any).",
        50,
    ),
    Field(
        "backupMemoryMb",
        "integer",
        "Memory limit of the backup container (dump, upload and the restore-check server), MiB.",
        1024,
    ),
    Field(
        "hostMemoryMb",
        "integer",
        "Memory of the Docker host this project's containers may use, MiB (its total minus Dokploy, Traefik "
        "and the OS); the offline plan checks every committed stack plus maxPreviewEnvs previews against it. "
        "0: not checked.",
        0,
    ),
    Field(
        "maxPreviewEnvs",
        "integer",
        "Most pull-request preview environments (README: Preview environments) that may run at once on this host.",
        0,
    ),
)
FIELDS_BY_KEY = {f.key: f for f in FIELDS}
# Secrets production cannot run without although other envs may: the backups' own S3 key, so the app's key
# (which the backend holds) cannot delete them (README "Backups and restore"). The offline plan fills them
# with placeholders as it fills every required secret.
PRODUCTION_SECRETS = ("backupS3AccessKey", "backupS3SecretKey")


@dataclass(frozen=True)
class ImageRef:
    """A parsed `repository[:tag][@sha256:digest]`."""

    repository: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        return self.repository + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    @property
    def pinned(self) -> bool:
        return bool(self.digest) or (bool(self.tag) and self.tag != "latest")


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
    max_preview_envs: int = 0
    # Operator-supplied secrets stay Outputs (secret-marked) from the moment they are read.
    secrets: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    backup: BackupSettings | None = None


# ---------------------------------------------------------------- value checks (pure)

_ENV_RE = re.compile(r"^[a-z][a-z0-9]{0,19}$")
_LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_SHA_RE = re.compile(r"^[0-9a-f]{7,40}$")
_REPO_RE = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*$")
_SIZE_RE = re.compile(r"^[1-9][0-9]*[kmg]$")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_MOUNT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*$")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def is_fqdn(value: str) -> bool:
    if not value or len(value) > 253 or "." not in value:
        return False
    labels = value.split(".")
    return all(_LABEL_RE.match(label) for label in labels) and not labels[-1].isdigit()


def parse_image(value: str) -> ImageRef | None:
    """Parse an image reference; None when it is not one."""
    rest, digest = value, None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _DIGEST_RE.match(digest):
            return None
    tag = None
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        rest, tag = rest.rsplit(":", 1)
        if not _TAG_RE.match(tag):
            return None
    if not _REPO_RE.match(rest):
        return None
    return ImageRef(rest, tag, digest)


def _http_url(value: str, allow_http_hosts: set[str] | None = None) -> bool:
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return False
    if not host or parts.username or parts.password or parts.query or parts.fragment:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and (allow_http_hosts is None or host in allow_http_hosts)


# ---------------------------------------------------------------- loading


def suggest_key(key: str) -> str | None:
    """The declared key a misspelt one most likely meant (case, namespace separators, typos)."""
    import difflib

    folded = {f.key.lower(): f.key for f in FIELDS}
    bare = key.lower().replace("_", "").replace("-", "")
    for candidate, real in folded.items():
        if candidate == bare:
            return real
    close = difflib.get_close_matches(key, list(FIELDS_BY_KEY), n=1, cutoff=0.6)
    return close[0] if close else None


class _Reader:
    """Reads raw strings for declared keys and turns them into typed values, raising ConfigError."""

    def __init__(self, raw: Mapping[str, str], secret_keys: frozenset[str]):
        unknown = sorted(set(raw) - set(FIELDS_BY_KEY))
        if unknown:
            raise UnknownKeyError(unknown[0], suggest_key(unknown[0]))
        self.raw, self.secret_keys = raw, secret_keys

    def _get(self, key: str) -> Any:
        spec = FIELDS_BY_KEY[key]
        value = self.raw.get(key)
        if value is None or (value == "" and spec.required):
            if spec.required:
                raise ConfigError(
                    key, value, f"a value: {spec.description} Set it with `pulumi config set {key} ...`", spec.secret
                )
            return spec.default
        return value

    def string(self, key: str, check: Callable[[str], bool] | None = None, expected: str = "") -> str:
        value = self._get(key)
        if check is not None and value != "" and not check(value):
            raise ConfigError(key, value, expected)
        return value

    def integer(self, key: str, low: int, high: int) -> int:
        value = self._get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            try:
                number = int(str(value).strip())
            except ValueError:
                raise ConfigError(key, value, f"an integer from {low} to {high}") from None
        if not low <= number <= high:
            raise ConfigError(key, value, f"an integer from {low} to {high}")
        return number

    def boolean(self, key: str) -> bool:
        value = self._get(key)
        if isinstance(value, bool):
            return value
        lowered = str(value).strip().lower()
        if lowered not in ("true", "false"):
            raise ConfigError(key, value, "true or false")
        return lowered == "true"

    def string_list(self, key: str) -> tuple[str, ...]:
        value = self._get(key)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise ConfigError(key, value, 'a JSON array of strings, e.g. ["-p", "2222"]') from None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(key, value, 'a JSON array of strings, e.g. ["-p", "2222"]')
        return tuple(value)

    def secret_present(self, key: str) -> bool:
        """Secret keys must be stored encrypted: a plaintext value in a stack file is an error."""
        value = self.raw.get(key)
        if value in (None, ""):
            if FIELDS_BY_KEY[key].required:
                raise ConfigError(key, None, f"a secret: run `pulumi config set --secret {key}`")
            return False
        if key not in self.secret_keys:
            raise ConfigError(
                key, value, f"an encrypted value, not plaintext: run `pulumi config set --secret {key}`", secret=True
            )
        return True


def _image(reader: _Reader, key: str, value: str | None = None) -> ImageRef:
    value = reader.string(key) if value is None else value
    ref = parse_image(value)
    if ref is None:
        raise ConfigError(key, value, "an image reference repository:tag or repository@sha256:<64 hex>")
    if not ref.pinned:
        # Never `latest`, in any env: it floats (the app no longer publishes it) and the image policy
        # refuses it, so staging must not plan what production could never deploy.
        raise ConfigError(key, value, "a pinned image: a release tag or a sha256 digest, never `latest` or no tag")
    return ref


def _ssh_host(value: str) -> bool:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return False
    host = parts.hostname or ""
    ip_like = re.fullmatch(r"[0-9.]+", host) is not None
    return (
        parts.scheme == "ssh"
        and bool(parts.username)
        and parts.password is None
        and (ip_like or is_fqdn(host) or _LABEL_RE.match(host) is not None)
        and parts.path in ("", "/")
        and not parts.query
    )


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


def _load_config(
    raw: Mapping[str, str], stack: str, secret_keys: frozenset[str], secret_values: Mapping[str, Any] | None
) -> StackConfig:
    r = _Reader(raw, secret_keys)
    env = r.string("env") or stack
    if env != stack:
        raise ConfigError(
            "env",
            env,
            f"the stack's own name {stack} (a stack deploys only its own env; remove the key to derive it "
            "from the stack)",
        )
    if not _ENV_RE.match(env):
        raise ConfigError("env", env, f"a stack name usable as env: {ENV_EXPECTED}")
    if naming.looks_like_preview_env(env) and not naming.is_preview_env(env):
        raise ConfigError(
            "env",
            env,
            "pr<N> with N a pull-request number without leading zero: `pr` then a digit is reserved for "
            "preview environments",
        )
    if env in RESERVED_ENVS:
        raise ConfigError(
            "env",
            env,
            f"an env name that is not a service or network word ({', '.join(sorted(RESERVED_ENVS))}): "
            "finance_report-<service>-<env> and finance_report-<env>-<service> names would collide",
        )
    domain = r.string("domain", is_fqdn, "a lowercase DNS domain such as zitian.party")
    docker_host = r.string("dockerHost", _ssh_host, "ssh://user@host or ssh://user@host:port")
    vault_address = r.string(
        "vaultAddress",
        lambda v: _http_url(v, _LOOPBACK),
        "an https:// URL (http:// only for a loopback address), without credentials or path query",
    )
    kv_mount = r.string("vaultKvMount", _MOUNT_RE.match, "a mount path such as secret")
    approle_mount = r.string("vaultApproleMount", _MOUNT_RE.match, "a mount path such as approle")

    tag = r.string("imageTag")
    if not (_TAG_RE.match(tag) or _DIGEST_RE.match(tag)):
        raise ConfigError("imageTag", tag, "an image tag (sha7 or vX.Y.Z) or sha256:<64 hex>")
    if tag == "latest":
        raise ConfigError("imageTag", tag, "a pinned tag (sha7 or vX.Y.Z) or sha256 digest, never `latest`")

    def app_image(key: str) -> ImageRef:
        repo = r.string(key)
        joined = f"{repo}@{tag}" if tag.startswith("sha256:") else f"{repo}:{tag}"
        if parse_image(repo) is None or parse_image(repo).tag or "@" in repo:
            raise ConfigError(key, repo, "an image repository without tag or digest (the tag comes from imageTag)")
        return _image(r, key, joined)

    memory = {
        service: r.integer(f"{service}MemoryMb", 16, 65536)
        for service in ("postgres", "redis", "backend", "frontend", "prefect", "agent")
    }
    log_max_size = r.string("logMaxSize", _SIZE_RE.match, "a size such as 10m (digits then k, m or g)")
    data_paths = {}
    for key in ("postgresDataPath", "redisDataPath"):
        data_paths[key] = r.string(
            key,
            lambda v: v.startswith("/") and ".." not in v.split("/") and "//" not in v and v != "/",
            "an absolute host path such as /data/finance_report/postgres, or empty",
        )
        if data_paths[key] and naming.is_preview_env(env):
            raise ConfigError(
                key,
                data_paths[key],
                "empty in a preview env: its data lives in its own volume, never in a host directory another "
                "env may use",
            )

    s3_endpoint = r.string("s3Endpoint", _http_url, "an http(s) URL such as https://minio.zitian.party")
    s3_bucket = (
        r.string("s3Bucket", _BUCKET_RE.match, "an S3 bucket name (lowercase, 3-63 characters)")
        or f"finance-report-{env}"
    )
    otel = r.string("otelEndpoint", _http_url, "an http(s) URL of the OTLP collector, or empty")
    prefect = r.string("prefectApiUrl", _http_url, "an http(s) URL of the Prefect API, or empty")

    present = {f.key: r.secret_present(f.key) for f in FIELDS if f.secret}
    values = dict(secret_values) if secret_values is not None else {k: raw[k] for k, ok in present.items() if ok}
    if present["vaultKeptValues"]:
        kept_values(raw["vaultKeptValues"])  # shape checked here; the value stays a secret Output
    if present["registryToken"] and not r.string("registryUser"):
        raise ConfigError("registryUser", "", "the user of registryToken (set both, or neither for anonymous pulls)")
    for key in PRODUCTION_SECRETS:
        if env == "production" and not present[key]:
            raise ConfigError(
                key,
                None,
                "a secret in production: an S3 key of the backups' own, limited to their bucket, so the app's key "
                f'cannot delete them (README "Backups and restore"): run `pulumi config set --secret {key}`',
            )
    if r.string("registryUser") and not present["registryToken"]:
        raise ConfigError(
            "registryToken",
            None,
            f"a secret: the token of registryUser {r.string('registryUser')} (set both, or neither for "
            "anonymous pulls): run `pulumi config set --secret registryToken`",
        )

    return StackConfig(
        env=env,
        domain=domain,
        docker_host=docker_host,
        docker_ssh_opts=r.string_list("dockerSshOpts"),
        vault_address=vault_address.rstrip("/"),
        vault_kv_mount=kv_mount,
        vault_approle_mount=approle_mount,
        image_tag=tag,
        backend_image=app_image("backendImage"),
        frontend_image=app_image("frontendImage"),
        postgres_image=_image(r, "postgresImage"),
        redis_image=_image(r, "redisImage"),
        vault_agent_image=_image(r, "vaultAgentImage"),
        memory_mb=memory,
        log_max_size=log_max_size,
        log_max_files=r.integer("logMaxFiles", 1, 100),
        traefik_network=r.string("traefikNetwork", _NAME_RE.match, "a Docker network name"),
        traefik_entrypoint=r.string("traefikEntrypoint", _NAME_RE.match, "a Traefik entrypoint name such as websecure"),
        traefik_cert_resolver=r.string(
            "traefikCertResolver", _NAME_RE.match, "a Traefik certificate resolver name such as letsencrypt"
        ),
        postgres_data_path=data_paths["postgresDataPath"],
        redis_data_path=data_paths["redisDataPath"],
        adopt_vault_values=r.boolean("adoptVaultValues"),
        vault_values_adopted=r.boolean("vaultValuesAdopted"),
        vault_skip_child_token=r.boolean("vaultSkipChildToken"),
        vault_token_ttl_seconds=r.integer("vaultTokenTtlSeconds", 600, 86400),
        vault_agent_cidrs=_cidrs(r.string_list("vaultAgentCidrs")),
        vault_ca_cert=r.string(
            "vaultCaCert",
            lambda v: (
                v.strip().startswith("-----BEGIN CERTIFICATE-----") and v.strip().endswith("-----END CERTIFICATE-----")
            ),
            "a PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----), or empty",
        ),
        s3_endpoint=s3_endpoint,
        s3_public_endpoint=r.string("s3PublicEndpoint", _http_url, "an http(s) URL, or empty") or s3_endpoint,
        s3_bucket=s3_bucket,
        s3_public_bucket=r.string("s3PublicBucket", _BUCKET_RE.match, "an S3 bucket name, or empty") or s3_bucket,
        ai_provider=r.string("aiProvider", re.compile(r"^[a-z0-9_-]{1,32}$").match, "a provider name such as zai"),
        llm_encryption=r.boolean("llmEncryption"),
        otel_endpoint=otel,
        otel_service_name=r.string("otelServiceName", _NAME_RE.match, "a service name such as finance-report-backend"),
        prefect_api_url=prefect,
        openpanel_client_id=r.string(
            "openpanelClientId",
            re.compile(r"^[A-Za-z0-9-]{1,64}$").match,
            "an OpenPanel client id (letters, digits, '-'), or empty",
        ),
        public_health_gate=r.boolean("publicHealthGate"),
        cutover_watch_seconds=r.integer("cutoverWatchSeconds", 0, 3600),
        registry_user=r.string(
            "registryUser", re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$").match, "a registry user name, or empty"
        ),
        preview_docker_proxy=r.boolean("previewDockerProxy"),
        # 1000 and up: a group of its own, never root's or a system group that other daemons use.
        preview_docker_proxy_gid=r.integer("previewDockerProxyGid", 1000, 65533),
        preview_docker_proxy_image=_image(r, "previewDockerProxyImage"),
        host_memory_mb=r.integer("hostMemoryMb", 0, 4194304),
        max_preview_envs=r.integer("maxPreviewEnvs", 0, 100),
        # Main builds are tagged with their commit (sha7); a release tag (vX.Y.Z) or a digest is not one.
        git_commit_sha=r.string("gitCommitSha", _SHA_RE.match, "a git commit sha (7-40 hex), or empty")
        or (tag if _SHA_RE.match(tag) else ""),
        secrets=values,
        backup=_backup_settings(r, env, s3_endpoint, s3_bucket),
    )


def _backup_settings(reader: _Reader, env: str, s3_endpoint: str, s3_bucket: str) -> BackupSettings:
    from program.backup import read_settings

    return read_settings(reader, env, s3_endpoint, s3_bucket)


KEPT_SERVICES = ("postgres", "redis", "app", "backup")


def kept_values(text: str) -> dict[str, dict[str, Any]]:
    """Parse vaultKeptValues: {"<service>": {"<KEY>": <any JSON value>}} (a KV document's values are
    JSON: what the program does not own is written back with its type). Errors never show the value."""
    try:
        value = json.loads(text) if text else {}
    except json.JSONDecodeError:
        value = None
    ok = isinstance(value, dict) and all(
        service in KEPT_SERVICES and isinstance(keys, dict) for service, keys in value.items()
    )
    if not ok:
        services = "|".join(f'"{s}"' for s in KEPT_SERVICES)
        raise ConfigError(
            "vaultKeptValues",
            text,
            f'a JSON object {{{services}: {{"KEY": value}}}}, as `uv run invoke adopt` writes it',
            secret=True,
        )
    return value


def _cidrs(values: tuple[str, ...]) -> tuple[str, ...]:
    import ipaddress

    for value in values:
        try:
            ipaddress.ip_network(value, strict=True)
        except ValueError:
            raise ConfigError("vaultAgentCidrs", list(values), 'a list of CIDRs such as ["203.0.113.7/32"]') from None
    return values


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
    _reject_unknown_keys(raw)
    secret_values = {spec.key: cfg.get_secret(spec.key) for spec in FIELDS if spec.secret and raw.get(spec.key)}
    config = load_config(raw, pulumi.get_stack(), frozenset(secret_keys), secret_values)
    check_adoption(config, pulumi.runtime.is_dry_run())
    return config


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


def _reject_unknown_keys(raw: dict[str, str]) -> None:
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
