"""How the program declares a container so the real provider and engine treat it as intended
(facts/providers.py states each behaviour relied on, with its source).

- A fixed-name container (datastores, agents, worker) is replaced delete-first: the name must be free
  before the replacement is created. Settings the provider "updates" without applying them (a health
  check, say) are listed in replace_on_changes, so a change to them replaces the container instead of
  being silently lost.
- A rolling container (backend, frontend) is replaced create-first: the replacement starts, passes its
  health check and joins Traefik before the old one goes. Its name ends in a hash of every argument it is
  created with (facts/revision.py), so every replace-causing change also renames it.
- A container that uploads files declares `uploads` a secret output: the uploads may carry the AppRole
  secret-id, nested inside a list, and the provider never reads them back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_docker as docker
from pulumi import _types

from facts import providers, tokens
from facts.revision import revision_name


def plain_tree(value: Any) -> Any:
    """Args objects (ContainerArgs, NetworkArgs...) as the engine receives them: camelCase keys, nested args as
    dicts."""
    if _types.is_input_type(type(value)):
        return {k: plain_tree(v) for k, v in _types.input_type_to_dict(value).items()}
    if isinstance(value, Mapping):
        return {k: plain_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_tree(v) for v in value]
    return value


def engine_props(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments as the engine receives them: camelCase keys, nested args as dicts (values may
    still be Outputs). Building ContainerArgs first rejects a misspelt argument."""
    return plain_tree(docker.ContainerArgs(**kwargs))


def _secret_outputs(props: Mapping[str, Any]) -> list[str]:
    return [p for p in providers.NESTED_SECRET_PROPERTIES[tokens.CONTAINER] if props.get(p)]


def fixed_container(resource_name: str, kwargs: Mapping[str, Any], opts: pulumi.ResourceOptions) -> docker.Container:
    """A container under an operator-known name: replaced delete-first."""
    props = engine_props(kwargs)
    options = pulumi.ResourceOptions(
        delete_before_replace=True,
        replace_on_changes=providers.ignored_updates(props),
        additional_secret_outputs=_secret_outputs(props),
    )
    return docker.Container(resource_name, **kwargs, opts=pulumi.ResourceOptions.merge(opts, options))


def rolling_container(
    resource_name: str, name_prefix: str, kwargs: Mapping[str, Any], opts: pulumi.ResourceOptions
) -> docker.Container:
    """A container rolled create-first under `<name_prefix>-<revision>`."""
    if "name" in kwargs:
        raise ValueError("a rolling container's name is its revision; pass name_prefix")
    props = engine_props(kwargs)
    name = pulumi.Output.from_input(props).apply(lambda resolved: revision_name(name_prefix, resolved))
    options = pulumi.ResourceOptions(delete_before_replace=False, additional_secret_outputs=_secret_outputs(props))
    return docker.Container(resource_name, name=name, **kwargs, opts=pulumi.ResourceOptions.merge(opts, options))
