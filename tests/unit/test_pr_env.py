"""PR environments per pull request (docs/pr-environments.md): the generated stack (and the
policy config derived from it), the template's guard rails, the capacity check, the config rules for
`pr<N>` envs, and the real program under mocks for a generated PR env (its own names everywhere, data
and secrets that go with the PR, nothing of staging's)."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from config.errors import ConfigError
from config.stack_config import load_config
from config.stack_file import read_stack_file
from ops import pr_env as pe
from ops.program_run import run_program, unwrap_secrets, with_missing_secrets
from render import naming
from render.pr_env import deployer_policy_hcl
from tests.conftest import ROOT, stack_config, stacks_here

CONTAINER, VOLUME, KV = "docker:index/container:Container", "docker:index/volume:Volume", "vault:kv/secretV2:SecretV2"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("pr-env")
    stack_path, config = pe.generate(42, out)
    return stack_path, config


@pytest.fixture(scope="module")
def pr_env_run(generated):
    config, secret_keys = read_stack_file(generated[0])
    config, secret_keys = with_missing_secrets(config, secret_keys)
    run = run_program("pr42", config, secret_keys)
    assert run.error is None, run.error
    return run


# ------------------------------------------------------------------------------------------ names


@pytest.mark.parametrize(
    "env,pr_env",
    [
        ("pr1", True),
        ("pr42", True),
        ("pr999999999", True),
        ("pr0", False),
        ("pr012", False),
        ("production", False),
        ("pr", False),
        ("pr1x", False),
        ("staging", False),
    ],
)
def test_only_pr_and_a_number_without_leading_zero_is_a_pr_env(env, pr_env):
    assert naming.is_pr_env(env) is pr_env


def test_the_pr_env_of_a_pull_request_is_pr_and_its_number():
    assert naming.pr_env(42) == "pr42"
    for bad in (0, -3, 10**9):
        with pytest.raises(ValueError):
            naming.pr_env(bad)


def base_raw(env: str, **overrides: str) -> dict[str, str]:
    config, secret_keys = stack_config("staging", {"env": env, "adoptVaultValues": "false", **overrides})
    return {k.split(":", 1)[1]: v for k, v in config.items()}, frozenset(k.split(":", 1)[1] for k in secret_keys)


@pytest.mark.parametrize("env", ["pr012", "pr0", "pr1x"])
def test_an_env_that_looks_like_a_pr_env_but_is_not_one_is_refused(env):
    raw, secret = base_raw(env)
    with pytest.raises(ConfigError) as err:
        load_config(raw, env, secret)
    assert (
        str(err.value)
        == f'config finance-report:env = "{env}" is invalid: expected pr<N> with N a pull-request number '
        "without leading zero: `pr` then a digit is reserved for PR environments"
    )


def test_a_pr_env_may_not_mount_a_host_data_directory():
    raw, secret = base_raw("pr7", postgresDataPath="/data/finance_report/postgres-staging", redisDataPath="")
    with pytest.raises(ConfigError) as err:
        load_config(raw, "pr7", secret)
    assert (
        str(err.value)
        == 'config finance-report:postgresDataPath = "/data/finance_report/postgres-staging" is invalid: '
        "expected empty in a PR env: its data lives in its own volume, never in a host directory "
        "another env may use"
    )


# ------------------------------------------------------------------------------------------ generated files


def test_the_generated_stack_has_its_own_env_smaller_limits_and_the_pr_envs_bucket(generated):
    _, config = generated
    staging, _ = read_stack_file(ROOT / "Pulumi.staging.yaml")
    template = pe.load_template()
    assert config["finance-report:env"] == "pr42"
    for key in ("domain", "dockerHost", "dockerSshOpts", "vaultAddress", "imageTag", "s3Endpoint"):
        assert pe.engine_text(config[f"finance-report:{key}"]) == staging[f"finance-report:{key}"], key
    for key in ("postgresDataPath", "redisDataPath", "adoptVaultValues", "s3Bucket", "otelEndpoint"):
        assert (
            config.get(f"finance-report:{key}") != staging.get(f"finance-report:{key}")
            or f"finance-report:{key}" not in config
        ), key
    assert config["finance-report:s3Bucket"] == template.config["s3Bucket"] == "finance-report-previews"
    for service in ("postgres", "backend"):
        assert config[f"finance-report:{service}MemoryMb"] < int(staging[f"finance-report:{service}MemoryMb"])


def test_the_stack_file_reads_back_as_written_with_typed_values(generated):
    stack_path, config = generated
    read, secret_keys = read_stack_file(stack_path)
    assert read == {k: pe.engine_text(v) for k, v in config.items()} and secret_keys == []
    doc = yaml.safe_load(stack_path.read_text())["config"]
    assert doc["finance-report:postgresMemoryMb"] == 256 and doc["finance-report:dockerSshOpts"] == json.loads(
        read_stack_file(ROOT / "Pulumi.staging.yaml")[0]["finance-report:dockerSshOpts"]
    )


def test_a_tag_of_digits_stays_text(tmp_path):
    _, config = pe.generate(5, tmp_path, image_tag="0421337")
    assert (
        read_stack_file(tmp_path / "Pulumi.pr5.yaml")[0]["finance-report:imageTag"]
        == "0421337"
        == config["finance-report:imageTag"]
    )


def test_regenerating_keeps_the_encrypted_values_the_workflow_set(tmp_path):
    pe.generate(9, tmp_path)
    path = tmp_path / "Pulumi.pr9.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["encryptionsalt"] = "v1:abc:def"
    doc["config"]["finance-report:s3AccessKey"] = {"secure": "v1:ciphertext"}
    path.write_text(yaml.safe_dump(doc))
    pe.generate(9, tmp_path, image_tag="c0ffee1")
    again = yaml.safe_load(path.read_text())
    assert again["encryptionsalt"] == "v1:abc:def"
    assert again["config"]["finance-report:s3AccessKey"] == {"secure": "v1:ciphertext"}
    assert again["config"]["finance-report:imageTag"] == "c0ffee1"


def test_the_policy_config_derived_from_the_generated_stack_names_the_pr_env_everywhere(generated):
    from ops.policy_pack import derived
    from ops.stack_context import load_stack

    stack_path, _ = generated
    assert sorted(p.name for p in stack_path.parent.iterdir()) == ["Pulumi.pr42.yaml"], "no policy config file"
    config = derived(load_stack("pr42", stack_path))
    staging = derived(load_stack("staging"))
    assert set(config) == set(staging)
    envs = {section["env"] for section in config.values() if isinstance(section, dict) and "env" in section}
    assert envs == {"pr42"}
    # everything else is staging's (the template keeps its domain, mounts and limits)
    for name, section in staging.items():
        expected = dict(section)
        expected.update({"env": "pr42"} if "env" in section else {})
        known = sorted({"pr42", *stacks_here().split(", ")})  # a user's own stack beside them is known too
        expected.update({"knownEnvs": known} if "knownEnvs" in section else {})
        assert config[name] == expected, name


@pytest.mark.parametrize(
    "template,message",
    [
        (
            "base: staging\ninherit: [postgresDataPath]\nconfig: {}\n",
            "inherit lists postgresDataPath, which a PR env must never copy from staging (its names, data, "
            "adoption state or credentials)",
        ),
        (
            "base: staging\ninherit: [s3Bucket]\nconfig: {}\n",
            "inherit lists s3Bucket, which a PR env must never copy from staging (its names, data, adoption "
            "state or credentials)",
        ),
        (
            "base: staging\ninherit: [s3SecretKey]\nconfig: {}\n",
            "inherit lists s3SecretKey, which a PR env must never copy from staging (its names, data, "
            "adoption state or credentials)",
        ),
        (
            "base: staging\ninherit: []\nconfig: {env: staging}\n",
            "config sets env, which a PR env template must not set",
        ),
        (
            "base: staging\ninherit: []\nconfig: {adoptVaultValues: true}\n",
            "config sets adoptVaultValues, which a PR env template must not set",
        ),
        (
            "base: pr3\ninherit: []\nconfig: {}\n",
            "base = 'pr3'; expected one of the committed stacks production, staging",
        ),
        ("base: staging\ninherit: [domian]\nconfig: {}\n", "domian is not a config key of the program"),
    ],
)
def test_a_template_that_would_share_an_envs_data_names_or_credentials_is_refused(template, message):
    with pytest.raises(pe.PrEnvError) as err:
        pe.parse_template(template, "t.yaml")
    assert str(err.value) == f"t.yaml: {message}"


def test_the_committed_template_is_valid_and_copies_no_env_specific_key():
    template = pe.load_template()
    assert template.base == "staging"
    assert not set(template.inherit) & pe.NEVER_INHERITED


# ------------------------------------------------------------------------------------------ capacity


def test_a_new_pr_env_beyond_the_maximum_is_refused_and_an_update_of_a_running_one_is_not():
    assert pe.capacity_problem("pr9", ["staging", "production", "pr3", "pr12"], 3) is None
    problem = pe.capacity_problem("pr9", ["staging", "production", "org/finance-report/pr3", "pr12", "pr4"], 3)
    assert problem.startswith("3 PR env(s) run already (pr3, pr4, pr12) and maxPrEnvs is 3")
    assert pe.capacity_problem("pr4", ["pr3", "pr12", "pr4"], 3) is None
    assert pe.capacity_problem("pr1", [], 0).startswith("0 PR env(s) run already (none) and maxPrEnvs is 0")


def test_stack_names_come_from_pulumi_stack_ls_json():
    text = json.dumps(
        [
            {"name": "staging", "current": False, "updateInProgress": False, "resourceCount": 61},
            {"name": "pr3", "current": True},
        ]
    )
    assert pe.stack_names(text, "s.json") == ["staging", "pr3"]
    with pytest.raises(pe.PrEnvError) as err:
        pe.stack_names('{"name": "x"}', "s.json")
    assert str(err.value) == "s.json: expected a JSON list of stacks with a name, as `pulumi stack ls --json` prints"


def test_the_command_exits_1_over_capacity_and_2_for_a_bad_number(tmp_path, capsys):
    stacks = tmp_path / "stacks.json"
    stacks.write_text(json.dumps([{"name": f"pr{i}"} for i in range(1, 11)]))
    assert pe.main("77", str(tmp_path), existing_stacks=str(stacks)) == 1
    assert "maxPrEnvs" in capsys.readouterr().err
    assert not (tmp_path / "Pulumi.pr77.yaml").exists()
    assert pe.main("7x", str(tmp_path)) == 2
    assert (
        capsys.readouterr().err.strip() == "pr-env: --pr = '7x' is invalid: expected a pull-request number such as 42"
    )
    assert pe.main("0", str(tmp_path)) == 2


# ------------------------------------------------------------------------------------------ the program for a PR env


def test_every_name_of_the_pr_env_carries_its_own_env(pr_env_run):
    for c in pr_env_run.by_type(CONTAINER):
        inputs = unwrap_secrets(c.inputs)
        assert "-pr42" in inputs["name"], c.urn
        labels = {item["label"]: item["value"] for item in inputs["labels"]}
        assert labels["finance-report.env"] == "pr42", c.urn
        for network in inputs.get("networksAdvanced", []):
            assert re.search(r"-pr42-[0-9a-f]{8}$", network["name"]) or network["name"] == "dokploy-network", c.urn
        assert not inputs.get("volumes"), f"{c.urn} mounts a host path"
    assert pr_env_run.outputs["vault_roles"] == {
        s: f"finance_report-pr42-{s}" for s in ("postgres", "redis", "app", "backup")
    }
    assert pr_env_run.outputs["vault_kv_paths"]["postgres"] == "secret/data/finance_report/previews/pr42/postgres"
    text = json.dumps([unwrap_secrets(r.inputs) for r in pr_env_run.resources])
    assert "staging" not in text and "production" not in text


def test_a_pr_envs_data_and_secrets_go_with_its_pull_request(pr_env_run):
    data = [v for v in pr_env_run.by_type(VOLUME) if v.name.endswith("-data")]
    assert sorted(v.inputs["name"] for v in data) == [
        "finance_report-postgres-data-pr42",
        "finance_report-redis-data-pr42",
    ]
    for volume in data:
        assert not volume.options["protect"] and not volume.options["retainOnDelete"], volume.urn
    for kv in pr_env_run.by_type(KV):
        assert not kv.options["retainOnDelete"] and kv.inputs["deleteAllVersions"] is True, kv.urn


def test_committed_envs_keep_their_kv_secrets_and_never_delete_versions(staging):
    for kv in staging.by_type(KV):
        assert kv.options["retainOnDelete"] and "deleteAllVersions" not in kv.inputs, kv.urn


# ------------------------------------------------------------------------------------------ the deployer's Vault policy


def test_the_deployer_policy_globs_only_pr_env_names_never_production():
    import fnmatch

    import hcl2

    doc = hcl2.loads(deployer_policy_hcl())
    paths = [p for block in doc["path"] for p in block]
    globs = [p for p in paths if p.endswith("*")]
    assert len(globs) == 11, "the PR envs' KV subtree (data, metadata) and one role glob per leading digit"

    def allowed(path: str) -> bool:
        return path in paths or any(fnmatch.fnmatchcase(path, g) for g in globs)

    for env in ("production", "staging", "pr", "pr0"):
        for path in (f"secret/data/finance_report/{env}/app", f"auth/approle/role/finance_report-{env}-app/secret-id"):
            assert not allowed(path), path
    for env in ("pr1", "pr42", "pr9001", "production", "staging"):
        assert not allowed(f"sys/policies/acl/finance_report-{env}-app"), "no ACL policy is ever written by this token"
    for env in ("pr1", "pr42", "pr9001"):
        for path in (
            f"secret/data/finance_report/previews/{env}/app",
            f"secret/metadata/finance_report/previews/{env}/app",
            f"auth/approle/role/finance_report-{env}-app/secret-id",
        ):
            assert allowed(path), path


def test_a_pr_env_attaches_the_platforms_shared_policy_and_writes_none(pr_env_run):
    from render.pr_env import SERVICES

    assert pr_env_run.by_type("vault:index/policy:Policy") == []
    roles = {
        r.inputs["roleName"]: r.inputs["tokenPolicies"]
        for r in pr_env_run.by_type("vault:appRole/authBackendRole:AuthBackendRole")
    }
    assert roles == {f"finance_report-pr42-{s}": [f"finance_report-previews-{s}"] for s in SERVICES}
    assert sorted(pr_env_run.outputs["vault_roles"]) == sorted(SERVICES), (
        "the deployer policy pins exactly these services"
    )


def test_the_deployer_policy_grants_every_call_a_pr_envs_deploy_makes_and_no_policy_write():
    """What `invoke doctor` checks for a pr<N> stack (deploy_grants) is what the deployer policy grants."""
    import fnmatch

    import hcl2

    from render.pr_env import SERVICES
    from render.vault_artifacts import deploy_grants

    rules = {
        p: set(body["capabilities"]) for block in hcl2.loads(deployer_policy_hcl())["path"] for p, body in block.items()
    }
    needed = deploy_grants("secret", "approle", "pr42", SERVICES)
    assert not [p for p in needed if p.startswith("sys/policies/")], "a PR env reads and writes no ACL policy"
    for path, capabilities in needed.items():
        granted = rules.get(path) or next(
            (caps for rule, caps in rules.items() if rule.endswith("*") and fnmatch.fnmatchcase(path, rule)), set()
        )
        assert capabilities <= granted, f"{path} needs {capabilities - granted}"


def test_a_pr_envs_generated_secrets_are_not_protected(pr_env_run):
    """Production's and staging's SECRET_KEY, LLM key and restic password are protected
    (tests/unit/test_program.py); a closed PR's destroy must remove a PR env's."""
    from tests.unit.test_program import DATA_BEARING

    found = {r.name: r for r in pr_env_run.resources if r.type.startswith("random:")}
    assert set(DATA_BEARING) <= set(found)
    assert [n for n in DATA_BEARING if found[n].options["protect"]] == []


def test_the_deployer_policy_readme_prints_pins_what_every_pr_env_inherits(pr_env_run):
    """vaultAgentCidrs and secretIdTtlDays come from the base stack (ops/pr_env.template.yaml): the
    deployer policy docs/pr-environments.md writes must pin exactly the roles a generated PR env declares."""
    from ops.pr_env import deployer_policy

    roles = [r.inputs for r in pr_env_run.by_type("vault:appRole/authBackendRole:AuthBackendRole")]
    (cidrs,) = {tuple(r.get("secretIdBoundCidrs") or ()) for r in roles}
    (ttl,) = {int(r["secretIdTtl"]) for r in roles}
    assert deployer_policy() == deployer_policy_hcl("secret", "approle", cidrs, ttl)


def test_a_base_stack_still_using_the_old_key_maxpreviewenvs_gives_its_value_under_the_new_key():
    template = pe.load_template()
    base, _ = read_stack_file(ROOT / f"Pulumi.{template.base}.yaml")
    base = {k: v for k, v in base.items() if k != "finance-report:maxPrEnvs"} | {"finance-report:maxPreviewEnvs": "5"}
    config = pe.pr_env_config(3, base, template)
    assert config["finance-report:maxPrEnvs"] == 5 and "finance-report:maxPreviewEnvs" not in config
    with pytest.raises(pe.PrEnvError) as err:
        pe.pr_env_config(3, base | {"finance-report:maxPrEnvs": "2"}, template)
    assert str(err.value).startswith("config finance-report:maxPreviewEnvs = 5 is invalid: expected unset")
