"""The backup stage's low-cost repository key (backup_stage.LOW_COST_KDF): after the job's own `restic init`,
the harness swaps the repository's key file for one restic opens with the scrypt parameters of restic's own
tests. It must stay the same key: the same master key (every stored file stays readable), the same password
(a wrong one is still refused), and the only key file restic finds."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.backup_stage import LOW_COST_KDF, low_cost_key_file
from tests.integration.harness import unavailable

pytestmark = pytest.mark.integration


def restic(repo: Path, password: str, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    if shutil.which("restic") is None:
        unavailable("restic", "restic is not installed (Debian package restic)")
    env = {
        **os.environ,
        "RESTIC_REPOSITORY": str(repo),
        "RESTIC_PASSWORD": password,
        "RESTIC_CACHE_DIR": str(repo.parent / "cache"),
    }
    return subprocess.run(["restic", *args], env=env, input=stdin, capture_output=True, timeout=120)


def test_the_low_cost_key_opens_the_same_repository_with_the_same_password_and_no_other(tmp_path):
    repo = tmp_path / "repo"
    password = f'p\'w $HOME "q" é中 {secrets.token_hex(8)}'  # non-ASCII, as the hostile stage passwords
    assert restic(repo, password, "init").returncode == 0
    stored = restic(repo, password, "backup", "--stdin", "--stdin-filename", "dump", "--quiet", stdin=b"ledger")
    assert stored.returncode == 0, stored.stderr.decode(errors="replace")
    master_before = hashlib.sha256(restic(repo, password, "cat", "masterkey").stdout).hexdigest()
    [old] = (repo / "keys").iterdir()
    assert json.loads(old.read_bytes())["N"] > LOW_COST_KDF["N"]  # restic's calibrated parameters

    new = low_cost_key_file(old.read_bytes(), password)
    (repo / "keys" / hashlib.sha256(new).hexdigest()).write_bytes(new)
    old.unlink()

    [key] = (repo / "keys").iterdir()
    assert {k: json.loads(key.read_bytes())[k] for k in LOW_COST_KDF} == LOW_COST_KDF
    assert key.name == hashlib.sha256(key.read_bytes()).hexdigest()
    opened = restic(repo, password, "cat", "masterkey")
    assert opened.returncode == 0, opened.stderr.decode(errors="replace")
    assert hashlib.sha256(opened.stdout).hexdigest() == master_before  # compared as hashes: never printed
    restored = restic(repo, password, "dump", "latest", "dump")
    assert (restored.returncode, restored.stdout) == (0, b"ledger")
    checked = restic(repo, password, "check")
    assert checked.returncode == 0, checked.stderr.decode(errors="replace")
    refused = restic(repo, password + "x", "cat", "config")
    assert refused.returncode != 0 and b"wrong password" in refused.stderr
