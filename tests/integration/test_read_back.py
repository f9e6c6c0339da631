"""Every container of the plan, created on a real Docker engine the way the provider maps its inputs and
read back the way the provider reads it (tests/integration/provider.py; the attributes in
facts/providers.CONTAINER_READ_BACK): nothing read back differs from what the program declares,
so a refresh followed by a preview finds no change (no spurious update, no replacement).

Images are the harness's stand-ins; networks and volumes are created under this test's names with the
program's settings. Containers are created, not started: every attribute the provider reads back is set
at create.
"""

from __future__ import annotations

import tempfile

import pytest

from ops.program_run import ProgramRun, mock_image_id, unwrap_secrets
from tests.conftest import run_stack
from tests.integration import provider

pytestmark = pytest.mark.integration
CONTAINER, VOLUME, NETWORK = (
    "docker:index/container:Container",
    "docker:index/volume:Volume",
    "docker:index/network:Network",
)


def images(run: ProgramRun, postgres_image: str, redis_image: str, agent_image: str, app_image: str) -> dict[str, str]:
    """The program's image ids (RemoteImage outputs under mocks) -> the harness image standing in."""
    out = {}
    for image in run.by_type("docker:index/remoteImage:RemoteImage"):
        ref = image.inputs["name"]
        standin = (
            postgres_image
            if ref.startswith("postgres:")
            else redis_image
            if ref.startswith("redis:")
            else agent_image
            if "vault" in ref
            else app_image
        )
        out[mock_image_id(ref)] = standin  # the id the program's containers were given under mocks
    return out


@pytest.mark.parametrize(
    "stack,overrides",
    [("production", {}), ("staging", {}), ("staging", {"postgresDataPath": None, "redisDataPath": None})],
    ids=["production", "staging", "staging-volumes"],
)
def test_every_container_reads_back_as_declared(
    docker_engine, agent_image, postgres_image, redis_image, app_image, stack, overrides
):
    docker, api = docker_engine, docker_engine.api()
    run = run_stack(stack, overrides)
    assert run.error is None, run.error
    tag = f"rb-{stack[:4]}-{len(overrides)}"
    networks = {"dokploy-network": docker.track("network", f"frh-{tag}-dokploy-network")}
    docker.run("network", "create", networks["dokploy-network"])
    for network in run.by_type(NETWORK):
        i = network.inputs
        networks[i["name"]] = docker.track("network", f"frh-{tag}-{i['name']}")
        docker.run("network", "create", *(["--internal"] if i.get("internal") else []), networks[i["name"]])
    volumes = {}
    for volume in run.by_type(VOLUME):
        i = unwrap_secrets(volume.inputs)
        volumes[i["name"]] = docker.track("volume", f"frh-{tag}-{i['name']}")
        opts = [a for k, v in (i.get("driverOpts") or {}).items() for a in ("--opt", f"{k}={v}")]
        docker.run("volume", "create", *opts, volumes[i["name"]])
    host_dirs = {}
    image_of = images(run, postgres_image, redis_image, agent_image, app_image)

    checked, problems = 0, []
    try:
        for container in run.by_type(CONTAINER):
            inputs = unwrap_secrets(container.inputs)
            created = dict(inputs)  # the same inputs under this test's names of volumes and host paths
            created["mounts"] = [
                {**m, "source": volumes.get(m.get("source"), m.get("source"))} for m in inputs.get("mounts") or []
            ]
            created["volumes"] = [
                {
                    **v,
                    "hostPath": host_dirs.setdefault(v["hostPath"], tempfile.mkdtemp(prefix="frh-rb-", dir="/var/tmp")),
                }
                for v in inputs.get("volumes") or []
            ]
            image = image_of[inputs["image"]]
            name = docker.track("container", f"frh-{tag}-{inputs['name']}")
            cid = provider.create(api, created, image, name=name, networks=networks, start=False)
            state = provider.read_back(api, cid, inputs["image"])
            state["name"] = state["name"].replace(f"frh-{tag}-", "", 1)
            state["mounts"] = [
                {**m, "source": next((k for k, v in volumes.items() if v == m["source"]), m["source"])}
                for m in state["mounts"]
            ]
            state["image"] = image  # the program's image id stands for this stand-in here
            problems += [f"{container.name}: {d}" for d in provider.differences(inputs, state, image)]
            checked += 1
    finally:
        docker.cleanup()
        for path in host_dirs.values():
            __import__("shutil").rmtree(path, ignore_errors=True)
    assert checked == len(run.by_type(CONTAINER)) >= 7
    assert problems == [], "\n".join(problems)
