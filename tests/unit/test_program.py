"""The real program built under Pulumi mocks for production and staging (verification layer 1).

Assertions are on what the engine would receive: engine-shaped inputs, resource options captured by a
stack transformation, and stack outputs. Expected values are written out literally here, not rebuilt
with the builders under test, so a change in a builder shows up as a failing test.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest

from ops.program_run import ProgramRun, Resource, contains_secret, unwrap_secrets
from tests.conftest import run_stack

CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"
KV = "vault:kv/secretV2:SecretV2"
SECRET_ID = "vault:appRole/authBackendRoleSecretId:AuthBackendRoleSecretId"


def labels(container: Resource) -> dict[str, str]:
    return {item["label"]: item["value"] for item in unwrap_secrets(container.inputs.get("labels", []))}


def networks(container: Resource) -> list[str]:
    return sorted(n["name"] for n in container.inputs.get("networksAdvanced", []))


def container(run: ProgramRun, name: str) -> Resource:
    return run.one(CONTAINER, name)


def known_secret_values(run: ProgramRun, config_secrets: list[str]) -> set[str]:
    """Every secret value the mocks produced or the config carried, plus URL-encoded forms."""
    values = set(config_secrets)
    for resource in run.by_type(KV):
        data = json.loads(unwrap_secrets(resource.inputs["dataJson"]))
        values.update(v for v in data.values() if v)
    values |= {quote(v, safe="") for v in list(values)}
    return {v for v in values if len(v) >= 8}


# --------------------------------------------------------------------------------------------------------- structure


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_every_resource_is_parented_to_a_component(stack, request):
    run: ProgramRun = request.getfixturevalue(stack)
    components = {r.urn for r in run.resources if r.type.startswith("finance-report:")}
    root = run.one("finance-report:index:Stack", "finance-report")
    for resource in run.resources:
        if resource is root:
            assert resource.parent.endswith("pulumi:pulumi:Stack::finance-report-" + stack)
            continue
        assert resource.parent in components, f"{resource.urn} is parented to {resource.parent}, not a component"


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_every_docker_and_vault_resource_uses_the_explicit_providers(stack, request):
    run: ProgramRun = request.getfixturevalue(stack)
    for resource in run.resources:
        package = resource.type.split(":")[0]
        if package in ("docker", "vault"):
            assert resource.options["provider"], f"{resource.urn} uses a default provider"
            expected = "dokploy" if package == "docker" else "vault"
            assert resource.options["provider"].endswith(f"pulumi:providers:{package}::{expected}"), (
                f"{resource.urn}: {resource.options['provider']}"
            )


def test_vault_provider_gets_the_address_and_no_token(production):
    provider = production.one("pulumi:providers:vault", "vault")
    assert provider.inputs["address"] == "https://vault.zitian.party"
    assert "token" not in provider.inputs, "the token must come from VAULT_TOKEN, never config or state"


def test_docker_provider_targets_the_dokploy_host_over_ssh(production):
    provider = production.one("pulumi:providers:docker", "dokploy")
    assert provider.inputs["host"] == "ssh://deploy@dokploy.zitian.party"
    assert json.loads(provider.inputs["sshOpts"]) == [
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "ControlMaster=auto",
        "-o",
        "ControlPath=~/.ssh/finance-report-%C",
        "-o",
        "ControlPersist=120",
    ]


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_the_traefik_network_is_referenced_never_created(stack, request):
    run: ProgramRun = request.getfixturevalue(stack)
    created = [r.inputs["name"] for r in run.by_type("docker:index/network:Network")]
    assert "dokploy-network" not in created
    suffix = "" if stack == "production" else "-staging"
    prefixes = sorted(name.rsplit("-", 1)[0] for name in created)
    assert prefixes == sorted(
        [f"finance_report-internal{suffix}", f"finance_report-vault{suffix}", f"finance_report-backup-egress{suffix}"]
    )
    assert all(re.fullmatch(r"[0-9a-f]{8}", name.rsplit("-", 1)[1]) for name in created), (
        "the hash of what replaces the network ends its name"
    )
    internal = next(
        r for r in run.by_type("docker:index/network:Network") if r.inputs["name"].startswith("finance_report-internal")
    )
    assert internal.inputs["internal"] is True


# ----------------------------------------------------------------------------------------------------------- Traefik


def test_backend_has_exactly_the_api_router_labels_in_production(production):
    backend = container(production, "app-backend")
    got = {k: v for k, v in labels(backend).items() if k != "finance-report.restart-digest"}
    assert got == {
        "traefik.enable": "true",
        "traefik.docker.network": "dokploy-network",
        "traefik.http.routers.finance-report-api.rule": "Host(`report.zitian.party`) && PathPrefix(`/api`)",
        "traefik.http.routers.finance-report-api.entrypoints": "websecure",
        "traefik.http.routers.finance-report-api.tls": "true",
        "traefik.http.routers.finance-report-api.tls.certresolver": "letsencrypt",
        "traefik.http.routers.finance-report-api.priority": "100",
        "traefik.http.routers.finance-report-api.service": "finance-report-api",
        "traefik.http.routers.finance-report-api.middlewares": "finance-report-api-strip",
        "traefik.http.middlewares.finance-report-api-strip.stripprefix.prefixes": "/api",
        "traefik.http.services.finance-report-api.loadbalancer.server.port": "8000",
        "finance-report.env": "production",
        "finance-report.service": "backend",
    }


def test_frontend_has_exactly_the_web_router_labels_in_staging(staging):
    frontend = container(staging, "app-frontend")
    assert labels(frontend) == {
        "traefik.enable": "true",
        "traefik.docker.network": "dokploy-network",
        "traefik.http.routers.finance-report-web-staging.rule": "Host(`report-staging.zitian.party`)",
        "traefik.http.routers.finance-report-web-staging.entrypoints": "websecure",
        "traefik.http.routers.finance-report-web-staging.tls": "true",
        "traefik.http.routers.finance-report-web-staging.tls.certresolver": "letsencrypt",
        "traefik.http.routers.finance-report-web-staging.priority": "10",
        "traefik.http.routers.finance-report-web-staging.service": "finance-report-web-staging",
        "traefik.http.services.finance-report-web-staging.loadbalancer.server.port": "3000",
        "finance-report.env": "staging",
        "finance-report.service": "frontend",
    }


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_only_backend_and_frontend_are_routed(stack, request):
    run: ProgramRun = request.getfixturevalue(stack)
    for c in run.by_type(CONTAINER):
        enabled = labels(c).get("traefik.enable")
        if c.name in ("app-backend", "app-frontend"):
            assert enabled == "true", c.urn
        else:
            assert enabled == "false", f"{c.urn} must carry traefik.enable=false"


# ---------------------------------------------------------------------------------------------------------- networks


@pytest.mark.parametrize("stack,suffix", [("production", ""), ("staging", "-staging")])
def test_each_service_joins_only_its_networks(stack, suffix, request):
    run: ProgramRun = request.getfixturevalue(stack)
    declared = {r.name: r.inputs["name"] for r in run.by_type("docker:index/network:Network")}
    internal, vault_net, backup_egress = declared["internal"], declared["vault-egress"], declared["backup-egress"]
    assert internal.startswith(f"finance_report-internal{suffix}-") and vault_net.startswith(
        f"finance_report-vault{suffix}-"
    )
    expected = {
        "postgres-container": [internal],
        "redis-container": [internal],
        "app-backend": sorted([internal, "dokploy-network"]),
        "app-frontend": ["dokploy-network"],
        "postgres-vault-agent": [vault_net],
        "redis-vault-agent": [vault_net],
        "app-vault-agent": [vault_net],
        "backup-vault-agent": [vault_net],
        "backup-container": sorted([internal, backup_egress]),
    }
    if stack == "production":
        expected["app-prefect-worker"] = sorted([internal, "dokploy-network"])
    assert {c.name: networks(c) for c in run.by_type(CONTAINER)} == expected


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_no_container_publishes_a_port_or_uses_host_namespaces(stack, request):
    run: ProgramRun = request.getfixturevalue(stack)
    for c in run.by_type(CONTAINER):
        assert not c.inputs.get("ports"), f"{c.urn} publishes ports"
        assert c.inputs.get("networkMode") in (None, "bridge"), c.urn
        assert c.inputs.get("pidMode") is None, c.urn


# ------------------------------------------------------------------------------------------------------ secrets path


@pytest.mark.parametrize(
    "stack,gids", [("production", {"postgres": "70", "redis": "1000", "app": "0", "backup": "70"})]
)
def test_secrets_volumes_are_tmpfs_with_a_size_limit_and_mode(stack, gids, request):
    run: ProgramRun = request.getfixturevalue(stack)
    volumes = {v.name: v.inputs for v in run.by_type(VOLUME) if v.name.endswith("-vault-secrets")}
    assert set(volumes) == {
        "postgres-vault-secrets",
        "redis-vault-secrets",
        "app-vault-secrets",
        "backup-vault-secrets",
    }
    for service, gid in gids.items():
        inputs = volumes[f"{service}-vault-secrets"]
        assert inputs["driver"] == "local"
        assert inputs["driverOpts"] == {"type": "tmpfs", "device": "tmpfs", "o": f"size=1m,mode=0750,uid=0,gid={gid}"}


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_consumers_mount_secrets_read_only_and_only_agents_write(stack, request):
    run: ProgramRun = request.getfixturevalue(stack)
    secrets_volumes = {v.inputs["name"] for v in run.by_type(VOLUME) if v.name.endswith("-vault-secrets")}
    seen = {}
    for c in run.by_type(CONTAINER):
        for mount in c.inputs.get("mounts", []):
            if mount["source"] in secrets_volumes:
                seen[c.name] = mount["readOnly"]
        for volume in c.inputs.get("volumes", []):
            assert "secret" not in volume.get("hostPath", ""), f"{c.urn} binds a host secret file"
    consumers = {"postgres-container", "redis-container", "app-backend", "backup-container"} | (
        {"app-prefect-worker"} if stack == "production" else set()
    )
    agents = {"postgres-vault-agent", "redis-vault-agent", "app-vault-agent", "backup-vault-agent"}
    assert seen == {**{c: True for c in consumers}, **{a: False for a in agents}}


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_no_secret_value_reaches_any_env_label_command_or_healthcheck(stack, request):
    run: ProgramRun = request.getfixturevalue(stack)
    from tests.conftest import stack_config

    config, secret_keys = stack_config(stack)
    secrets = known_secret_values(run, [config[k] for k in secret_keys])
    assert len(secrets) >= 5, "the test must know the generated values to look for"
    key_pattern = re.compile(r"(PASSWORD|SECRET|TOKEN|API_KEY|ACCESS_KEY)(?!_FILE)", re.I)
    for c in run.by_type(CONTAINER):
        inputs = unwrap_secrets(c.inputs)
        exposed = json.dumps({k: inputs.get(k) for k in ("envs", "labels", "command", "entrypoints", "healthcheck")})
        leaked = [s for s in secrets if s in exposed]
        assert not leaked, f"{c.urn} exposes {len(leaked)} secret value(s) in env/labels/command"
        for env in inputs.get("envs", []):
            key = env.split("=", 1)[0]
            assert not key_pattern.search(key), f"{c.urn} has a secret-looking env key {key}"


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_kv_writes_are_secret_and_land_under_this_envs_path(stack, request):
    run: ProgramRun = request.getfixturevalue(stack)
    kvs = run.by_type(KV)
    assert sorted(k.inputs["name"] for k in kvs) == sorted(
        f"finance_report/{stack}/{s}" for s in ("postgres", "redis", "app", "backup")
    )
    for kv in kvs:
        assert contains_secret(kv.inputs["dataJson"]), f"{kv.urn}: dataJson is not marked secret"
        assert kv.inputs["mount"] == "secret"
        assert kv.options["retainOnDelete"], f"{kv.urn}: destroying the stack must not delete the passwords"


def test_agent_uploads_carry_the_secret_id_as_a_secret(production):
    agent = container(production, "app-vault-agent")
    assert contains_secret(agent.inputs["uploads"])
    files = sorted(u["file"] for u in unwrap_secrets(agent.inputs["uploads"]))
    assert files == [
        "/vault/approle/role-id",
        "/vault/approle/secret-id",
        "/vault/config/agent.hcl",
        "/vault/config/app.env.ctmpl",
    ]


def test_no_stack_output_holds_a_secret(production):
    from tests.conftest import stack_config

    config, secret_keys = stack_config("production")
    secrets = known_secret_values(production, [config[k] for k in secret_keys])
    dumped = json.dumps(production.outputs)
    assert not [s for s in secrets if s in dumped]
    assert production.secret_outputs == set()


# ------------------------------------------------------------------------------------------------------- data safety


def test_datastore_volumes_are_protected_and_retained(staging_volumes):
    data = {v.name: v for v in staging_volumes.by_type(VOLUME) if v.name.endswith("-data")}
    assert set(data) == {"postgres-data", "redis-data"}
    for volume in data.values():
        assert volume.options["protect"] and volume.options["retainOnDelete"], volume.urn
    assert data["postgres-data"].inputs["name"] == "finance_report-postgres-data-staging"
    pg = container(staging_volumes, "postgres-container")
    assert {
        "source": "finance_report-postgres-data-staging",
        "target": "/var/lib/postgresql/data",
        "type": "volume",
    }.items() <= pg.inputs["mounts"][1].items()


def test_adopted_host_paths_are_mounted_where_the_compose_deployment_kept_data(production):
    pg, redis = container(production, "postgres-container"), container(production, "redis-container")
    assert pg.inputs["volumes"] == [
        {"containerPath": "/var/lib/postgresql/data", "hostPath": "/data/finance_report/postgres"}
    ]
    assert redis.inputs["volumes"] == [{"containerPath": "/data", "hostPath": "/data/finance_report/redis"}]
    assert not [v for v in production.by_type(VOLUME) if v.name.endswith("-data")]


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_datastores_and_agents_are_delete_before_replace_and_rolling_services_are_not(stack, request):
    run: ProgramRun = request.getfixturevalue(stack)
    dbr = {c.name for c in run.by_type(CONTAINER) if c.options["deleteBeforeReplace"]}
    expected = {
        "postgres-container",
        "redis-container",
        "postgres-vault-agent",
        "redis-vault-agent",
        "app-vault-agent",
        "backup-container",
        "backup-vault-agent",
    }
    if stack == "production":
        expected.add("app-prefect-worker")
    assert dbr == expected


# --------------------------------------------------------------------------------------------------------- hardening


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_every_container_is_hardened_limited_and_health_checked(stack, request):
    run: ProgramRun = request.getfixturevalue(stack)
    for c in run.by_type(CONTAINER):
        i = c.inputs
        assert i["restart"] == "unless-stopped", c.urn
        assert i["memory"] > 0 and i["memory"] == int(i["memory"]) and i["memorySwap"] == i["memory"], c.urn
        assert i["logDriver"] == "json-file" and i["logOpts"] == {"max-size": "10m", "max-file": "3"}, c.urn
        assert "no-new-privileges:true" in i["securityOpts"], c.urn
        assert i["privileged"] is False and "ALL" in i["capabilities"]["drops"], c.urn
        assert i["healthcheck"]["tests"][0] in ("CMD", "CMD-SHELL"), c.urn
        assert not any("docker.sock" in json.dumps(v) for v in (i.get("volumes"), i.get("mounts"))), c.urn


def test_images_are_pinned_in_production(production):
    images = sorted(
        r.inputs["name"] for r in production.by_type("docker:index/remoteImage:RemoteImage") if r.name != "backup-image"
    )
    assert images == [
        "ghcr.io/wangzitian0/finance_report-backend:v1.4.2",
        "ghcr.io/wangzitian0/finance_report-frontend:v1.4.2",
        "hashicorp/vault:1.18.5",
        "postgres:16.10-alpine",
        "redis:7.4.6-alpine",
    ]


def test_consumers_start_after_their_agent_and_backend_after_the_datastores(production):
    agent = {c.name: c.urn for c in production.by_type(CONTAINER)}
    assert agent["postgres-vault-agent"] in container(production, "postgres-container").options["dependsOn"]
    assert agent["redis-vault-agent"] in container(production, "redis-container").options["dependsOn"]
    backend_deps = container(production, "app-backend").options["dependsOn"]
    assert {agent["app-vault-agent"], agent["postgres-container"], agent["redis-container"]} <= set(backend_deps)
    for name in ("postgres-vault-agent", "app-vault-agent", "app-backend", "app-frontend", "postgres-container"):
        assert container(production, name).inputs["wait"] is True, name


# --------------------------------------------------------------------------------- rolling names and restart digests


def digests(run: ProgramRun) -> dict[str, str]:
    return {
        c.name: labels(c).get("finance-report.restart-digest")
        for c in run.by_type(CONTAINER)
        if "finance-report.restart-digest" in labels(c)
    }


def test_rolling_services_get_revision_names_that_are_stable_when_nothing_changed(production):
    again = run_stack("production")
    names = {c.name: c.inputs["name"] for c in production.by_type(CONTAINER)}
    assert re.fullmatch(r"finance_report-backend-[0-9a-f]{10}", names["app-backend"])
    assert re.fullmatch(r"finance_report-frontend-[0-9a-f]{10}", names["app-frontend"])
    assert names == {c.name: c.inputs["name"] for c in again.by_type(CONTAINER)}
    assert (
        names["postgres-container"] == "finance_report-postgres" and names["redis-container"] == "finance_report-redis"
    )


def test_a_new_image_tag_gives_rolling_services_new_names_and_keeps_datastore_names(production):
    bumped = run_stack("production", {"imageTag": "v1.4.3"})
    before = {c.name: c.inputs["name"] for c in production.by_type(CONTAINER)}
    after = {c.name: c.inputs["name"] for c in bumped.by_type(CONTAINER)}
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"app-backend", "app-frontend"}


def test_a_change_to_labels_alone_renames_the_rolling_services(production):
    """A label-only change (the Traefik cert resolver) still replaces a rolling container (labels force a
    replace: facts/providers.py), so its name must change too, or the create-first replacement collides.
    Compared across two runs, not against revision_name: a hash that skipped labels would agree with itself."""
    changed = run_stack("production", {"traefikCertResolver": "other-resolver"})
    for name in ("app-backend", "app-frontend"):
        before = unwrap_secrets(production.one(CONTAINER, name).inputs)
        after = unwrap_secrets(changed.one(CONTAINER, name).inputs)
        assert {k for k in set(before) | set(after) if before.get(k) != after.get(k)} == {"labels", "name"}, name
        assert before["name"] != after["name"], f"{name} kept its name across a label change"


def test_the_restart_digest_changes_only_for_consumers_of_a_changed_secret(production):
    base = digests(production)
    agents = {"postgres-vault-agent", "redis-vault-agent", "app-vault-agent", "backup-vault-agent"}
    assert (
        set(base)
        == {"postgres-container", "redis-container", "app-backend", "app-prefect-worker", "backup-container"} | agents
    )
    assert digests(run_stack("production")) == base, "no change must mean no restart"

    # production's backups have an S3 key of their own: the app's key reaches the app alone
    s3 = digests(run_stack("production", secret_overrides={"s3SecretKey": "rotated-s3-secret-value"}))
    assert {k for k in base if base[k] != s3[k]} == {"app-vault-agent", "app-backend", "app-prefect-worker"}
    own = digests(run_stack("production", secret_overrides={"backupS3SecretKey": "backup-only-s3-secret"}))
    assert {k for k in base if base[k] != own[k]} == {"backup-vault-agent", "backup-container"}
    # staging's backups use the app's S3 key while backupS3SecretKey is unset
    staging_base = digests(run_stack("staging"))
    shared = digests(run_stack("staging", secret_overrides={"s3SecretKey": "rotated-s3-secret-value"}))
    assert {k for k in staging_base if staging_base[k] != shared[k]} == {
        "app-vault-agent",
        "app-backend",
        "backup-vault-agent",
        "backup-container",
    }

    # A rotated Postgres password (the random resource replaced: a new value in state) reaches Postgres
    # and each of its consumers: the superuser's Postgres alone, the app's role through DATABASE_URL the
    # app, the backup's role the backup service; each agent renders it before its consumers restart.
    pg = digests(run_stack("production", state={"postgres-password": "rotated-pg-password-0123456789ab"}))
    assert {k for k in base if base[k] != pg[k]} == {"postgres-vault-agent", "postgres-container"}
    app_role = digests(run_stack("production", state={"postgres-app-password": "rotated-app-password-0123456789"}))
    assert {k for k in base if base[k] != app_role[k]} == {
        "postgres-vault-agent",
        "postgres-container",
        "app-vault-agent",
        "app-backend",
        "app-prefect-worker",
    }
    backup_role = digests(run_stack("production", state={"postgres-backup-password": "rotated-backup-password-01234"}))
    assert {k for k in base if base[k] != backup_role[k]} == {
        "postgres-vault-agent",
        "postgres-container",
        "backup-vault-agent",
        "backup-container",
    }

    redis = digests(run_stack("production", state={"redis-password": "rotated-redis-password-012345678"}))
    assert {k for k in base if base[k] != redis[k]} == {
        "redis-vault-agent",
        "redis-container",
        "app-vault-agent",
        "app-backend",
        "app-prefect-worker",
    }


def test_the_restart_digest_changes_when_a_rendered_template_changes(production):
    # OTEL_SERVICE_NAME is a literal of the app's env-file template: only the app's agent and consumers restart.
    changed = digests(run_stack("production", {"otelServiceName": "finance-report-api"}))
    base = digests(production)
    assert {k for k in base if base[k] != changed[k]} == {"app-vault-agent", "app-backend", "app-prefect-worker"}


def kv(run: ProgramRun, service: str) -> dict:
    return json.loads(unwrap_secrets(run.one(KV, f"{service}-vault-kv").inputs["dataJson"]))


def test_imported_values_are_written_back_unchanged_and_a_replace_rotates_them(production):
    """`invoke adopt` imports today's values into the random resources' state; the program then writes
    exactly those values, never reads Vault, and `pulumi up --replace <urn>` gives a new one."""
    adopted = {
        "postgres-password": "adopted-pg-" + "p" * 20,
        "postgres-app-password": "adopted-app-" + "a" * 20,
        "app-secret-key": "adopted-key-" + "k" * 52,
    }
    run = run_stack("production", state=adopted)
    assert kv(run, "postgres")["POSTGRES_PASSWORD"] == adopted["postgres-password"]
    assert kv(run, "postgres")["APP_DB_PASSWORD"] == adopted["postgres-app-password"]
    assert kv(run, "app")["SECRET_KEY"] == adopted["app-secret-key"]
    assert quote(adopted["postgres-app-password"], safe="") in kv(run, "app")["DATABASE_URL"]
    rotated = run_stack("production", state={**adopted, "postgres-app-password": "rotated-app-" + "r" * 20})
    assert kv(rotated, "postgres")["APP_DB_PASSWORD"] == "rotated-app-" + "r" * 20
    assert quote("rotated-app-" + "r" * 20, safe="") in kv(rotated, "app")["DATABASE_URL"]
    assert kv(rotated, "postgres")["POSTGRES_PASSWORD"] == adopted["postgres-password"]
    assert kv(rotated, "app")["SECRET_KEY"] == adopted["app-secret-key"], "rotating one value leaves the others"


def test_random_values_ignore_the_arguments_an_import_records_differently(production):
    for name in ("postgres-password", "redis-password", "app-secret-key", "app-llm-key"):
        resource = next(r for r in production.resources if r.name == name)
        assert {"length", "special", "overrideSpecial"} <= set(resource.options["ignoreChanges"]), resource.urn


KEPT = {
    "app": {"LLM_ENCRYPTION_KEYS": "old-fernet-key-1,old-fernet-key-2", "LEGACY_FLAG": "kept-as-is"},
    "redis": {"NOTE": "x"},
}


def test_values_the_program_does_not_own_are_kept_never_dropped_or_blanked(staging):
    """Staging has llmEncryption off: its existing keys must survive, as must a key the program does not know."""
    run = run_stack("staging", secret_overrides={"vaultKeptValues": json.dumps(KEPT)})
    app = kv(run, "app")
    assert app["LLM_ENCRYPTION_KEYS"].startswith("old-fernet-key-1,old-fernet-key-2,")
    assert app["LEGACY_FLAG"] == "kept-as-is" and kv(run, "redis")["NOTE"] == "x"
    own = kv(staging, "app")["LLM_ENCRYPTION_KEYS"]
    assert own and "," not in own, "llmEncryption off, nothing kept: the stack's own protected key alone"
    assert app["LLM_ENCRYPTION_KEYS"] == f"old-fernet-key-1,old-fernet-key-2,{own}", "kept keys stay first when off"


def test_turning_llm_encryption_off_keeps_the_generated_key_in_kv_and_in_state(production):
    """Issue 16 item 13: off deleted the generated key and blanked LLM_ENCRYPTION_KEYS, so data encrypted
    with it became unreadable. The key stays declared (protected) and in the list; off only stops putting
    it first (the app encrypts with the first key and has no decrypt-only mode: app-contract)."""
    on_key = kv(production, "app")["LLM_ENCRYPTION_KEYS"]
    off = run_stack("production", {"llmEncryption": "false"})
    key = off.one("random:index/randomBytes:RandomBytes", "app-llm-key")
    assert key.options["protect"], key.urn
    assert kv(off, "app")["LLM_ENCRYPTION_KEYS"] == on_key, "the same key, still readable"
    kept = run_stack("production", {"llmEncryption": "false"}, secret_overrides={"vaultKeptValues": json.dumps(KEPT)})
    assert kv(kept, "app")["LLM_ENCRYPTION_KEYS"] == f"old-fernet-key-1,old-fernet-key-2,{on_key}"


DATA_BEARING = {
    "app-secret-key": "urn:pulumi:{env}::finance-report::finance-report:index:Stack$finance-report:app:App$"
    "random:index/randomPassword:RandomPassword::app-secret-key",
    "app-llm-key": "urn:pulumi:{env}::finance-report::finance-report:index:Stack$finance-report:app:App$"
    "random:index/randomBytes:RandomBytes::app-llm-key",
    "backup-restic-password": "urn:pulumi:{env}::finance-report::finance-report:index:Stack$finance-report:backup:"
    "Backup$random:index/randomPassword:RandomPassword::backup-restic-password",
}


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_generated_secrets_data_depends_on_are_protected_under_the_urns_their_state_holds(stack, request):
    """A deleted or regenerated SECRET_KEY, LLM key or restic password loses sessions, encrypted data or
    every backup. Protected (no update or destroy can delete one), and under the URNs the state holds: a
    URN change would create a new value (a refactor that moves one must add an alias; the layer refactor
    moved none, checked against e102ffc^). The datastore passwords are re-applied at each start:
    rotatable by replace, not protected."""
    run = request.getfixturevalue(stack)
    found = {r.name: r for r in run.resources if r.type.startswith("random:")}
    for name, urn in DATA_BEARING.items():
        assert found[name].urn == urn.format(env=stack)
        assert found[name].options["protect"] is True, found[name].urn
    for name in ("postgres-password", "redis-password"):
        assert not found[name].options["protect"], found[name].urn


def test_a_generated_llm_key_goes_first_and_kept_keys_follow(production):
    run = run_stack("production", secret_overrides={"vaultKeptValues": json.dumps(KEPT)})
    keys = kv(run, "app")["LLM_ENCRYPTION_KEYS"].split(",")
    assert (
        keys[1:] == ["old-fernet-key-1", "old-fernet-key-2"] and keys[0] == kv(production, "app")["LLM_ENCRYPTION_KEYS"]
    )


def test_an_env_with_values_in_vault_refuses_up_until_adopted_and_warns_on_preview():
    from ops.program_run import run_program
    from tests.conftest import stack_config

    config, keys = stack_config("production")
    up = run_program("production", config, keys, preview=False)
    assert str(up.error).startswith(
        "config finance-report:vaultValuesAdopted = false is invalid: expected true before the first `pulumi up`"
    )
    assert up.resources == []
    preview = run_program("production", config, keys)
    assert preview.error is None and any("uv run invoke adopt --stack production" in w for w in preview.warnings)
    adopted = run_stack("production", {"vaultValuesAdopted": "true", "vaultAgentCidrs": '["203.0.113.7/32"]'})
    assert adopted.error is None and adopted.warnings == []


def test_app_kv_holds_urls_built_from_the_datastore_passwords(production):
    pg = json.loads(unwrap_secrets(production.one(KV, "postgres-vault-kv").inputs["dataJson"]))
    redis = json.loads(unwrap_secrets(production.one(KV, "redis-vault-kv").inputs["dataJson"]))["PASSWORD"]
    app = json.loads(unwrap_secrets(production.one(KV, "app-vault-kv").inputs["dataJson"]))
    assert len({pg["POSTGRES_PASSWORD"], pg["APP_DB_PASSWORD"], pg["BACKUP_DB_PASSWORD"]}) == 3
    assert (
        app["DATABASE_URL"] == "postgresql+asyncpg://finance_report_app:"
        f"{quote(pg['APP_DB_PASSWORD'], safe='')}@finance_report-postgres:5432/finance_report"
    )
    assert app["REDIS_URL"] == f"redis://:{quote(redis, safe='')}@finance_report-redis:6379/0"
    assert len(app["SECRET_KEY"].encode()) >= 32


# ----------------------------------------------------------------------------------------------------------- outputs


def test_outputs_give_urls_names_and_vault_identities(production, staging):
    assert production.outputs["site_url"] == "https://report.zitian.party"
    assert production.outputs["health_url"] == "https://report.zitian.party/api/health"
    assert staging.outputs["site_url"] == "https://report-staging.zitian.party"
    assert staging.outputs["vault_policies"] == {
        s: f"finance_report-staging-{s}" for s in ("postgres", "redis", "app", "backup")
    }
    assert staging.outputs["vault_roles"] == {
        s: f"finance_report-staging-{s}" for s in ("postgres", "redis", "app", "backup")
    }
    declared = {r.name: r.inputs["name"] for r in staging.by_type("docker:index/network:Network")}
    assert staging.outputs["networks"] == {
        "internal": declared["internal"],
        "vault_egress": declared["vault-egress"],
        "backup_egress": declared["backup-egress"],
        "traefik": "dokploy-network",
    }
    assert declared["internal"].startswith("finance_report-internal-staging-")
    containers = staging.outputs["containers"]
    assert containers["postgres"] == "finance_report-postgres-staging"
    assert containers["app_vault_agent"] == "finance_report-app-vault-agent-staging"
    assert containers["backend"].startswith("finance_report-backend-staging-")
    assert (
        "prefect_worker" not in containers
        and production.outputs["containers"]["prefect_worker"] == "finance_report-prefect-worker"
    )


def test_the_rollout_gate_checks_every_container_and_watches_the_new_revisions(production):
    gate = production.one("command:local:Command", "rollout-gate")
    containers = production.by_type(CONTAINER)
    assert gate.inputs["triggers"] == sorted(gate.inputs["triggers"], key=gate.inputs["triggers"].index)
    assert set(gate.inputs["triggers"]) == {f"{c.name}-id" for c in containers}, "a replaced container re-runs the gate"
    assert {c.urn for c in containers} <= set(gate.options["dependsOn"])
    argv = __import__("shlex").split(gate.inputs["create"])
    assert argv[:7] == ["uv", "run", "--frozen", "--no-sync", "python", "-m", "runtime.rollout_gate"]
    names = {c.name: c.inputs["name"] for c in containers}
    healthy = [argv[i + 1] for i, a in enumerate(argv) if a == "--healthy"]
    running = [argv[i + 1] for i, a in enumerate(argv) if a == "--running"]
    watched = [argv[i + 1] for i, a in enumerate(argv) if a == "--watch"]
    # every container; the backup service only running (its health is its own signal)
    assert running == [names["backup-container"]]
    assert sorted(healthy + running) == sorted(names.values())
    assert watched == [names["app-backend"], names["app-frontend"]]
    assert argv[argv.index("--watch-seconds") + 1] == "60"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--url"] == [
        "https://report.zitian.party/api/health",
        "https://report.zitian.party/",
    ]
    assert argv[argv.index("--docker-host") + 1] == "ssh://deploy@dokploy.zitian.party"
    quiet = run_stack("staging", {"publicHealthGate": "false", "cutoverWatchSeconds": "0"}).one(
        "command:local:Command", "rollout-gate"
    )
    assert "--url" not in quiet.inputs["create"] and "--watch-seconds 0" in quiet.inputs["create"]


def test_any_change_to_a_rolling_container_renames_only_that_container(production):
    before = {c.name: c.inputs["name"] for c in production.by_type(CONTAINER)}
    after = {c.name: c.inputs["name"] for c in run_stack("production", {"frontendMemoryMb": "640"}).by_type(CONTAINER)}
    assert {k for k in before if before[k] != after[k]} == {"app-frontend"}
    after = {c.name: c.inputs["name"] for c in run_stack("production", {"backendMemoryMb": "1536"}).by_type(CONTAINER)}
    assert {k for k in before if before[k] != after[k]} == {"app-backend"}


def test_vault_agent_cidrs_bind_every_role_and_nothing_when_unset(staging):
    roles = staging.by_type("vault:appRole/authBackendRole:AuthBackendRole")
    assert roles and all(not r.inputs.get("secretIdBoundCidrs") and not r.inputs.get("tokenBoundCidrs") for r in roles)
    bound = run_stack("staging", {"vaultAgentCidrs": json.dumps(["203.0.113.7/32", "2001:db8::1/128"])})
    for role in bound.by_type("vault:appRole/authBackendRole:AuthBackendRole"):
        assert (
            role.inputs["secretIdBoundCidrs"] == role.inputs["tokenBoundCidrs"] == ["203.0.113.7/32", "2001:db8::1/128"]
        ), role.urn
    assert len(bound.by_type("vault:appRole/authBackendRole:AuthBackendRole")) == len(roles)


def test_outputs_name_the_deployed_image_commit_docker_host_and_every_network(production, staging):
    """Audit and rollback need the deployed tag and commit; `networks` lacked backup-egress."""
    from tests.conftest import stack_config

    for run, stack in ((production, "production"), (staging, "staging")):
        config, _ = stack_config(stack)
        tag = config["finance-report:imageTag"]
        assert run.outputs["image_tag"] == tag
        assert run.outputs["images"] == {
            "backend": f"ghcr.io/wangzitian0/finance_report-backend:{tag}",
            "frontend": f"ghcr.io/wangzitian0/finance_report-frontend:{tag}",
        }
        assert run.outputs["docker_host"] == config["finance-report:dockerHost"]
        declared = {r.inputs["name"] for r in run.by_type("docker:index/network:Network")}
        assert declared <= set(run.outputs["networks"].values()), declared - set(run.outputs["networks"].values())
    # a release tag is not a commit; staging's sha7 tag is (config gitCommitSha, else the tag when it is one)
    assert production.outputs["git_commit_sha"] == "" and staging.outputs["git_commit_sha"] == "b93d279"
