"""Where a datastore keeps its data: an adopted host directory, or a protected, retained named volume
(a PR env's volume is neither: it goes with its pull request); and the passwords it is reached with.
Both runtimes (program/datastore.py, program/swarm_datastore.py) declare them here, alike."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from render import naming
from render.datastore_spec import DatastoreSpec
from render.labels import volume_labels
from render.secrets import GENERATED_PASSWORD, generated_options


@dataclass
class DataStorage:
    mounts: list[docker.ContainerMountArgs] = field(default_factory=list)
    volumes: list[docker.ContainerVolumeArgs] = field(default_factory=list)


def data_storage(
    name: str, service: str, env: str, host_path: str, target: str, parent: pulumi.Resource
) -> DataStorage:
    """Invariant 3 and 8: adopting `host_path` keeps today's data where it is; otherwise the volume is
    `protect`ed (no accidental delete) and retained (a `pulumi destroy` leaves it on the host)."""
    if host_path:
        return DataStorage(volumes=[docker.ContainerVolumeArgs(host_path=host_path, container_path=target)])
    # A pull request's PR env holds only test data: closing the PR destroys its stack, volume included.
    keep = not naming.is_pr_env(env)
    volume = docker.Volume(
        f"{name}-data",
        name=naming.data_volume_name(service, env),
        labels=volume_labels(env),
        opts=pulumi.ResourceOptions(parent=parent, protect=keep, retain_on_delete=keep, delete_before_replace=True),
    )
    return DataStorage(mounts=[docker.ContainerMountArgs(type="volume", source=volume.name, target=target)])


@dataclass
class DatastorePasswords:
    password: pulumi.Output[str]
    """Secret: the server's password (Redis: the app's URL is built from it; Postgres: its superuser's)."""
    generated: dict[str, pulumi.Output[str]]
    """Secret: the spec's other generated passwords by KV key (Postgres: its app's and backup's roles)."""

    def kv(self, spec: DatastoreSpec) -> dict[str, pulumi.Output[str]]:
        """What the program owns in the service's KV secret."""
        return {spec.password_key: self.password, **self.generated}


def datastore_passwords(name: str, spec: DatastoreSpec, parent: pulumi.Resource) -> DatastorePasswords:
    """The server's password and the spec's other ones, each a RandomPassword named `<name>-<suffix>`."""

    def generate(suffix: str) -> pulumi.Output[str]:
        resource = random.RandomPassword(f"{name}-{suffix}", **GENERATED_PASSWORD, opts=generated_options(parent))
        return pulumi.Output.secret(resource.result)

    return DatastorePasswords(
        password=generate("password"),
        generated={key: generate(suffix) for key, suffix in spec.generated.items()},
    )
