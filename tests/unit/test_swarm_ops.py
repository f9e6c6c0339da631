"""The operator commands on a `runtime: swarm` stack without a Swarm (ops/swarm_ops.py, the swarm branches of
status, doctor and rollback): the declared services come from the program; the Docker API documents are
hand-written in the shape of the Engine API (v1.41 `GET /services`, `/tasks`, `/info`, `/nodes`, `/swarm`,
moby api/swagger.yaml); the same commands against a real Swarm are in tests/integration/test_swarm_*.py."""

from __future__ import annotations

import shutil

import pytest

from ops import rollback as rb
from ops import swarm_ops
from ops.git_guard import GitState
from tests.conftest import ROOT, run_stack
from tests.unit.test_rollback import HISTORY, FakeEngine

SWARM = {"runtime": "swarm", "swarmDataNode": "dokploy"}


def service(sid: str, name: str, label: str, replicas: int | None = 2, update: dict | None = None) -> dict:
    mode = {"Global": {}} if replicas is None else {"Replicated": {"Replicas": replicas}}
    return {
        "ID": sid,
        "Spec": {"Name": name, "Labels": {"finance-report.service": label}, "Mode": mode},
        **({"UpdateStatus": update} if update else {}),
    }


def task(sid: str, state: str, err: str = "", desired: str = "running") -> dict:
    return {"ServiceID": sid, "DesiredState": desired, "Status": {"State": state, "Err": err}}


def test_the_declared_services_and_their_tasks_come_from_the_program():
    declared = swarm_ops.declared_services(run_stack("staging", SWARM))
    assert declared == {
        "finance_report-agent-bin-staging": swarm_ops.GLOBAL,
        "finance_report-backend-staging": 2,
        "finance_report-backup-staging": 1,
        "finance_report-backup-vault-agent-staging": 1,
        "finance_report-frontend-staging": 2,
        "finance_report-postgres-staging": 1,
        "finance_report-postgres-vault-agent-staging": 1,
        "finance_report-redis-staging": 1,
        "finance_report-redis-vault-agent-staging": 1,
    }


def test_status_names_missing_tasks_with_why_and_a_rolled_back_update():
    services = [
        service(
            "b",
            "finance_report-backend-staging",
            "backend",
            update={
                "State": "rollback_completed",
                "Message": "update rolled back due to failure or early termination of task x",
            },
        ),
        service("p", "finance_report-postgres-staging", "postgres", replicas=1),
        service("g", "finance_report-agent-bin-staging", "agent-bin", replicas=None),
    ]
    tasks = [
        task("b", "running"),
        task("b", "running"),
        task("b", "failed", desired="shutdown"),  # an earlier task: not counted
        task(
            "p",
            "pending",
            "no suitable node (1 node not available for new tasks; scheduling constraints not satisfied on 1 node)",
        ),
        task("g", "running"),
        task("g", "running"),
    ]
    states = swarm_ops.service_states(services, tasks)
    declared = {
        "finance_report-backend-staging": 2,
        "finance_report-postgres-staging": 1,
        "finance_report-agent-bin-staging": swarm_ops.GLOBAL,
        "finance_report-frontend-staging": 2,
    }
    assert swarm_ops.status_problems(states, declared) == [
        "finance_report-backend-staging: update rollback_completed: update rolled back due to failure or early "
        "termination of task x; it runs its previous spec: `pulumi up --refresh` re-applies the stack's",
        "finance_report-frontend-staging: no such service",
        "finance_report-postgres-staging: 0 of 1 tasks running (pending: no suitable node (1 node not available for "
        "new tasks; scheduling constraints not satisfied on 1 node))",
    ]
    (agent_bin,) = [s for s in states if s.service == "agent-bin"]
    assert (agent_bin.desired, agent_bin.running) == (2, 2)


def test_doctor_requires_an_active_manager_that_is_the_data_node():
    info = {
        "Name": "dokploy",
        "Swarm": {"LocalNodeState": "active", "ControlAvailable": True},
        "SecurityOptions": ["name=seccomp,profile=default", "name=no-new-privileges"],
    }
    assert [(c.name, c.ok) for c in swarm_ops.manager_checks(info, "dokploy")] == [
        ("swarm manager", True),
        ("data node", True),
        ("daemon no-new-privileges", True),
    ]
    worker = {**info, "Swarm": {"LocalNodeState": "active", "ControlAvailable": False}, "SecurityOptions": []}
    checks = {c.name: c for c in swarm_ops.manager_checks(worker, "db1")}
    assert not checks["swarm manager"].ok and checks["swarm manager"].detail == "dokploy: swarm active, not a manager"
    assert not checks["data node"].ok and checks["data node"].detail == (
        "the connected manager is dokploy, swarmDataNode is db1"
    )
    assert not checks["daemon no-new-privileges"].ok
    inactive = swarm_ops.manager_checks({"Name": "h", "Swarm": {"LocalNodeState": "inactive"}}, "h")[0]
    assert not inactive.ok and "docker swarm init" in inactive.fix


def test_doctor_checks_the_data_node_the_overlay_and_autolock():
    nodes = [{"Description": {"Hostname": "dokploy"}, "Status": {"State": "ready"}, "Spec": {"Availability": "drain"}}]
    (drained,) = swarm_ops.node_checks(nodes, "dokploy")
    assert not drained.ok and drained.detail == "dokploy is ready, drain"
    (missing,) = swarm_ops.node_checks(nodes, "db1")
    assert not missing.ok and missing.detail == "no node db1 in the swarm (dokploy)"
    assert swarm_ops.network_check({"Driver": "overlay", "Attachable": True}, "dokploy-network").ok
    bridge = swarm_ops.network_check({"Driver": "bridge", "Attachable": False}, "dokploy-network")
    assert not bridge.ok and bridge.detail == "dokploy-network (bridge, not attachable)"
    assert not swarm_ops.network_check(None, "dokploy-network").ok
    off = swarm_ops.autolock_check({"Spec": {"EncryptionConfig": {"AutoLockManagers": False}}})
    on = swarm_ops.autolock_check({"Spec": {"EncryptionConfig": {"AutoLockManagers": True}}})
    assert (off.ok, off.warn_only, on.ok) == (False, True, True)


@pytest.fixture
def swarm_project(tmp_path):
    shutil.copy(ROOT / "Pulumi.production.yaml", tmp_path / "Pulumi.production.yaml")
    with (tmp_path / "Pulumi.production.yaml").open("a") as f:
        f.write("  finance-report:runtime: swarm\n  finance-report:swarmDataNode: dokploy\n")
    return tmp_path


def test_a_swarm_rollback_refreshes_first_and_says_docker_rolled_back_already(swarm_project, monkeypatch, capsys):
    """The provider saves the new spec although Docker rolled it back (facts.providers.SERVICE_CONVERGE): the
    rollback's `pulumi up` refreshes first. The engine steps run for real in tests/engine/test_rollback.py."""
    made = []

    class Recording(FakeEngine):
        def __init__(self, stack, root, refresh=False):
            super().__init__()
            made.append(refresh)

    path = swarm_project / "Pulumi.production.yaml"
    path.write_text(rb.with_image_tag(path.read_text(), "v1.4.3"))
    monkeypatch.setattr(rb, "Engine", Recording)
    monkeypatch.setattr(rb.pulumi_cli, "missing_policy_venv", lambda root: None)
    monkeypatch.setattr(rb, "read_git_state", lambda root: GitState("c" * 40, (), "c" * 40))  # main's tip
    assert rb.main("production", history=lambda stack: HISTORY, root=swarm_project, yes=True) == 0
    assert made == [True]
    assert "failed and Docker rolled its services back already: the update refreshes first" in capsys.readouterr().out


def test_the_engine_passes_refresh_to_pulumi_up_only_when_asked(monkeypatch):
    calls = []

    class Stack:
        def up(self, **kwargs):
            calls.append(kwargs["refresh"])

    monkeypatch.setattr(rb, "select", lambda stack, work_dir: Stack())
    rb.Engine("production", refresh=True).up("v1")
    rb.Engine("production").up("v1")
    assert calls == [True, None]


def swarm_export(pending_created: str, live_created: str) -> dict:
    """`pulumi stack export` (apitype.UntypedDeployment v3) after a swarm update that Docker rolled back: the
    app template's config was replaced create-first (its name carries its content), so the state holds the new
    config live and the previous one, which the rolled-back service uses again, pending deletion. Hand-written
    in the shape of tests/unit/fixtures/stack_export_failed_cutover.json."""
    urn = (
        "urn:pulumi:production::finance-report::finance-report:index:Stack$finance-report:app:App$finance-report:"
        "vault:AgentSidecar$docker:index/serviceConfig:ServiceConfig::app-vault-config-app.env.ctmpl"
    )

    def config(name: str, created: str, delete: bool) -> dict:
        state = {
            "urn": urn,
            "custom": True,
            "id": name[-8:],
            "type": "docker:index/serviceConfig:ServiceConfig",
            "inputs": {"name": name},
            "created": created,
        }
        return {**state, "delete": True} if delete else state

    service = {
        "urn": urn.rsplit("$", 2)[0] + "$docker:index/service:Service::app-backend",
        "custom": True,
        "id": "svc",
        "type": "docker:index/service:Service",
        "inputs": {"name": "finance_report-backend"},
        "created": "2026-05-01T10:00:00.000Z",
    }
    return {
        "version": 3,
        "deployment": {
            "resources": [
                service,
                config("finance_report-app-tpl-app-env-0000aaaa", pending_created, True),
                config("finance_report-app-tpl-app-env-1111bbbb", live_created, False),
            ]
        },
    }


def test_a_rollback_keeps_the_swarm_config_the_rolled_back_service_uses():
    """Without the swap, rolling back to the previous tag would create the previous config again under its
    name while it still exists (Docker: AlreadyExists, found on the harness's swarm) and, at the end, delete it
    from under the service Docker rolled back. The swap keeps it and deletes the failed update's config."""
    doc, swapped = rb.swap_failed_revisions(swarm_export("2026-05-10T09:00:00.000Z", "2026-05-14T16:05:00.000Z"))
    states = {r["inputs"]["name"]: r.get("delete", False) for r in doc["deployment"]["resources"]}
    assert len(swapped) == 1 and swapped[0].endswith("::app-vault-config-app.env.ctmpl")
    assert states == {
        "finance_report-backend": False,
        "finance_report-app-tpl-app-env-0000aaaa": False,
        "finance_report-app-tpl-app-env-1111bbbb": True,
    }
    # After such a rollback, the pending one is the newer: nothing to swap back.
    _, none = rb.swap_failed_revisions(swarm_export("2026-05-14T16:05:00.000Z", "2026-05-10T09:00:00.000Z"))
    assert none == []
