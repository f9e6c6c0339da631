"""Config validation (invariant 7): every bad value stops the real program before any resource is
registered, with one line naming the key, the value and what is expected. Exact texts are asserted."""

from __future__ import annotations

import json
import secrets

import pulumi
import pytest

from config.errors import ConfigError
from config.schema import FIELDS, Secret
from config.stack_config import load_config
from config.values import parse_image
from tests.conftest import run_stack, stack_config

BAD_VALUES = [
    (
        "production",
        {"domain": "Zitian..Party"},
        None,
        'config finance-report:domain = "Zitian..Party" is invalid: expected a lowercase DNS domain such as '
        "zitian.party",
    ),
    (
        "staging",
        {"env": "production"},
        None,
        'config finance-report:env = "production" is invalid: expected the stack\'s own name staging (a '
        "stack deploys only its own env; remove the key to derive it from the stack)",
    ),
    (
        "production",
        {"imageTag": "latest"},
        None,
        'config finance-report:imageTag = "latest" is invalid: expected a pinned tag (sha7 or vX.Y.Z) or '
        "sha256 digest, never `latest`",
    ),
    (
        "staging",
        {"imageTag": "latest"},
        None,
        'config finance-report:imageTag = "latest" is invalid: expected a pinned tag (sha7 or vX.Y.Z) or '
        "sha256 digest, never `latest`",
    ),
    (
        "production",
        {"redisImage": "redis"},
        None,
        'config finance-report:redisImage = "redis" is invalid: expected a pinned image: a release tag or a '
        "sha256 digest, never `latest` or no tag",
    ),
    (
        "staging",
        {"postgresImage": "postgres:latest"},
        None,
        'config finance-report:postgresImage = "postgres:latest" is invalid: expected a pinned image: a '
        "release tag or a sha256 digest, never `latest` or no tag",
    ),
    (
        "production",
        {"vaultAddress": None},
        None,
        "config finance-report:vaultAddress = (not set) is invalid: expected a value: Vault address "
        "(https://...; http only for loopback). The token comes from VAULT_TOKEN. Set it with `pulumi config "
        "set vaultAddress ...`",
    ),
    (
        "production",
        {"backendMemoryMb": "-512"},
        None,
        'config finance-report:backendMemoryMb = "-512" is invalid: expected an integer from 16 to 65536',
    ),
    (
        "production",
        {"redisMemoryMb": "lots"},
        None,
        'config finance-report:redisMemoryMb = "lots" is invalid: expected an integer from 16 to 65536',
    ),
    (
        "production",
        {"dockerHost": "root@dokploy.zitian.party"},
        None,
        'config finance-report:dockerHost = "root@dokploy.zitian.party" is invalid: expected ssh://user@host or ssh://user@host:port',
    ),
    (
        "staging",
        {"dockerHost": "ssh://dokploy.zitian.party"},
        None,
        'config finance-report:dockerHost = "ssh://dokploy.zitian.party" is invalid: expected ssh://user@host or ssh://user@host:port',
    ),
    (
        "production",
        {"vaultAddress": "http://vault.zitian.party"},
        None,
        'config finance-report:vaultAddress = "http://vault.zitian.party" is invalid: expected an https:// '
        "URL (http:// only for a loopback address), without credentials or path query",
    ),
    (
        "production",
        {"logMaxSize": "10 MB"},
        None,
        'config finance-report:logMaxSize = "10 MB" is invalid: expected a size such as 10m (digits then k, m or g)',
    ),
    (
        "production",
        {"postgresDataPath": "data/postgres"},
        None,
        'config finance-report:postgresDataPath = "data/postgres" is invalid: expected an absolute host path '
        "such as /data/finance_report/postgres, or empty",
    ),
    (
        "production",
        {"adoptVaultValues": "yes"},
        None,
        'config finance-report:adoptVaultValues = "yes" is invalid: expected true or false',
    ),
    (
        "production",
        {"dockerSshOpts": "-p 2222"},
        None,
        'config finance-report:dockerSshOpts = "-p 2222" is invalid: expected a JSON array of strings, e.g. '
        '["-p", "2222"]',
    ),
    (
        "production",
        {"s3Endpoint": "minio.zitian.party"},
        None,
        'config finance-report:s3Endpoint = "minio.zitian.party" is invalid: expected an http(s) URL such as https://minio.zitian.party',
    ),
    (
        "production",
        {"registryUser": "ci-bot"},
        None,
        "config finance-report:registryToken = (not set) is invalid: expected a secret: the token of "
        "registryUser ci-bot (set both, or neither for anonymous pulls): run `pulumi config set --secret "
        "registryToken`",
    ),
    (
        "production",
        {},
        {"registryToken": "generated-token"},
        'config finance-report:registryUser = "" is invalid: expected the user of registryToken (set both, '
        "or neither for anonymous pulls)",
    ),
    (
        "production",
        {"imagetag": "v1"},
        None,
        "config finance-report:imagetag is not a known key (its value is not shown): did you mean imageTag? "
        "docs/configuration.md lists every key",
    ),
    (
        "production",
        {"backendImage": "ghcr.io/wangzitian0/finance_report-backend:v1"},
        None,
        'config finance-report:backendImage = "ghcr.io/wangzitian0/finance_report-backend:v1" is invalid: '
        "expected an image repository without tag or digest (the tag comes from imageTag)",
    ),
]


@pytest.mark.parametrize(
    "stack,overrides,secrets,message",
    BAD_VALUES,
    ids=[next(iter({**o, **(x or {})})) + "-" + s for s, o, x, _ in BAD_VALUES],
)
def test_a_bad_value_stops_the_program_with_one_line_and_registers_nothing(stack, overrides, secrets, message):
    run = run_stack(stack, overrides, secrets)
    assert isinstance(run.error, ConfigError), f"expected a ConfigError, got {run.error!r}"
    assert isinstance(run.error, pulumi.RunError), "RunError is what makes the language host print no traceback"
    assert str(run.error) == message
    assert "\n" not in str(run.error)
    assert run.resources == [], f"registered before failing: {[r.urn for r in run.resources]}"


def test_a_plaintext_secret_in_a_stack_file_is_refused_without_echoing_it():
    config, secret_keys = stack_config("production")
    secret_keys.remove("finance-report:s3SecretKey")  # as if written in plaintext in the stack file
    from ops.program_run import run_program

    run = run_program("production", config, secret_keys)
    assert str(run.error) == (
        "config finance-report:s3SecretKey = [secret] is invalid: expected an encrypted value, not plaintext: "
        "run `pulumi config set --secret s3SecretKey`"
    )
    assert config["finance-report:s3SecretKey"] not in str(run.error)
    assert run.resources == []


SECRET_FIELDS = [f for f in FIELDS if isinstance(f.check, Secret)]


def _valid_secret(key: str) -> tuple[str, str]:
    """(a value the key's own check accepts, the generated part that must never be shown)."""
    token = "generated-" + secrets.token_hex(12)
    if key == "vaultKeptValues":
        return json.dumps({"app": {"EXTRA_SETTING": token}}), token
    if key == "backupHeartbeatUrl":
        return f"https://hc.example.org/ping/{token}", token
    return token, token


# What the other keys need so that the one under test decides (a registry token needs its user).
_COMPANIONS = {"registryToken": {"registryUser": "deployer"}}


@pytest.mark.parametrize("key", [f.key for f in SECRET_FIELDS])
def test_every_secret_key_written_in_plaintext_is_refused_without_echoing_it(key):
    value, token = _valid_secret(key)
    raw = _minimal(**_COMPANIONS.get(key, {}), **{key: value})
    encrypted = {"s3AccessKey", "s3SecretKey"} - {key}
    with pytest.raises(ConfigError) as err:
        load_config(raw, "staging", frozenset(encrypted))
    assert str(err.value) == (
        f"config finance-report:{key} = [secret] is invalid: expected an encrypted value, not plaintext: "
        f"run `pulumi config set --secret {key}`"
    )
    assert token not in str(err.value)
    load_config(raw, "staging", frozenset(encrypted | {key}))  # the same value stored encrypted is accepted


@pytest.mark.parametrize("key", [f.key for f in SECRET_FIELDS if f.check.valid is not None])
def test_an_invalid_secret_value_is_refused_without_echoing_it(key):
    token = "generated-" + secrets.token_hex(12)
    with pytest.raises(ConfigError) as err:
        load_config(_minimal(**{key: f"not valid {token}"}), "staging", frozenset({"s3AccessKey", "s3SecretKey", key}))
    assert str(err.value).startswith(f"config finance-report:{key} = [secret] is invalid: expected "), str(err.value)
    assert token not in str(err.value) and "not valid" not in str(err.value)


def test_a_missing_required_secret_names_the_command_that_sets_it():
    run = run_stack("staging", {"s3AccessKey": None})
    assert (
        str(run.error)
        == "config finance-report:s3AccessKey = (not set) is invalid: expected a secret: run `pulumi config set "
        "--secret s3AccessKey`"
    )


def test_a_secret_under_a_misspelt_key_is_never_echoed():
    value = "generated-" + __import__("secrets").token_hex(16)
    run = run_stack("production", secret_overrides={"s3SecretKy": value})
    assert (
        str(run.error) == "config finance-report:s3SecretKy is not a known key (its value is not shown): did you mean "
        "s3SecretKey? docs/configuration.md lists every key"
    )
    assert value not in str(run.error) and run.resources == []


def test_credentials_in_a_url_and_huge_values_are_not_echoed():
    run = run_stack("production", {"s3Endpoint": "minio://user:hunter2-generated@minio.zitian.party"})
    assert (
        str(run.error)
        == 'config finance-report:s3Endpoint = "minio://[credentials hidden]@minio.zitian.party" is invalid: '
        "expected an http(s) URL such as https://minio.zitian.party"
    )
    huge = "a" * (10 * 1024 * 1024)
    run = run_stack("production", {"domain": huge})
    assert len(str(run.error)) < 300 and "(10485760 characters)" in str(run.error)


def test_a_token_in_a_url_query_is_not_echoed():
    token = secrets.token_hex(16)
    for key in ("vaultAddress", "s3Endpoint"):
        run = run_stack("production", {key: f"https://host.example.org/x?token={token}#frag"})
        assert str(run.error).startswith(
            f'config finance-report:{key} = "https://host.example.org/x?[query hidden]#frag" is invalid: expected '
        ), str(run.error).replace(token, "[the token]")
        assert token not in str(run.error)


def test_an_encrypted_value_under_a_key_that_is_not_secret_is_never_echoed():
    value = "Not.A.Domain-" + __import__("secrets").token_hex(8)
    run = run_stack("production", secret_overrides={"domain": value})
    assert (
        str(run.error)
        == "config finance-report:domain = [secret] is invalid: expected a lowercase DNS domain such as zitian.party"
    )
    assert value not in str(run.error) and run.resources == []


def test_a_list_value_is_shown_as_json_with_credentials_hidden_in_every_element_and_cut():
    import json

    password = "pw-" + __import__("secrets").token_hex(8)
    run = run_stack(
        "production", {"vaultAgentCidrs": json.dumps(["203.0.113.7/33", f"https://ops:{password}@vault.zitian.party"])}
    )
    assert (
        str(run.error) == 'config finance-report:vaultAgentCidrs = ["203.0.113.7/33", "https://[credentials '
        'hidden]@vault.zitian.party"] is invalid: expected a list of CIDRs such as ["203.0.113.7/32"]'
    )
    assert password not in str(run.error)
    many = json.dumps([f"10.0.{i}.0/33" for i in range(5000)])
    run = run_stack("production", {"vaultAgentCidrs": many})
    assert len(str(run.error)) < 300 and "characters)" in str(run.error)


def test_values_are_shown_the_way_a_stack_file_writes_them():
    from config.errors import show_value

    assert (show_value(True), show_value(False), show_value(3), show_value(None)) == ("true", "false", "3", "(not set)")
    assert show_value({"url": "redis://:hunter2@x:6379"}) == '{"url": "redis://[credentials hidden]@x:6379"}'


def test_an_env_named_like_a_service_is_refused_so_names_stay_unambiguous():
    from ops.program_run import run_program

    config, keys = stack_config("staging", {"env": None})
    run = run_program("redis", config, keys)
    assert str(run.error).startswith(
        'config finance-report:env = "redis" is invalid: expected an env name that is not a service or network word'
    )
    assert run.resources == []


def test_env_defaults_to_the_stack_name_and_must_be_usable_as_one():
    assert run_stack("staging", {"env": None}).outputs["env"] == "staging"
    assert str(run_stack("staging", {"env": "Staging"}).error).startswith(
        'config finance-report:env = "Staging" is invalid: expected the stack\'s own name staging'
    )


def _minimal(**overrides: str) -> dict[str, str]:
    raw = {
        "env": "staging",
        "domain": "example.org",
        "dockerHost": "ssh://deploy@host.example.org:2222",
        "vaultAddress": "http://127.0.0.1:8200",
        "imageTag": "abc1234",
        "s3Endpoint": "https://s3.example.org",
        "s3AccessKey": "generated-access",
        "s3SecretKey": "generated-secret",
    }
    raw.update(overrides)
    return raw


def test_defaults_apply_and_derived_values_follow_the_env():
    cfg = load_config(_minimal(), "staging", frozenset({"s3AccessKey", "s3SecretKey"}))
    assert cfg.s3_bucket == "finance-report-staging" and cfg.s3_public_bucket == "finance-report-staging"
    assert cfg.s3_public_endpoint == "https://s3.example.org"
    assert cfg.git_commit_sha == "abc1234", "a main build's tag is its commit"
    assert cfg.memory_mb == {
        "postgres": 1024,
        "redis": 256,
        "backend": 1024,
        "frontend": 512,
        "prefect": 512,
        "agent": 64,
    }
    assert str(cfg.backend_image) == "ghcr.io/wangzitian0/finance_report-backend:abc1234"
    assert cfg.vault_address == "http://127.0.0.1:8200"


def test_a_digest_image_tag_is_joined_with_at():
    digest = "sha256:" + "ab" * 32
    cfg = load_config(_minimal(imageTag=digest), "staging", frozenset({"s3AccessKey", "s3SecretKey"}))
    assert str(cfg.frontend_image) == f"ghcr.io/wangzitian0/finance_report-frontend@{digest}"
    assert cfg.git_commit_sha == "", "a digest is not a commit"


def test_a_release_tag_is_not_reported_as_the_commit():
    keys = frozenset({"s3AccessKey", "s3SecretKey"})
    assert load_config(_minimal(imageTag="v1.4.2"), "staging", keys).git_commit_sha == ""
    assert load_config(_minimal(imageTag="v1.4.2", gitCommitSha="0123abc"), "staging", keys).git_commit_sha == "0123abc"


def test_memory_bounds_are_inclusive():
    keys = frozenset({"s3AccessKey", "s3SecretKey"})
    assert load_config(_minimal(agentMemoryMb="16"), "staging", keys).memory_mb["agent"] == 16
    with pytest.raises(ConfigError, match="agentMemoryMb"):
        load_config(_minimal(agentMemoryMb="15"), "staging", keys)
    with pytest.raises(ConfigError, match="agentMemoryMb"):
        load_config(_minimal(agentMemoryMb="0"), "staging", keys)


@pytest.mark.parametrize(
    "ref,parsed",
    [
        ("postgres:16.10-alpine", ("postgres", "16.10-alpine", None)),
        ("ghcr.io/a/b:v1", ("ghcr.io/a/b", "v1", None)),
        ("registry:5000/a:1", ("registry:5000/a", "1", None)),
        ("redis@sha256:" + "0" * 64, ("redis", None, "sha256:" + "0" * 64)),
        ("redis", ("redis", None, None)),
        ("Redis:7", None),
        ("redis:", None),
        ("redis@sha256:short", None),
    ],
)
def test_image_references_parse_like_docker(ref, parsed):
    result = parse_image(ref)
    assert (None if result is None else (result.repository, result.tag, result.digest)) == parsed


def test_a_registry_user_and_token_authenticate_the_pulls_of_the_images_registry():
    token = "generated-" + __import__("secrets").token_hex(12)
    run = run_stack("production", {"registryUser": "ci-bot"}, {"registryToken": token})
    assert run.error is None, run.error
    from ops.program_run import contains_secret, unwrap_secrets

    provider = run.one("pulumi:providers:docker", "dokploy").inputs
    assert contains_secret(provider["registryAuth"]), "the token stays a secret"
    (auth,) = __import__("json").loads(unwrap_secrets(provider["registryAuth"]))  # provider inputs travel as JSON text
    assert auth == {"address": "ghcr.io", "username": "ci-bot", "password": token}
    assert "registryAuth" not in run_stack("production").one("pulumi:providers:docker", "dokploy").inputs


def test_a_default_provider_setting_in_the_stack_config_stops_the_real_program():
    from ops.program_run import run_program

    config, secret_keys = stack_config("production")
    run = run_program("production", {**config, "vault:address": "https://vault.zitian.party"}, secret_keys)
    assert isinstance(run.error, pulumi.RunError) and run.resources == []
    assert (
        str(run.error)
        == "config vault:address configures the default vault provider, which this program never uses (its "
        "value is not shown): set finance-report:vaultAddress instead, and remove the key"
    )


# ------------------------------------------------- renamed keys (docs/configuration.md "Renamed keys")
# maxPreviewEnvs is now maxPrEnvs ("preview" is kept for `pulumi preview`). The old key is still read while the
# new one is unset, with one warning naming both; both set is bad input naming both.

OLD_KEY_WARNING = (
    "config finance-report:maxPreviewEnvs is deprecated: it was renamed maxPrEnvs, which is unset, so the old "
    "key is read; rename it in the stack file"
)
BOTH_KEYS_ERROR = (
    "config finance-report:maxPreviewEnvs = 3 is invalid: expected unset: it is the old name of maxPrEnvs, "
    "which this stack sets too (2); remove maxPreviewEnvs"
)
SECRET_KEYS = frozenset({"s3AccessKey", "s3SecretKey"})


def test_the_new_key_sets_how_many_pr_envs_may_run_without_a_warning():
    cfg = load_config(_minimal(maxPrEnvs="3"), "staging", SECRET_KEYS)
    assert (cfg.max_pr_envs, cfg.warnings) == (3, ())
    run = run_stack("staging", {"maxPreviewEnvs": None, "maxPrEnvs": "3"})
    assert run.error is None
    assert [w for w in run.warnings if "maxP" in w] == []


# The CLI merges Pulumi.yaml's default of a declared key into every stack that lacks it
# (facts/providers.PROJECT_DEFAULTS_MERGED), so the program sees the new key at its default beside the old one.
@pytest.mark.parametrize("new_key", [None, "0"], ids=["absent", "engine-default"])
def test_the_old_key_is_still_read_with_one_warning_naming_both(new_key):
    raw = _minimal(maxPreviewEnvs="3", **({"maxPrEnvs": new_key} if new_key else {}))
    cfg = load_config(raw, "staging", SECRET_KEYS)
    assert (cfg.max_pr_envs, cfg.warnings) == (3, (OLD_KEY_WARNING,))


def test_the_program_warns_once_about_the_old_key():
    run = run_stack("staging", {"maxPrEnvs": None, "maxPreviewEnvs": "3"})
    assert run.error is None
    assert [w for w in run.warnings if "maxP" in w] == [OLD_KEY_WARNING]


def test_setting_both_keys_is_one_line_naming_both_and_registers_nothing():
    with pytest.raises(ConfigError) as err:
        load_config(_minimal(maxPrEnvs="2", maxPreviewEnvs="3"), "staging", SECRET_KEYS)
    assert str(err.value) == BOTH_KEYS_ERROR
    run = run_stack("staging", {"maxPrEnvs": "2", "maxPreviewEnvs": "3"})
    assert isinstance(run.error, ConfigError) and str(run.error) == BOTH_KEYS_ERROR
    assert run.resources == []
