"""`uv run invoke new-stack NAME`: a stack file from the program's own config schema that the offline plan
takes as it is (its required secrets reported unset, never written), the steps to a first preview, and
bad input refused in one line with nothing written."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from config.schema import FIELDS
from config.stack_file import read_stack_file
from ops import new_stack
from tests.conftest import ROOT

FLAGS = {
    "--domain": "example.org",
    "--docker-host": "ssh://deploy@docker.example.org:2222",
    "--vault-address": "https://vault.example.org",
    "--image-tag": "0421337",  # digits only: must stay text in the file (YAML 1.2)
    "--s3-endpoint": "https://minio.example.org",
}


def invoke(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def flags(**changes: str | None) -> list[str]:
    values = {**FLAGS, **{f"--{k.replace('_', '-')}": v for k, v in changes.items()}}
    return [part for flag, value in values.items() if value is not None for part in (flag, value)]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("new-stack")
    proc = invoke("new-stack", "mine", *flags(), "--out-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    return out / "Pulumi.mine.yaml", proc


def test_the_stack_file_holds_the_given_values_the_recommended_ssh_options_and_no_secret(written):
    path, _ = written
    config, secret_keys = read_stack_file(path)
    production, _ = read_stack_file(ROOT / "Pulumi.production.yaml")
    assert secret_keys == []
    assert config == {
        "finance-report:env": "mine",
        "finance-report:domain": "example.org",
        "finance-report:dockerHost": "ssh://deploy@docker.example.org:2222",
        "finance-report:vaultAddress": "https://vault.example.org",
        "finance-report:imageTag": "0421337",
        "finance-report:s3Endpoint": "https://minio.example.org",
        "finance-report:dockerSshOpts": production["finance-report:dockerSshOpts"],
    }
    secrets = [f.key for f in FIELDS if f.secret and f.required]
    assert secrets == ["s3AccessKey", "s3SecretKey"]
    for key in secrets:  # named as the command that sets it, never as a value
        assert f"pulumi config set --secret --stack mine {key}\n" in path.read_text()
        assert f"finance-report:{key}:" not in path.read_text()


def test_the_offline_plan_passes_on_the_written_file_with_the_secrets_reported_unset(written):
    path, _ = written
    proc = invoke("plan", "--stack", "mine", "--config-file", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "Policy violations: 0 mandatory" in proc.stdout
    assert 'site_url: "https://report-mine.example.org"' in proc.stdout
    assert (
        "not set (placeholders used): s3AccessKey, s3SecretKey; `pulumi up` stops until they are: `pulumi config "
        "set --secret --stack mine s3AccessKey`; `pulumi config set --secret --stack mine s3SecretKey`"
    ) in proc.stdout.splitlines()
    strict = invoke("plan", "--stack", "mine", "--config-file", str(path), "--strict")
    assert strict.returncode == 1 and strict.stderr.startswith("plan: --strict: not set (placeholders used): ")


def test_it_prints_the_steps_from_login_to_a_first_preview_in_order(written):
    path, proc = written
    out = proc.stdout
    steps = [
        f"new-stack: wrote {path}",
        "pulumi login ",
        "PULUMI_CONFIG_PASSPHRASE=",
        "pulumi login 's3://<state-bucket>?endpoint=minio.example.org&s3ForcePathStyle=true'",
        "pulumi stack init mine ",
        "pulumi config set --secret --stack mine s3AccessKey\n",
        "pulumi config set --secret --stack mine s3SecretKey\n",
        f"uv run invoke plan --stack mine --config-file {path} ",
        "uv run invoke preview --stack mine ",
    ]
    positions = [out.find(step) for step in steps]
    assert -1 not in positions and positions == sorted(positions), list(zip(steps, positions, strict=True))


def test_a_required_value_not_given_is_listed_as_still_to_set(tmp_path, capsys):
    assert new_stack.main("mine", "example.org", "ssh://deploy@docker.example.org", out_dir=str(tmp_path)) == 0
    out = capsys.readouterr().out
    text = (tmp_path / "Pulumi.mine.yaml").read_text()
    for key in ("vaultAddress", "imageTag", "s3Endpoint"):
        assert f"  pulumi config set --stack mine {key} ...\n" in out
        assert f"#   pulumi config set --stack mine {key} ...   # " in text
        assert f"finance-report:{key}:" not in text


@pytest.mark.parametrize(
    "name,changes,message",
    [
        (
            "Mine",
            {},
            'config finance-report:env = "Mine" is invalid: expected a stack name usable as env: lowercase letters '
            "and digits, starting with a letter, at most 20 (no '-' or '/')",
        ),
        ("backup", {}, 'config finance-report:env = "backup" is invalid: expected an env name that is not a service'),
        ("pr042", {}, 'config finance-report:env = "pr042" is invalid: expected pr<N> with N a pull-request number'),
        (
            "mine",
            {"domain": "Example.ORG"},
            'config finance-report:domain = "Example.ORG" is invalid: expected a lowercase DNS domain such as '
            "zitian.party",
        ),
        (
            "mine",
            {"docker_host": "deploy@docker.example.org"},
            'config finance-report:dockerHost = "deploy@docker.example.org" is invalid: expected ssh://user@host or '
            "ssh://user@host:port",
        ),
        (
            "mine",
            {"image_tag": "latest"},
            'config finance-report:imageTag = "latest" is invalid: expected a pinned tag (sha7 or vX.Y.Z) or sha256 '
            "digest, never `latest`",
        ),
        (
            "mine",
            {"vault_address": "http://vault.example.org"},
            'config finance-report:vaultAddress = "http://vault.example.org" is invalid: expected an https:// URL',
        ),
        (
            "mine",
            {"domain": None},
            "--domain is required: Internal domain; the site is served at report<suffix>.<domain>.",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(name, changes, message, tmp_path, capsys):
    values = {"domain": "example.org", "docker_host": "ssh://deploy@docker.example.org", **changes}
    assert new_stack.main(name, **values, out_dir=str(tmp_path)) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and err.startswith(f"new-stack: {message}"), err
    assert list(tmp_path.iterdir()) == []


def test_an_existing_stack_file_is_never_overwritten(tmp_path, capsys):
    existing = tmp_path / "Pulumi.mine.yaml"
    existing.write_text("config:\n  finance-report:env: mine\n")
    assert new_stack.main("mine", "example.org", "ssh://deploy@docker.example.org", out_dir=str(tmp_path)) == 2
    assert capsys.readouterr().err == (
        f"new-stack: {existing} exists already; new-stack never overwrites a stack file (edit it, or remove it first)\n"
    )
    assert existing.read_text() == "config:\n  finance-report:env: mine\n"
    # the committed stacks too, in the project itself
    assert new_stack.main("staging", "example.org", "ssh://deploy@docker.example.org") == 2
    assert "Pulumi.staging.yaml exists already" in capsys.readouterr().err


def test_the_recommended_ssh_options_are_the_committed_stacks_own():
    stacks = [read_stack_file(ROOT / f"Pulumi.{s}.yaml")[0] for s in ("production", "staging")]
    assert new_stack.recommended_ssh_opts() == json.loads(stacks[0]["finance-report:dockerSshOpts"])
    assert {s["finance-report:dockerSshOpts"] for s in stacks} == {json.dumps(new_stack.recommended_ssh_opts())}
