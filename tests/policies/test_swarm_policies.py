"""The policy pack on runtime swarm's resources. The compliant fixture is the program's own plan of staging with
`runtime: swarm` (and the prefect worker on), as the engine hands it to the pack: after the provider's Check
(facts/bridge_check.py). Each test changes one property of one resource and asserts the exact violations,
so a policy that stops judging services, or judges them wrongly, fails here."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from ci.offline_plan import check_shaped, evaluate_resources, policy_resources
from policies.registry import POLICIES
from tests.conftest import run_stack, stack_policy_config

SWARM = {"runtime": "swarm", "swarmDataNode": "dokploy", "prefectApiUrl": "https://prefect.zitian.party/api"}
PACK = stack_policy_config("staging")


@pytest.fixture(scope="module")
def swarm_resources():
    run = run_stack("staging", SWARM)
    assert run.error is None, run.error
    return check_shaped(policy_resources(run))


def violations(resources) -> list[tuple[str, str, str]]:
    """(policy, level, message) of every violation, the approle hygiene advisories aside (their own tests)."""
    return sorted(
        (v.policy, v.enforcementLevel, v.message)
        for v in evaluate_resources(resources, PACK, POLICIES)
        if v.policy not in ("vault-approle-configure-hygiene", "backup-enforce-separate-storage")
    )


def changed(resources, name: str, change: Callable[[Any], None]):
    out = copy.deepcopy(resources)
    (target,) = [r for r in out if r.name == name]
    change(target)
    return out


def spec(r) -> dict:
    return r.props["taskSpec"]["containerSpec"]


def test_the_programs_swarm_plan_passes_every_policy_after_check(swarm_resources):
    assert [r for r in swarm_resources if r.resource_type == "docker:index/service:Service"]
    assert violations(swarm_resources) == []


def test_the_policies_judge_the_programs_own_swarm_inputs_as_they_judge_check_shaped_ones():
    """tests/policies/test_check_shaped_inputs.py for services, secrets and configs: the provider's defaults
    (update/rollback configs, secret file modes, isolation, __defaults) change no verdict."""
    for stack in ("staging", "production"):
        run = run_stack(stack, SWARM)
        pack = stack_policy_config(stack)
        raw = sorted(tuple(vars(v).values()) for v in evaluate_resources(policy_resources(run), pack, POLICIES))
        shaped = sorted(
            tuple(vars(v).values()) for v in evaluate_resources(check_shaped(policy_resources(run)), pack, POLICIES)
        )
        assert shaped == raw
        assert not [v for v in shaped if "mandatory" in v]


# ------------------------------------------------------------------------------------------ rolling update

ROLLING = "docker-service-enforce-rolling-update"


@pytest.mark.parametrize(
    "change,message",
    [
        (
            lambda r: r.props["updateConfig"].update(order="stop-first"),
            "backend service app-backend updates stop-first: its old task stops before the new one is healthy; set "
            "update_config order start-first.",
        ),
        (
            lambda r: r.props["updateConfig"].update(failureAction="pause"),
            "backend service app-backend does not roll back a failed update (failure_action pause); set "
            "update_config failure_action rollback.",
        ),
        (
            lambda r: r.props.pop("updateConfig"),
            "backend service app-backend does not roll back a failed update (failure_action pause); set update_config "
            "failure_action rollback.|backend service app-backend updates stop-first (the default): its old task "
            "stops before the new one is healthy; set update_config order start-first.|backend service app-backend "
            "watches a new task for 5s (the default) only; a task that fails later counts as updated: set "
            "update_config monitor to 10s or more (cutoverWatchSeconds).",
        ),
        (
            lambda r: r.props["updateConfig"].update(parallelism=0.0),
            "backend service app-backend updates all its tasks at once (parallelism 0); set update_config "
            "parallelism 1.",
        ),
        (
            lambda r: r.props["updateConfig"].update(monitor="5s"),
            "backend service app-backend watches a new task for 5s only; a task that fails later counts as updated: "
            "set update_config monitor to 10s or more (cutoverWatchSeconds).",
        ),
        (
            lambda r: r.props["rollbackConfig"].update(order="stop-first"),
            "backend service app-backend rolls back stop-first: a rollback would stop the serving tasks first; set "
            "rollback_config order start-first.",
        ),
        (
            lambda r: r.props.pop("convergeConfig"),
            "backend service app-backend has no converge_config: `pulumi up` returns before Docker's update ends and "
            "never sees a rollback; set converge_config with a timeout.",
        ),
    ],
    ids=["order", "failure-action", "no-update-config", "parallelism", "monitor", "rollback-order", "no-converge"],
)
def test_a_rolling_service_that_would_not_roll_safely_is_refused(swarm_resources, change, message):
    found = violations(changed(swarm_resources, "app-backend", change))
    assert found == [(ROLLING, "mandatory", m) for m in sorted(message.split("|"))]


def test_the_frontend_and_the_worker_are_rolling_services_too(swarm_resources):
    for name, service in (("app-frontend", "frontend"), ("app-prefect-worker", "prefect-worker")):
        found = violations(changed(swarm_resources, name, lambda r: r.props["updateConfig"].update(order="stop-first")))
        assert found == [
            (
                ROLLING,
                "mandatory",
                f"{service} service {name} updates stop-first: its old task stops before the new one is healthy; "
                "set update_config order start-first.",
            )
        ]


# ------------------------------------------------------------------------------------------ pinned singletons

PINNED = "docker-service-enforce-pinned-singleton"


@pytest.mark.parametrize(
    "name,change,message",
    [
        (
            "postgres-service",
            lambda r: r.props["taskSpec"].pop("placement"),
            "postgres service postgres-service is not pinned to a node (placement constraint "
            "node.hostname==<swarmDataNode>): Swarm could start it on another node, away from its data.",
        ),
        (
            "postgres-service",
            lambda r: r.props["taskSpec"]["placement"].update(constraints=["node.role==manager"]),
            "postgres service postgres-service is not pinned to a node (placement constraint "
            "node.hostname==<swarmDataNode>): Swarm could start it on another node, away from its data.",
        ),
        (
            "postgres-service",
            lambda r: r.props["updateConfig"].update(order="start-first"),
            "postgres service postgres-service updates start-first: two tasks on one data directory for a while; set "
            "update_config order stop-first.",
        ),
        (
            "redis-service",
            lambda r: r.props["rollbackConfig"].update(order="start-first"),
            "redis service redis-service rolls back start-first: two tasks on one data directory for a while; set "
            "rollback_config order stop-first.",
        ),
        (
            "postgres-service",
            lambda r: r.props["mode"]["replicated"].update(replicas=2.0),
            "postgres service postgres-service runs 2.0 tasks; it must run exactly once (mode replicated, replicas 1).",
        ),
        (
            "redis-service",
            lambda r: r.props["endpointSpec"].update(mode="vip"),
            "redis service redis-service is reached through a virtual IP; set endpoint_spec mode dnsrr (IPVS drops "
            "idle pooled connections after 900 s, moby/moby#31208).",
        ),
        (
            "postgres-vault-agent",
            lambda r: r.props["taskSpec"].pop("placement"),
            "vault-agent service postgres-vault-agent is not pinned to a node (placement constraint "
            "node.hostname==<swarmDataNode>): Swarm could start it on another node, away from its data.",
        ),
        (
            "backup-service",
            lambda r: r.props["updateConfig"].update(order="start-first"),
            "backup service backup-service updates start-first: two tasks on one data directory for a while; set "
            "update_config order stop-first.",
        ),
    ],
    ids=["no-placement", "not-a-node", "start-first", "rollback-start-first", "replicas", "vip", "agent", "backup"],
)
def test_a_pinned_singleton_that_could_run_twice_or_elsewhere_is_refused(swarm_resources, name, change, message):
    assert violations(changed(swarm_resources, name, change)) == [(PINNED, "mandatory", message)]


# ------------------------------------------------------------------------------------------ swarm secrets

APPROLE = "swarm-secret-enforce-approle-only"
SWARM_ONLY_POLICIES = {ROLLING, PINNED, APPROLE}  # each has its violating cases in this file


def test_an_application_secret_as_a_swarm_secret_is_refused(swarm_resources):
    def rename(r):
        r.props["name"] = "finance_report-app-database-url-staging"

    found = violations(changed(swarm_resources, "app-vault-swarm-secret-id", rename))
    assert (
        APPROLE,
        "mandatory",
        "Swarm secret finance_report-app-database-url-staging is not one service's AppRole role-id or secret-id; "
        "Swarm keeps it in its raft store: render application secrets from Vault inside the task instead.",
    ) in found


def test_a_service_granted_another_services_approle_is_refused(swarm_resources):
    backend = next(r for r in swarm_resources if r.name == "app-backend")
    refs = copy.deepcopy(spec(backend)["secrets"])

    def grant(r):
        spec(r)["secrets"] = refs

    found = violations(changed(swarm_resources, "app-frontend", grant))
    names = sorted(ref["secretName"] for ref in refs)
    assert found == [
        (
            APPROLE,
            "mandatory",
            f"Service app-frontend is granted {n}, an AppRole credential of app; a service's AppRole reaches only "
            "its own tasks.",
        )
        for n in names
    ]
    postgres_refs = next(r for r in swarm_resources if r.name == "postgres-vault-agent")

    def grant_postgres(r):
        spec(r)["secrets"] = copy.deepcopy(spec(postgres_refs)["secrets"])

    found = violations(changed(swarm_resources, "redis-vault-agent", grant_postgres))
    assert [m for _, _, m in found] == [
        f"Service redis-vault-agent is granted {n}, an AppRole credential of postgres; a service's AppRole reaches "
        "only its own tasks."
        for n in sorted(ref["secretName"] for ref in spec(postgres_refs)["secrets"])
    ]


def test_a_credential_mounted_readable_by_others_is_refused(swarm_resources):
    def loosen(r):
        spec(r)["secrets"][0]["fileMode"] = 0o444

    found = violations(changed(swarm_resources, "app-backend", loosen))
    (only,) = found
    assert only[0] == APPROLE and only[2].endswith("mode 0o444; expected under /vault/approle/, mode 0400.")


def test_a_config_holding_a_kv_value_is_refused_without_showing_it(swarm_resources):
    kv = next(r for r in swarm_resources if r.name == "postgres-vault-kv")
    password = json.loads(kv.props["dataJson"])["POSTGRES_PASSWORD"]

    def leak(r):
        r.props["data"] = base64.b64encode(f"password = {password}\n".encode()).decode()

    found = violations(changed(swarm_resources, "postgres-vault-config-agent.hcl", leak))
    assert [(p, m.split(" holds")[1]) for p, _, m in found] == [
        (
            APPROLE,
            " a value of the KV secret finance_report/staging/postgres; configs are stored in raft in plaintext: keep "
            "the value in Vault and render it in the task.",
        )
    ]
    assert password not in found[0][2]


# ------------------------------------------------------------------------------------------ invariants on services


@pytest.mark.parametrize(
    "name,change,policy,message",
    [
        (
            "app-backend",
            lambda r: spec(r)["env"].update(DATABASE_PASSWORD="hunter2hunter2"),
            "docker-container-disallow-plaintext-secrets",
            "Service app-backend: env DATABASE_PASSWORD holds a secret-looking value. Deliver secrets as files "
            "rendered by its vault-agent into the tmpfs secrets volume.",
        ),
        (
            "app-frontend",
            lambda r: spec(r).update(image="ghcr.io/wangzitian0/finance_report-frontend:latest"),
            "docker-image-disallow-unpinned",
            "Image ghcr.io/wangzitian0/finance_report-frontend:latest of app-frontend uses the floating tag latest; "
            "pin a release tag (vX.Y.Z or sha7) or a sha256 digest.",
        ),
        (
            "app-backend",
            lambda r: spec(r).update(capDrops=["NET_RAW"]),
            "docker-container-enforce-capability-drop",
            "Service app-backend does not drop all capabilities (CIS 5.3); drop ALL and add back only what the image "
            "needs.",
        ),
        (
            "app-backend",
            lambda r: spec(r)["mounts"].append(
                {"type": "bind", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock"}
            ),
            "docker-container-disallow-docker-socket",
            "Service app-backend mounts the Docker socket /var/run/docker.sock (CIS 5.31).",
        ),
        (
            "redis-service",
            lambda r: spec(r).pop("healthcheck"),
            "docker-container-enforce-healthcheck-and-restart",
            "Service redis-service has no health check; add one so Swarm starts routing to a task, and an update "
            "replaces the next one, only once it is healthy.",
        ),
        (
            "app-frontend",
            lambda r: r.props["taskSpec"]["restartPolicy"].update(condition="none"),
            "docker-container-enforce-healthcheck-and-restart",
            "Service app-frontend has restart condition none; expected one of any, on-failure.",
        ),
        (
            "app-backend",
            lambda r: r.props["taskSpec"]["resources"]["reservation"].update(memoryBytes=0.0),
            "docker-container-enforce-memory-limit",
            "Service app-backend reserves 0 MiB of its 768 MiB limit; reserve the limit, so Swarm places a task only "
            "on a node with that much memory free.",
        ),
        (
            "app-backend",
            lambda r: r.props["taskSpec"]["logDriver"].update(options={}),
            "docker-container-enforce-log-rotation",
            "Service app-backend logs without rotation; set log_opts max-size and max-file.",
        ),
        (
            "postgres-service",
            lambda r: r.props["endpointSpec"].update(ports=[{"targetPort": 5432.0}]),
            "datastore-disallow-exposure",
            "postgres service postgres-service publishes ports; datastores are reached only over the internal network.",
        ),
        (
            "postgres-service",
            lambda r: r.props["taskSpec"]["networksAdvanceds"].append({"id": "dokploy-network-id"}),
            "datastore-disallow-exposure",
            "postgres service postgres-service joins 2 networks; datastores join only the env's internal overlay.",
        ),
        (
            "app-backend",
            lambda r: r.props["labels"].append({"label": "traefik.docker.network", "value": "dokploy-network"}),
            "traefik-enforce-tls-routing",
            "Service app-backend carries traefik.docker.network; Traefik's swarm provider reads traefik.swarm.*.",
        ),
        (
            "app-frontend",
            lambda r: r.props.update(
                labels=[lb for lb in r.props["labels"] if not lb["label"].endswith(".loadbalancer.server.port")]
            ),
            "traefik-enforce-tls-routing",
            "Service app-frontend routes to Traefik service finance-report-web-staging without "
            "traefik.http.services.finance-report-web-staging.loadbalancer.server.port; Swarm gives Traefik no port "
            "to detect.",
        ),
        (
            "app-frontend",
            lambda r: r.props.update(labels=[lb for lb in r.props["labels"] if lb["label"] != "traefik.swarm.network"]),
            "traefik-enforce-tls-routing",
            "Service app-frontend enables Traefik without traefik.swarm.network; set it to the Traefik network so "
            "routing does not pick a random network.",
        ),
        (
            "postgres-service",
            lambda r: spec(r).update(stopGracePeriod="30s"),
            "docker-container-enforce-destroy-grace",
            "Service postgres-service stops its tasks with a grace of 30s; it needs 60s to stop cleanly, or Swarm "
            "kills it mid-write.",
        ),
        (
            "app-backend",
            lambda r: spec(r)["healthcheck"].update(startPeriod="1m0s"),
            "docker-container-enforce-go-durations",
            "app-backend sets taskSpec.containerSpec.healthcheck.startPeriod = '1m0s'; the service resource reads it "
            "back shortened (1m, 1m30s, 1h), so every refresh shows a change: write it as "
            "facts.providers.short_duration does.",
        ),
        (
            "app-backend",
            lambda r: spec(r)["mounts"][0].update(tmpfsOptions={"mode": 448.0}),
            "secrets-volume-enforce-tmpfs-read-only",
            "Service app-backend mounts /run/secrets/app as tmpfs without a size; set tmpfs_options size_bytes.",
        ),
        (
            "postgres-service",
            lambda r: [m.update(readOnly=False) for m in spec(r)["mounts"] if m["target"] == "/run/secrets/postgres"],
            "secrets-volume-enforce-tmpfs-read-only",
            None,
        ),
        (
            "app-backend",
            lambda r: r.props.update(deleteBeforeReplace=None) or setattr(r.opts, "delete_before_replace", False),
            "docker-resource-enforce-delete-before-replace",
            "Service app-backend has a fixed name but would be replaced create-first: the create fails on the name "
            "while the old service exists; set delete_before_replace=True (program.swarm_services.fixed_service).",
        ),
        (
            "postgres-service",
            lambda r: spec(r)["mounts"].append(
                {"type": "volume", "source": "finance_report-stray-secrets-staging", "target": "/run/secrets/extra"}
            ),
            "stack-enforce-agent-for-secrets-volume",
            "Service postgres-service mounts secrets volume finance_report-stray-secrets-staging, which no "
            "vault-agent in this stack writes.",
        ),
    ],
)
def test_each_container_invariant_holds_for_services(swarm_resources, name, change, policy, message):
    found = [(p, m) for p, _, m in violations(changed(swarm_resources, name, change)) if p == policy]
    assert found, f"{policy} did not fire"
    if message is not None:
        assert found == [(policy, message)]
    others = {p for p, _, _ in violations(changed(swarm_resources, name, change))} - {policy}
    assert others <= {"secrets-volume-enforce-tmpfs-read-only"}, others  # a stray volume is no tmpfs volume either


def test_a_swarm_backup_service_is_held_to_the_backup_policies(swarm_resources):
    def short(r):
        spec(r)["env"]["BACKUP_KEEP_DAILY"] = "3"

    assert violations(changed(swarm_resources, "backup-service", short)) == [
        (
            "backup-enforce-minimum-retention",
            "mandatory",
            "Backup service backup-service keeps 3 daily backups; keep at least 7 (backupKeepDaily).",
        )
    ]
    without = [r for r in copy.deepcopy(swarm_resources) if r.name != "backup-service"]
    assert violations(without) == [
        (
            "stack-enforce-database-backup",
            "mandatory",
            "Postgres finance_report-postgres-staging has no backup service: no service labelled "
            "finance-report.service=backup dumps it (PGHOST=finance_report-postgres-staging).",
        )
    ]
