"""The backend's environment (app-contract "Environment the backend must receive"). Pure builders.

Secret values (and the URLs that embed passwords) are written to the app's KV secret and rendered by its
vault-agent; everything else is a literal in the same env-file template, so one file carries the whole
injected environment and a change to either restarts the backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from render import naming

POSTGRES_DB = "finance_report"
POSTGRES_USER = "postgres"  # the image's superuser: Postgres's own start script only, never the app or the backup
# The app's role: owns the app's database and everything in it (so its migrations run), no superuser (so an
# SQL injection is not a shell in the Postgres container: `COPY ... TO PROGRAM`). render/postgres.py makes it.
APP_DB_USER = "finance_report_app"
POSTGRES_PORT = 5432
REDIS_PORT = 6379

# Keys of the app's KV secret; each is rendered into the backend env file. Optional ones hold "" when off.
APP_SECRET_KEYS = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "S3_ACCESS_KEY",
    "S3_SECRET_KEY",
    "S3_PUBLIC_ACCESS_KEY",
    "S3_PUBLIC_SECRET_KEY",
    "ZAI_API_KEY",
    "LLM_ENCRYPTION_KEYS",
)


def database_url(password: str, env: str) -> str:
    """`postgresql+asyncpg://finance_report_app:<pw>@finance_report-postgres<suffix>:5432/finance_report`
    (the app's own role, APP_DB_USER), with the password percent-encoded so reserved characters cannot
    change the URL's structure."""
    host = naming.container_name("postgres", env)
    return f"postgresql+asyncpg://{APP_DB_USER}:{quote(password, safe='')}@{host}:{POSTGRES_PORT}/{POSTGRES_DB}"


def redis_url(password: str, env: str) -> str:
    return f"redis://:{quote(password, safe='')}@{naming.container_name('redis', env)}:{REDIS_PORT}/0"


def site_url(env: str, domain: str) -> str:
    return f"https://{naming.site_host(env, domain)}"


def backend_literals(
    *,
    env: str,
    domain: str,
    s3_endpoint: str,
    s3_bucket: str,
    s3_public_endpoint: str,
    s3_public_bucket: str,
    ai_provider: str,
    otel_endpoint: str,
    otel_service_name: str,
    git_commit_sha: str,
    version: str,
    prefect_api_url: str = "",
) -> Mapping[str, str]:
    """Non-secret variables of the backend env file."""
    url = site_url(env, domain)
    literals = {
        "ENVIRONMENT": env,
        "S3_ENDPOINT": s3_endpoint,
        "S3_BUCKET": s3_bucket,
        "S3_PUBLIC_ENDPOINT": s3_public_endpoint,
        "S3_PUBLIC_BUCKET": s3_public_bucket,
        "NEXT_PUBLIC_APP_URL": url,
        "CORS_ORIGINS": url,
        "AI_PROVIDER": ai_provider,
        "OTEL_EXPORTER_OTLP_ENDPOINT": otel_endpoint,
        "OTEL_SERVICE_NAME": otel_service_name,
        # The app refuses to boot with an OTEL endpoint unless this names its environment.
        "OTEL_RESOURCE_ATTRIBUTES": f"deployment.environment={env},service.version={version}",
        "GIT_COMMIT_SHA": git_commit_sha,
    }
    if prefect_api_url:
        literals["PREFECT_API_URL"] = prefect_api_url
    return literals
