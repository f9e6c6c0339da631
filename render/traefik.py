"""Traefik label builders (app-contract "Routing"). Pure: label dicts in, nothing else."""

from __future__ import annotations

from dataclasses import dataclass

from render import naming

API_PRIORITY = 100  # must beat the web router, whose rule matches every path of the same host
WEB_PRIORITY = 10


@dataclass(frozen=True)
class Route:
    env: str
    domain: str
    entrypoint: str
    cert_resolver: str
    network: str


def host_rule(route: Route) -> str:
    return f"Host(`{naming.site_host(route.env, route.domain)}`)"


def _router(route: Route, part: str, rule: str, priority: int, port: int) -> dict[str, str]:
    name = naming.traefik_name(part, route.env)
    router = f"traefik.http.routers.{name}"
    return {
        f"{router}.rule": rule,
        f"{router}.entrypoints": route.entrypoint,
        f"{router}.tls": "true",
        f"{router}.tls.certresolver": route.cert_resolver,
        f"{router}.priority": str(priority),
        f"{router}.service": name,
        # Old and new containers of a rolling replacement register the same service, so Traefik
        # balances across both until the old one is removed.
        f"traefik.http.services.{name}.loadbalancer.server.port": str(port),
    }


def _enabled(route: Route) -> dict[str, str]:
    return {"traefik.enable": "true", "traefik.docker.network": route.network}


def api_labels(route: Route, port: int = 8000) -> dict[str, str]:
    """Backend: `Host(...) && PathPrefix(/api)`, `/api` stripped (backend routes have no prefix)."""
    strip = naming.traefik_name("api-strip", route.env)
    labels = _enabled(route)
    labels.update(_router(route, "api", f"{host_rule(route)} && PathPrefix(`/api`)", API_PRIORITY, port))
    labels[f"traefik.http.routers.{naming.traefik_name('api', route.env)}.middlewares"] = strip
    labels[f"traefik.http.middlewares.{strip}.stripprefix.prefixes"] = "/api"
    return labels


def web_labels(route: Route, port: int = 3000) -> dict[str, str]:
    labels = _enabled(route)
    labels.update(_router(route, "web", host_rule(route), WEB_PRIORITY, port))
    return labels
