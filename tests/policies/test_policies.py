"""Every policy against hand-built resources through the pulumi_policy API: a compliant fixture passes
all policies, and one changed property per test makes exactly the named policy fire at its level."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pulumi_policy import PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions

from ci.offline_plan import evaluate_resources
from facts.revision import options_digest, revision_name
from policies.registry import POLICIES

ENV = "production"
PACK_CONFIG = {
    "traefik-enforce-tls-routing": {"domain": "zitian.party"},
    "docker-image-disallow-unpinned": {"env": ENV},
    "vault-policy-enforce-least-privilege": {"env": ENV},
    "vault-kv-enforce-env-path": {"env": ENV},
    "stack-disallow-cross-env-references": {"env": ENV},
    "pr-env-disallow-shared-resources": {"env": ENV},
    "docker-container-enforce-memory-limit": {"maxMemoryMb": 2048},
}
CONTAINER, VOLUME = "docker:index/container:Container", "docker:index/volume:Volume"
RANDOM_PASSWORD, RANDOM_BYTES = "random:index/randomPassword:RandomPassword", "random:index/randomBytes:RandomBytes"
RANDOM_OUTPUTS = ("bcryptHash", "result")


def resource(
    type_: str,
    name: str,
    props: dict[str, Any],
    protect: bool = False,
    dbr: bool | None = None,
    retain: bool | None = False,
    secret_outputs: tuple = (),
) -> PolicyResource:
    opts = PolicyResourceOptions(protect, [], dbr, [], PolicyCustomTimeouts(0, 0, 0), list(secret_outputs), None)
    if retain is not None:
        opts.retain_on_delete = retain
    return PolicyResource(
        type_, props, f"urn:pulumi:{ENV}::finance-report::{type_}::{name}", name, opts, None, None, [], {}
    )


def hardened(service: str, labels: dict[str, str], **extra: Any) -> dict[str, Any]:
    props = {
        "name": f"finance_report-{service}",
        "image": "sha256:" + "a" * 64,
        "restart": "unless-stopped",
        "memory": 512,
        "logDriver": "json-file",
        "logOpts": {"max-size": "10m", "max-file": "3"},
        "securityOpts": ["no-new-privileges:true"],
        "privileged": False,
        "capabilities": {"drops": ["ALL"], "adds": []},
        "healthcheck": {"tests": ["CMD-SHELL", "true"], "interval": "10s", "timeout": "5s", "startPeriod": "1m0s"},
        "stopTimeout": 10,
        "destroyGraceSeconds": 10,
        "labels": [{"label": k, "value": v} for k, v in {**labels, "finance-report.service": service}.items()],
        "networksAdvanced": [{"name": "finance_report-internal"}],
    }
    props.update(extra)
    return props


TMPFS = {"type": "tmpfs", "device": "tmpfs", "o": "size=1m,mode=0750"}
# As program/named.py names them: the hash of what replaces a volume (driver, options, labels), so
# they are replaced create-first beside the old one.
SECRETS_VOLUME = {
    s: f"finance_report-{s}-secrets-{options_digest({'driver': 'local', 'driverOpts': TMPFS})}"
    for s in ("app", "postgres")
}


def secrets_mount(service: str, read_only: bool = True) -> dict[str, Any]:
    return {
        "type": "volume",
        "source": SECRETS_VOLUME[service],
        "target": f"/run/secrets/{service}",
        "readOnly": read_only,
    }


def rolling(props: dict[str, Any]) -> dict[str, Any]:
    """A rolling container's props with the name the program gives it: the hash of every argument."""
    return {**props, "name": revision_name(props["name"], props)}


# The backend's env-file template as the app agent uploads it (render/app_env.py): its S3 buckets.
APP_TEMPLATE = "S3_BUCKET='finance-report-production'\nS3_ENDPOINT='https://minio.zitian.party'\nS3_PUBLIC_BUCKET='finance-report-public'\nS3_PUBLIC_ENDPOINT='https://minio.zitian.party'\n"


def agent(service: str) -> PolicyResource:
    uploads = [{"file": "/vault/approle/secret-id", "content": "generated", "permissions": "0400"}]
    if service == "app":
        uploads.append({"file": "/vault/config/app.env.ctmpl", "content": APP_TEMPLATE, "permissions": "0400"})
    labels = {"traefik.enable": "false", "finance-report.agent-for": service}
    return resource(
        CONTAINER,
        f"{service}-agent",
        hardened("vault-agent", labels, mounts=[secrets_mount(service, read_only=False)], uploads=uploads),
        dbr=True,
        secret_outputs=("uploads",),
    )


def compliant_stack() -> list[PolicyResource]:
    backend_labels = {
        "traefik.enable": "true",
        "traefik.docker.network": "dokploy-network",
        "traefik.http.routers.finance-report-api.rule": "Host(`report.zitian.party`) && PathPrefix(`/api`)",
        "traefik.http.routers.finance-report-api.entrypoints": "websecure",
        "traefik.http.routers.finance-report-api.tls.certresolver": "letsencrypt",
    }
    backend = hardened(
        "backend",
        backend_labels,
        mounts=[secrets_mount("app")],
        networksAdvanced=[{"name": "finance_report-internal"}, {"name": "dokploy-network"}],
        envs=["POSTGRES_PASSWORD_FILE=/run/secrets/app/x", "TOKENIZERS_PARALLELISM=false"],
    )
    return [
        resource(
            VOLUME, "app-secrets", {"name": SECRETS_VOLUME["app"], "driver": "local", "driverOpts": TMPFS}, dbr=False
        ),
        resource(
            VOLUME,
            "postgres-secrets",
            {"name": SECRETS_VOLUME["postgres"], "driver": "local", "driverOpts": TMPFS},
            dbr=False,
        ),
        resource(VOLUME, "postgres-data", {"name": "finance_report-postgres-data"}, protect=True, retain=True),
        resource(RANDOM_PASSWORD, "app-secret-key", {"length": 64}, protect=True, secret_outputs=RANDOM_OUTPUTS),
        resource(RANDOM_BYTES, "app-llm-key", {"length": 32}, protect=True, secret_outputs=("base64", "hex")),
        resource(
            RANDOM_PASSWORD, "backup-restic-password", {"length": 48}, protect=True, secret_outputs=RANDOM_OUTPUTS
        ),
        agent("app"),
        agent("postgres"),
        resource(CONTAINER, "backend", rolling(backend), dbr=False),
        resource(
            CONTAINER,
            "postgres",
            hardened(
                "postgres",
                {"traefik.enable": "false"},
                mounts=[
                    secrets_mount("postgres"),
                    {"type": "volume", "source": "finance_report-postgres-data", "target": "/var/lib/postgresql/data"},
                ],
                stopTimeout=60,
                destroyGraceSeconds=60,
            ),
            dbr=True,
        ),
        resource(
            "docker:index/remoteImage:RemoteImage",
            "backend-image",
            {"name": "ghcr.io/wangzitian0/finance_report-backend:v1.4.2"},
        ),
        resource(
            "vault:index/policy:Policy",
            "app-policy",
            {
                "name": "finance_report-production-app",
                "policy": 'path "secret/data/finance_report/production/app" {\n  capabilities = ["read"]\n}\npath '
                '"auth/token/lookup-self" {\n  capabilities = ["read"]\n}\n',
            },
        ),
        resource(
            "vault:kv/secretV2:SecretV2",
            "app-kv",
            {
                "mount": "secret",
                "name": "finance_report/production/app",
                "dataJson": json.dumps({"S3_ACCESS_KEY": "app-access", "S3_PUBLIC_ACCESS_KEY": "public-access"}),
            },
        ),
        resource(
            "vault:kv/secretV2:SecretV2",
            "backup-kv",
            {
                "mount": "secret",
                "name": "finance_report/production/backup",
                "dataJson": json.dumps({"AWS_ACCESS_KEY_ID": "backup-access"}),
            },
        ),
        resource(
            "vault:appRole/authBackendRole:AuthBackendRole",
            "app-role",
            {
                "roleName": "finance_report-production-app",
                "tokenNoDefaultPolicy": True,
                "tokenTtl": 3600,
                "tokenMaxTtl": 14400,
                "secretIdTtl": 86400,
                "secretIdBoundCidrs": ["203.0.113.7/32"],
            },
        ),
        resource(
            CONTAINER,
            "backup",
            hardened(
                "backup",
                {"traefik.enable": "false", "finance-report.env": ENV},
                envs=BACKUP_ENVS,
                networksAdvanced=[{"name": "finance_report-internal"}, {"name": "finance_report-backup-egress"}],
            ),
            dbr=True,
        ),
        resource("pulumi:providers:docker", "dokploy", {"host": "ssh://deploy@dokploy.zitian.party"}),
    ]


BACKUP_ENVS = [
    "RESTIC_REPOSITORY=s3:https://minio.zitian.party/finance-report-backups/finance_report/production/postgres",
    "BACKUP_TIME=02:30",
    "BACKUP_INTERVAL_HOURS=24",
    "BACKUP_KEEP_DAILY=7",
    "PGHOST=finance_report-postgres",
]


def backup_env(key: str, value: str | None):
    def change(r: PolicyResource) -> None:
        envs = [e for e in r.props["envs"] if not e.startswith(f"{key}=")]
        r.props["envs"] = envs + ([f"{key}={value}"] if value is not None else [])

    return change


def fired(resources: list[PolicyResource]) -> set[tuple[str, str]]:
    return {(v.policy, v.enforcementLevel) for v in evaluate_resources(resources, PACK_CONFIG, POLICIES)}


def mutate(name: str, change) -> list[PolicyResource]:
    """One changed property. A changed rolling container is renamed as the program renames it, unless the
    change is meant to keep its old name (`keep_name`)."""
    resources = copy.deepcopy(compliant_stack())
    target = next(r for r in resources if r.name == name)
    change(target)
    if name == "backend" and not getattr(change, "keep_name", False):
        target.props["name"] = revision_name("finance_report-backend", target.props)
    return resources


def keep_name(change):
    change.keep_name = True
    return change


def set_label(key: str, value: str | None):
    def change(r: PolicyResource) -> None:
        labels = [lb for lb in r.props["labels"] if lb["label"] != key]
        if value is not None:
            labels.append({"label": key, "value": value})
        r.props["labels"] = labels

    return change


def set_prop(key: str, value: Any):
    def change(r: PolicyResource) -> None:
        r.props[key] = value

    return change


def test_the_compliant_stack_passes_every_policy():
    assert fired(compliant_stack()) == set()


def test_every_policy_has_complete_metadata():
    names = [p.name for p in POLICIES]
    assert len(names) == len(set(names)) == 33
    for policy in POLICIES:
        assert policy.description.endswith(".") and policy.severity is not None and policy.remediation_steps, (
            policy.name
        )
        assert policy.enforcement_level is not None, policy.name
        assert any(verb in policy.name for verb in ("-disallow-", "-enforce-", "-configure-", "-missing-")), policy.name


CASES = [
    # (resource, change, policy, level)
    (
        "backend",
        set_prop("envs", ["DATABASE_PASSWORD=hunter2hunter2"]),
        "docker-container-disallow-plaintext-secrets",
        "mandatory",
    ),
    (
        "backend",
        set_prop("envs", ["DB_PASSWORD=/not-a-path-but-the-password"]),
        "docker-container-disallow-plaintext-secrets",
        "mandatory",
    ),
    (
        "backend",
        set_prop("envs", ["POSTGRES_PASSWORD_FILE=hunter2hunter2"]),
        "docker-container-disallow-plaintext-secrets",
        "mandatory",
    ),
    (
        "backend",
        set_prop("healthcheck", {"tests": ["CMD", "redis-cli", "--pass", "hunter2hunter2", "ping"], "interval": "10s"}),
        "docker-container-disallow-plaintext-secrets",
        "mandatory",
    ),
    (
        "backend",
        set_prop("envs", ["DATABASE_URL=postgresql://postgres:pw123456@db:5432/x"]),
        "docker-container-disallow-plaintext-secrets",
        "mandatory",
    ),
    (
        "postgres",
        set_prop("command", ["redis-server", "--requirepass", "hunter2"]),
        "docker-container-disallow-plaintext-secrets",
        "mandatory",
    ),
    ("backend", set_label("app.token", "abc123"), "docker-container-disallow-plaintext-secrets", "mandatory"),
    (
        "backend",
        set_prop("mounts", [secrets_mount("app", read_only=False)]),
        "secrets-volume-enforce-tmpfs-read-only",
        "mandatory",
    ),
    (
        "backend",
        set_prop("mounts", [{**secrets_mount("app", read_only=False), "target": "/srv/config"}]),
        "secrets-volume-enforce-tmpfs-read-only",
        "mandatory",
    ),
    ("app-secrets", set_prop("driverOpts", {}), "secrets-volume-enforce-tmpfs-read-only", "mandatory"),
    # (replaced delete-first, so only the missing size is wrong)
    (
        "app-secrets",
        lambda r: (
            setattr(r.opts, "delete_before_replace", True)
            or r.props.update(driverOpts={"type": "tmpfs", "device": "tmpfs", "o": "mode=0750"})
        ),
        "secrets-volume-enforce-tmpfs-read-only",
        "mandatory",
    ),
    (
        "backend",
        set_prop("volumes", [{"hostPath": "/etc/finance/secrets.env", "containerPath": "/run/secrets/app/app.env"}]),
        "secrets-volume-enforce-tmpfs-read-only",
        "mandatory",
    ),
    (
        "backend",
        set_label("traefik.http.routers.finance-report-api.entrypoints", "web"),
        "traefik-enforce-tls-routing",
        "mandatory",
    ),
    (
        "backend",
        set_label("traefik.http.routers.finance-report-api.tls.certresolver", None),
        "traefik-enforce-tls-routing",
        "mandatory",
    ),
    (
        "backend",
        set_label("traefik.http.routers.finance-report-api.rule", "Host(`report.evil.example`)"),
        "traefik-enforce-tls-routing",
        "mandatory",
    ),
    ("backend", set_label("traefik.docker.network", None), "traefik-enforce-tls-routing", "mandatory"),
    (
        "backend-image",
        set_prop("name", "ghcr.io/wangzitian0/finance_report-backend:latest"),
        "docker-image-disallow-unpinned",
        "mandatory",
    ),
    ("backend-image", set_prop("name", "redis"), "docker-image-disallow-unpinned", "mandatory"),
    (
        "backend-image",
        set_prop("name", "ghcr.io/wangzitian0/finance_report-backend@sha256:abc123"),
        "docker-image-disallow-unpinned",
        "mandatory",
    ),
    ("postgres-data", lambda r: setattr(r.opts, "protect", False), "datastore-enforce-protected-data", "mandatory"),
    ("app-llm-key", lambda r: setattr(r.opts, "protect", False), "generated-secret-enforce-protection", "mandatory"),
    (
        "backup-restic-password",
        lambda r: setattr(r.opts, "protect", False),
        "generated-secret-enforce-protection",
        "mandatory",
    ),
    ("app-secret-key", lambda r: setattr(r.opts, "protect", False), "generated-secret-enforce-protection", "mandatory"),
    (
        "postgres-data",
        lambda r: setattr(r.opts, "retain_on_delete", False),
        "datastore-enforce-protected-data",
        "mandatory",
    ),
    (
        "postgres",
        lambda r: setattr(r.opts, "delete_before_replace", False),
        "docker-resource-enforce-delete-before-replace",
        "mandatory",
    ),
    ("postgres", set_prop("ports", [{"internal": 5432, "external": 5432}]), "datastore-disallow-exposure", "mandatory"),
    (
        "postgres",
        set_prop("networksAdvanced", [{"name": "dokploy-network"}]),
        "datastore-disallow-exposure",
        "mandatory",
    ),
    ("postgres", set_label("traefik.enable", None), "datastore-disallow-exposure", "mandatory"),
    ("backend", set_prop("privileged", True), "docker-container-disallow-privileged", "mandatory"),
    (
        "backend",
        set_prop("volumes", [{"hostPath": "/var/run/docker.sock", "containerPath": "/var/run/docker.sock"}]),
        "docker-container-disallow-docker-socket",
        "mandatory",
    ),
    ("backend", set_prop("securityOpts", []), "docker-container-enforce-no-new-privileges", "mandatory"),
    ("backend", set_prop("pidMode", "host"), "docker-container-disallow-host-namespaces", "mandatory"),
    (
        "backend",
        set_prop("capabilities", {"drops": ["NET_RAW"]}),
        "docker-container-enforce-capability-drop",
        "advisory",
    ),
    ("backend", set_prop("healthcheck", None), "docker-container-enforce-healthcheck-and-restart", "mandatory"),
    ("backend", set_prop("restart", "no"), "docker-container-enforce-healthcheck-and-restart", "mandatory"),
    ("backend", set_prop("memory", 0), "docker-container-enforce-memory-limit", "advisory"),
    ("backend", set_prop("memory", 8192), "docker-container-enforce-memory-limit", "advisory"),
    ("backend", set_prop("logOpts", {}), "docker-container-enforce-log-rotation", "advisory"),
    (
        "app-policy",
        set_prop("policy", 'path "secret/data/finance_report/*" {\n  capabilities = ["read"]\n}\n'),
        "vault-policy-enforce-least-privilege",
        "mandatory",
    ),
    (
        "app-policy",
        set_prop(
            "policy", 'path "secret/data/finance_report/production/app" {\n  capabilities = ["read", "sudo"]\n}\n'
        ),
        "vault-policy-enforce-least-privilege",
        "mandatory",
    ),
    (
        "app-policy",
        set_prop("policy", 'path "secret/data/finance_report/production/redis" {\n  capabilities = ["read"]\n}\n'),
        "vault-policy-enforce-least-privilege",
        "mandatory",
    ),
    (
        "app-policy",
        set_prop(
            "policy", 'path "secret/data/finance_report/production/app" {\n  capabilities = ["read", "update"]\n}\n'
        ),
        "vault-policy-enforce-least-privilege",
        "mandatory",
    ),
    # Vault adds up the capabilities of every block of one path
    (
        "app-policy",
        set_prop(
            "policy",
            'path "secret/data/finance_report/production/app" {\n  capabilities = ["delete"]\n}\npath '
            '"secret/data/finance_report/production/app" {\n  capabilities = ["read"]\n}\n',
        ),
        "vault-policy-enforce-least-privilege",
        "mandatory",
    ),
    ("app-kv", set_prop("name", "platform/minio"), "vault-kv-enforce-env-path", "mandatory"),
    ("app-kv", set_prop("name", "finance_report/production/app/nested"), "vault-kv-enforce-env-path", "mandatory"),
    ("app-kv", set_prop("mount", "kv"), "vault-kv-enforce-env-path", "mandatory"),
    ("app-role", set_prop("tokenNoDefaultPolicy", False), "vault-approle-configure-hygiene", "advisory"),
    ("app-role", set_prop("tokenMaxTtl", 0), "vault-approle-configure-hygiene", "advisory"),
    ("app-role", set_prop("secretIdTtl", 0), "vault-approle-configure-hygiene", "advisory"),
    ("app-role", set_prop("secretIdTtl", 90 * 86400), "vault-approle-configure-hygiene", "advisory"),
    ("app-role", set_prop("secretIdBoundCidrs", None), "vault-approle-configure-hygiene", "advisory"),
    ("app-role", set_prop("tokenTtl", 5), "vault-approle-configure-hygiene", "advisory"),
    ("app-agent", set_prop("mounts", []), "stack-enforce-agent-for-secrets-volume", "mandatory"),
    (
        "backend",
        set_prop("envs", ["REDIS_HOST=finance_report-redis-staging"]),
        "stack-disallow-cross-env-references",
        "mandatory",
    ),
    ("backend", set_label("finance-report.env", "staging"), "pr-env-disallow-shared-resources", "mandatory"),
    (
        "backend",
        lambda r: setattr(r.opts, "delete_before_replace", None),
        "docker-container-enforce-rolling-replacement",
        "mandatory",
    ),
    ("backend", keep_name(set_prop("memory", 640)), "docker-container-enforce-rolling-replacement", "mandatory"),
    (
        "app-agent",
        lambda r: setattr(r.opts, "delete_before_replace", False),
        "docker-resource-enforce-delete-before-replace",
        "mandatory",
    ),
    # replaced create-first, with options its name does not carry: Docker would hand back the old volume
    (
        "app-secrets",
        set_prop("driverOpts", {**TMPFS, "o": "size=2m,mode=0750"}),
        "docker-resource-enforce-delete-before-replace",
        "mandatory",
    ),
    (
        "app-secrets",
        set_prop("labels", [{"label": "finance-report.env", "value": "production"}]),
        "docker-resource-enforce-delete-before-replace",
        "mandatory",
    ),
    ("app-agent", set_prop("destroyGraceSeconds", None), "docker-container-enforce-destroy-grace", "mandatory"),
    ("postgres", set_prop("destroyGraceSeconds", 30), "docker-container-enforce-destroy-grace", "mandatory"),
    # stop timeout and grace agree, but below Postgres' own minimum (60 s: a checkpoint under load)
    (
        "postgres",
        lambda r: r.props.update(stopTimeout=30, destroyGraceSeconds=30),
        "docker-container-enforce-destroy-grace",
        "mandatory",
    ),
    (
        "app-agent",
        set_prop("healthcheck", {"tests": ["CMD-SHELL", "true"], "startPeriod": "60s"}),
        "docker-container-enforce-go-durations",
        "mandatory",
    ),
    (
        "app-agent",
        lambda r: setattr(r.opts, "additional_secret_outputs", []),
        "resource-enforce-secret-outputs",
        "mandatory",
    ),
    ("backup", backup_env("PGHOST", "finance_report-redis"), "stack-enforce-database-backup", "mandatory"),
    ("backup", backup_env("BACKUP_TIME", None), "stack-enforce-database-backup", "mandatory"),
    ("backup", backup_env("BACKUP_INTERVAL_HOURS", "0"), "stack-enforce-database-backup", "mandatory"),
    (
        "backup",
        backup_env(
            "RESTIC_REPOSITORY",
            "s3:https://dokploy.zitian.party/finance-report-production/finance_report/production/postgres",
        ),
        "backup-disallow-on-host-repository",
        "mandatory",
    ),
    (
        "backup",
        backup_env(
            "RESTIC_REPOSITORY", "s3:http://127.0.0.1:9000/finance-report-production/finance_report/production/postgres"
        ),
        "backup-disallow-on-host-repository",
        "mandatory",
    ),
    (
        "backup",
        backup_env("RESTIC_REPOSITORY", "/var/backups/finance_report"),
        "backup-disallow-on-host-repository",
        "mandatory",
    ),
    ("backup", backup_env("BACKUP_KEEP_DAILY", "6"), "backup-enforce-minimum-retention", "mandatory"),
    ("backup", backup_env("BACKUP_KEEP_DAILY", None), "backup-enforce-minimum-retention", "mandatory"),
    (
        "backup",
        backup_env(
            "RESTIC_REPOSITORY",
            "s3:https://minio.zitian.party/finance-report-production/finance_report/production/postgres",
        ),
        "backup-enforce-separate-storage",
        "advisory",
    ),
    (
        "backup",
        backup_env("RESTIC_REPOSITORY", "s3:https://MINIO.zitian.party/finance-report-public/p/production"),
        "backup-enforce-separate-storage",
        "advisory",
    ),
    (
        "backup-kv",
        set_prop("dataJson", json.dumps({"AWS_ACCESS_KEY_ID": "app-access"})),
        "backup-enforce-separate-storage",
        "advisory",
    ),
    (
        "backup-kv",
        set_prop("dataJson", json.dumps({"AWS_ACCESS_KEY_ID": "public-access"})),
        "backup-enforce-separate-storage",
        "advisory",
    ),
]


@pytest.mark.parametrize("name,change,policy,level", CASES, ids=[f"{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_one_changed_property_fires_exactly_the_named_policy(name, change, policy, level):
    assert fired(mutate(name, change)) == {(policy, level)}


def test_violation_messages_say_what_is_wrong_and_where():
    resources = mutate("backend", set_prop("envs", ["DATABASE_PASSWORD=hunter2hunter2"]))
    (violation,) = evaluate_resources(resources, PACK_CONFIG, POLICIES)
    assert (
        violation.message
        == "Container backend: env DATABASE_PASSWORD holds a secret-looking value. Deliver secrets as files "
        "rendered by its vault-agent into the tmpfs secrets volume."
    )
    assert violation.urn.endswith("::backend")
    assert "hunter2" not in violation.message


@pytest.mark.parametrize(
    "value,reason",
    [
        ("postgresql://postgres:{secret}@db:5432/finance_report", "a URL with an embedded password"),
        ("hvs.{secret}", "a token or private key"),
        ("REDIS_PASSWORD={secret}", "an inline assignment to REDIS_PASSWORD"),
    ],
)
def test_a_secret_in_a_label_value_under_an_innocent_key_is_a_violation_that_never_shows_it(value, reason):
    """Labels are in `docker inspect` and the provider's state like env: a credential in a value is caught by
    what it looks like, not only by a secret-sounding key (app.token above)."""
    secret = __import__("secrets").token_hex(16)
    resources = mutate("backend", set_label("app.note", value.format(secret=secret)))
    (violation,) = evaluate_resources(resources, PACK_CONFIG, POLICIES)
    assert violation.policy == "docker-container-disallow-plaintext-secrets"
    assert violation.message == (
        f"Container backend: label app.note holds {reason}. Deliver secrets as files rendered by its vault-agent "
        "into the tmpfs secrets volume."
    )
    assert secret not in violation.message


def test_staging_names_without_their_suffix_are_production_names():
    resources = compliant_stack()
    config = {**PACK_CONFIG, "stack-disallow-cross-env-references": {"env": "staging"}}
    stack_policy = [p for p in POLICIES if p.name == "stack-disallow-cross-env-references"]
    hits = evaluate_resources([r for r in resources if r.name == "postgres"], config, stack_policy)
    assert hits and "finance_report-postgres" in hits[0].message


def test_least_privilege_judges_by_the_stacks_env_not_the_env_a_policy_names():
    """A staging policy reading staging's path is self-consistent, but not this production stack's to
    write (the cross-env policy also says so; this one must on its own)."""
    resources = mutate(
        "app-policy",
        lambda r: r.props.update(
            name="finance_report-staging-app",
            policy='path "secret/data/finance_report/staging/app" {\n  capabilities = ["read"]\n}\n',
        ),
    )
    only = [p for p in POLICIES if p.name == "vault-policy-enforce-least-privilege"]
    violations = evaluate_resources([r for r in resources if r.name == "app-policy"], PACK_CONFIG, only)
    assert [v.message for v in violations] == [
        "Vault policy finance_report-staging-app belongs to env staging, not this stack's env production."
    ]


APP_KV = "secret/data/finance_report/production/app"


@pytest.mark.parametrize(
    "body,message",
    [
        # Vault still maps the pre-0.9 `policy` key to capabilities (vault/policy.go, parsePaths)
        (
            '  policy = "write"',
            "grants ['create', 'delete', 'list', 'update'] on secret/data/finance_report/production/app; "
            "only ['read'] is needed",
        ),
        ('  policy = "sudo"', "grants sudo on secret/data/finance_report/production/app"),
        (
            '  policy = "root"',
            "cannot be judged: sets policy = 'root' on secret/data/finance_report/production/app; expected "
            "one of ['deny', 'read', 'sudo', 'write']",
        ),
        (
            '  capabilities = ["read"]\n  allowed_parameters = { "*" = [] }',
            "cannot be judged: sets allowed_parameters on secret/data/finance_report/production/app; only "
            "capabilities are expected",
        ),
    ],
)
def test_least_privilege_reads_every_key_vault_honours_in_a_path_block(body, message):
    resources = mutate("app-policy", set_prop("policy", f'path "{APP_KV}" {{\n{body}\n}}\n'))
    only = [p for p in POLICIES if p.name == "vault-policy-enforce-least-privilege"]
    violations = evaluate_resources([r for r in resources if r.name == "app-policy"], PACK_CONFIG, only)
    assert [v.message for v in violations][:1] == [f"Vault policy finance_report-production-app {message}."]


def test_least_privilege_accepts_the_legacy_read_level_as_what_it_grants():
    resources = mutate("app-policy", set_prop("policy", f'path "{APP_KV}" {{\n  policy = "read"\n}}\n'))
    only = [p for p in POLICIES if p.name == "vault-policy-enforce-least-privilege"]
    violations = evaluate_resources([r for r in resources if r.name == "app-policy"], PACK_CONFIG, only)
    assert [v.message for v in violations] == [
        f"Vault policy finance_report-production-app grants ['list'] on {APP_KV}; only ['read'] is needed."
    ]


def test_a_data_volume_attached_through_volumes_is_protected_too():
    resources = copy.deepcopy(compliant_stack())
    postgres = next(r for r in resources if r.name == "postgres")
    postgres.props["mounts"] = [m for m in postgres.props["mounts"] if m["target"].startswith("/run/secrets")]
    postgres.props["volumes"] = [
        {"volumeName": "finance_report-postgres-data", "containerPath": "/var/lib/postgresql/data"}
    ]
    assert fired(resources) == set()
    next(r for r in resources if r.name == "postgres-data").opts.protect = False
    assert fired(resources) == {("datastore-enforce-protected-data", "mandatory")}


def test_an_env_variable_that_merely_contains_token_is_not_a_secret():
    from policies.common import is_secret_key

    assert (
        not is_secret_key("TOKENIZERS_PARALLELISM")
        and not is_secret_key("PASSTHROUGH_MODE")
        and not is_secret_key("KEYBOARD")
    )
    assert all(
        is_secret_key(k)
        for k in (
            "DB_PASSWORD",
            "S3_SECRET_KEY",
            "S3_ACCESS_KEY",
            "ZAI_API_KEY",
            "LLM_ENCRYPTION_KEYS",
            "GITHUB_TOKEN",
            "REDIS_PASS",
            "app.token",
        )
    )


def test_unknown_values_at_preview_are_not_judged():
    resources = mutate("backend-image", set_prop("name", "04da6b54-80e4-46f7-96ec-b56ff0331ba9"))
    assert fired(resources) == set()


def test_retain_on_delete_that_the_engine_does_not_expose_is_not_reported():
    resources = mutate("postgres-data", lambda r: delattr(r.opts, "retain_on_delete"))
    assert fired(resources) == set()


def test_every_policy_has_at_least_one_violating_case_here():
    """The policies only runtime swarm's resources can violate have theirs in test_swarm_policies.py."""
    from tests.policies.test_swarm_policies import SWARM_ONLY_POLICIES

    assert {case[2] for case in CASES} | SWARM_ONLY_POLICIES == {p.name for p in POLICIES}


@pytest.mark.parametrize("name", ["app-secret-key", "app-llm-key", "backup-restic-password"])
def test_a_plan_that_drops_a_generated_secret_data_depends_on_is_refused(name):
    """Issue 16 item 13: turning llmEncryption off dropped the LLM key, whose delete runs after the KV
    write (deletes come last, and the deploy's `pulumi up` skips the preview): the policy refuses such a
    plan in every preview and offline plan, whatever dropped it."""
    resources = [r for r in compliant_stack() if r.name != name]
    assert fired(resources) == {("generated-secret-enforce-protection", "mandatory")}
    (violation,) = [
        v
        for v in evaluate_resources(resources, PACK_CONFIG, POLICIES)
        if v.policy == "generated-secret-enforce-protection"
    ]
    assert violation.message.startswith(f"The generated secret {name} is missing from the plan:")


def test_a_previews_generated_secrets_may_be_unprotected_or_absent():
    resources = []
    for r in compliant_stack():
        r.urn = r.urn.replace(f"urn:pulumi:{ENV}::", "urn:pulumi:pr42::")
        if r.resource_type == RANDOM_BYTES:
            continue
        if r.resource_type == RANDOM_PASSWORD:
            r.opts.protect = False
        resources.append(r)
    assert ("generated-secret-enforce-protection", "mandatory") not in fired(resources)
