"""runtime swarm on a real Swarm (docs/swarm.md): the program's own services, secrets and configs created through
the Docker API as pulumi-docker would (tests/integration/swarm_provider.py), on this harness's own swarm,
with an OpenBao the tasks reach over TLS and a routing stand-in for Traefik's swarm provider in front of the
backend (swarm_routing.py says what it cannot show). One node here; tests/integration/test_swarm_two_nodes.py
adds a worker.

What is not run: `pulumi up` itself (the engine tier cannot be built on this machine); the frontend and the
worker (no Next.js or prefect stand-in here), the backup service (its stand-in is not built for Swarm), and
Redis with its agent (a stand-in exists; left out to keep the run short). Their specs come from the same
builders as the services that run, and the plan and policy layers check them. The tests run in file order on
one session's swarm: each update starts from the previous one's result.
"""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from facts.providers import SHORT_DURATION_FIELDS, short_duration, value_at
from ops.program_run import unwrap_secrets
from tests.integration.swarm_env import DRAIN_SECONDS, SERVICES
from tests.integration.swarm_provider import SERVICE, ServiceRollback, checked, substitute
from tests.integration.swarm_routing import RequestLoop

pytestmark = pytest.mark.integration


def backend_tasks(env) -> list[dict]:
    return env.deployment.tasks(env.deployment.service_ids["app-backend"])


def running_versions(env) -> set[str]:
    return {
        t["Spec"]["ContainerSpec"]["Image"].rsplit(":", 1)[-1]
        for t in backend_tasks(env)
        if t["Status"]["State"] == "running"
    }


def read_back_durations(service: dict) -> dict[tuple[str, ...], str]:
    """The durations the provider's Read stores, from ServiceInspect (flattenServiceUpdateOrRollbackConfig,
    flattenContainerSpec, flattenServiceHealthcheck, flattenTaskRestartPolicy: shortDur of nanoseconds,
    resource_docker_service_structures.go:78-93,159-164,289-301,456-476)."""
    spec = service["Spec"]
    task = spec["TaskTemplate"]
    container = task["ContainerSpec"]
    found: dict[tuple[str, ...], int | None] = {
        ("taskSpec", "containerSpec", "stopGracePeriod"): container.get("StopGracePeriod"),
    }
    # The API omits a zero duration (omitempty); the provider flattens the block's zero as "0s".
    blocks = {
        ("taskSpec", "containerSpec", "healthcheck"): (
            container.get("Healthcheck"),
            ("Interval", "Timeout", "StartPeriod"),
        ),
        ("taskSpec", "restartPolicy"): (task.get("RestartPolicy"), ("Delay",)),
        ("updateConfig",): (spec.get("UpdateConfig"), ("Delay", "Monitor")),
        ("rollbackConfig",): (spec.get("RollbackConfig"), ("Delay", "Monitor")),
    }
    for path, (block, fields) in blocks.items():
        if block is not None:
            for api_field in fields:
                found[(*path, api_field[0].lower() + api_field[1:])] = block.get(api_field, 0)
    return {path: short_duration(int(ns) // 10**9) for path, ns in found.items() if ns is not None}


def test_the_programs_services_run_and_read_back_as_declared(swarm_env):
    """Every service the harness runs reached its tasks, and what Docker stored reads back through the
    provider's flatteners exactly as the program declared it: the durations (1m, not 1m0s:
    facts.providers.SHORT_DURATION_FACT), the networks by id (SERVICE_NETWORK_READ_AS_ID), the task template's
    secrets, configs and mounts. A mismatch here would be a diff on every refresh."""
    env, run = swarm_env, swarm_env.runs[0]
    api = env.manager.api()
    compared = 0
    for name in SERVICES:
        resource = run.one(SERVICE, name)
        declared = substitute(checked(resource), env.deployment.ids)
        service = api.get(f"/services/{env.deployment.service_ids[name]}")
        assert env.deployment.all_running(service["ID"], service), (name, env.deployment.task_errors(name))
        back = read_back_durations(service)
        for path in SHORT_DURATION_FIELDS[SERVICE]:
            if value_at(declared, path) is not None:
                assert back[path] == value_at(declared, path), (name, path)
                compared += 1
        networks = [n["Target"] for n in service["Spec"]["TaskTemplate"].get("Networks") or []]
        assert networks == [n["id"] for n in declared["taskSpec"].get("networksAdvanceds") or []], name
        spec = service["Spec"]["TaskTemplate"]["ContainerSpec"]
        assert sorted(s["File"]["Name"] for s in spec.get("Secrets") or []) == sorted(
            s["fileName"] for s in declared["taskSpec"]["containerSpec"].get("secrets") or []
        )
        assert [s["File"]["Mode"] for s in spec.get("Secrets") or []] == [0o400] * len(spec.get("Secrets") or [])
    assert compared >= 30


def test_the_backend_renders_its_secrets_in_its_task_and_reaches_postgres(swarm_env):
    """The in-task agent logged in with the Swarm-secret AppRole pair over TLS (the harness CA as vaultCaCert),
    rendered app.env into the task's tmpfs, and the stand-in's alembic connected to Postgres (dnsrr on the
    internal overlay) with the rendered password. Nothing of the rendered file is on the node's disk."""
    env = swarm_env
    status, body = env.proxy.get("/db")
    assert (status, body.split()[0]) == (200, "finance_report")
    (container,) = [
        c for c in env.manager.api().containers(["finance-report.service=backend"]) if c["State"] == "running"
    ][:1]
    inspected = env.manager.api().get(f"/containers/{container['Id']}/json")
    tmpfs = [m for m in inspected["HostConfig"]["Mounts"] if m["Target"] == "/run/secrets/app"]
    assert tmpfs and tmpfs[0]["Type"] == "tmpfs"
    mounts = env.manager.docker("exec", container["Id"], "sh", "-c", "grep ' /run/secrets/app ' /proc/mounts").stdout
    assert mounts.decode().split()[2] == "tmpfs"
    kv = json.loads(unwrap_secrets(env.runs[0].one("vault:kv/secretV2:SecretV2", "app-vault-kv").inputs)["dataJson"])
    needles = [v.encode() for v in (kv["SECRET_KEY"], kv["DATABASE_URL"])]
    root = env.manager.paths.root
    hits = []
    for path in root.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink() and path.stat().st_size < 50 * 1024 * 1024:
                data = path.read_bytes()
                hits += [str(path) for n in needles if n in data]
        except OSError:
            continue
    assert hits == []


def test_an_image_update_rolls_start_first_with_no_failed_request(swarm_env):
    env = swarm_env
    before = {t["ID"] for t in backend_tasks(env)}
    started = time.monotonic()
    with RequestLoop(env.proxy) as loop:
        assert env.roll(env.program(imageTag="v2")) == "completed"
        time.sleep(DRAIN_SECONDS + 4)
    took = time.monotonic() - started
    print(
        f"image update v1 -> v2: {loop.ok} requests answered, {len(loop.failed)} failed, by version "
        f"{dict(loop.bodies)}, {took:.0f} s"
    )
    assert loop.failed == [], loop.failed[:5]
    assert loop.bodies["v1"] > 0 and loop.bodies["v2"] > 0 and loop.ok > 100
    assert running_versions(env) == {"v2"}
    assert not before & {t["ID"] for t in backend_tasks(env)}


def test_a_task_failing_its_health_during_an_update_is_rolled_back_by_docker(swarm_env):
    """The broken image starts but never passes its health check: Docker never moves its task to RUNNING
    (start-first keeps the old ones serving), fails it after the start period and retries, and
    failure_action rollback returns the service to its previous spec. `pulumi up` would fail with the
    provider's words; no request failed meanwhile."""
    env = swarm_env
    serving = {t["ID"] for t in backend_tasks(env)}
    started = time.monotonic()
    with RequestLoop(env.proxy) as loop, pytest.raises(ServiceRollback) as failed:
        env.roll(env.program(imageTag="broken"))
    took = time.monotonic() - started
    print(
        f"failed update rolled back by Docker after {took:.0f} s: {failed.value}; {loop.ok} requests "
        f"answered, {len(loop.failed)} failed"
    )
    assert str(failed.value).startswith("service rollback completed: ")
    assert loop.failed == []
    assert running_versions(env) == {"v2"}
    assert serving <= {t["ID"] for t in backend_tasks(env)}  # the serving tasks were never replaced
    service = env.manager.api().get(f"/services/{env.deployment.service_ids['app-backend']}")
    assert service["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"].endswith(":v2")
    assert service["UpdateStatus"]["State"] == "rollback_completed"


def test_a_kv_change_reaches_the_running_tasks_through_a_rolling_update(swarm_env):
    """Invariant 6 under swarm (docs/design/swarm.md section 1): a new S3 key is written to Vault, the restart
    digest in the task labels changes, Docker rolls the backend, and every task now runs with the new value
    (the stand-in serves its SHA-256); no request failed."""
    env = swarm_env
    new_key = "access-" + hashlib.sha256(str(time.time()).encode()).hexdigest()[:16]
    wanted = hashlib.sha256(new_key.encode()).hexdigest()
    assert env.proxy.get("/s3key")[1] != wanted
    run = env.program(secret_overrides={"s3AccessKey": new_key}, imageTag="v2")
    with RequestLoop(env.proxy, path="/version") as loop:
        assert env.roll(run) == "completed"
        time.sleep(DRAIN_SECONDS + 4)
    answers = {env.proxy.get("/s3key")[1] for _ in range(8)}
    print(f"KV change rolled: {loop.ok} requests answered, {len(loop.failed)} failed; tasks answer {answers}")
    assert answers == {wanted}
    assert loop.failed == []


def swarm_stack_file(env, path) -> str:
    """Pulumi.staging.yaml as an operator switches it to runtime swarm on this harness (its own keys only)."""
    from tests.conftest import ROOT

    overrides = env.overrides(imageTag="v2")
    keep = [
        line
        for line in (ROOT / "Pulumi.staging.yaml").read_text().splitlines()
        if line.strip().split(":", 2)[1:2] == [] or line.strip().split(":", 2)[1] not in overrides
    ]
    added = [f"  finance-report:{k}: {json.dumps(v)}" for k, v in overrides.items() if v is not None]
    path.write_text("\n".join(keep + added) + "\n")
    return str(path)


def test_doctor_status_and_logs_read_the_swarm_stack(swarm_env, tmp_path, capsys):
    """The operator commands against this swarm, with the stack file an operator would write."""
    from ops import logs, status, swarm_ops

    env = swarm_env
    stack_file = swarm_stack_file(env, tmp_path / "Pulumi.staging.yaml")

    checks = {c.name: c for c in swarm_ops.swarm_checks(env.manager.api(), env.manager.hostname, "dokploy-network")}
    # This harness's daemons run without daemon.json: no no-new-privileges default, and no autolock.
    assert sorted(n for n, c in checks.items() if not c.ok) == ["daemon no-new-privileges", "swarm autolock"]
    assert checks["swarm autolock"].warn_only
    assert checks["data node"].ok and checks["data node state"].ok
    assert checks["traefik network"].detail == "dokploy-network (overlay, attachable)"
    wrong = swarm_ops.swarm_checks(env.manager.api(), "elsewhere", "dokploy-network")
    assert [c.detail for c in wrong if c.name == "data node"] == [
        f"the connected manager is {env.manager.hostname}, swarmDataNode is elsewhere"
    ]

    code = status.main("staging", docker_host=env.manager.host, http=False, config_file=stack_file)
    out = capsys.readouterr().out
    print(out)
    problems = [line.removeprefix("problem: ") for line in out.splitlines() if line.startswith("problem: ")]
    # Exactly what this harness does not run is reported missing; what it runs is not a problem.
    assert code == 1
    assert sorted(problems) == [
        f"finance_report-{name}-staging: no such service"
        for name in ("backup", "backup-vault-agent", "frontend", "redis", "redis-vault-agent")
    ]
    rows = {
        line.split()[1]: line.split()[2] for line in out.splitlines() if line.startswith("  ") and len(line.split()) > 3
    }
    assert rows["finance_report-backend-staging"] == "2/2" and rows["finance_report-postgres-staging"] == "1/1"

    assert logs.main("staging", "postgres", tail="all", docker_host=env.manager.host, config_file=stack_file) == 0
    captured = capsys.readouterr()
    assert "database system is ready to accept connections" in captured.err
