"""Where a datastore keeps its data: an adopted host directory, or a protected, retained named volume
(a PR env's volume is neither: it goes with its pull request)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from render import naming
from render.labels import volume_labels


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
