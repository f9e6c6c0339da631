"""Pure builders: names, Traefik labels, URLs, Vault artifacts. Property tests (hypothesis) where the
input space is large (any env name, any password); exact examples where operators rely on the text."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import hcl2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.connection import parse_url
from sqlalchemy.engine import make_url

from render import app_env, naming, traefik
from render import vault_artifacts as va

envs = st.from_regex(r"[a-z][a-z0-9]{0,19}", fullmatch=True)
labels_ = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
domains = st.lists(labels_, min_size=1, max_size=3).map(lambda parts: ".".join(parts + ["party"]))
passwords = st.text(min_size=1, max_size=64).filter(lambda s: "\x00" not in s)


# ------------------------------------------------------------------------------------------ naming


def test_operator_names_for_production_and_staging():
    assert naming.container_name("postgres", "production") == "finance_report-postgres"
    assert naming.container_name("postgres", "staging") == "finance_report-postgres-staging"
    assert naming.agent_container_name("app", "staging") == "finance_report-app-vault-agent-staging"
    assert naming.site_host("production", "zitian.party") == "report.zitian.party"
    assert naming.site_host("staging", "zitian.party") == "report-staging.zitian.party"
    assert naming.kv_data_path("secret", "staging", "redis") == "secret/data/finance_report/staging/redis"
    assert naming.vault_policy_name("production", "app") == "finance_report-production-app"


@given(env=envs, other=envs, service=st.sampled_from(["postgres", "redis", "app"]))
def test_names_of_two_envs_never_collide_and_always_carry_the_env(env, other, service):
    if env == other:
        return
    for build in (naming.container_name, naming.agent_container_name, naming.data_volume_name):
        assert build(service, env) != build(service, other)
    assert naming.secrets_volume_prefix(service, env) != naming.secrets_volume_prefix(service, other)
    assert naming.kv_data_path("secret", env, service).split("/")[3] == env
    assert naming.vault_policy_name(env, service) != naming.vault_policy_name(other, service)
    assert naming.internal_network_prefix(env) != naming.internal_network_prefix(other)
    assert naming.vault_network_prefix(env) != naming.vault_network_prefix(other)


@given(memory=st.integers(64, 4096), other=st.integers(64, 4096))
def test_a_revision_name_stops_matching_when_any_argument_changes(memory, other):
    from facts.revision import is_revision_named, revision_name

    props = {"image": "sha256:" + "a" * 64, "memory": memory}
    named_props = {**props, "name": revision_name("finance_report-backend", props)}
    assert is_revision_named(named_props)
    assert is_revision_named({**named_props, "memory": other}) == (memory == other)
    assert not is_revision_named({**props, "name": "finance_report-backend"})


# ------------------------------------------------------------------------------------------ Traefik


@given(env=envs, domain=domains)
def test_api_and_web_routers_share_the_host_and_the_api_router_wins(env, domain):
    route = traefik.Route(env, domain, "websecure", "letsencrypt", "dokploy-network")
    api, web = traefik.api_labels(route), traefik.web_labels(route)
    host = f"Host(`{naming.site_host(env, domain)}`)"
    api_router = f"traefik.http.routers.{naming.traefik_name('api', env)}"
    web_router = f"traefik.http.routers.{naming.traefik_name('web', env)}"
    assert api[f"{api_router}.rule"] == f"{host} && PathPrefix(`/api`)"
    assert web[f"{web_router}.rule"] == host
    assert int(api[f"{api_router}.priority"]) > int(web[f"{web_router}.priority"])
    for labels, router in ((api, api_router), (web, web_router)):
        assert labels["traefik.enable"] == "true" and labels["traefik.docker.network"] == "dokploy-network"
        assert labels[f"{router}.entrypoints"] == "websecure" and labels[f"{router}.tls.certresolver"] == "letsencrypt"
    strip = naming.traefik_name("api-strip", env)
    assert api[f"{api_router}.middlewares"] == strip
    assert api[f"traefik.http.middlewares.{strip}.stripprefix.prefixes"] == "/api"


# ------------------------------------------------------------------------------------------ URLs


@settings(max_examples=300)
@given(password=passwords, env=envs)
def test_database_url_round_trips_any_password_through_sqlalchemy(password, env):
    url = app_env.database_url(password, env)
    parsed = make_url(url)
    assert parsed.drivername == "postgresql+asyncpg"
    assert parsed.password == password
    assert parsed.username == "finance_report_app" and parsed.database == "finance_report" and parsed.port == 5432
    assert parsed.host == naming.container_name("postgres", env)


@settings(max_examples=300)
@given(password=passwords, env=envs)
def test_redis_url_round_trips_any_password(password, env):
    url = app_env.redis_url(password, env)
    parts = parse_url(url)
    assert parts["password"] == password and parts["db"] == 0 and parts["port"] == 6379
    assert parts["host"] == naming.container_name("redis", env)
    assert urlsplit(url).hostname == naming.container_name("redis", env).lower()


def test_otel_attributes_name_the_environment():
    literals = app_env.backend_literals(
        env="staging",
        domain="zitian.party",
        s3_endpoint="https://s3",
        s3_bucket="b",
        s3_public_endpoint="https://s3",
        s3_public_bucket="b",
        ai_provider="zai",
        otel_endpoint="https://otel",
        otel_service_name="svc",
        git_commit_sha="abc1234",
        version="v1.4.2",
    )
    assert "service.version=v1.4.2" in literals["OTEL_RESOURCE_ATTRIBUTES"].split(",")
    assert "deployment.environment=staging" in literals["OTEL_RESOURCE_ATTRIBUTES"].split(",")
    assert literals["NEXT_PUBLIC_APP_URL"] == "https://report-staging.zitian.party" == literals["CORS_ORIGINS"]
    assert literals["ENVIRONMENT"] == "staging"


# ------------------------------------------------------------------------------------------ Vault artifacts


def test_policy_hcl_grants_read_on_its_own_path_and_lookup_self_only():
    parsed = hcl2.loads(va.policy_hcl("secret", "staging", "redis"))
    paths = {k: v for block in parsed["path"] for k, v in block.items()}
    assert {k.strip('"'): v["capabilities"] for k, v in paths.items()} == {
        "secret/data/finance_report/staging/redis": ["read"],
        "auth/token/lookup-self": ["read"],
    }


def test_agent_hcl_parses_and_has_exit_on_error_and_the_templates():
    templates = [va.password_template("secret", "production", "postgres", "POSTGRES_PASSWORD")]
    parsed = hcl2.loads(va.agent_hcl("https://vault.zitian.party", "approle", "postgres", templates))
    assert parsed["vault"][0]["address"] == "https://vault.zitian.party"
    method = parsed["auto_auth"][0]["method"][0]
    approle = method['"approle"'] if '"approle"' in method else method["approle"]
    assert approle["exit_on_err"] is True and approle["mount_path"] == "auth/approle"
    assert approle["config"]["remove_secret_id_file_after_reading"] is False
    assert parsed["template_config"][0]["exit_on_retry_failure"] is True
    assert [t["destination"] for t in parsed["template"]] == ["/run/secrets/postgres/password"]
    assert parsed["template"][0]["error_on_missing_key"] is True and parsed["template"][0]["perms"] == "0440"


def test_hcl_strings_escape_interpolation():
    assert va._hcl_string('a${b}%{c}"') == '"a$${b}%%{c}\\""'


def test_agent_healthcheck_checks_every_rendered_file_for_unresolved_values():
    templates = [
        va.password_template("secret", "staging", "redis", "PASSWORD"),
        va.redis_conf_template("secret", "staging"),
    ]
    assert va.agent_healthcheck("redis", templates) == [
        "CMD-SHELL",
        "test -s /run/secrets/redis/password && test -s /run/secrets/redis/redis.conf && ! grep -qs '<no "
        "value>' /run/secrets/redis/password /run/secrets/redis/redis.conf",
    ]


def test_env_file_template_reads_only_its_own_path_and_quotes_every_value():
    template = va.env_file_template("secret", "staging", "app", ["SECRET_KEY"], {"ENVIRONMENT": "staging", "X": "it's"})
    assert template.contents == (
        '{{ with secret "secret/data/finance_report/staging/app" }}\n'
        "ENVIRONMENT='staging'\n"
        "X='it'\\''s'\n"
        "SECRET_KEY='{{ .Data.data.SECRET_KEY | replaceAll \"'\" \"'\\\\''\" }}'\n"
        "{{ end }}"
    )
    with pytest.raises(ValueError):
        va.env_file_template("secret", "staging", "app", [], {"X": "{{ evil }}"})


@given(
    data=st.dictionaries(st.sampled_from(["A", "B", "C"]), st.text(max_size=20), min_size=1),
    key=st.binary(min_size=32, max_size=32),
)
def test_restart_digest_is_a_function_of_templates_and_values_only(data, key):
    t = [va.Template("f", "x")]
    assert va.restart_digest(key, t, data) == va.restart_digest(key, t, dict(reversed(list(data.items()))))
    changed = {**data, "A": data.get("A", "") + "!"}
    assert va.restart_digest(key, t, changed) != va.restart_digest(key, t, data)
    assert va.restart_digest(key, [va.Template("f", "y")], data) != va.restart_digest(key, t, data)
    for value in data.values():
        if len(value) >= 4:
            assert value not in va.restart_digest(key, t, data)


def test_tmpfs_options_bound_size_and_mode():
    assert va.tmpfs_driver_opts(70) == {"type": "tmpfs", "device": "tmpfs", "o": "size=1m,mode=0750,uid=0,gid=70"}


def test_approle_settings_are_scoped_and_bounded():
    s = va.approle_settings("staging", "app")
    assert s.role_name == "finance_report-staging-app"
    assert s.token_no_default_policy and 0 < s.token_ttl <= s.token_max_ttl <= 24 * 3600
    assert json.loads(json.dumps(vars(s)))  # plain data, usable by the integration tests
