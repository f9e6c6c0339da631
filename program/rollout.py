"""The rollout gate: the last step of every `pulumi up` that changed a container.

The provider's `wait` is not enough (facts.providers.WAIT_FAILURE): a container that never became healthy
is saved anyway, and the next `up` treats it as updated without checking again. The gate is a command
(pulumi-command, run where `pulumi up` runs) that asks the Docker host itself: every container of the env
is running and healthy; the new backend and frontend revisions stay so, without a restart, for a watch
period; the public routes answer through Traefik. It fails the update otherwise, before Pulumi deletes the
old revisions (create-before-delete deletes last), so the old revision keeps serving. A failed command is
not saved, so the next `up` runs it again; it re-runs whenever a container is replaced (its triggers).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_command as command
import pulumi_docker as docker


@dataclass(frozen=True)
class RolloutGateArgs:
    docker_host: str
    """The env's Docker host, reached as the provider reaches it."""
    ssh_opts: Sequence[str] = ()
    watch_seconds: int = 60
    """How long a new backend/frontend revision must stay healthy without restarting (0: no watch)."""
    urls: Sequence[str] = field(default_factory=tuple)
    """Public URLs that must answer through Traefik (empty: not checked)."""


def gate_command(
    args: RolloutGateArgs, healthy: Sequence[str], watched: Sequence[str], running: Sequence[str] = ()
) -> str:
    """The command line `pulumi up` runs (pure: names are plain strings here)."""
    argv = [
        "uv",
        "run",
        "--frozen",
        "--no-sync",
        "python",
        "-m",
        "runtime.rollout_gate",
        "--docker-host",
        args.docker_host,
    ]
    if args.ssh_opts:
        argv += ["--ssh-opts", json.dumps(list(args.ssh_opts))]
    for name in healthy:
        argv += ["--healthy", name]
    for name in running:
        argv += ["--running", name]
    for name in watched:
        argv += ["--watch", name]
    argv += ["--watch-seconds", str(args.watch_seconds)]
    for url in args.urls:
        argv += ["--url", url]
    return " ".join(shlex.quote(a) for a in argv)


def rollout_gate(
    name: str,
    args: RolloutGateArgs,
    containers: Sequence[docker.Container],
    watched: Sequence[docker.Container],
    parent: pulumi.Resource,
    running: Sequence[docker.Container] = (),
) -> command.local.Command:
    """`containers` must turn healthy, `running` (the backup service) only run."""
    names = pulumi.Output.all(*[c.name for c in containers])
    watched_names = pulumi.Output.all(*[c.name for c in watched])
    running_names = pulumi.Output.all(*[c.name for c in running])
    every = [*containers, *running]
    return command.local.Command(
        name,
        create=pulumi.Output.all(names, watched_names, running_names).apply(
            lambda nwr: gate_command(args, nwr[0], nwr[1], nwr[2])
        ),
        # A replaced container has a new id: the gate runs again for it.
        triggers=[c.id for c in every],
        opts=pulumi.ResourceOptions(parent=parent, depends_on=every),
    )
