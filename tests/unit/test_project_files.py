"""Project files agree with the code: Pulumi.yaml's config schema and README's table are FIELDS, the
stack files carry no plaintext secret, and the runtime is python with uv."""

from __future__ import annotations

import re

import yaml

from components.config import FIELDS
from tests.conftest import ROOT
from tools.config_reference import policy_table, project_config_block, readme_table


def test_pulumi_yaml_declares_every_config_key_with_type_description_and_default():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "finance-report"
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "uv"}}
    assert project["config"] == project_config_block(), "run `uv run invoke config-reference` and update Pulumi.yaml"
    for key, entry in project["config"].items():
        assert entry["type"] in ("string", "integer", "boolean", "array") and entry["description"], key


def test_readme_config_table_matches_the_schema():
    readme = (ROOT / "README.md").read_text()
    assert readme_table() in readme, "README's config reference is stale: run `uv run invoke config-reference`"


def test_stack_files_hold_no_plaintext_secret():
    secret_keys = {f.key for f in FIELDS if f.secret}
    plain_keys = {f.key for f in FIELDS if not f.secret}  # e.g. adoptVaultValues: a flag, not a secret
    pattern = re.compile(r"(password|secret|token|apikey|api_key|accesskey)", re.I)
    for path in ROOT.glob("Pulumi.*.yaml"):
        config = yaml.safe_load(path.read_text()).get("config", {})
        for full_key, value in config.items():
            key = full_key.split(":", 1)[1]
            if key in secret_keys or (key not in plain_keys and pattern.search(key)):
                assert isinstance(value, dict) and set(value) == {"secure"}, f"{path.name}: {full_key} is not a secure value"


def test_stack_files_reuse_one_ssh_connection_and_never_prompt():
    """Every session the provider and the tools open goes through one master connection: sshd's
    MaxStartups throttles bursts (kreuzwerker/terraform-provider-docker#262); a prompt would hang CI."""
    from tools.stack_file import read_stack_file
    import json

    for path in ROOT.glob("Pulumi.*.yaml"):
        config, _ = read_stack_file(path)
        opts = json.loads(config["finance-report:dockerSshOpts"])
        pairs = {opts[i + 1].split("=")[0]: opts[i + 1].split("=", 1)[1] for i in range(0, len(opts), 2) if opts[i] == "-o"}
        assert pairs.get("BatchMode") == "yes" and pairs.get("StrictHostKeyChecking") == "yes", path.name
        assert pairs.get("ControlMaster") == "auto" and pairs.get("ControlPath") and int(pairs.get("ControlPersist", 0)) > 0, path.name


def test_ci_runs_every_command_of_the_pull_request_checks_job():
    """CI runs only .ci/run: a command the workflow runs and .ci/run does not is never run before merge
    (the workflow's unit step once failed every run while .ci/run stayed green)."""
    workflow = yaml.safe_load((ROOT / ".github/workflows/pull-request.yml").read_text())
    ci = (ROOT / ".ci/run").read_text()
    commands = [line.strip() for step in workflow["jobs"]["checks"]["steps"] if "run" in step for line in step["run"].splitlines() if line.strip()]
    assert commands, "the checks job runs commands"
    assert [c for c in commands if c not in ci] == []
    assert "\nuv run pytest\n" in ci, "README's test command, exactly"


def test_readme_policy_table_lists_every_policy_of_the_pack():
    assert policy_table() in (ROOT / "README.md").read_text(), "README's policy table is stale: regenerate it from tools.config_reference.policy_table()"


def test_readme_shows_the_exact_deploy_policy_of_each_stack():
    from components.vault_artifacts import deploy_policy_hcl

    from tests.conftest import run_stack

    readme = (ROOT / "README.md").read_text()
    for env in ("staging", "production"):
        services = sorted(run_stack(env).outputs["vault_roles"])  # every service with a Vault side
        hcl = deploy_policy_hcl("secret", "approle", env, services)
        assert f"vault policy write finance_report-{env}-deploy - <<'EOF'\n{hcl}EOF\n" in readme, f"README's deploy policy of {env} is stale"


def test_the_cli_version_the_tools_tell_operators_to_install_is_the_one_every_workflow_pins():
    from tools.pulumi_cli import PINNED_VERSION

    pins = set()
    for path in sorted((ROOT / ".github/workflows").glob("*.yml")):
        pins |= set(re.findall(r"pulumi-version:\s*['\"]?([0-9.]+)", path.read_text()))
    assert pins == {PINNED_VERSION}
    assert f"Pulumi CLI ({PINNED_VERSION.rsplit('.', 1)[0]}, the version the workflows pin)" in (ROOT / "README.md").read_text()
