"""`invoke adopt`'s plan (pure): what it imports lands exactly on the program's URNs (computed the way
`pulumi import --file` computes them: pulumi/pkg/cmd/pulumi/operations/import.go, parseImportFile), what
the program does not generate is kept, and every random resource of the plan is adoptable."""

from __future__ import annotations

import json

from config.stack_config import load_config
from ops.adopt import plan_adoption
from render.secrets import GENERATED
from tests.conftest import run_stack

SEEDED = {
    "postgres": {"POSTGRES_PASSWORD": "compose-pg-Pa55word"},
    # A KV document's values are JSON: what the program does not own keeps its type, empty or not.
    "redis": {"PASSWORD": "compose-redis-pw", "LEGACY": "kept-too", "MAXCLIENTS": 64, "TLS": False, "EMPTY": ""},
    "app": {
        "SECRET_KEY": "compose-secret-key-" + "x" * 40,
        "LLM_ENCRYPTION_KEYS": "bmV3ZXN0LWtleS1uZXdlc3Qta2V5LW5ld2VzdC1rZXk_LWtl,b2xkZXI=",
        "S3_ACCESS_KEY": "compose-s3-access",
        "DATABASE_URL": "postgresql+asyncpg://old",
        "FEATURE_X_TOKEN": "kept-unknown-key",
        "FEATURE_FLAGS": {"beta": ["ocr", "llm"], "ratio": 0.25},
    },
}


def import_urns(stack: str, project: str, imports: list[dict]) -> dict[str, str]:
    """The URN `pulumi import --file` gives each entry: NewURN(stack, project, parent's qualified type,
    type, logicalName), parents resolved by their `name` in the file."""
    by_name = {e["name"]: e for e in imports}
    urns: dict[str, str] = {}

    def urn(entry: dict) -> str:
        if entry["name"] in urns:
            return urns[entry["name"]]
        parent = entry.get("parent")
        chain = ""
        if parent:
            parent_urn = urn(by_name[parent])
            chain = parent_urn.split("::")[2] + "$"
        urns[entry["name"]] = f"urn:pulumi:{stack}::{project}::{chain}{entry['type']}::{entry['logicalName']}"
        return urns[entry["name"]]

    for entry in imports:
        urn(entry)
    return urns


def config_of(stack: str):
    from tests.conftest import stack_config

    raw, keys = stack_config(stack)
    p = "finance-report:"
    return load_config(
        {k[len(p) :]: v for k, v in raw.items() if k.startswith(p)}, stack, frozenset(k[len(p) :] for k in keys)
    )


def test_every_random_resource_of_the_plan_is_adoptable_and_written_where_adopt_reads_it(production):
    randoms = {r.name for r in production.resources if r.type.startswith("random:")} - {"restart-digest-key"}
    assert randoms == {g.resource for g in GENERATED}


def test_imports_land_on_the_programs_urns_with_todays_values(production):
    adoption = plan_adoption(production, config_of("production"), SEEDED, configured=set())
    urns = import_urns("production", "finance-report", adoption.imports)
    program = {r.urn for r in production.resources}
    assert set(urns.values()) <= program, set(urns.values()) - program
    imported = {e["logicalName"]: e["id"] for e in adoption.imports if "id" in e}
    assert imported == {
        "postgres-password": "compose-pg-Pa55word",
        "redis-password": "compose-redis-pw",
        "app-secret-key": SEEDED["app"]["SECRET_KEY"],
        "app-llm-key": "bmV3ZXN0LWtleS1uZXdlc3Qta2V5LW5ld2VzdC1rZXk/LWtl",  # standard base64 of the newest key
    }
    components = [e for e in adoption.imports if e.get("component")]
    assert {e["logicalName"] for e in components} == {"finance-report", "postgres", "redis", "app"} and all(
        "id" not in e for e in components
    )


def test_what_the_program_does_not_generate_is_kept_and_missing_operator_secrets_are_set(production, staging):
    adoption = plan_adoption(production, config_of("production"), SEEDED, configured=set())
    assert adoption.kept == {
        "redis": {"LEGACY": "kept-too", "MAXCLIENTS": 64, "TLS": False, "EMPTY": ""},
        "app": {
            "LLM_ENCRYPTION_KEYS": "b2xkZXI=",
            "FEATURE_X_TOKEN": "kept-unknown-key",
            "FEATURE_FLAGS": SEEDED["app"]["FEATURE_FLAGS"],
        },
    }
    assert adoption.operator_secrets == {"s3AccessKey": "compose-s3-access"}
    assert plan_adoption(production, config_of("production"), SEEDED, configured={"s3AccessKey"}).operator_secrets == {}
    # staging does not generate an LLM key: all of today's keys are kept, none is imported
    off = plan_adoption(staging, config_of("staging"), SEEDED, configured=set())
    assert off.kept["app"]["LLM_ENCRYPTION_KEYS"] == SEEDED["app"]["LLM_ENCRYPTION_KEYS"]
    assert "app-llm-key" not in {e["logicalName"] for e in off.imports}


def test_a_missing_kv_path_imports_nothing_for_it(production):
    adoption = plan_adoption(production, config_of("production"), {"redis": SEEDED["redis"]}, configured=set())
    assert [e["logicalName"] for e in adoption.imports if "id" in e] == ["redis-password"]


def test_after_adoption_the_program_writes_todays_values_back(production):
    """What the import puts in state is what the program then writes to Vault: no change, no logout."""
    adoption = plan_adoption(production, config_of("production"), SEEDED, configured=set())
    state = {e["logicalName"]: e["id"] for e in adoption.imports if "id" in e}
    import json

    run = run_stack(
        "production",
        {"vaultValuesAdopted": "true"},
        secret_overrides={"vaultKeptValues": json.dumps(adoption.kept)},
        state=state,
    )
    from ops.program_run import unwrap_secrets

    kv = {
        r.name.split("-")[0]: json.loads(unwrap_secrets(r.inputs["dataJson"]))
        for r in run.by_type("vault:kv/secretV2:SecretV2")
    }
    assert kv["postgres"]["POSTGRES_PASSWORD"] == SEEDED["postgres"]["POSTGRES_PASSWORD"]
    assert kv["app"]["SECRET_KEY"] == SEEDED["app"]["SECRET_KEY"]
    assert kv["app"]["LLM_ENCRYPTION_KEYS"] == SEEDED["app"]["LLM_ENCRYPTION_KEYS"], "newest first, the older kept"
    assert kv["app"]["FEATURE_X_TOKEN"] == "kept-unknown-key" and kv["redis"]["LEGACY"] == "kept-too"
    assert kv["app"]["FEATURE_FLAGS"] == SEEDED["app"]["FEATURE_FLAGS"], "a nested value keeps its type"
    assert (kv["redis"]["MAXCLIENTS"], kv["redis"]["TLS"], kv["redis"]["EMPTY"]) == (64, False, "")


def test_a_value_the_program_owns_must_be_a_string_and_the_error_names_its_key_not_its_value(production):
    import pytest

    from ops.command import OperatorError

    seeded = {**SEEDED, "postgres": {"POSTGRES_PASSWORD": 12345678}}
    with pytest.raises(OperatorError) as raised:
        plan_adoption(production, config_of("production"), seeded, configured=set())
    assert (
        str(raised.value)
        == "Vault secret/data/finance_report/production/postgres: POSTGRES_PASSWORD is a JSON int, expected a "
        "string (the program writes it as one); fix it in Vault, then adopt again"
    )
    assert "12345678" not in str(raised.value)


def test_a_vault_that_cannot_be_reached_is_one_line_saying_why():
    import pytest

    from ops.adopt import read_vault
    from ops.command import OperatorError
    from tests.unit.test_net_errors import closed_port

    address = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(OperatorError) as raised:
        read_vault(address, "generated-token", "secret", "staging", timeout=2)
    assert (
        str(raised.value)
        == f"cannot reach Vault at {address}: the connection was refused (nothing listens on that address and "
        "port); check --vault-address (or vaultAddress) and that this machine reaches it"
    )


def test_the_import_file_is_on_tmpfs_readable_by_the_caller_only_and_removed_after(production):
    """It holds today's values (the import ids): mode 0600 in a 0700 directory on /dev/shm, gone once
    `pulumi import` ran, whatever it answered."""
    import os
    import stat
    import subprocess
    from pathlib import Path

    from ops.adopt import apply

    adoption = plan_adoption(production, config_of("production"), SEEDED, configured=set())
    seen = {}

    def cli(argv, stdin=None):
        if argv[1] == "import":
            path = argv[argv.index("--file") + 1]
            seen.update(
                path=path,
                mode=stat.S_IMODE(os.stat(path).st_mode),
                directory_mode=stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode),
                ids=json.loads(Path(path).read_text())["resources"],
            )
        return subprocess.CompletedProcess(argv, 0, b"", b"")

    apply(adoption, "production", run=cli)
    assert seen["mode"] == 0o600 and seen["directory_mode"] == 0o700, seen
    assert seen["path"].startswith("/dev/shm/") or not os.path.isdir("/dev/shm")
    assert [e for e in seen["ids"] if "id" in e], "the file held the values"
    assert not os.path.exists(seen["path"]) and not os.path.exists(os.path.dirname(seen["path"]))
