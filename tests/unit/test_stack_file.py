"""Stack files read the way the Pulumi CLI reads them (YAML 1.2 through Go's yaml.v3, each config scalar
decoded into a string with its text as written), and a table of user mistakes: each one exits 2 with one
line naming the key (and the line), registers nothing, and echoes no secret and no over-long value.

The mistakes go through `ci.offline_plan.main`, the function behind `uv run invoke plan`, with the
real stack files edited the way a user would edit them.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest

import ci.offline_plan as offline_plan
from config.stack_file import StackFileError, parse_stack_file
from tests.conftest import ROOT

GENERATED = "gen" + secrets.token_hex(12)  # a generated stand-in for a secret a user might mistype


def stack_text(stack: str) -> str:
    return (ROOT / f"Pulumi.{stack}.yaml").read_text()


def config_of(text: str) -> dict[str, str]:
    return parse_stack_file(text.encode(), "test.yaml").config


# -------------------------------------------------------------------------------------- values as Pulumi passes them


@pytest.mark.parametrize(
    "written,received",
    [
        ("0421337", "0421337"),  # YAML 1.1 would read an octal 139999
        ("1.10", "1.10"),  # a float would lose the trailing zero
        ("yes", "yes"),  # YAML 1.1 boolean; a plain string in YAML 1.2
        ("off", "off"),
        ("true", "true"),
        ("'v1.4.2'", "v1.4.2"),
        ('"0421337"', "0421337"),
        ("", ""),  # null: an empty string, which a required key then refuses
        ("~", ""),
        ("2e3", "2e3"),
    ],
)
def test_scalars_reach_the_program_as_the_text_written(written, received):
    assert config_of(f"config:\n  finance-report:imageTag: {written}\n") == {"finance-report:imageTag": received}


def test_arrays_are_passed_as_json_and_secure_values_as_marked_placeholders():
    parsed = parse_stack_file(
        b"config:\n  finance-report:dockerSshOpts: [-o, Port=22]\n  finance-report:s3SecretKey:\n    secure: "
        b"AAABAxyz\n",
        "t",
    )
    assert parsed.config["finance-report:dockerSshOpts"] == '["-o", "Port=22"]'
    assert parsed.secret_keys == ["finance-report:s3SecretKey"]
    assert parsed.config["finance-report:s3SecretKey"].startswith("gen-")


def test_a_leading_zero_tag_plans_with_its_text():
    text = stack_text("staging").replace("imageTag: b93d279", "imageTag: 0421337")
    assert offline_plan_images(text) >= {"ghcr.io/wangzitian0/finance_report-backend:0421337"}


def offline_plan_images(text: str) -> set[str]:
    path = Path("/dev/shm") / f"fr-test-{secrets.token_hex(4)}" / "Pulumi.staging.yaml"
    path.parent.mkdir()
    try:
        path.write_text(text)
        result = offline_plan.plan("staging", path)
        return {r.inputs["name"] for r in result.run.by_type("docker:index/remoteImage:RemoteImage")}
    finally:
        path.unlink()
        path.parent.rmdir()


# ---------------------------------------------------------------------------------------------------------- mistakes


def edit(stack: str, old: str, new: str) -> bytes:
    text = stack_text(stack)
    assert old in text, f"the stack file no longer contains {old!r}"
    return text.replace(old, new, 1).encode()


def add(stack: str, line: str) -> bytes:
    return (stack_text(stack) + line + "\n").encode()


HUGE = "a" * (10 * 1024 * 1024)

# (id, stack, stack file bytes, key the message names, text the one line must contain)
MISTAKES = [
    (
        "blank-required",
        "production",
        edit("production", "imageTag: v1.4.2", "imageTag:"),
        "imageTag",
        'imageTag = "" is invalid: expected a value',
    ),
    (
        "yes-boolean",
        "production",
        edit("production", "adoptVaultValues: true", "adoptVaultValues: yes"),
        "adoptVaultValues",
        'adoptVaultValues = "yes" is invalid: expected true or false',
    ),
    (
        "off-integer",
        "production",
        add("production", "  finance-report:logMaxFiles: off"),
        "logMaxFiles",
        'logMaxFiles = "off" is invalid: expected an integer from 1 to 100',
    ),
    (
        "duplicate-key",
        "production",
        add("production", "  finance-report:imageTag: v1.4.3"),
        "imageTag",
        "key finance-report:imageTag is defined twice (first at line",
    ),
    (
        "not-utf8",
        "production",
        edit("production", "domain: zitian.party", "domain: zitian.party").replace(
            b"zitian.party\n", b"zitian.p\xe4rty\n", 1
        ),
        "line 6",
        "not valid UTF-8 (byte 0xe4)",
    ),
    (
        "bad-indentation",
        "staging",
        edit("staging", "  finance-report:domain:", " finance-report:domain:"),
        "line",
        "not valid YAML",
    ),
    (
        "tab-indentation",
        "staging",
        edit("staging", "  finance-report:domain:", "\tfinance-report:domain:"),
        "line",
        "not valid YAML",
    ),
    (
        "namespace-typo",
        "production",
        add("production", "  finance_report:redisMemoryMb: 512"),
        "finance_report:redisMemoryMb",
        "unknown namespace finance_report; did you mean finance-report?",
    ),
    (
        "no-namespace",
        "production",
        add("production", "  redisMemoryMb: 512"),
        "redisMemoryMb",
        "has no namespace; expected finance-report:redisMemoryMb",
    ),
    (
        "key-case",
        "production",
        add("production", "  finance-report:imagetag: v1"),
        "imagetag",
        "did you mean imageTag?",
    ),
    (
        "key-separator",
        "production",
        add("production", "  finance-report:redis_memory_mb: 512"),
        "redis_memory_mb",
        "did you mean redisMemoryMb?",
    ),
    (
        "misspelt-secret",
        "production",
        add("production", f"  finance-report:s3SecretKy: {GENERATED}"),
        "s3SecretKy",
        "did you mean s3SecretKey?",
    ),
    (
        "plaintext-secret",
        "production",
        add("production", f"  finance-report:s3SecretKey: {GENERATED}"),
        "s3SecretKey",
        "[secret] is invalid: expected an encrypted value",
    ),
    (
        "url-credentials",
        "production",
        edit(
            "production",
            "s3Endpoint: https://minio.zitian.party",
            f"s3Endpoint: minio://admin:{GENERATED}@minio.zitian.party",
        ),
        "s3Endpoint",
        "[credentials hidden]",
    ),
    (
        "huge-value",
        "production",
        edit("production", "domain: zitian.party", f"domain: {HUGE}"),
        "domain",
        "(10485760 characters)",
    ),
    (
        "env-of-another-stack",
        "staging",
        edit("staging", "env: staging", "env: production"),
        "env",
        "expected the stack's own name staging",
    ),
    (
        "uppercase-domain",
        "production",
        edit("production", "domain: zitian.party", "domain: Zitian.Party"),
        "domain",
        "expected a lowercase DNS domain",
    ),
    (
        "docker-host-scheme",
        "production",
        edit("production", "dockerHost: ssh://deploy@dokploy.zitian.party", "dockerHost: deploy@dokploy.zitian.party"),
        "dockerHost",
        "expected ssh://user@host",
    ),
    (
        "vault-http",
        "production",
        edit("production", "vaultAddress: https://vault.zitian.party", "vaultAddress: http://vault.zitian.party"),
        "vaultAddress",
        "expected an https:// URL",
    ),
    (
        "memory-too-small",
        "staging",
        edit("staging", "postgresMemoryMb: 512", "postgresMemoryMb: 8"),
        "postgresMemoryMb",
        "expected an integer from 16 to 65536",
    ),
    (
        "memory-with-unit",
        "staging",
        edit("staging", "postgresMemoryMb: 512", "postgresMemoryMb: 512MB"),
        "postgresMemoryMb",
        '"512MB" is invalid',
    ),
    (
        "ssh-opts-string",
        "production",
        edit("production", "dockerSshOpts:\n    - -o\n    - StrictHostKeyChecking=yes", "dockerSshOpts: -p 2222"),
        "dockerSshOpts",
        "expected a JSON array of strings",
    ),
    ("latest-tag", "staging", edit("staging", "imageTag: b93d279", "imageTag: latest"), "imageTag", "never `latest`"),
    (
        "unpinned-datastore",
        "production",
        add("production", "  finance-report:redisImage: redis"),
        "redisImage",
        "expected a pinned image",
    ),
    (
        "bucket-name",
        "staging",
        edit("staging", "s3Bucket: finance-report-staging", "s3Bucket: Finance_Report"),
        "s3Bucket",
        "expected an S3 bucket name",
    ),
    (
        "relative-data-path",
        "staging",
        edit("staging", "postgresDataPath: /data/finance_report/postgres-staging", "postgresDataPath: data/postgres"),
        "postgresDataPath",
        "expected an absolute host path",
    ),
    (
        "otel-without-scheme",
        "production",
        edit("production", "otelEndpoint: https://otel.zitian.party", "otelEndpoint: otel:4317"),
        "otelEndpoint",
        "expected an http(s) URL",
    ),
    (
        "integer-boolean",
        "production",
        add("production", "  finance-report:publicHealthGate: 1"),
        "publicHealthGate",
        'publicHealthGate = "1" is invalid: expected true or false',
    ),
    (
        "commit-not-sha",
        "production",
        add("production", "  finance-report:gitCommitSha: v1.4.2"),
        "gitCommitSha",
        "expected a git commit sha",
    ),
    (
        "top-level-typo",
        "production",
        b"configs:\n  finance-report:env: production\n",
        "configs",
        "unknown top-level key configs; did you mean config?",
    ),
    ("config-not-mapping", "production", b"config:\n  - finance-report:env\n", "config", "`config:` must be a mapping"),
    # settings of the default providers, which the program never uses (it declares its own)
    (
        "vault-provider-token",
        "production",
        add("production", f"  vault:token: {GENERATED}"),
        "vault:token",
        "configures the default vault provider, which this program never uses (its value is not shown): set "
        "the VAULT_TOKEN environment variable instead",
    ),
    (
        "docker-provider-host",
        "staging",
        add("staging", "  docker:host: ssh://root@dokploy.zitian.party"),
        "docker:host",
        "set finance-report:dockerHost instead, and remove the key",
    ),
]


@pytest.fixture
def runs(monkeypatch):
    """Every program run the plan makes, to check that a refused config registered nothing."""
    seen = []
    real = offline_plan.run_program

    def recording(*args, **kwargs):
        run = real(*args, **kwargs)
        seen.append(run)
        return run

    monkeypatch.setattr(offline_plan, "run_program", recording)
    return seen


def test_the_table_has_at_least_25_mistakes():
    assert len(MISTAKES) >= 25 and len({m[0] for m in MISTAKES}) == len(MISTAKES)


@pytest.mark.parametrize("stack,raw,key,fragment", [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_a_user_mistake_exits_2_with_one_short_line_and_registers_nothing(
    stack, raw, key, fragment, runs, capsys, tmp_path
):
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_bytes(raw)
    code = offline_plan.main(stack, config_file=str(path))
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err[:2000]
    line = lines[0]
    assert line.startswith("plan: ") and key in line and fragment in line, line[:500]
    assert len(line) < 400, f"an error line of {len(line)} characters"
    assert GENERATED not in line and "Traceback" not in err
    assert all(run.resources == [] for run in runs), "a refused config must register nothing"


def test_yaml_errors_name_line_and_column():
    with pytest.raises(StackFileError) as err:
        parse_stack_file(b"config:\n  finance-report:env: [staging\n", "Pulumi.staging.yaml")
    assert re.match(r"stack file Pulumi\.staging\.yaml line \d+ column \d+: not valid YAML: ", str(err.value)), str(
        err.value
    )
