"""docs/vault/*.hcl, the policies a Vault administrator writes by hand (docs/ci-credentials.md,
docs/pr-environments.md), are what the builders make for each committed stack's plan: a builder change
without its regenerated file, a stale file nobody writes any more, or a page pointing at a file that does
not exist fails here (`uv run invoke vault-policies` regenerates them)."""

from __future__ import annotations

import re

import hcl2

from ci import vault_policies
from render.vault_artifacts import deploy_policy_hcl, preview_policy_hcl
from tests.conftest import ROOT

COMMITTED = sorted(vault_policies.DIR.glob("*.hcl"))


def test_every_committed_policy_file_is_what_the_generator_writes_and_no_other_file_is_there():
    files = vault_policies.policy_files()
    assert sorted(f.path for f in files) == COMMITTED, "run `uv run invoke vault-policies`"
    stale = [f.path.name for f in files if f.path.read_text() != f.hcl]
    assert stale == [], f"stale policy files {stale}: run `uv run invoke vault-policies`"


def test_the_deploy_and_preview_files_are_built_from_each_stacks_own_services_and_mounts(production, staging):
    """The services come from the plan (every service with a Vault side), so a service added to the
    program (backup once) appears in its env's deploy policy; the mounts are the stack's."""
    for run in (production, staging):
        env = run.outputs["env"]
        services = sorted(run.outputs["vault_roles"])
        assert "backup" in services
        cidrs, ttl = vault_policies.role_settings(run)
        assert ttl == 30 * 86400 and (env != "staging" or cidrs == ())
        assert (vault_policies.DIR / f"deploy-{env}.hcl").read_text() == deploy_policy_hcl(
            "secret", "approle", env, services, cidrs, ttl
        )
        assert (vault_policies.DIR / f"preview-{env}.hcl").read_text() == preview_policy_hcl(
            "secret", "approle", env, services
        )


def test_each_file_is_valid_hcl_that_names_only_its_own_env():
    for path in COMMITTED:
        paths = [next(iter(block)) for block in hcl2.loads(path.read_text())["path"]]
        assert paths, path.name
        for env, other in (("staging", "production"), ("production", "staging")):
            if path.stem.endswith(f"-{env}"):
                assert not [p for p in paths if other in p], f"{path.name} grants a path of {other}"


def test_every_vault_policy_write_in_the_docs_names_a_committed_file_under_its_generated_name():
    """The docs write each file under the policy name the generator gives it (the deploy token's
    `-policy=` names that policy), and every generated file is written somewhere in the docs."""
    docs = "\n".join(p.read_text() for p in sorted((ROOT / "docs").rglob("*.md")))
    writes = re.findall(r"vault policy write ([^\s$]+) (docs/vault/[^\s$]+\.hcl)", docs)
    # `for s in postgres redis ...; do vault policy write finance_report-previews-$s docs/vault/previews-$s.hcl`
    for names, name, path in re.findall(r"for s in ([a-z ]+); do\s+vault policy write (\S+) (\S+)", docs):
        writes += [(name.replace("$s", s), path.replace("$s", s)) for s in names.split()]
    by_path = {f.path.relative_to(ROOT).as_posix(): f.policy for f in vault_policies.policy_files()}
    for name, path in writes:
        assert path in by_path, f"the docs write {path}, which the generator does not make"
        assert by_path[path] == name, f"{path} is written as {name}, expected {by_path[path]}"
    unwritten = set(by_path) - {path for _, path in writes}
    assert not unwritten, f"policy files no page writes: {sorted(unwritten)}"
