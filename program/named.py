"""Networks and volumes whose name carries what replaces them (pure naming, plus the two declarations).

Docker hands back an existing volume of the same name with its old options, and the bridge replaces a
named network or volume delete-first (facts.providers.VOLUME_CREATE_REUSES, NAMED_DELETE_BEFORE_REPLACE).
Delete-first would also delete, first, every container whose arguments name it (the engine's dependent
replacements, facts.providers.DEPENDENT_REPLACEMENTS): the rolling backend would go down with a network
change. A name ending in a hash of
everything that forces a replacement lets the new network or volume exist beside the old one: the
replacement is create-first, the containers move to it, the old one goes last.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_docker as docker

from facts import providers, tokens
from facts.revision import options_digest
from program.containers import plain_tree


def identity(type_: str, args: Any) -> dict[str, Any]:
    """The engine-shaped arguments that force a replacement of the resource, but its name."""
    props = plain_tree(args)
    return {k: v for k, v in props.items() if k in (providers.replacing_properties(type_, props) or []) and k != "name"}


def hashed_name(prefix: str, type_: str, args: Any) -> str:
    return f"{prefix}-{options_digest(identity(type_, args))}"


def network(resource_name: str, prefix: str, opts: pulumi.ResourceOptions, **kwargs: Any) -> docker.Network:
    """A network named `<prefix>-<hash>`, replaced create-first."""
    name = hashed_name(prefix, tokens.NETWORK, docker.NetworkArgs(**kwargs))
    return docker.Network(
        resource_name,
        name=name,
        **kwargs,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(delete_before_replace=False)),
    )


def volume(resource_name: str, prefix: str, opts: pulumi.ResourceOptions, **kwargs: Any) -> docker.Volume:
    """A volume named `<prefix>-<hash>`, replaced create-first."""
    name = hashed_name(prefix, tokens.VOLUME, docker.VolumeArgs(**kwargs))
    return docker.Volume(
        resource_name,
        name=name,
        **kwargs,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(delete_before_replace=False)),
    )
