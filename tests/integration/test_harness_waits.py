"""The harness's wait for a healthy container: a container that stops while it starts (it exits, or its
restart policy restarts it: a crash loop) is reported at once with its state, not after the whole timeout
with only "not ready". Postgres crash-looped this way under a mutant of its start script, and its test
waited out 180 s before it failed."""

from __future__ import annotations

import pytest

from tests.integration.harness import ContainerStopped

pytestmark = pytest.mark.integration

HEALTH = ("--health-cmd", "test -e /tmp/ready", "--health-interval", "1s", "--health-start-period", "0s")


def start(docker_engine, image, name, script, restart="no"):
    docker_engine.run(
        "run", "-d", "--name", docker_engine.track("container", name), "--restart", restart, *HEALTH,
        "--entrypoint", "sh", image, "-c", script,
    )  # fmt: skip
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
        with pytest.raises(ContainerStopped) as stopped:
            docker_engine.wait_healthy(name, 120, "the crashing container")
        said = str(stopped.value)
        assert "stopped before it was healthy" in said
        assert ("exit 3" in said) if restart == "no" else ("restart policy restarted it" in said or "exit 3" in said)
    finally:
        docker_engine.cleanup()
