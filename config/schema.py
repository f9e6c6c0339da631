"""Every config key, declared once with the check that validates it (`FIELDS`).

`Pulumi.yaml`'s `config:` block and docs/configuration.md's table are generated from and checked
against this list (ci/config_reference.py), so a key cannot be documented one way and read another.
`read_field` turns a key's raw value (as Pulumi hands it over: a string, or JSON for arrays) into its
typed value, or raises ConfigError naming the key, the value and what is expected. Rules that involve
more than one key (the env and the stack, the app images and imageTag, defaults taken from other keys)
live in config/stack_config.py.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from config.errors import ConfigError
from config.values import (
    BUCKET_RE,
    DIGEST_RE,
    LOOPBACK,
    MOUNT_RE,
    NAME_RE,
    SHA_RE,
    SIZE_RE,
    TAG_RE,
    TIME_RE,
    ImageRef,
    is_cidr,
    is_fqdn,
    is_host_path,
    is_http_url,
    is_image_repository,
    is_key_prefix,
    is_pem_certificate,
    is_placement_constraint,
    is_ssh_host,
    parse_image,
)
from facts.services import VaultService
from render import vault_artifacts

REQUIRED = object()  # marker: the key has no default and must be set in the stack file
Rule = tuple[Callable[[str], Any], str]  # (predicate on a non-empty value, what is expected)


@dataclass(frozen=True)
class Text:
    """A string; each rule must hold for a non-empty value (the first that fails names what is expected)."""

    rules: tuple[Rule, ...] = ()
    type: str = "string"

    def __call__(self, key: str, value: str) -> str:
        for valid, expected in self.rules:
            if value != "" and not valid(value):
                raise ConfigError(key, value, expected)
        return value


def text(valid: Callable[[str], Any], expected: str) -> Text:
    return Text(((valid, expected),))


@dataclass(frozen=True)
class Integer:
    low: int
    high: int
    type: str = "integer"

    def __call__(self, key: str, value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            try:
                number = int(str(value).strip())
            except ValueError:
                raise ConfigError(key, value, f"an integer from {self.low} to {self.high}") from None
        if not self.low <= number <= self.high:
            raise ConfigError(key, value, f"an integer from {self.low} to {self.high}")
        return number


@dataclass(frozen=True)
class Boolean:
    type: str = "boolean"

    def __call__(self, key: str, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        lowered = str(value).strip().lower()
        if lowered not in ("true", "false"):
            raise ConfigError(key, value, "true or false")
        return lowered == "true"


@dataclass(frozen=True)
class StringList:
    """A JSON array of strings; `item` (a rule) must hold for each."""

    item: Rule | None = None
    type: str = "array"

    def __call__(self, key: str, value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise ConfigError(key, value, 'a JSON array of strings, e.g. ["-p", "2222"]') from None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(key, value, 'a JSON array of strings, e.g. ["-p", "2222"]')
        if self.item is not None and not all(self.item[0](v) for v in value):
            raise ConfigError(key, list(value), self.item[1])
        return tuple(value)


@dataclass(frozen=True)
class PinnedImage:
    type: str = "string"

    def __call__(self, key: str, value: Any) -> ImageRef:
        return pinned_image(key, value)


def pinned_image(key: str, value: str) -> ImageRef:
    ref = parse_image(value)
    if ref is None:
        raise ConfigError(key, value, "an image reference repository:tag or repository@sha256:<64 hex>")
    if not ref.pinned:
        # Never `latest`, in any env: it floats (the app no longer publishes it) and the image policy
        # refuses it, so staging must not plan what production could never deploy.
        raise ConfigError(key, value, "a pinned image: a release tag or a sha256 digest, never `latest` or no tag")
    return ref


@dataclass(frozen=True)
class Secret:
    """A value that must be stored encrypted (`pulumi config set --secret`). Reading it yields whether it
    is set; its value stays with the caller (a secret Output in a real run). `valid` checks a set value
    without ever showing it."""

    valid: Callable[[str], Any] | None = None
    expected: str = ""
    type: str = "string"


Check = Text | Integer | Boolean | StringList | PinnedImage | Secret


@dataclass(frozen=True)
class Field:
    """One config key, as declared in Pulumi.yaml."""

    key: str
    description: str
    check: Check = field(default_factory=Text)
    default: Any = REQUIRED

    @property
    def type(self) -> str:  # Pulumi.yaml types: string | integer | boolean | array
        return self.check.type

    @property
    def secret(self) -> bool:
        return isinstance(self.check, Secret)

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def _is_tag_or_digest(value: str) -> bool:
    return bool(TAG_RE.match(value) or DIGEST_RE.match(value))


def _not_latest(value: str) -> bool:
    return value != "latest"


def _kept_values_or_none(text: str) -> dict[str, dict[str, Any]] | None:
    try:
        value = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return None
    ok = isinstance(value, dict) and all(s in set(VaultService) and isinstance(v, dict) for s, v in value.items())
    return value if ok else None


KEPT_VALUES_EXPECTED = (
    "a JSON object {"
    + "|".join(f'"{s}"' for s in VaultService)
    + ': {"KEY": value}}, as `uv run invoke adopt` writes it'
)


KeptValues = dict[str, dict[str, Any]]
"""vaultKeptValues: service -> KV key -> the value kept (any JSON value)."""


def kept_values(text: str) -> KeptValues:
    """Parse vaultKeptValues: {"<service>": {"<KEY>": <any JSON value>}} (a KV document's values are
    JSON: what the program does not own is written back with its type). Errors never show the value."""
    value = _kept_values_or_none(text)
    if value is None:
        raise ConfigError("vaultKeptValues", text, KEPT_VALUES_EXPECTED, secret=True)
    return value


RUNTIMES = ("containers", "swarm")
NODE_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?$")
PLACEMENT_EXPECTED = (
    'a list of Swarm constraints such as ["node.labels.app==true", "node.role!=manager"] '
    "(node.hostname, node.id, node.role, node.platform.os|arch or node.labels.<key>, then == or !=, then a value)"
)

F = Field
_MEMORY = Integer(16, 65536)
_URL = "an http(s) URL"
FIELDS: tuple[Field, ...] = (
    F(
        "env",
        "Environment name; must equal the stack name (empty: the stack name). Lowercase letters and digits.",
        Text(),
        "",
    ),
    F(
        "domain",
        "Internal domain; the site is served at report<suffix>.<domain>.",
        text(is_fqdn, "a lowercase DNS domain such as zitian.party"),
    ),
    F(
        "dockerHost",
        "Docker host of the Dokploy server, as ssh://user@host[:port].",
        text(is_ssh_host, "ssh://user@host or ssh://user@host:port"),
    ),
    F("dockerSshOpts", "Extra ssh options for the Docker host connection.", StringList(), []),
    F(
        "previewDockerProxy",
        "Run the read-only Docker API proxy that `pulumi preview` reaches through the preview ssh user "
        "(docs/ci-credentials.md).",
        Boolean(),
        False,
    ),
    # 1000 and up: a group of its own, never root's or a system group that other daemons use.
    F(
        "previewDockerProxyGid",
        "Host group of the preview ssh user: the only group (besides root) that may open the proxy's socket.",
        Integer(1000, 65533),
        23750,
    ),
    F(
        "previewDockerProxyImage",
        "Pinned HAProxy image of the read-only Docker API proxy.",
        PinnedImage(),
        "haproxy:3.2.21-alpine",
    ),
    F(
        "vaultAddress",
        "Vault address (https://...; http only for loopback). The token comes from VAULT_TOKEN.",
        text(
            lambda v: is_http_url(v, LOOPBACK),
            "an https:// URL (http:// only for a loopback address), without credentials or path query",
        ),
    ),
    F(
        "vaultCaCert",
        "PEM of the CA that signed Vault's certificate, when it is a private CA (empty: the agent image's "
        "roots; `pulumi` itself reads VAULT_CACERT).",
        text(
            is_pem_certificate,
            "a PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----), or empty",
        ),
        "",
    ),
    F("vaultKvMount", "Mount path of the KV v2 engine.", text(MOUNT_RE.match, "a mount path such as secret"), "secret"),
    F(
        "vaultApproleMount",
        "Mount path of the AppRole auth method.",
        text(MOUNT_RE.match, "a mount path such as approle"),
        "approle",
    ),
    F(
        "imageTag",
        "Tag (sha7 or vX.Y.Z) or sha256 digest of the backend and frontend images.",
        Text(
            (
                (_is_tag_or_digest, "an image tag (sha7 or vX.Y.Z) or sha256:<64 hex>"),
                (_not_latest, "a pinned tag (sha7 or vX.Y.Z) or sha256 digest, never `latest`"),
            )
        ),
    ),
    F(
        "backendImage",
        "Backend image repository.",
        text(is_image_repository, "an image repository without tag or digest (the tag comes from imageTag)"),
        "ghcr.io/wangzitian0/finance_report-backend",
    ),
    F(
        "frontendImage",
        "Frontend image repository.",
        text(is_image_repository, "an image repository without tag or digest (the tag comes from imageTag)"),
        "ghcr.io/wangzitian0/finance_report-frontend",
    ),
    F("postgresImage", "Pinned PostgreSQL 16 image.", PinnedImage(), "postgres:16.10-alpine"),
    F("redisImage", "Pinned Redis 7 image.", PinnedImage(), "redis:7.4.6-alpine"),
    F(
        "vaultAgentImage",
        "Pinned image that provides the `vault` binary for the agent sidecars.",
        PinnedImage(),
        "hashicorp/vault:1.18.5",
    ),
    F("postgresMemoryMb", "Memory limit of the PostgreSQL container, MiB.", _MEMORY, 1024),
    F("redisMemoryMb", "Memory limit of the Redis container, MiB.", _MEMORY, 256),
    F("backendMemoryMb", "Memory limit of each backend container, MiB.", _MEMORY, 1024),
    F("frontendMemoryMb", "Memory limit of each frontend container, MiB.", _MEMORY, 512),
    F("prefectMemoryMb", "Memory limit of the prefect worker, MiB.", _MEMORY, 512),
    F("agentMemoryMb", "Memory limit of each vault-agent sidecar, MiB.", _MEMORY, 64),
    F(
        "logMaxSize",
        "json-file log rotation: size of one file (e.g. 10m).",
        text(SIZE_RE.match, "a size such as 10m (digits then k, m or g)"),
        "10m",
    ),
    F("logMaxFiles", "json-file log rotation: number of files kept.", Integer(1, 100), 3),
    F(
        "traefikNetwork",
        "Existing Traefik network (referenced, never created).",
        text(NAME_RE.match, "a Docker network name"),
        "dokploy-network",
    ),
    F(
        "traefikEntrypoint",
        "Traefik TLS entrypoint.",
        text(NAME_RE.match, "a Traefik entrypoint name such as websecure"),
        "websecure",
    ),
    F(
        "traefikCertResolver",
        "Traefik certificate resolver.",
        text(NAME_RE.match, "a Traefik certificate resolver name such as letsencrypt"),
        "letsencrypt",
    ),
    F(
        "postgresDataPath",
        "Adopt an existing host data directory for PostgreSQL (empty: a protected named volume).",
        text(is_host_path, "an absolute host path such as /data/finance_report/postgres, or empty"),
        "",
    ),
    F(
        "redisDataPath",
        "Adopt an existing host data directory for Redis (empty: a protected named volume).",
        text(is_host_path, "an absolute host path such as /data/finance_report/postgres, or empty"),
        "",
    ),
    F(
        "adoptVaultValues",
        "Vault already holds this env's values (compose deployment): `pulumi up` refuses to run until `uv "
        "run invoke adopt` has imported them.",
        Boolean(),
        False,
    ),
    F(
        "vaultValuesAdopted",
        "Set by `uv run invoke adopt` once today's Vault values are in the stack's state.",
        Boolean(),
        False,
    ),
    F(
        "vaultKeptValues",
        "Set by `uv run invoke adopt` (secret JSON): values in the env's KV secrets that the program does "
        "not generate, written back unchanged.",
        Secret(lambda t: _kept_values_or_none(t) is not None, KEPT_VALUES_EXPECTED),
        "",
    ),
    F(
        "vaultSkipChildToken",
        "Use VAULT_TOKEN itself instead of a child token (read-only preview tokens may not create tokens).",
        Boolean(),
        False,
    ),
    F(
        "vaultTokenTtlSeconds",
        "TTL of the Vault provider's child token; must outlast the longest `pulumi up`.",
        Integer(600, 86400),
        3600,
    ),
    F(
        "vaultAgentCidrs",
        "CIDRs the agents reach Vault from (the Docker host's egress address); bound to every AppRole "
        "secret-id and token. Required before production's first `pulumi up` (a preview warns).",
        StringList((is_cidr, 'a list of CIDRs such as ["203.0.113.7/32"]')),
        [],
    ),
    F(
        "secretIdTtlDays",
        "Lifetime of each AppRole secret-id, days (12-32); a deploy in the last two thirds of it mints a new "
        "one (docs/rotation.md: Secret-id lifetime and renewal).",
        Integer(vault_artifacts.SECRET_ID_TTL_MIN_DAYS, vault_artifacts.SECRET_ID_TTL_MAX_DAYS),
        vault_artifacts.SECRET_ID_TTL_DAYS,
    ),
    F(
        "s3Endpoint",
        "S3 (MinIO) endpoint URL used by the backend.",
        text(is_http_url, f"{_URL} such as https://minio.zitian.party"),
    ),
    F(
        "s3PublicEndpoint",
        "Public S3 endpoint URL (empty: same as s3Endpoint).",
        text(is_http_url, f"{_URL}, or empty"),
        "",
    ),
    F(
        "s3Bucket",
        "Private bucket (empty: finance-report-<env>).",
        text(BUCKET_RE.match, "an S3 bucket name (lowercase, 3-63 characters)"),
        "",
    ),
    F(
        "s3PublicBucket",
        "Public bucket (empty: same as s3Bucket).",
        text(BUCKET_RE.match, "an S3 bucket name, or empty"),
        "",
    ),
    F("s3AccessKey", "S3 access key (secret).", Secret()),
    F("s3SecretKey", "S3 secret key (secret).", Secret()),
    F("s3PublicAccessKey", "Public-bucket access key (secret; empty: feature off).", Secret(), ""),
    F("s3PublicSecretKey", "Public-bucket secret key (secret; empty: feature off).", Secret(), ""),
    F(
        "aiProvider",
        "AI_PROVIDER passed to the backend.",
        text(re.compile(r"^[a-z0-9_-]{1,32}$").match, "a provider name such as zai"),
        "zai",
    ),
    F("zaiApiKey", "ZAI_API_KEY (secret; empty: AI features off).", Secret(), ""),
    F(
        "llmEncryption",
        "The stack's generated Fernet key encrypts (first in LLM_ENCRYPTION_KEYS); false: kept keys come first "
        "and the generated key after them, decrypting only. The key is never dropped (docs/secrets.md: LLM "
        "encryption).",
        Boolean(),
        False,
    ),
    F(
        "otelEndpoint",
        "OTEL_EXPORTER_OTLP_ENDPOINT (empty: tracing off).",
        text(is_http_url, f"{_URL} of the OTLP collector, or empty"),
        "",
    ),
    F(
        "otelServiceName",
        "OTEL_SERVICE_NAME of the backend.",
        text(NAME_RE.match, "a service name such as finance-report-backend"),
        "finance-report-backend",
    ),
    F(
        "prefectApiUrl",
        "PREFECT_API_URL; set to run the prefect worker (empty: no worker).",
        text(is_http_url, f"{_URL} of the Prefect API, or empty"),
        "",
    ),
    F(
        "openpanelClientId",
        "OpenPanel client id for the frontend (public; empty: analytics off).",
        text(re.compile(r"^[A-Za-z0-9-]{1,64}$").match, "an OpenPanel client id (letters, digits, '-'), or empty"),
        "",
    ),
    F(
        "gitCommitSha",
        "GIT_COMMIT_SHA given to the backend (empty: the image tag when it is a commit sha, else empty).",
        text(SHA_RE.match, "a git commit sha (7-40 hex), or empty"),
        "",
    ),
    F(
        "publicHealthGate",
        "After an update, `pulumi up` waits until https://report<suffix>.<domain>/api/health and / answer "
        "through Traefik.",
        Boolean(),
        True,
    ),
    F(
        "cutoverWatchSeconds",
        "After a new backend/frontend revision is healthy, `pulumi up` watches it this long (no restart, "
        "still healthy) before the old one goes; 0: no watch.",
        Integer(0, 3600),
        60,
    ),
    F(
        "registryUser",
        "User for pulling the backend and frontend images from a private registry (empty: anonymous pulls).",
        text(re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$").match, "a registry user name, or empty"),
        "",
    ),
    F("registryToken", "Token for registryUser (secret).", Secret(), ""),
    # Backups (program/backup.py, docs/backups.md).
    F(
        "backupResticImage",
        "Pinned official restic image; the backup image (built on the Docker host over postgresImage) copies "
        "its binary.",
        PinnedImage(),
        "restic/restic:0.18.0",
    ),
    F(
        "backupS3Endpoint",
        "S3 endpoint of the encrypted backup repository (empty: s3Endpoint); never the Docker host.",
        text(is_http_url, f"{_URL} of the S3 endpoint holding the backups, or empty"),
        "",
    ),
    F(
        "backupS3Bucket",
        "Bucket of the backup repository, versioned (empty: s3Bucket; production's policy requires one of its own).",
        text(BUCKET_RE.match, "an S3 bucket name (lowercase, 3-63 characters), or empty"),
        "",
    ),
    F(
        "backupS3Prefix",
        "Key prefix of this env's repository (empty: finance_report/<env>/postgres); must contain the env's name.",
        text(is_key_prefix, "a key prefix such as finance_report/<env>/postgres (no leading or trailing /)"),
        "",
    ),
    F(
        "backupS3AccessKey",
        "S3 access key for the backup repository, limited to its bucket or prefix (secret; required in "
        "production; elsewhere empty: s3AccessKey).",
        Secret(),
        "",
    ),
    F(
        "backupS3SecretKey",
        "S3 secret key for the backup repository (secret; required in production; elsewhere empty: s3SecretKey).",
        Secret(),
        "",
    ),
    F(
        "backupHeartbeatUrl",
        "URL the backup service GETs after each verified backup, for an external monitor (secret; empty: none).",
        Secret(is_http_url, f"{_URL} the backup service calls after each verified backup, or empty"),
        "",
    ),
    F(
        "backupTime",
        "UTC time (HH:MM) of the daily backup.",
        text(TIME_RE.match, "a UTC time HH:MM such as 02:30"),
        "02:30",
    ),
    F("backupIntervalHours", "Hours between backups, counted from backupTime (24: daily).", Integer(1, 168), 24),
    F("backupKeepDaily", "Verified daily backups kept (the policy requires at least 7).", Integer(1, 366), 7),
    F("backupKeepWeekly", "Verified weekly backups kept beyond the dailies.", Integer(0, 520), 4),
    F(
        "backupKeepSafetyDays",
        "Days the safety backup taken before each restore is kept (apart from the dailies and weeklies).",
        Integer(1, 366),
        14,
    ),
    F(
        "backupMaxDropPercent",
        "Largest drop, since the previous verified backup, of the table count or of a large table's rows that a "
        "backup may show and still be verified (100: any).",
        Integer(1, 100),
        50,
    ),
    F(
        "backupMemoryMb",
        "Memory limit of the backup container (dump, upload and the restore-check server), MiB.",
        Integer(64, 65536),
        1024,
    ),
    F(
        "hostMemoryMb",
        "Memory of the Docker host this project's containers may use, MiB (its total minus Dokploy, Traefik "
        "and the OS); the offline plan checks every committed stack plus maxPrEnvs PR environments against it. "
        "0: not checked.",
        Integer(0, 4194304),
        0,
    ),
    F(
        "maxPrEnvs",
        "Most pull-request environments (docs/pr-environments.md) that may run at once on this host (formerly "
        "maxPreviewEnvs, still read while this key is unset).",
        Integer(0, 100),
        0,
    ),  # Runtime (docs/swarm.md): plain containers with the program's own rollout, or Docker Swarm services.
    F(
        "runtime",
        "containers: plain containers rolled by the program (one host); swarm: Docker Swarm services that Docker "
        "rolls, rolls back and places (docs/swarm.md).",
        text(RUNTIMES.__contains__, "containers or swarm"),
        "containers",
    ),
    F(
        "swarmDataNode",
        "runtime swarm: hostname of the Swarm node that holds Postgres, Redis and the backup service (their data); "
        "the manager dockerHost connects to.",
        text(NODE_RE.match, "a Swarm node hostname such as dokploy (docker node ls)"),
        "",
    ),
    F("backendReplicas", "runtime swarm: backend tasks.", Integer(1, 20), 2),
    F("frontendReplicas", "runtime swarm: frontend tasks.", Integer(1, 20), 2),
    F("workerReplicas", "runtime swarm: prefect worker tasks.", Integer(1, 5), 1),
    F(
        "backendConstraints",
        'runtime swarm: placement constraints of the backend, e.g. ["node.labels.app==true"].',
        StringList((is_placement_constraint, PLACEMENT_EXPECTED)),
        [],
    ),
    F(
        "frontendConstraints",
        "runtime swarm: placement constraints of the frontend.",
        StringList((is_placement_constraint, PLACEMENT_EXPECTED)),
        [],
    ),
    F(
        "workerConstraints",
        "runtime swarm: placement constraints of the prefect worker.",
        StringList((is_placement_constraint, PLACEMENT_EXPECTED)),
        [],
    ),
    F(
        "routingDrainSeconds",
        "runtime swarm: a stopping backend or frontend task keeps serving this long, so Traefik (which polls "
        "Swarm every 15 s) has dropped it before it stops listening.",
        Integer(0, 300),
        20,
    ),
)
FIELDS_BY_KEY = {f.key: f for f in FIELDS}
# Old name -> current name of a renamed key. The old name is not declared in Pulumi.yaml (a declared default
# would put it in every stack); config/stack_config.py still reads it while the new key is unset, with a warning.
RENAMED_KEYS = {"maxPreviewEnvs": "maxPrEnvs"}


def suggest_key(key: str) -> str | None:
    """The declared key a misspelt one most likely meant (case, namespace separators, typos)."""
    folded = {f.key.lower(): f.key for f in FIELDS}
    bare = key.lower().replace("_", "").replace("-", "")
    for candidate, real in folded.items():
        if candidate == bare:
            return real
    close = difflib.get_close_matches(key, list(FIELDS_BY_KEY), n=1, cutoff=0.6)
    return close[0] if close else None


def read_field(spec: Field, raw: Mapping[str, Any], secret_keys: frozenset[str]) -> Any:
    """The key's typed value (its default when unset); for a secret, whether it is set."""
    value = raw.get(spec.key)
    if isinstance(spec.check, Secret):
        return _secret_present(spec, value, secret_keys)
    if value is None or (value == "" and spec.required):
        if spec.required:
            raise ConfigError(
                spec.key, value, f"a value: {spec.description} Set it with `pulumi config set {spec.key} ...`"
            )
        return spec.check(spec.key, spec.default) if isinstance(spec.check, PinnedImage) else spec.default
    return spec.check(spec.key, value)


def _secret_present(spec: Field, value: Any, secret_keys: frozenset[str]) -> bool:
    """Secret keys must be stored encrypted: a plaintext value in a stack file is an error."""
    assert isinstance(spec.check, Secret)
    if value in (None, ""):
        if spec.required:
            raise ConfigError(spec.key, None, f"a secret: run `pulumi config set --secret {spec.key}`")
        return False
    if spec.key not in secret_keys:
        raise ConfigError(
            spec.key,
            value,
            f"an encrypted value, not plaintext: run `pulumi config set --secret {spec.key}`",
            secret=True,
        )
    if spec.check.valid is not None and not spec.check.valid(str(value)):
        raise ConfigError(spec.key, value, spec.check.expected, secret=True)
    return True
