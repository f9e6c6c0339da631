"""The harness's wait for a healthy container: a container that stops while it starts (it exits, or its
restart policy restarts it: a crash loop) is reported at once with its state, not after the whole timeout
with only "not ready". Postgres crash-looped this way under a mutant of its start script, and its test
waited out 180 s before it failed."""

from __future__ import annotations

import time

import pytest

from tests.integration.harness import ContainerStopped, wait_until

pytestmark = pytest.mark.integration

HEALTH = ("--health-cmd", "test -e /tmp/ready", "--health-interval", "1s", "--health-start-period", "0s")


def create(docker_engine, image, name, script, restart="no"):
    docker_engine.run(
        "create", "--name", docker_engine.track("container", name), "--restart", restart, *HEALTH,
        "--entrypoint", "sh", image, "-c", script,
    )  # fmt: skip
    return name


def start(docker_engine, image, name, script, restart="no"):
    docker_engine.run("start", create(docker_engine, image, name, script, restart))
    return name


def test_a_container_that_becomes_healthy_is_waited_for(docker_engine, agent_image):
    try:
        name = start(docker_engine, agent_image, "frh-wait-healthy", "sleep 2; touch /tmp/ready; exec sleep 600")
        docker_engine.wait_healthy(name, 120, "the healthy container")
        assert docker_engine.health(name) == "healthy"
    finally:
        docker_engine.cleanup()


@pytest.mark.parametrize("restart", ["no", "always"])
def test_a_container_that_stops_while_starting_is_reported_at_once_with_its_state(docker_engine, agent_image, restart):
    """`always`: the restart policy starts it again each time, so it is rarely seen stopped; the wait still
    sees that it stopped (State.FinishedAt moved) and says so, instead of timing out."""
    try:
        name = start(docker_engine, agent_image, f"frh-wait-crash-{restart}", "sleep 2; exit 3", restart)
        started = time.monotonic()
        with pytest.raises(ContainerStopped) as stopped:
            docker_engine.wait_healthy(name, 600, "the crashing container")
        assert time.monotonic() - started < 300, "it waited out (most of) the timeout instead of giving up"
        said = str(stopped.value)
        assert "stopped before it was healthy" in said
        assert ("exit 3" in said) if restart == "no" else ("restart policy restarted it" in said or "exit 3" in said)
    finally:
        docker_engine.cleanup()


ONCE = "[ -e /tmp/crashed ] || { touch /tmp/crashed; exit 3; }; touch /tmp/ready; exec sleep 600"


def test_a_stop_before_the_wait_counts_only_when_the_wait_is_told_when_the_container_last_stopped(
    docker_engine, agent_image
):
    """A server that crashes at once, is restarted by its policy and then turns healthy: a restart that
    stopped it unasked. The wait sees it only from the State.FinishedAt read before the start (as the
    datastore restart in test_database_roles.py passes it); read at the wait, that stop is history."""
    try:
        name = create(docker_engine, agent_image, "frh-wait-once", ONCE, "always")
        before = docker_engine.inspect(name)["State"]["FinishedAt"]
        docker_engine.run("start", name)
        wait_until(lambda: docker_engine.inspect(name)["RestartCount"] >= 1, 60, "the restart after the crash")
        with pytest.raises(ContainerStopped, match="restart policy restarted it"):
            docker_engine.wait_healthy(name, 120, "the once-crashed container", stopped_last=before)
        docker_engine.wait_healthy(name, 120, "the once-crashed container")
        assert docker_engine.health(name) == "healthy"
    finally:
        docker_engine.cleanup()


def test_a_container_restarted_on_purpose_before_the_wait_is_waited_for(docker_engine, agent_image):
    """Only a stop during the wait counts: a container that stopped and started before it (a test's own
    restart) and now turns healthy is not a crash."""
    try:
        name = start(docker_engine, agent_image, "frh-wait-restarted", "touch /tmp/ready; exec sleep 600")
        docker_engine.run("restart", "-t", "0", name)
        docker_engine.wait_healthy(name, 120, "the restarted container")
        assert docker_engine.health(name) == "healthy"
    finally:
        docker_engine.cleanup()
