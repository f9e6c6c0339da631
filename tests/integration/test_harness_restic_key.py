"""The backup stage's low-cost repository key (backup_stage.LOW_COST_KDF): after the job's own `restic init`,
the harness swaps the repository's key file for one restic opens with the scrypt parameters of restic's own
tests. It must stay the same key: the same master key (every stored file stays readable), the same password
(a wrong one is still refused), the same user, host and creation time, a salt of its own, and the only key
file restic finds, stored as restic stores one (named by the SHA-256 of its bytes)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import subprocess

import pytest

from tests.integration.backup_stage import LOW_COST_KDF, repository_keys, use_low_cost_key
from tests.integration.harness import unavailable

pytestmark = pytest.mark.integration


def test_the_low_cost_key_opens_the_same_repository_with_the_same_password_and_no_other(s3_server, tmp_path):
    if shutil.which("restic") is None:
        unavailable("restic", "restic is not installed (Debian package restic)")
    prefix = f"harness-key-{secrets.token_hex(4)}"
    password = f'p\'w $HOME "q" é中 {secrets.token_hex(8)}'  # non-ASCII, as the hostile stage passwords
    env = {
        **os.environ,
        "RESTIC_REPOSITORY": f"s3:{s3_server.url}/{s3_server.bucket}/{prefix}",
        "AWS_ACCESS_KEY_ID": s3_server.access_key,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
        "RESTIC_CACHE_DIR": str(tmp_path / "cache"),
    }

    def restic(*args: str, stdin: bytes | None = None, key: str = password) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["restic", *args], env={**env, "RESTIC_PASSWORD": key}, input=stdin, capture_output=True, timeout=120
        )

    def key_file(name: str) -> dict:
        return json.loads(s3_server.client().get_object(Bucket=s3_server.bucket, Key=name)["Body"].read())

    assert restic("init").returncode == 0
    stored = restic("backup", "--stdin", "--stdin-filename", "dump", "--quiet", stdin=b"ledger")
    assert stored.returncode == 0, stored.stderr.decode(errors="replace")
    master_before = hashlib.sha256(restic("cat", "masterkey").stdout).hexdigest()
    [old_name] = repository_keys(s3_server, prefix)
    old = key_file(old_name)
    assert old["N"] > LOW_COST_KDF["N"]  # restic's calibrated parameters

    use_low_cost_key(s3_server, prefix, password)

    [name] = repository_keys(s3_server, prefix)
    body = s3_server.client().get_object(Bucket=s3_server.bucket, Key=name)["Body"].read()
    assert name == f"{prefix}/keys/{hashlib.sha256(body).hexdigest()}"
    new = json.loads(body)
    assert {k: new[k] for k in LOW_COST_KDF} == LOW_COST_KDF
    kept = {k: v for k, v in old.items() if k not in {*LOW_COST_KDF, "salt", "data"}}
    assert kept.keys() >= {"created", "username", "hostname", "kdf"} and {k: new[k] for k in kept} == kept
    assert new["salt"] != old["salt"] and len(base64.b64decode(new["salt"])) == 64
    opened = restic("cat", "masterkey")
    assert opened.returncode == 0, opened.stderr.decode(errors="replace")
    assert hashlib.sha256(opened.stdout).hexdigest() == master_before  # compared as hashes: never printed
    restored = restic("dump", "latest", "dump")
    assert (restored.returncode, restored.stdout) == (0, b"ledger")
    checked = restic("check")
    assert checked.returncode == 0, checked.stderr.decode(errors="replace")
    refused = restic("cat", "config", key=password + "x")
    assert refused.returncode != 0 and b"wrong password" in refused.stderr
