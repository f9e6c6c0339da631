"""How the program declares a Swarm service so the real provider and engine treat it as intended
(facts/providers.py states each behaviour relied on).

A service keeps one operator-known name for its whole life: Docker updates it in place (a new task
template rolls its tasks the way its update_config says), and only a change of name, mode or auth, or of
a task's networks, hosts or sysctls replaces it (facts.providers.REPLACE_FACTS[SERVICE]). A replacement
must be delete-first, since the name is taken while the old service exists; the bridge would answer so
too (facts.providers.NAMED_DELETE_BEFORE_REPLACE), the option says it where a policy can see it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_docker as docker


def fixed_service(resource_name: str, kwargs: Mapping[str, Any], opts: pulumi.ResourceOptions) -> docker.Service:
    """A service under its operator-known name: updated in place, replaced delete-first."""
    docker.ServiceArgs(**kwargs)  # a misspelt argument fails here, before any resource exists
    return docker.Service(
        resource_name,
        **kwargs,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(delete_before_replace=True)),
    )
