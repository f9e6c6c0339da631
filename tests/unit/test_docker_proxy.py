"""The read-only Docker API proxy for previews: its allow-list is facts.providers.READ_CALLS turned into
anchored regexes (and nothing else), and the program declares it, when a stack opts in, as a hardened
container with no network. The same config runs on a real engine in tests/integration/test_preview_proxy.py."""

from __future__ import annotations

import re

import pytest

from config.errors import ConfigError
from facts.providers import READ_CALLS
from program import docker_proxy as dp
from tests.conftest import ROOT, run_stack

CONTAINER = "docker:index/container:Container"
PROXY = "preview-docker-proxy-container"


def sample_path(template: str) -> str:
    """A concrete path the provider sends for a template (an image reference with a registry and tag)."""
    return template.replace(
        "{name}",
        "ghcr.io/wangzitian0/finance_report-backend:v1.4.2"
        if template.startswith("/images/")
        else "finance_report-postgres",
    ).replace("{id}", "finance_report-postgres")


def allowed(method: str, path: str) -> bool:
    """Evaluate the generated rules as HAProxy does: the first matching allow wins, else deny."""
    for line in dp.allow_rules():
        m = re.match(r"    http-request allow if \{ method (\w+) \} \{ path -m reg '(.+)' \}$", line)
        assert m, line
        if m.group(1) == method and re.search(m.group(2), path):
            return True
    return False


@pytest.mark.parametrize(("method", "template"), READ_CALLS)
def test_every_read_call_of_the_provider_is_allowed_with_and_without_an_api_version(method, template):
    path = sample_path(template)
    assert allowed(method, path) and allowed(method, "/v1.41" + path) and allowed(method, "/v1.47" + path)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/containers/create"),
        ("POST", "/v1.41/containers/finance_report-postgres/start"),
        ("DELETE", "/containers/finance_report-postgres"),
        ("POST", "/containers/finance_report-postgres/exec"),
        ("PUT", "/containers/finance_report-postgres/archive"),
        ("GET", "/containers/finance_report-postgres/archive"),  # reads files (rendered secrets) out of a container
        ("HEAD", "/containers/finance_report-postgres/archive"),
        ("GET", "/containers/finance_report-postgres/export"),
        ("GET", "/containers/finance_report-postgres/logs"),
        ("GET", "/images/finance_report-backend/get"),  # exports an image
        ("POST", "/images/create"),
        ("POST", "/build"),
        ("POST", "/volumes/create"),
        ("DELETE", "/networks/finance_report-internal"),
        ("GET", "/containers/../images/json/x"),
        ("GET", "/containers/%2e%2e/json"),
        ("GET", "/images/a/../../containers/x/export/json"),
        ("GET", "/v1x41/info"),
        ("GET", "/info/"),
        ("GET", "/secrets"),
        ("POST", "/_ping"),
    ],
)
def test_writes_file_reads_and_path_tricks_are_not_allowed(method, path):
    assert not allowed(method, path)


def test_only_reads_can_become_allow_rules():
    with pytest.raises(ValueError, match="reads only, not POST /containers/create"):
        dp.allow_rules([("POST", "/containers/create")])


def test_the_config_allows_each_read_call_once_then_denies_everything_else_with_403():
    config = dp.haproxy_config()
    rules = [line.strip() for line in config.splitlines() if line.strip().startswith("http-request")]
    assert len(rules) == len(READ_CALLS) + 1
    assert rules[-1] == "http-request deny deny_status 403"
    assert f"bind unix@{dp.LISTEN_SOCKET} mode 660" in config
    assert f"server engine {dp.ENGINE_SOCKET}" in config


def test_stack_files_do_not_run_the_proxy_until_a_stack_opts_in(production, staging):
    for run in (production, staging):
        assert not [c for c in run.by_type(CONTAINER) if c.name == PROXY]
        assert "preview_docker_proxy" not in run.outputs


@pytest.fixture(scope="module")
def with_proxy():
    run = run_stack("staging", {"previewDockerProxy": "true", "previewDockerProxyGid": "24001"})
    assert run.error is None, run.error
    return run


def test_the_proxy_is_hardened_like_every_container_and_has_no_network(with_proxy):
    c = with_proxy.one(CONTAINER, PROXY)
    i = c.plain_inputs()
    assert i["name"] == "finance_report-docker-proxy-staging", c.urn
    assert i["networkMode"] == "none" and not i.get("networksAdvanced") and not i.get("ports"), c.urn
    assert i["restart"] == "unless-stopped" and i["memory"] == dp.MEMORY_MB == i["memorySwap"], c.urn
    assert i["logDriver"] == "json-file" and i["logOpts"] == {"max-size": "10m", "max-file": "3"}, c.urn
    assert i["securityOpts"] == ["no-new-privileges:true"] and i["privileged"] is False, c.urn
    assert i["capabilities"] == {"drops": ["ALL"], "adds": []}, c.urn
    assert i["user"] == "0:24001", c.urn
    assert i["healthcheck"]["tests"] == dp.proxy_healthcheck() and i["wait"] is True, c.urn
    assert i["command"] == dp.COMMAND, c.urn
    assert {item["label"]: item["value"] for item in i["labels"]} == {
        "finance-report.env": "staging",
        "finance-report.service": "docker-proxy",
        "traefik.enable": "false",
    }, c.urn
    assert i["volumes"] == [
        {"hostPath": "/var/run/docker.sock", "containerPath": dp.ENGINE_SOCKET},
        {"hostPath": "/run/finance_report-docker-proxy-staging", "containerPath": dp.LISTEN_DIR},
    ], c.urn
    assert i["uploads"] == [{"file": dp.CONFIG_PATH, "content": dp.haproxy_config()}], c.urn
    assert c.options["deleteBeforeReplace"] is True, c.urn


def test_the_proxy_image_is_pinned_and_the_socket_is_an_output(with_proxy):
    image = with_proxy.one("docker:index/remoteImage:RemoteImage", "preview-docker-proxy-image")
    assert image.inputs["name"] == "haproxy:3.2.21-alpine"
    assert with_proxy.outputs["preview_docker_proxy"] == {
        "container": "finance_report-docker-proxy-staging",
        "socket": "/run/finance_report-docker-proxy-staging/docker.sock",
    }


def test_production_and_staging_proxies_have_their_own_names_and_sockets():
    assert dp.host_socket_path("production") == "/run/finance_report-docker-proxy/docker.sock"
    assert dp.host_socket_path("staging") == "/run/finance_report-docker-proxy-staging/docker.sock"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"previewDockerProxyGid": "0"},
            'config finance-report:previewDockerProxyGid = "0" is invalid: expected an integer from 1000 to 65533',
        ),
        (
            {"previewDockerProxyGid": "docker"},
            'config finance-report:previewDockerProxyGid = "docker" is invalid: expected an integer from 1000 to 65533',
        ),
        (
            {"previewDockerProxyImage": "haproxy:latest"},
            'config finance-report:previewDockerProxyImage = "haproxy:latest" is invalid: expected a pinned '
            "image: a release tag or a sha256 digest, never `latest` or no tag",
        ),
        (
            {"previewDockerProxy": "yes"},
            'config finance-report:previewDockerProxy = "yes" is invalid: expected true or false',
        ),
    ],
)
def test_bad_proxy_settings_stop_the_program_with_one_line_before_any_resource(overrides, message):
    run = run_stack("staging", overrides)
    assert isinstance(run.error, ConfigError) and str(run.error) == message
    assert [r for r in run.resources if r.custom] == []


def test_the_preview_key_line_forces_a_pipe_into_the_proxy_socket_and_restricts_everything_else():
    line = dp.authorized_keys_line(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9 ci-preview-staging\n", dp.host_socket_path("staging")
    )
    assert (
        line == 'restrict,command="exec socat - UNIX-CONNECT:/run/finance_report-docker-proxy-staging/docker.sock" '
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9 ci-preview-staging"
    )


@pytest.mark.parametrize(
    ("key", "socket_path", "message"),
    [
        ('command="sh" ssh-ed25519 AAAA', "/run/x/docker.sock", "expected one OpenSSH public key line"),
        ("ssh-ed25519 AAAA\nssh-ed25519 BBBB", "/run/x/docker.sock", "expected one OpenSSH public key line"),
        ("ssh-ed25519 AAAA", '/run/x" sh', "must be an absolute path"),
    ],
)
def test_a_key_or_path_that_could_change_the_forced_command_is_refused(key, socket_path, message):
    with pytest.raises(ValueError, match=message):
        dp.authorized_keys_line(key, socket_path)


def test_the_ci_credentials_page_gives_each_stack_its_forced_command_line():
    page = (ROOT / "docs/ci-credentials.md").read_text()
    for env in ("staging", "production"):
        line = dp.authorized_keys_line(
            f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPreviewKeyOf{env.capitalize()}Goes0Here ci-preview-{env}",
            dp.host_socket_path(env),
        )
        assert f"\n{line}\n" in page, f"docs/ci-credentials.md's authorized_keys line of {env} is stale"
