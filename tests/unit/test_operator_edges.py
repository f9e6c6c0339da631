"""The edges issue 17 found in the operator commands, each shown failing first: a refused Vault token read
as "not mounted", Python errnos in status and Docker errors, one short flag meaning two things, a pull
request number with a leading zero taken as another, a backup that asks before it knows the host has a
backup service, mock image ids that look like real digests, an advisory that contradicts the docs, and a
doctor that says nothing of unset required values."""

from __future__ import annotations

import copy
import io
import os
import re
import socket

import pytest

from ops.program_run import unwrap_secrets
from tests.conftest import ROOT
from tests.unit.fake_docker import Engine, backup_row, fake_docker

CONTAINER = "docker:index/container:Container"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------------------ doctor


def vault_findings(staging, answers):
    from ops.doctor import Doctor
    from ops.stack_context import load_stack

    def http(method, url, headers):
        for suffix, answer in answers.items():
            if url.endswith(suffix):
                return answer
        raise AssertionError(url)

    cfg = load_stack("staging").config
    return Doctor(cfg, staging, api=None, vault_address=cfg.vault_address, vault_token="t-generated", http=http).vault()


def test_doctor_tells_a_refused_token_from_a_mount_that_is_not_there(staging):
    refused = vault_findings(
        staging,
        {
            "/v1/sys/health": (200, b"{}"),
            "/mounts/secret": (403, b'{"errors":["permission denied"]}'),
            "/mounts/auth/approle": (403, b'{"errors":["permission denied"]}'),
            "/capabilities-self": (403, b""),
        },
    )
    kv = next(f for f in refused if f.check == "vault KV v2 mount")
    assert not kv.ok and kv.detail == "token refused (403): VAULT_TOKEN may not read the mount secret", kv.line()
    assert "not mounted" not in kv.line()
    absent = vault_findings(
        staging,
        {
            "/v1/sys/health": (200, b"{}"),
            "/mounts/secret": (400, b'{"errors":["no mount"]}'),
            "/mounts/auth/approle": (200, b'{"data":{"type":"approle"}}'),
            "/capabilities-self": (200, b"{}"),
        },
    )
    kv = next(f for f in absent if f.check == "vault KV v2 mount")
    assert not kv.ok and kv.detail == "secret is not mounted", kv.line()


def test_doctor_names_the_required_values_the_stack_file_leaves_unset(monkeypatch):
    from ops import doctor

    monkeypatch.setattr(doctor.Doctor, "all", lambda self: [])
    out = io.StringIO()
    assert doctor.check("staging", docker_host="unix:///nonexistent.sock", out=out) == 1
    assert out.getvalue().splitlines() == [
        "FAIL  stack config: not set (placeholders used): s3AccessKey, s3SecretKey; fix: `pulumi config set --secret "
        "--stack staging s3AccessKey`; `pulumi config set --secret --stack staging s3SecretKey`",
        "doctor: 0 ok, 1 failed",
    ]


# ------------------------------------------------------------------------------------------ no errno in any message

ERRNO = re.compile(r"Errno|Error:|Exception|Traceback|\[Errno")


def test_status_words_an_unreachable_health_url_without_an_errno():
    from ops.status import http_status

    answer = http_status(f"http://127.0.0.1:{closed_port()}/api/health")
    assert answer == "unreachable (the connection was refused (nothing listens on that address and port))"


def test_the_rollout_gate_words_an_unreachable_url_without_an_errno():
    from runtime.rollout_gate import http_ok

    ok, status = http_ok(f"http://127.0.0.1:{closed_port()}/", timeout=5)
    assert (ok, status) == (
        False,
        "unreachable (the connection was refused (nothing listens on that address and port))",
    )


def test_a_docker_host_that_hangs_up_is_worded_without_an_errno_or_class(tmp_path, monkeypatch):
    """ssh that exits without a word (no stderr line to quote): the pipe error was printed as
    `[Errno 32] Broken pipe` or as its class name."""
    from clients.docker_api import DockerAPI, DockerError

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ssh").write_text("#!/bin/sh\nexit 255\n")
    (bin_dir / "ssh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    for call in (lambda api: api.request("GET", "/version"), lambda api: list(api.stream("/containers/x/logs"))):
        with pytest.raises(DockerError) as err:
            call(DockerAPI("ssh://deploy@docker.invalid"))
        assert not ERRNO.search(str(err.value)) and "Pipe" not in str(err.value), str(err.value)
        assert str(err.value).startswith("cannot reach the Docker engine at ssh://deploy@docker.invalid: ")
    with pytest.raises(DockerError) as err:
        DockerAPI(f"unix://{tmp_path}/no.sock").request("GET", "/version")
    assert str(err.value) == f"cannot reach the Docker engine at unix://{tmp_path}/no.sock: no such socket"


# ------------------------------------------------------------------------------------------ flags


def test_a_short_flag_means_the_same_long_flag_in_every_task():
    """`-t` was --http in status and --tail in logs."""
    from invoke import Collection

    import tasks

    meaning: dict[str, set[str]] = {}
    for task in Collection.from_module(tasks).tasks.values():
        for argument in copy.deepcopy(task).get_arguments():
            for short in [n for n in argument.names if len(n) == 1]:
                meaning.setdefault(short, set()).add(argument.name)
    assert {k: v for k, v in meaning.items() if len(v) > 1} == {}
    assert "t" not in meaning or meaning["t"] != {"http"}


def test_a_pull_request_number_with_a_leading_zero_is_refused(tmp_path, capsys):
    """`--pr 042` was silently pr42: another pull request's env."""
    from ops import preview_env

    assert preview_env.main("042", out_dir=str(tmp_path)) == 2
    assert capsys.readouterr().err == (
        "preview-env: --pr = '042' is invalid: expected a pull-request number such as 42 (digits, no leading zero)\n"
    )
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------ backup: host first


def test_backup_finds_the_backup_container_before_it_asks(tmp_path, staging, capsys):
    """An env without a running backup service used to ask first, then fail: the question promised a
    backup the host could not take."""
    from ops import backup_ops

    asked = []
    with fake_docker(tmp_path / "d.sock", Engine(containers=[])) as host:
        code = backup_ops.main("backup", "staging", docker_host=host, read=lambda q: asked.append(q) or "y")
    assert code == 1 and asked == []
    assert capsys.readouterr().err == (
        "backup: expected one running backup container of env staging, found 0 (see `uv run invoke status --stack "
        "staging`)\n"
    )
    engine = Engine(containers=[backup_row(staging)])
    with fake_docker(tmp_path / "e.sock", engine) as host:
        code = backup_ops.main("backup", "staging", docker_host=host, read=lambda q: asked.append(q) or "n")
    assert code == 1 and asked == ["Back up env staging now? [y/N] "] and engine.commands == []


# ------------------------------------------------------------------------------------------ the plan's mock ids


def test_the_plan_marks_the_image_ids_it_invents_as_mocks(staging):
    """The mocks answered RemoteImage.imageId with a real-looking sha256: the plan printed `image=sha256:…`
    as if it had resolved the image."""
    images = {unwrap_secrets(c.inputs)["image"] for c in staging.by_type(CONTAINER)}
    assert images and all(i.startswith("sha256:mock") for i in images), sorted(images)[:3]


# ------------------------------------------------------------------------------------------ advisory and the docs


def test_the_secret_id_advisory_gives_the_fixes_the_docs_give(staging):
    """The advisory on secret-ids names real config keys, each documented where the docs explain secret-id
    lifetime and binding; it once named `secret_id_ttl`, which no stack file can set."""
    from ci.offline_plan import evaluate
    from config.schema import FIELDS_BY_KEY
    from policies.registry import POLICIES
    from tests.conftest import stack_policy_config

    docs = (ROOT / "docs/rotation.md").read_text() + (ROOT / "docs/secrets.md").read_text()
    messages = {
        v.message for v in evaluate(staging, stack_policy_config("staging"), POLICIES) if "secret-ids" in v.message
    }
    assert messages
    for message in messages:
        assert "secret_id_ttl" not in message, "not a config key"
        keys = set(re.findall(r"\b(vaultAgentCidrs|secretIdTtlDays)\b", message))
        assert keys, message
        for key in keys:
            assert key in FIELDS_BY_KEY and f"`{key}`" in docs, key


def test_fake_docker_serves_what_the_commands_read(tmp_path):
    """The fake engine answers the container list the way the real API does (a check on the fixture)."""
    from clients.docker_api import DockerAPI

    with fake_docker(tmp_path / "f.sock", Engine(containers=[{"Id": "x", "Names": ["/x"]}])) as host:
        assert DockerAPI(host).containers(["a=b"]) == [{"Id": "x", "Names": ["/x"]}]
        assert DockerAPI(host).request("GET", "/nope").status == 404
