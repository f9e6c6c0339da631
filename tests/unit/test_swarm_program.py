"""The real program for `runtime: swarm` under Pulumi mocks (verification layer 1): staging and production with
the runtime switched by config, as an operator would switch them. Assertions are on what the engine would
receive (engine-shaped inputs, options, outputs); expected values are written out, not rebuilt with the
builders under test."""

from __future__ import annotations

import base64
import json

import pytest

from ops.program_run import ProgramRun, Resource, mask_secrets, unwrap_secrets
from render.swarm import TASK_SCRIPT
from tests.conftest import run_stack

SERVICE = "docker:index/service:Service"
SECRET = "docker:index/secret:Secret"
CONFIG = "docker:index/serviceConfig:ServiceConfig"
CONTAINER = "docker:index/container:Container"
KV = "vault:kv/secretV2:SecretV2"
SWARM = {"runtime": "swarm", "swarmDataNode": "dokploy"}


def swarm(stack: str, overrides: dict | None = None, **kwargs) -> ProgramRun:
    run = run_stack(stack, {**SWARM, **(overrides or {})}, **kwargs)
    assert run.error is None, run.error
    return run


@pytest.fixture(scope="module")
def staging_swarm() -> ProgramRun:
    return swarm("staging", {"prefectApiUrl": "https://prefect.zitian.party/api"})


def service(run: ProgramRun, name: str) -> dict:
    return unwrap_secrets(run.one(SERVICE, name).inputs)


def labels(items: list[dict]) -> dict[str, str]:
    return {i["label"]: i["value"] for i in items}


def by_name(run: ProgramRun) -> dict[str, Resource]:
    return {unwrap_secrets(r.inputs)["name"]: r for r in run.by_type(SERVICE)}


# ------------------------------------------------------------------------------------------------ migration


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_every_vault_and_generated_value_and_data_volume_keeps_its_urn_across_runtimes(stack):
    """docs/swarm.md "Migrating": only the containers become services. The KV secrets, policies, AppRoles,
    secret-ids, generated passwords and keys, and the data volumes keep their URNs, so `pulumi up` with
    runtime swarm neither rotates a value nor touches data (a changed URN would be a delete and a create)."""
    kept_types = ("vault:", "random:")
    for overrides in ({}, {"postgresDataPath": None, "redisDataPath": None}):
        containers = run_stack(stack, overrides)
        services = swarm(stack, overrides)
        data = {r.urn for r in containers.by_type("docker:index/volume:Volume") if r.name.endswith("-data")}
        before = {r.urn for r in containers.resources if r.type.startswith(kept_types)} | data
        after = {r.urn for r in services.resources}
        assert before - after == set()
        assert len(before) >= 17
        for urn in data:  # the same protected, retained volume, not only the same URN
            assert [r.inputs for r in containers.resources if r.urn == urn] == [
                r.inputs for r in services.resources if r.urn == urn
            ]


def test_a_swarm_stack_declares_services_and_no_container(staging_swarm):
    assert staging_swarm.by_type(CONTAINER) == []
    assert sorted(by_name(staging_swarm)) == [
        "finance_report-agent-bin-staging",
        "finance_report-backend-staging",
        "finance_report-backup-staging",
        "finance_report-backup-vault-agent-staging",
        "finance_report-frontend-staging",
        "finance_report-postgres-staging",
        "finance_report-postgres-vault-agent-staging",
        "finance_report-prefect-worker-staging",
        "finance_report-redis-staging",
        "finance_report-redis-vault-agent-staging",
    ]
    assert staging_swarm.outputs["runtime"] == "swarm"
    assert any("raft store" in w and "autolock" in w for w in staging_swarm.warnings)


# ------------------------------------------------------------------------------------------------ rolling


def test_rolling_services_update_start_first_and_roll_back_within_the_watch(staging_swarm):
    for name, replicas in (("app-backend", 2), ("app-frontend", 2), ("app-prefect-worker", 1)):
        s = service(staging_swarm, name)
        assert s["mode"] == {"replicated": {"replicas": replicas}}, name
        assert s["updateConfig"] == {
            "parallelism": 1,
            "order": "start-first",
            "failureAction": "rollback",
            "monitor": "1m",  # cutoverWatchSeconds 60, as the provider reads it back
            "delay": "10s",
            "maxFailureRatio": "0.0",
        }, name
        assert s["rollbackConfig"]["order"] == "start-first", name
        assert "placement" not in s["taskSpec"], name
    assert service(staging_swarm, "app-backend")["convergeConfig"] == {"timeout": "15m"}


def test_replicas_placement_and_the_watch_come_from_config():
    run = swarm(
        "staging",
        {
            "backendReplicas": "3",
            "frontendReplicas": "1",
            "backendConstraints": ["node.labels.app==true", "node.role!=manager"],
            "cutoverWatchSeconds": "90",
        },
    )
    backend, frontend = service(run, "app-backend"), service(run, "app-frontend")
    assert backend["mode"]["replicated"]["replicas"] == 3 and frontend["mode"]["replicated"]["replicas"] == 1
    assert backend["taskSpec"]["placement"] == {"constraints": ["node.labels.app==true", "node.role!=manager"]}
    assert "placement" not in frontend["taskSpec"]
    assert backend["updateConfig"]["monitor"] == "1m30s"


def test_routed_tasks_drain_before_they_stop_and_their_grace_covers_the_drain(staging_swarm):
    backend, frontend = service(staging_swarm, "app-backend"), service(staging_swarm, "app-frontend")
    assert backend["taskSpec"]["containerSpec"]["env"]["FR_DRAIN_SECONDS"] == "20"
    assert backend["taskSpec"]["containerSpec"]["stopGracePeriod"] == "50s"  # 20 s drain + uvicorn's 30 s
    assert frontend["taskSpec"]["containerSpec"]["stopGracePeriod"] == "35s"
    assert frontend["taskSpec"]["containerSpec"]["commands"] == ["sh", "/finance-report/task.sh", "node", "server.js"]
    worker = service(staging_swarm, "app-prefect-worker")
    assert worker["taskSpec"]["containerSpec"]["env"]["FR_DRAIN_SECONDS"] == "0"


def test_traefik_reads_the_swarm_labels_of_the_service(staging_swarm):
    backend = labels(service(staging_swarm, "app-backend")["labels"])
    assert backend["traefik.swarm.network"] == "dokploy-network"
    assert not [k for k in backend if k.startswith("traefik.docker.")]
    assert backend["traefik.http.services.finance-report-api-staging.loadbalancer.server.port"] == "8000"
    assert backend["traefik.http.routers.finance-report-api-staging.middlewares"] == (
        "finance-report-api-strip-staging,finance-report-retry-staging"
    )
    assert backend["traefik.http.middlewares.finance-report-retry-staging.retry.attempts"] == "2"
    for name in ("postgres-service", "redis-service", "backup-service"):
        assert labels(service(staging_swarm, name)["labels"])["traefik.enable"] == "false", name


# ------------------------------------------------------------------------------------------------ pinned


@pytest.mark.parametrize(
    "name,grace,signal",
    [
        ("postgres-service", "1m", "SIGINT"),
        ("redis-service", "30s", None),
        ("backup-service", "1m", "SIGTERM"),
        ("postgres-vault-agent", "10s", None),
    ],
)
def test_pinned_services_run_once_on_the_data_node_and_update_stop_first(staging_swarm, name, grace, signal):
    s = service(staging_swarm, name)
    assert s["mode"] == {"replicated": {"replicas": 1}}
    assert s["taskSpec"]["placement"] == {"constraints": ["node.hostname==dokploy"]}
    assert s["updateConfig"]["order"] == "stop-first" and s["rollbackConfig"]["order"] == "stop-first"
    assert s["updateConfig"]["failureAction"] == "rollback"
    spec = s["taskSpec"]["containerSpec"]
    assert spec["stopGracePeriod"] == grace and spec.get("stopSignal") == signal


def test_datastores_are_reached_by_dns_on_the_internal_overlay_only(staging_swarm):
    internal = staging_swarm.one("docker:index/network:Network", "internal")
    assert unwrap_secrets(internal.inputs)["driver"] == "overlay" and unwrap_secrets(internal.inputs)["internal"]
    for name in ("postgres-service", "redis-service"):
        s = service(staging_swarm, name)
        assert s["endpointSpec"] == {"mode": "dnsrr"}, name
        assert s["taskSpec"]["networksAdvanceds"] == [{"id": "internal-id"}], name


def test_every_service_network_is_given_by_id(staging_swarm):
    """facts.providers.SERVICE_NETWORK_READ_AS_ID: a name would replace the service on every refresh."""
    for r in staging_swarm.by_type(SERVICE):
        for network in unwrap_secrets(r.inputs)["taskSpec"].get("networksAdvanceds", []):
            assert set(network) == {"id"}, r.urn


def test_postgres_keeps_the_adopted_data_directory(staging_swarm):
    mounts = service(staging_swarm, "postgres-service")["taskSpec"]["containerSpec"]["mounts"]
    assert {
        "type": "bind",
        "source": "/data/finance_report/postgres-staging",
        "target": "/var/lib/postgresql/data",
    } in (mounts)


# ------------------------------------------------------------------------------------------------ secrets


def test_the_app_tasks_render_their_own_secrets_into_a_tmpfs_with_their_own_approle(staging_swarm):
    backend = service(staging_swarm, "app-backend")["taskSpec"]["containerSpec"]
    assert {"type": "tmpfs", "target": "/run/secrets/app", "tmpfsOptions": {"sizeBytes": 1048576, "mode": 0o700}} in (
        backend["mounts"]
    )
    assert backend["env"]["FR_AGENT_CONFIG"] == "/vault/config/agent.hcl"
    files = {s["fileName"]: s for s in backend["secrets"]}
    assert sorted(files) == ["/vault/approle/role-id", "/vault/approle/secret-id"]
    assert {f["fileMode"] for f in files.values()} == {0o400}
    app_secrets = {
        unwrap_secrets(r.inputs)["name"]
        for r in staging_swarm.by_type(SECRET)
        if r.parent.endswith("AgentSidecar::app-vault")
    }
    assert {f["secretName"] for f in files.values()} == app_secrets
    frontend = service(staging_swarm, "app-frontend")["taskSpec"]["containerSpec"]
    assert "secrets" not in frontend and "FR_AGENT_CONFIG" not in frontend["env"]


def test_the_in_task_agent_renders_once_and_the_sidecar_agents_keep_running(staging_swarm):
    configs = {unwrap_secrets(r.inputs)["name"]: r for r in staging_swarm.by_type(CONFIG)}
    hcl = {
        name: base64.b64decode(unwrap_secrets(r.inputs)["data"]).decode()
        for name, r in configs.items()
        if name.rsplit("-", 2)[0].endswith("-agent")
    }
    app = [t for n, t in hcl.items() if n.startswith("finance_report-app-agent-staging-")]
    postgres = [t for n, t in hcl.items() if n.startswith("finance_report-postgres-agent-staging-")]
    assert len(app) == 1 and app[0].startswith("exit_after_auth = true\n")
    assert len(postgres) == 1 and postgres[0].startswith("exit_after_auth = false\n")
    task = [r for n, r in configs.items() if n.startswith("finance_report-app-task-staging-")]
    assert [base64.b64decode(unwrap_secrets(r.inputs)["data"]).decode() for r in task] == [TASK_SCRIPT.read_text()]


def test_no_kv_value_is_in_a_service_a_config_or_a_label_and_swarm_secrets_hold_only_approle_credentials():
    """C1 (docs/design/swarm.md): application secrets never reach Swarm's raft store. Every value in the
    KV secrets (generated and operator secrets) is searched for in every service input and every config's
    decoded data; the Swarm secrets hold exactly the four services' role-ids and secret-ids."""
    operator = {"s3AccessKey": "op-access-7f3a9c1d2e", "s3SecretKey": "op-secret-5b8e0d4f6a", "zaiApiKey": "zai-9c2e7a"}
    run = swarm("production", secret_overrides=operator)
    values = set(operator.values())
    for kv in run.by_type(KV):
        values |= {v for v in json.loads(unwrap_secrets(kv.inputs)["dataJson"]).values() if isinstance(v, str)}
    values = {v for v in values if len(v) >= 8}
    assert len(values) >= 8
    for r in run.by_type(SERVICE):
        text = json.dumps(unwrap_secrets(r.inputs))
        assert not [v for v in values if v in text], r.urn
    for r in run.by_type(CONFIG):
        text = base64.b64decode(unwrap_secrets(r.inputs)["data"]).decode()
        assert not [v for v in values if v in text], r.urn
    credentials = set()
    for r in run.resources:
        if r.type == "vault:appRole/authBackendRoleSecretId:AuthBackendRoleSecretId":
            credentials.add(str(uuid_of(run, r.name, "secret-id", unwrap_secrets(r.inputs).get("metadata", ""))))
    secrets = {base64.b64decode(unwrap_secrets(r.inputs)["data"]).decode() for r in run.by_type(SECRET)}
    assert len(run.by_type(SECRET)) == 8 and credentials <= secrets
    assert not secrets & values
    for r in run.by_type(SECRET):  # secret in state and in the plan
        assert mask_secrets(r.inputs)["data"] == "[secret]", r.urn


def uuid_of(run: ProgramRun, name: str, part: str, metadata: str = "") -> str:
    """The secret-id the mocks minted for resource `name` with `metadata` (ops.program_run.RecordingMocks)."""
    import hashlib
    import uuid

    return str(uuid.UUID(bytes=hashlib.sha256("\x00".join(["seed", name, part, metadata]).encode()).digest()[:16]))


def test_a_changed_app_value_rolls_exactly_the_tasks_that_read_it():
    """Invariant 6 under swarm: the restart digest is in the task labels (part of the task template), so a
    new S3 key rolls backend and worker; the frontend and the datastores keep their tasks."""
    extra = {"prefectApiUrl": "https://prefect.zitian.party/api"}
    before = swarm("staging", extra, secret_overrides={"s3AccessKey": "access-one-1111"})
    after = swarm("staging", extra, secret_overrides={"s3AccessKey": "access-two-2222"})
    changed = sorted(
        name
        for name in ("app-backend", "app-frontend", "app-prefect-worker", "postgres-service", "redis-service")
        if service(before, name)["taskSpec"] != service(after, name)["taskSpec"]
    )
    assert changed == ["app-backend", "app-prefect-worker"]
    digest = "finance-report.restart-digest"
    assert (
        labels(service(before, "app-backend")["taskSpec"]["containerSpec"]["labels"])[digest]
        != labels(service(after, "app-backend")["taskSpec"]["containerSpec"]["labels"])[digest]
    )


def test_every_duration_is_written_as_the_service_resource_reads_it_back(staging_swarm):
    from facts.providers import SHORT_DURATION_FIELDS, is_short_duration, value_at

    checked = 0
    for r in staging_swarm.by_type(SERVICE):
        for path in SHORT_DURATION_FIELDS[SERVICE]:
            value = value_at(unwrap_secrets(r.inputs), path)
            if value is not None:
                assert is_short_duration(value), (r.urn, path, value)
                checked += 1
    assert checked >= 60


def test_memory_is_limited_and_reserved_alike_and_logs_rotate(staging_swarm):
    for r in staging_swarm.by_type(SERVICE):
        task = unwrap_secrets(r.inputs)["taskSpec"]
        assert task["resources"]["limits"] == task["resources"]["reservation"], r.urn
        assert task["resources"]["limits"]["memoryBytes"] >= 64 * 1024 * 1024, r.urn
        assert task["logDriver"] == {"name": "json-file", "options": {"max-size": "10m", "max-file": "3"}}, r.urn
        assert task["containerSpec"]["capDrops"] == ["ALL"], r.urn


def test_every_swarm_object_name_is_one_swarmkit_accepts_even_for_the_longest_env():
    """swarmkit refuses a secret or config name over 64 characters of [a-zA-Z0-9-_.] ("invalid name, only 64
    [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]", found on the
    harness's swarm), and a service name that is not a DNS label (63)."""
    import re

    from ops.program_run import run_program
    from tests.conftest import stack_config

    valid = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9-_.]{0,62}[a-zA-Z0-9])?$")
    longest = "e" * 20  # config/stack_config.py ENV_RE: at most 20
    config, secret_keys = stack_config("staging", {**SWARM, "env": None})
    runs = [run_program(longest, config, secret_keys), swarm("production"), swarm("staging")]
    checked = 0
    for run in runs:
        assert run.error is None, run.error
        for r in run.by_type(SECRET) + run.by_type(CONFIG):
            name = unwrap_secrets(r.inputs)["name"]
            assert valid.match(name), (r.urn, name, len(name))
            checked += 1
        for r in run.by_type(SERVICE):
            assert len(unwrap_secrets(r.inputs)["name"]) <= 63, r.urn
    assert checked >= 3 * 19
