"""One datastore (Postgres or Redis) and its vault-agent on the harness, as the program declares them, and
the app agent's rendered URLs: what the rotation tests need (the pattern of test_adopt_rotation's
Deployment, for both datastores). Every setting comes from the program's captured inputs; only the
names are the harness's own."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from ops.program_run import unwrap_secrets
from tests.integration import provider
from tests.integration.sidecar import Artifacts, consumer, start_agent

CONTAINER = "docker:index/container:Container"
URL_KEY = {"postgres": "DATABASE_URL", "redis": "REDIS_URL"}


class DatastoreDeployment:
    def __init__(self, docker, agent_image: str, image: str, openbao, artifacts: Artifacts, service: str, tag: str):
        self.docker, self.api, self.agent_image, self.image, self.openbao = (
            docker,
            docker.api(),
            agent_image,
            image,
            openbao,
        )
        self.artifacts, self.service, self.tag = artifacts, service, tag
        self.network = docker.track("network", f"frh-{tag}-internal")
        docker.run("network", "create", "--internal", self.network)
        self.data = docker.track("volume", f"frh-{tag}-data")
        docker.run("volume", "create", self.data)
        self.volume: str | None = None
        self.container: str | None = None
        self.agent: str | None = None
        self.last_error = ""

    @property
    def inputs(self) -> dict:
        return unwrap_secrets(self.artifacts.run.one(CONTAINER, f"{self.service}-container").inputs)

    @property
    def alias(self) -> str:
        return self.inputs["networksAdvanced"][0]["aliases"][0]

    def replace_agent(self) -> None:
        """The agent recreated delete-first (its fixed name), on the same secrets volume: the server keeps
        the volume mounted, so its rendered files stay while the agent is away."""
        if self.agent:
            self.docker.run("rm", "-f", self.agent)
        self.agent, self.volume, _ = start_agent(
            self.docker,
            self.agent_image,
            self.openbao,
            self.artifacts,
            self.service,
            f"{self.tag}-{len(self.docker.created)}",
            volume=self.volume,
        )

    def up(self, replace: bool = False) -> None:
        """Create the agent and the server; with replace, delete both first, as the program declares them
        (delete-before-replace: the agent, then the server, stopped with its destroy grace)."""
        inputs = self.inputs
        if replace:
            self.docker.run("rm", "-f", self.agent)
            provider.stop_for_delete(self.api, self.container, inputs)
            self.docker.run("rm", "-f", self.container)
            self.agent = None
        self.replace_agent()
        created = dict(inputs)
        created["mounts"] = [
            {**m, "source": self.volume if m["target"].startswith("/run/secrets") else self.data}
            for m in inputs["mounts"]
        ]
        network = inputs["networksAdvanced"][0]["name"]
        self.container = provider.create(
            self.api,
            created,
            self.image,
            name=self.docker.track("container", f"frh-{self.tag}-{self.service}-{len(self.docker.created)}"),
            networks={network: self.network},
        )
        self.docker.wait_healthy(self.container, 180, self.service)

    def connects(self, password: str, host: str | None = None, port: int | None = None, user: str = "postgres") -> bool:
        """A client on the internal network, as the app connects; the password only in the client's env."""
        host = host or self.alias
        if self.service == "postgres":
            argv = [
                "--entrypoint",
                "psql",
                self.image,
                "-h",
                host,
                "-p",
                str(port or 5432),
                "-U",
                user,
                "-d",
                "finance_report",
                "-tAc",
                "SELECT 1",
            ]
            env, expected = {"PGPASSWORD": password}, b"1"
        else:
            argv = ["--entrypoint", "redis-cli", self.image, "-h", host, "-p", str(port or 6379), "ping"]
            env, expected = {"REDISCLI_AUTH": password}, b"PONG"
        name = next(iter(env))
        proc = self.docker.run("run", "--rm", "--network", self.network, "-e", name, *argv, check=False, env=env)
        self.last_error = (proc.stderr + proc.stdout).decode(errors="replace").strip()[-300:]
        return proc.returncode == 0 and proc.stdout.strip() == expected

    def run_tool(
        self, tool: str, user: str, password: str, *args: str, db: str = "finance_report"
    ) -> tuple[int, str, str]:
        """A Postgres client program (psql, pg_dump) in a container on the internal network, connecting as
        `user` over TCP as the app and the backup service do; the password only in the client's env."""
        proc = self.docker.run(
            "run", "--rm", "--network", self.network, "-e", "PGPASSWORD", "--entrypoint", tool, self.image,
            "-h", self.alias, "-U", user, "-d", db, *args,
            check=False, env={"PGPASSWORD": password}, timeout=300,
        )  # fmt: skip
        return proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")

    def psql(self, user: str, password: str, sql: str, db: str = "finance_report") -> tuple[int, str, str]:
        return self.run_tool("psql", user, password, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA", "-c", sql, db=db)

    def logs(self) -> str:
        proc = self.docker.run("logs", self.container, check=False)
        return (proc.stdout + proc.stderr).decode(errors="replace")

    def url_connects(self, url: str) -> bool:
        """The URL the backend reads, taken apart as its client does (percent-decoded password)."""
        parts = urlsplit(url)
        return self.connects(unquote(parts.password or ""), parts.hostname, parts.port, unquote(parts.username or ""))

    def rendered_url(self) -> str:
        """DATABASE_URL or REDIS_URL as the app's agent renders it into the backend's env file."""
        agent, volume, _ = start_agent(
            self.docker,
            self.agent_image,
            self.openbao,
            self.artifacts,
            "app",
            f"{self.tag}-app-{len(self.docker.created)}",
        )
        try:
            return consumer(
                self.docker,
                self.agent_image,
                volume,
                "app",
                f'set -a; . /run/secrets/app/app.env; printf %s "${URL_KEY[self.service]}"',
            )
        finally:
            self.docker.run("rm", "-f", agent)
            self.docker.run("volume", "rm", "-f", volume, check=False)
