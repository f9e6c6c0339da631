"""The deployment picture: one env's containers, networks, volumes, Vault paths, the secret flow and the
backup path, drawn from the program's plan (the program under mocks, as `invoke plan` runs it).

Nothing is drawn that the plan does not declare: containers, their images, networks and mounts come from
the captured Docker resources; Vault paths, policies and AppRoles from the Vault resources of the same
agent sidecar; routes from the Traefik labels; the backup target from the backup container's settings.
The DOT source is built with the `graphviz` package and sorted throughout, so the same plan gives the same
bytes; `dot` (Debian's graphviz) renders it to SVG. README shows production's picture and
tests/unit/test_diagram.py fails when docs/images/production.dot drifts from the program.

What changes on every deploy is left out so the picture only changes with the deployment's shape: a
rolling service's revision suffix is `<revision>` and the app images' tag is `<imageTag>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import graphviz

from facts import tokens
from facts.services import ROLLING_SERVICES
from ops.command import OperatorError, bad_input, run_task
from ops.program_run import ROOT, ProgramRun, Resource
from render import naming

IMAGES = ROOT / "docs" / "images"
SERVICE_LABEL = "finance-report.service"
AGENT_FOR_LABEL = "finance-report.agent-for"
ROUTER_RULE = re.compile(r"^traefik\.http\.routers\.([^.]+)\.rule$")

FONT = "Helvetica"
COLOURS = {
    "container": "#dbeafe",
    "agent": "#fef3c7",
    "volume_secret": "#fde68a",
    "volume_data": "#dcfce7",
    "network": "#f3f4f6",
    "vault": "#ede9fe",
    "external": "#ffffff",
}


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool
    kind: str  # "tmpfs" (a secrets volume), "volume" or "host path"


def _labels(resource: Resource) -> dict[str, str]:
    return {item["label"]: item["value"] for item in resource.plain_inputs().get("labels", [])}


def _node_id(kind: str, name: str) -> str:
    return f"{kind} {name}"  # no ":" (graphviz reads node:port in an edge)


class DeploymentPicture:
    """The graph of one plan. `image_tag` is the stack's imageTag, shown as `<imageTag>`."""

    def __init__(self, run: ProgramRun, image_tag: str):
        self.run = run
        self.image_tag = image_tag
        self.env = str(run.outputs["env"])
        self.volumes = {r.plain_inputs()["name"]: r for r in run.by_type(tokens.VOLUME)}
        self.images = {
            r.computed.get("imageId"): str(r.plain_inputs()["name"]) for r in run.by_type(tokens.REMOTE_IMAGE)
        }
        self.containers = sorted(run.by_type(tokens.CONTAINER), key=lambda r: self.container_name(r))

    # ------------------------------------------------------------------------------------------ naming

    def container_name(self, container: Resource) -> str:
        service = _labels(container).get(SERVICE_LABEL, "")
        if service in ROLLING_SERVICES:
            return f"{naming.container_name(service, self.env)}-<revision>"
        return str(container.plain_inputs()["name"])

    def image_of(self, container: Resource) -> str:
        image = self.images.get(container.plain_inputs()["image"], str(container.plain_inputs()["image"]))
        return image.replace(f":{self.image_tag}", ":<imageTag>").replace(f"@{self.image_tag}", "@<imageTag>")

    def mounts_of(self, container: Resource) -> list[Mount]:
        inputs = container.plain_inputs()
        found = []
        for m in inputs.get("mounts", []):
            volume = self.volumes.get(m["source"])
            opts = volume.plain_inputs().get("driverOpts", {}) if volume else {}
            kind = "tmpfs" if opts.get("type") == "tmpfs" else "volume"
            found.append(Mount(m["source"], m["target"], bool(m.get("readOnly")), kind))
        for v in inputs.get("volumes", []):
            found.append(Mount(v["hostPath"], v["containerPath"], bool(v.get("readOnly")), "host path"))
        return sorted(found, key=lambda m: (m.source, m.target))

    # ------------------------------------------------------------------------------------------ parts

    def _sidecars(self) -> list[Resource]:
        """The agent sidecar components: each holds one service's agent, volume, KV secret, policy and role."""
        return sorted(
            (r for r in self.run.resources if r.type == "finance-report:vault:AgentSidecar"), key=lambda r: r.name
        )

    def _children(self, parent: Resource, type_: str) -> list[Resource]:
        return sorted((r for r in self.run.by_type(type_) if r.parent == parent.urn), key=lambda r: r.name)

    def _provider(self, type_: str) -> dict[str, object]:
        return next((r.plain_inputs() for r in self.run.resources if r.type == type_), {})

    def _routes(self) -> list[tuple[str, str, str]]:
        """(router, rule, priority) per container name, from the Traefik labels."""
        routes = []
        for container in self.containers:
            labels = _labels(container)
            if labels.get("traefik.enable") != "true":
                continue
            for key, rule in sorted(labels.items()):
                match = ROUTER_RULE.match(key)
                if match:
                    priority = labels.get(f"traefik.http.routers.{match.group(1)}.priority", "")
                    routes.append((self.container_name(container), rule, priority))
        return routes

    # ------------------------------------------------------------------------------------------ drawing

    def graph(self) -> graphviz.Digraph:
        docker_host = str(self._provider("pulumi:providers:docker").get("host", ""))
        vault_address = str(self._provider("pulumi:providers:vault").get("address", ""))
        site = str(self.run.outputs.get("site_url", ""))
        g = graphviz.Digraph(name=f"finance_report_{self.env}", format="svg")
        g.attr(
            rankdir="TB",
            fontname=FONT,
            fontsize="18",
            labelloc="t",
            label=f"finance-report, env {self.env}: {site}",
            nodesep="0.25",
            ranksep="0.9",
            newrank="true",
        )
        g.attr("node", fontname=FONT, fontsize="11", style="filled", fillcolor=COLOURS["container"])
        g.attr("edge", fontname=FONT, fontsize="9")

        networks: set[str] = set()
        mounts: dict[str, Mount] = {}
        for container in self.containers:
            for network in container.plain_inputs().get("networksAdvanced", []):
                networks.add(network["name"])
            for mount in self.mounts_of(container):
                mounts[mount.source] = mount

        traefik_network = str(self.run.outputs.get("networks", {}).get("traefik", ""))
        with g.subgraph(name="cluster_host") as host:
            host.attr(label=f"Docker host {docker_host}", style="rounded", color="#9ca3af", fontsize="13")
            for container in self.containers:
                self._container_node(host, container)
            for name in sorted(networks):
                external = name == traefik_network
                label = f"network {name}" + ("\\n(Dokploy's, referenced)" if external else "")
                if not external and self._network_internal(name):
                    label += "\\ninternal: no route out"
                host.node(
                    _node_id("network", name),
                    label,
                    shape="oval",
                    fillcolor=COLOURS["network"],
                    style="filled,dashed" if external else "filled",
                )
            for source in sorted(mounts):
                mount = mounts[source]
                label = {
                    "tmpfs": f"{source}\\ntmpfs volume (secrets, in memory)",
                    "volume": f"{source}\\nvolume",
                    "host path": f"{source}\\nhost directory (adopted)",
                }[mount.kind]
                colour = COLOURS["volume_secret"] if mount.kind == "tmpfs" else COLOURS["volume_data"]
                host.node(_node_id("mount", source), label, shape="cylinder", fillcolor=colour)

        for container in self.containers:
            name = self.container_name(container)
            for network in sorted(n["name"] for n in container.plain_inputs().get("networksAdvanced", [])):
                g.edge(_node_id("container", name), _node_id("network", network), dir="none", style="dotted")
            for mount in self.mounts_of(container):
                if mount.read_only:
                    g.edge(_node_id("mount", mount.source), _node_id("container", name), label=f"ro {mount.target}")
                else:
                    verb = "renders into" if mount.kind == "tmpfs" else "rw"
                    g.edge(_node_id("container", name), _node_id("mount", mount.source), label=f"{verb} {mount.target}")

        self._vault(g, vault_address)
        self._traefik(g, site)
        self._backup(g)
        return g

    def _network_internal(self, name: str) -> bool:
        return any(
            r.plain_inputs().get("name") == name and r.plain_inputs().get("internal")
            for r in self.run.by_type(tokens.NETWORK)
        )

    def _container_node(self, g: graphviz.Digraph, container: Resource) -> None:
        inputs = container.plain_inputs()
        name = self.container_name(container)
        is_agent = _labels(container).get(SERVICE_LABEL) == "vault-agent"
        memory = inputs.get("memory")
        lines = [name, self.image_of(container)]
        if memory:
            lines.append(f"memory {int(memory)} MiB")
        g.node(
            _node_id("container", name),
            "\\n".join(lines),
            shape="box",
            style="rounded,filled",
            fillcolor=COLOURS["agent" if is_agent else "container"],
        )

    def _vault(self, g: graphviz.Digraph, address: str) -> None:
        """Each service's KV secret, policy and AppRole; `pulumi up` writes the KV, the agent reads it."""
        g.node("pulumi", "pulumi up\\n(generated secrets, secret config)", shape="note", fillcolor=COLOURS["external"])
        with g.subgraph(name="cluster_vault") as vault:
            vault.attr(label=f"Vault {address}", style="rounded", color="#7c3aed", fontsize="13")
            for sidecar in self._sidecars():
                kv = self._children(sidecar, tokens.KV_SECRET)
                roles = self._children(sidecar, tokens.APPROLE_ROLE)
                policies = self._children(sidecar, tokens.VAULT_POLICY)
                agents = self._children(sidecar, tokens.CONTAINER)
                if not (kv and roles and policies and agents):
                    continue
                kv_in, role_in = kv[0].plain_inputs(), roles[0].plain_inputs()
                path = f"{kv_in['mount']}/data/{kv_in['name']}"
                node = _node_id("vault", path)
                vault.node(
                    node,
                    f"KV {path}\\npolicy {policies[0].plain_inputs()['name']}\\nAppRole {role_in['roleName']}",
                    shape="box",
                    fillcolor=COLOURS["vault"],
                )
                g.edge("pulumi", node, label="writes")
                g.edge(node, _node_id("container", self.container_name(agents[0])), label="AppRole login, read")

    def _traefik(self, g: graphviz.Digraph, site: str) -> None:
        routes = self._routes()
        if not routes:
            return
        traefik_network = str(self.run.outputs.get("networks", {}).get("traefik", ""))
        g.node(
            "traefik",
            f"Traefik (Dokploy's)\\n{site}",
            shape="box",
            style="rounded,filled,dashed",
            fillcolor=COLOURS["external"],
        )
        g.edge("traefik", _node_id("network", traefik_network), dir="none", style="dotted")
        for name, rule, priority in routes:
            label = rule + (f"\\npriority {priority}" if priority else "")
            g.edge("traefik", _node_id("container", name), label=label, color="#2563eb")

    def _backup(self, g: graphviz.Digraph) -> None:
        """The backup container dumps the env's Postgres and stores it in its S3 repository."""
        for container in self.containers:
            if _labels(container).get(SERVICE_LABEL) != "backup":
                continue
            env = dict(item.split("=", 1) for item in container.plain_inputs().get("envs", []))
            name = self.container_name(container)
            repository = env.get("RESTIC_REPOSITORY", "")
            if repository:
                g.node(
                    "backup-repository",
                    f"restic repository (encrypted)\\n{repository}",
                    shape="cylinder",
                    fillcolor=COLOURS["external"],
                )
                g.edge(_node_id("container", name), "backup-repository", label="backup, restore check", color="#16a34a")
            if env.get("PGHOST"):
                g.edge(
                    _node_id("container", name), _node_id("container", env["PGHOST"]), label="pg_dump", color="#16a34a"
                )


def dot_source(run: ProgramRun, image_tag: str) -> str:
    """The picture's DOT source: the same plan gives the same text."""
    return str(DeploymentPicture(run, image_tag).graph().source)


def svg(source: str) -> str:
    """`dot -Tsvg` of the source (graphviz.ExecutableNotFound when Debian's graphviz is not installed)."""
    return str(graphviz.Source(source).pipe(format="svg", encoding="utf-8"))


def write(stack: str, out: str | None = None) -> tuple[Path, Path]:
    """`uv run invoke diagram`: the stack's DOT source and SVG, docs/images/<stack>.{dot,svg} by default."""
    from ops.stack_context import load_stack, resolve_stack, stack_file

    if out is not None and Path(out).suffix != ".svg":
        raise bad_input(f"--out = {out!r} is invalid: expected a path ending in .svg (the picture is SVG)")
    if out is not None and not Path(out).parent.is_dir():
        raise bad_input(f"--out = {out!r} is invalid: expected a path in an existing folder")
    stack = resolve_stack(stack)
    context = load_stack(stack, stack_file(stack, takes_config_file=False))
    source = dot_source(context.plan(), context.config.image_tag)
    svg_path = Path(out) if out else IMAGES / f"{stack}.svg"
    dot_path = svg_path.with_suffix(".dot")
    dot_path.write_text(source)
    svg_path.write_text(svg(source))
    return dot_path, svg_path


def _show(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def draw(stack: str, out: str | None = None) -> int:
    try:
        dot_path, svg_path = write(stack, out)
    except graphviz.ExecutableNotFound:
        raise OperatorError(
            "graphviz's `dot` is not installed: `apt-get install graphviz` (Debian/Ubuntu) or `brew install "
            "graphviz`, then run this again"
        ) from None
    print(f"wrote {_show(svg_path)} (DOT source: {_show(dot_path)})")
    return 0


def main(stack: str, out: str | None = None) -> int:
    """`uv run invoke diagram` as a command: one line and an exit code on any error (ops/command.py)."""
    return run_task("diagram", draw, stack, out)
