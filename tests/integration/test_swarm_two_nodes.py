"""runtime swarm on two nodes: a second dockerd, in its own network namespace, joined to this harness's swarm as
a worker (tests/integration/swarm_harness.py). The backend spreads over both nodes and reaches Postgres,
pinned to the manager (the data node), over the internal overlay (VXLAN between the namespaces); draining the
worker moves its task to the manager while the routing stand-in keeps answering.

If this kernel could not carry the overlay between two nodes, the join or the first cross-node request fails
and the tests skip with the daemon's own line; the single-node tests stand on their own.
"""

from __future__ import annotations

import time

import pytest

from tests.integration.swarm_env import DRAIN_SECONDS
from tests.integration.swarm_harness import wait_for
from tests.integration.swarm_routing import RequestLoop

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def worker(swarm_env):
    try:
        node = swarm_env.add_worker()
    except (RuntimeError, TimeoutError) as err:
        pytest.skip(f"a second Swarm node could not join here: {str(err).splitlines()[0]}")
    return node


def backend_placement(env) -> dict[str, str]:
    """running backend task -> hostname of its node."""
    nodes = {n["ID"]: n["Description"]["Hostname"] for n in env.manager.api().get("/nodes")}
    return {
        t["Status"]["ContainerStatus"]["ContainerID"][:12]: nodes[t["NodeID"]]
        for t in env.deployment.tasks(env.deployment.service_ids["app-backend"])
        if t["Status"]["State"] == "running"
    }


def test_the_backend_on_the_worker_reaches_postgres_on_the_manager(swarm_env, worker):
    """A node added to a running swarm gets tasks only when they are scheduled again: `docker service update
    --force` is the rolling restart docs/swarm.md names for it (start-first, health-gated). Swarm then spreads
    the two backend tasks, one per node; Postgres stays pinned to the data node."""
    env = swarm_env
    env.manager.docker("service", "update", "--force", "--detach", "finance_report-backend-staging")
    placement = wait_for(
        lambda: (
            (p := backend_placement(env))
            and len(p) == 2
            and set(p.values()) == {env.manager.hostname, worker.hostname}
            and p
        ),
        300,
        "one backend task on each node",
        interval=3,
    )
    time.sleep(4)  # one poll of the routing stand-in
    on_worker = next(c for c, host in placement.items() if host == worker.hostname)
    answers = {env.proxy.get("/db")[1] for _ in range(10)}
    print(f"backend tasks by node: {placement}; /db answers: {sorted(answers)}")
    assert f"finance_report {on_worker}" in answers  # the worker's task queried Postgres on the manager
    postgres = env.deployment.tasks(env.deployment.service_ids["postgres-service"])
    nodes = {n["ID"]: n["Description"]["Hostname"] for n in env.manager.api().get("/nodes")}
    assert [nodes[t["NodeID"]] for t in postgres if t["Status"]["State"] == "running"] == [env.manager.hostname]


def test_draining_the_worker_moves_the_backend_with_no_failed_request(swarm_env, worker):
    """Draining shuts the worker's task down (it drains for routingDrainSeconds while the router drops it) and
    starts its replacement on the manager; the manager's task serves throughout."""
    env = swarm_env
    assert worker.hostname in backend_placement(env).values()
    started = time.monotonic()
    try:
        with RequestLoop(env.proxy) as loop:
            env.manager.docker("node", "update", "--availability", "drain", worker.hostname)
            wait_for(
                lambda: (p := backend_placement(env)) and len(p) == 2 and set(p.values()) == {env.manager.hostname},
                300,
                "both backend tasks on the manager",
                interval=2,
            )
            time.sleep(DRAIN_SECONDS + 4)
    finally:
        env.manager.docker("node", "update", "--availability", "active", worker.hostname)
    took = time.monotonic() - started
    print(f"drain of {worker.hostname}: {loop.ok} requests answered, {len(loop.failed)} failed, {took:.0f} s")
    assert loop.failed == [], loop.failed[:5]
    assert loop.ok > 100
