"""`invoke doctor` on the real harness: each check passes where the host is as the program needs it and
fails, with its fix, where it is not: Docker engine reachable, daemon log options, the Traefik network,
images present or pullable, the agent binary's file capabilities, adopted data directory owners, Vault
mounts and the deploy token's capabilities (the S3 check has its own test with the harness's S3 server).
The stack, its images and its paths come from the program (committed staging stack file)."""

from __future__ import annotations

import io
import os
import secrets
import shutil
import struct
import tarfile
import tempfile
from pathlib import Path

import pytest

from clients.docker_api import DockerAPI
from config.stack_config import load_config
from ops.doctor import Doctor
from ops.program_run import run_program
from render.vault_artifacts import deploy_policy_hcl, preview_policy_hcl
from tests.conftest import stack_config
from tests.integration import images
from tests.integration.harness import ENGINE, Docker

pytestmark = pytest.mark.integration


def services() -> list[str]:
    """Every service with a Vault side, as the program declares them."""
    from tests.conftest import run_stack

    return sorted(run_stack("staging").outputs["vault_roles"])


def doctor(docker, openbao, overrides=None, token=None, api=None) -> Doctor:
    raw, keys = stack_config("staging", {"vaultAddress": openbao.address, **(overrides or {})})
    p = "finance-report:"
    cfg = load_config(
        {k[len(p) :]: v for k, v in raw.items() if k.startswith(p)}, "staging", frozenset(k[len(p) :] for k in keys)
    )
    run = run_program("staging", raw, keys)
    assert run.error is None, run.error
    return Doctor(cfg, run, api or docker.api(), openbao.address, token, pull=True)


@pytest.fixture(scope="module")
def host(docker_engine, agent_image, postgres_image, redis_image, app_image):
    """The harness engine with the program's images present (stand-ins under the program's names) and
    Dokploy's Traefik network."""
    d = doctor(docker_engine, type("B", (), {"address": "http://127.0.0.1:1"})())
    for ref in d.images():
        standin = (
            postgres_image
            if ref.startswith("postgres:")
            else redis_image
            if ref.startswith("redis:")
            else agent_image
            if "vault" in ref
            else app_image
        )
        docker_engine.run("tag", standin, ref)
    network = "dokploy-network"
    docker_engine.run("network", "create", network, check=False)
    yield docker_engine
    docker_engine.run("network", "rm", network, check=False)


def by_check(findings, prefix):
    return [f for f in findings if f.check.startswith(prefix)]


def test_the_engine_checks_pass_on_a_host_as_the_program_needs_it(host, openbao):
    d = doctor(host, openbao)
    assert d.docker_version().ok
    assert d.traefik_network().ok
    assert all(f.ok for f in d.present_or_pull()), [f.line() for f in d.present_or_pull()]
    assert d.log_options(str(d.cfg.vault_agent_image)).ok
    assert d.agent_file_capabilities().ok
    assert d.swap_accounting().ok, "this machine's kernel limits swap"


def test_an_unreachable_engine_a_missing_network_and_an_unpullable_image_fail_with_their_fix(host, openbao):
    gone = doctor(host, openbao, api=DockerAPI("unix:///nonexistent/docker.sock")).all()
    assert gone[0].check == "docker host" and not gone[0].ok and "cannot reach the Docker engine" in gone[0].detail
    d = doctor(host, openbao, {"traefikNetwork": "traefik-public"})
    finding = d.traefik_network()
    assert not finding.ok and finding.detail == "network traefik-public does not exist"
    d = doctor(host, openbao, {"redisImage": "registry.invalid/redis:7.4.6-alpine"})
    (image,) = [f for f in d.present_or_pull() if "registry.invalid" in f.check]
    assert not image.ok and image.detail.startswith("cannot be pulled") and image.fix


def test_daemon_log_options_that_would_replace_every_container_are_found(agent_image, openbao, tmp_path):
    """A second engine configured like a host whose daemon.json sets a default log option."""
    # --iptables=false: its containers are only created and read back, and a second engine rewriting the
    # shared iptables chains would race the first one's
    other = Docker(
        paths=ENGINE.sibling("doctorlog"), daemon_args=("--log-opt", "mode=non-blocking", "--iptables=false")
    )
    try:
        other.start()
        other.run("load", input=_saved(agent_image), timeout=300)
        d = doctor(other, openbao)
        finding = d.log_options(agent_image)
        assert not finding.ok and "mode=non-blocking" in finding.detail and "daemon.json" in finding.fix
    finally:
        other.stop()


def _saved(image: str) -> bytes:
    import subprocess

    from tests.integration.harness import DOCKER_SOCK

    return subprocess.run(
        ["docker", "-H", f"unix://{DOCKER_SOCK}", "save", image], capture_output=True, check=True
    ).stdout


def test_an_agent_binary_with_file_capabilities_is_found_and_really_fails_under_cap_drop_all(host, openbao):
    """The kernel fact the check rests on, on this engine: a binary whose file capabilities the dropped
    bounding set cannot grant is refused at exec (EPERM)."""
    fs = images.RootFs()
    fs.busybox()
    data = Path(shutil.which("busybox")).read_bytes()
    info = tarfile.TarInfo("bin/vault")
    info.size, info.mode = len(data), 0o755
    # struct vfs_cap_data, revision 2, effective bit: cap_ipc_lock (14) permitted
    caps = struct.pack("<IIIII", 0x02000001, 1 << 14, 0, 0, 0)
    info.pax_headers = {"SCHILY.xattr.security.capability": caps.decode("utf-8", "surrogateescape")}
    fs.tar.addfile(info, io.BytesIO(data))
    tag = images.build(host.api(), "fr-harness/vault-with-caps:1", fs.close(), "ENV PATH=/bin\n")
    refused = host.run(
        "run", "--rm", "--network", "none", "--cap-drop", "ALL", "--entrypoint", "/bin/vault", tag, "true", check=False
    )
    allowed = host.run(
        "run",
        "--rm",
        "--network",
        "none",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "IPC_LOCK",
        "--entrypoint",
        "/bin/vault",
        tag,
        "true",
        check=False,
    )
    assert refused.returncode != 0 and b"operation not permitted" in refused.stderr
    # granted, exec succeeds: the binary (busybox under another name) then runs and says so itself
    assert b"operation not permitted" not in allowed.stderr and b"applet not found" in allowed.stderr
    d = doctor(host, openbao, {"vaultAgentImage": tag})
    finding = d.agent_file_capabilities()
    assert not finding.ok and "cap_ipc_lock+ep" in finding.detail


def test_adopted_data_directories_must_exist_owned_by_the_image_users(host, openbao):
    root = Path(tempfile.mkdtemp(prefix="frh-doctor-", dir="/var/tmp"))
    try:
        pg, redis = root / "pg", root / "redis"
        pg.mkdir(mode=0o700)
        redis.mkdir(mode=0o700)
        (pg / "PG_VERSION").write_text("16\n")
        for path, uid, gid in ((pg, 70, 70), (pg / "PG_VERSION", 70, 70), (redis, 999, 1000)):
            os.chown(path, uid, gid)
        d = doctor(host, openbao, {"postgresDataPath": str(pg), "redisDataPath": str(redis)})
        agent = str(d.cfg.vault_agent_image)
        assert all(f.ok for f in d.data_directories(agent)), [f.line() for f in d.data_directories(agent)]
        os.chown(pg / "PG_VERSION", 0, 0)
        os.chown(redis, 0, 0)
        found = {f.check.split()[0]: f for f in d.data_directories(agent)}
        assert (
            not found["postgres"].ok
            and "PG_VERSION is owned by uid 0, not 70" in found["postgres"].detail
            and found["postgres"].fix == f"chown -R 70 {pg}"
        )
        assert not found["redis"].ok and found["redis"].fix == f"chown -R 999 {redis}"
        missing = doctor(host, openbao, {"postgresDataPath": str(root / "absent")}).data_directories(agent)
        assert (
            not missing[0].ok and missing[0].detail == "does not exist on the host" and not (root / "absent").exists()
        ), "the check must not create it"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _token(openbao, hcl: str) -> str:
    name = "doctor-" + secrets.token_hex(4)
    client = openbao.client()
    client.sys.create_or_update_acl_policy(name=name, policy=hcl)
    return client.auth.token.create(policies=[name], no_default_policy=True, ttl="10m")["auth"]["client_token"]


def test_vault_mounts_and_the_deploy_tokens_capabilities(host, openbao):
    deploy = _token(openbao, deploy_policy_hcl("secret", "approle", "staging", services()))
    findings = doctor(host, openbao, token=deploy).vault()
    assert all(f.ok for f in findings), [f.line() for f in findings]
    assert {f.check for f in findings} == {
        "vault",
        "vault KV v2 mount",
        "vault AppRole mount",
        "vault token capabilities",
    }

    preview = _token(openbao, preview_policy_hcl("secret", "approle", "staging", services()))
    (caps,) = by_check(doctor(host, openbao, token=preview).vault(), "vault token capabilities")
    assert not caps.ok and "deploy policy" in caps.fix

    # a token that may create everything but child tokens: exactly that one grant is named
    partial = deploy_policy_hcl("secret", "approle", "staging", services()).replace(
        'path "auth/token/create" {\n  capabilities = ["update"]\n}\n', ""
    )
    (caps,) = by_check(doctor(host, openbao, token=_token(openbao, partial)).vault(), "vault token capabilities")
    assert (
        not caps.ok and caps.detail.startswith("the token lacks 1 of ") and "auth/token/create (update)" in caps.detail
    )
    assert doctor(host, openbao, {"vaultSkipChildToken": "true"}, token=_token(openbao, partial)).vault()[-1].ok, (
        "a preview needs no child token"
    )

    # a token still holding the deploy policy from before issue 16 (roles updatable and deletable): the new
    # pins take effect only once an admin writes the new policy, so doctor names what it may do too much
    role = 'path "auth/approle/role/finance_report-staging-app" {\n  capabilities = '
    wide = deploy_policy_hcl("secret", "approle", "staging", services()).replace(
        role + '["create", "read"]', role + '["create", "delete", "read", "update"]'
    )
    assert wide != deploy_policy_hcl("secret", "approle", "staging", services())
    (caps,) = by_check(doctor(host, openbao, token=_token(openbao, wide)).vault(), "vault token capabilities")
    assert not caps.ok and caps.detail == (
        "the token may do more than the deploy policy allows on 1 path, e.g. "
        "auth/approle/role/finance_report-staging-app (delete, update): its policy predates this one"
    ), caps.detail
    assert caps.fix == (
        "write the deploy policy again (docs/ci-credentials.md: the deploy Vault policy and token), as a Vault admin"
    )

    wrong_mounts = doctor(host, openbao, {"vaultKvMount": "kv", "vaultApproleMount": "apps"}, token=deploy).vault()
    assert [f.ok for f in by_check(wrong_mounts, "vault KV")] == [False] and [
        f.ok for f in by_check(wrong_mounts, "vault AppRole")
    ] == [False]
    down = doctor(host, type("Down", (), {"address": "http://127.0.0.1:9"})(), token=deploy)
    assert [(f.ok, f.detail) for f in down.vault()] == [
        (
            False,
            "http://127.0.0.1:9 did not answer: the connection was refused (nothing listens on that address and port)",
        )
    ]


def test_each_bucket_must_exist_on_the_s3_endpoint(host, openbao, s3_server, monkeypatch):
    """Signed with the keys an operator exports (the stack's own are encrypted in its stack file)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    present = doctor(host, openbao, {"s3Endpoint": s3_server.url, "s3Bucket": s3_server.bucket}).s3()
    assert [f.ok for f in present] == [True] and "signed HEAD" in present[0].detail
    missing = doctor(host, openbao, {"s3Endpoint": s3_server.url, "s3Bucket": "finance-report-nowhere"}).s3()
    assert (
        [f.ok for f in missing] == [False]
        and "has no bucket finance-report-nowhere" in missing[0].detail
        and "mc mb" in missing[0].fix
    )
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-" + secrets.token_hex(8))
    refused = doctor(host, openbao, {"s3Endpoint": s3_server.url, "s3Bucket": s3_server.bucket}).s3()
    assert [f.ok for f in refused] == [False]
    unreachable = doctor(host, openbao, {"s3Endpoint": "http://127.0.0.1:9", "s3Bucket": s3_server.bucket}).s3()
    assert (
        [f.ok for f in unreachable] == [False]
        and unreachable[0].detail
        == "http://127.0.0.1:9 did not answer: the connection was refused (nothing listens on that address and port)"
    )
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    unsigned = doctor(
        host, openbao, {"s3Endpoint": "http://s3.finance-report.invalid", "s3Bucket": s3_server.bucket}
    ).s3()
    assert [f.detail for f in unsigned] == [
        "http://s3.finance-report.invalid did not answer: its name does not resolve (DNS)"
    ]


def test_the_backup_bucket_must_keep_overwritten_and_deleted_versions(host, openbao, s3_server, monkeypatch):
    """With the backup key (BACKUP_AWS_*), doctor asks the backup bucket for versioning (or object lock):
    without it, the backup key (which restic's prune needs to delete with) can destroy every backup."""
    bucket = "finance-report-staging-backups-" + secrets.token_hex(3)
    s3_server.client().create_bucket(Bucket=bucket)
    monkeypatch.setenv("BACKUP_AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("BACKUP_AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    d = doctor(host, openbao, {"s3Endpoint": s3_server.url, "backupS3Bucket": bucket})
    off = d.backup_storage()
    assert [(f.check, f.ok) for f in off] == [(f"s3 backup bucket {bucket}", False)], off
    assert "keeps no versions" in off[0].detail and f"mc version enable <alias>/{bucket}" in off[0].fix
    s3_server.client().put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    on = d.backup_storage()
    assert [(f.ok, f.detail) for f in on] == [
        (True, "versioning enabled: what the backup key deletes or overwrites stays recoverable")
    ]
    # ...and it is one of doctor's own checks, not a method nobody calls
    assert [f for f in d.all() if f.check == f"s3 backup bucket {bucket}"] == on
    # suspended versioning keeps no new versions: as bad as never enabled
    s3_server.client().put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    suspended = d.backup_storage()
    assert [f.ok for f in suspended] == [False] and "versioning suspended" in suspended[0].detail, suspended
    monkeypatch.setenv("BACKUP_AWS_SECRET_ACCESS_KEY", "wrong-" + secrets.token_hex(8))
    refused = d.backup_storage()
    assert [f.ok for f in refused] == [False] and "may not read the versioning" in refused[0].detail, refused
    monkeypatch.delenv("BACKUP_AWS_ACCESS_KEY_ID")
    assert d.backup_storage() == [], "without the backup key nothing is claimed"
