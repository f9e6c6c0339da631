"""The program against what the real engine and providers do (facts/providers.py, each fact with its
upstream source): replace strategies as the engine resolves them, stop grace on delete, read-back forms,
secret outputs, rolling names, the Vault provider's child token, and no Vault read at preview.

Mocks do not apply any of this; these tests apply the facts to the program's captured inputs and options.
"""

from __future__ import annotations

import pytest

from facts import providers, tokens
from facts.revision import revision_name
from ops.program_run import ProgramRun, contains_secret, unwrap_secrets
from tests.conftest import run_stack

CONTAINER, VOLUME, NETWORK = tokens.CONTAINER, tokens.VOLUME, tokens.NETWORK
STACKS = ["production", "staging"]
ROLLING = {"app-backend": "backend", "app-frontend": "frontend"}


def labels(resource) -> dict[str, str]:
    return {i["label"]: i["value"] for i in unwrap_secrets(resource.inputs.get("labels", []))}


def strategy(resource) -> str:
    return providers.effective_strategy(
        resource.type, unwrap_secrets(resource.inputs), resource.options["deleteBeforeReplace"]
    )[0]


@pytest.mark.parametrize("stack", STACKS)
def test_rolling_services_are_replaced_create_first_the_other_containers_delete_first(stack, request):
    run: ProgramRun = request.getfixturevalue(stack)
    for resource in run.resources:
        if resource.type == CONTAINER and resource.name in ROLLING:
            assert strategy(resource) == providers.CREATE_BEFORE_DELETE, (
                f"{resource.urn}: the API would be down during every deploy"
            )
        elif resource.type == CONTAINER:
            assert strategy(resource) == providers.DELETE_BEFORE_REPLACE, resource.urn
        elif resource.type in (NETWORK, VOLUME) and resource.options["deleteBeforeReplace"] is None:
            assert strategy(resource) == providers.DELETE_BEFORE_REPLACE, (
                f"{resource.urn}: named, so the provider deletes first"
            )
    for resource in run.by_type(CONTAINER):
        assert resource.options["deleteBeforeReplace"] is not None, (
            f"{resource.urn}: the strategy must be explicit, not the provider's"
        )


@pytest.mark.parametrize("stack", STACKS)
def test_every_container_stops_gracefully_when_deleted(stack, request):
    run: ProgramRun = request.getfixturevalue(stack)
    for c in run.by_type(CONTAINER):
        grace = providers.delete_stop_seconds(c.inputs)
        assert grace >= c.inputs["stopTimeout"] > 0, (
            f"{c.urn}: deleted with t={grace}, stop_timeout {c.inputs.get('stopTimeout')}"
        )
    pg = run.one(CONTAINER, "postgres-container").inputs
    assert providers.delete_stop_seconds(pg) >= 60 and pg["stopSignal"] == "SIGINT", (
        "Postgres needs its fast shutdown and time to checkpoint"
    )


@pytest.mark.parametrize("stack", STACKS)
def test_every_duration_is_written_the_way_the_provider_reads_it_back(stack, request):
    run: ProgramRun = request.getfixturevalue(stack)
    for c in run.by_type(CONTAINER):
        for block, field in providers.GO_DURATION_FIELDS[CONTAINER]:
            value = (c.inputs.get(block) or {}).get(field)
            if value is not None:
                assert providers.is_go_duration(value), (
                    f"{c.urn}: {block}.{field} = {value!r} is read back as another string"
                )


@pytest.mark.parametrize("stack", STACKS)
def test_every_docker_input_that_carries_a_secret_is_a_declared_secret_output(stack, request):
    """The docker provider declares no secret outputs and does not accept secrets: whether the engine keeps
    a secret inside `uploads` secret in state depends on engine internals (facts.providers.NESTED_SECRETS),
    so the program declares it. (The mock monitor lifts nested secrets to the top level when it
    deserialises, so this checks every docker input that carries one.)"""
    run: ProgramRun = request.getfixturevalue(stack)
    carriers = 0
    for resource in run.resources:
        if not resource.type.startswith("docker:"):
            continue
        for key, value in resource.inputs.items():
            if contains_secret(value):
                carriers += 1
                assert key in resource.options["additionalSecretOutputs"], (
                    f"{resource.urn}: {key} carries a secret but is not a secret output"
                )
        for key in providers.NESTED_SECRET_PROPERTIES.get(resource.type, ()):
            if resource.inputs.get(key):
                assert key in resource.options["additionalSecretOutputs"], resource.urn
    assert carriers >= 3, "the three agents' uploads carry their secret-id"


def test_role_and_secret_id_uploads_are_readable_by_the_agent_only(production):
    for service in ("postgres", "redis", "app"):
        uploads = {
            u["file"]: u for u in unwrap_secrets(production.one(CONTAINER, f"{service}-vault-agent").inputs["uploads"])
        }
        for path in ("/vault/approle/role-id", "/vault/approle/secret-id"):
            assert uploads[path].get("permissions") == "0400", (
                f"{service}: {path} would land {oct(providers.DEFAULT_UPLOAD_MODE)}"
            )


@pytest.mark.parametrize("stack", STACKS)
def test_rolling_names_are_the_hash_of_every_argument(stack, request):
    run: ProgramRun = request.getfixturevalue(stack)
    suffix = "" if stack == "production" else f"-{stack}"
    for name, service in ROLLING.items():
        c = run.one(CONTAINER, name)
        props = unwrap_secrets(c.inputs)
        assert props["name"] == revision_name(f"finance_report-{service}{suffix}", props), c.urn


@pytest.mark.parametrize("stack", STACKS)
def test_fixed_name_containers_replace_on_settings_the_provider_would_not_apply(stack, request):
    run: ProgramRun = request.getfixturevalue(stack)
    for c in run.by_type(CONTAINER):
        if c.name in ROLLING:
            continue
        ignored = providers.ignored_updates(unwrap_secrets(c.inputs))
        assert "healthcheck" in ignored
        assert set(ignored) <= set(c.options["replaceOnChanges"]), f"{c.urn}: a change to {ignored} would be lost"


def test_secrets_volume_names_carry_their_options_so_a_change_never_reuses_the_old_volume(production):
    from tests.conftest import run_stack as again

    # Another agent memory limit changes the agents, not the volumes' options: same names (a label or
    # name carrying it would replace every consumer of the volume).
    bigger = again("production", {"agentMemoryMb": "96"})
    assert {c.inputs["memory"] for c in bigger.by_type(CONTAINER) if c.name.endswith("-agent")} != {
        c.inputs["memory"] for c in production.by_type(CONTAINER) if c.name.endswith("-agent")
    }
    names = sorted(v.inputs["name"] for v in production.by_type(VOLUME) if v.inputs.get("driverOpts"))
    assert names == sorted(v.inputs["name"] for v in bigger.by_type(VOLUME) if v.inputs.get("driverOpts"))
    from render import vault_artifacts as va

    original = va.SECRETS_TMPFS_SIZE
    try:
        va.SECRETS_TMPFS_SIZE = "2m"
        changed = again("production")
    finally:
        va.SECRETS_TMPFS_SIZE = original
    assert not set(names) & {v.inputs["name"] for v in changed.by_type(VOLUME)}, "new options, new volumes"


@pytest.mark.parametrize("stack", STACKS)
def test_what_a_rolling_service_attaches_to_is_replaced_beside_it_never_under_it(stack, request):
    """A delete-first replacement of a network or volume deletes first every container whose arguments
    name it (the engine's dependent replacements), so the backend would go down with its network. What a
    rolling container uses must be replaced create-first, under a name that changes with what replaces it
    (facts.providers.NAMED_DELETE_BEFORE_REPLACE, VOLUME_CREATE_REUSES)."""
    from facts.revision import options_digest

    run: ProgramRun = request.getfixturevalue(stack)
    declared = {r.inputs["name"]: r for r in run.resources if r.type in (NETWORK, VOLUME)}
    used = 0
    for name in ROLLING:
        props = unwrap_secrets(run.one(CONTAINER, name).inputs)
        sources = [n["name"] for n in props.get("networksAdvanced", [])] + [
            m["source"] for m in props.get("mounts", []) if m.get("type") == "volume"
        ]
        for source in (s for s in sources if s in declared):
            used += 1
            resource = declared[source]
            assert strategy(resource) == providers.CREATE_BEFORE_DELETE, (
                f"{resource.urn}: a replacement would take {name} down first"
            )
            inputs = unwrap_secrets(resource.inputs)
            replacing = {
                k: v
                for k, v in inputs.items()
                if k in providers.replacing_properties(resource.type, inputs) and k != "name"
            }
            assert source.endswith("-" + options_digest(replacing)), (
                f"{resource.urn}: the new one would take the old one's name"
            )
    assert used >= 2, (
        "the backend uses the internal network and its secrets volume (the frontend only the external Traefik network)"
    )


def test_a_network_setting_that_replaces_the_network_renames_it(production):
    import program.stack as stack_module
    from tests.conftest import run_stack as again

    before = {r.name: r.inputs["name"] for r in production.by_type(NETWORK)}
    original = stack_module.named.network

    def not_internal(resource_name, prefix, opts, **kwargs):
        return original(
            resource_name, prefix, opts, **{**kwargs, "internal": False} if resource_name == "internal" else kwargs
        )

    stack_module.named.network = not_internal
    try:
        after = {r.name: r.inputs["name"] for r in again("production").by_type(NETWORK)}
    finally:
        stack_module.named.network = original
    assert after["internal"] != before["internal"] and after["vault-egress"] == before["vault-egress"]


def test_the_vault_provider_token_outlives_the_longest_update_and_previews_can_skip_the_child_token(production):
    provider = production.one("pulumi:providers:vault", "vault").inputs
    waits = sum(int(c.inputs.get("waitTimeout", 0)) for c in production.by_type(CONTAINER))
    assert int(provider["maxLeaseTtlSeconds"]) >= max(3600, waits)
    assert provider.get("skipChildToken") in (None, False, "false")
    preview = run_stack("staging", {"vaultSkipChildToken": "true"}).one("pulumi:providers:vault", "vault").inputs
    assert preview["skipChildToken"] in (True, "true")


@pytest.mark.parametrize("stack", STACKS)
def test_the_program_never_reads_vault_so_a_missing_kv_path_cannot_fail_a_preview(stack, request, monkeypatch):
    from ops import program_run

    calls = []
    original = program_run.RecordingMocks.call

    def record(self, args):
        calls.append(args.token)
        return original(self, args)

    monkeypatch.setattr(program_run.RecordingMocks, "call", record)
    assert run_stack(stack).error is None
    assert [c for c in calls if c.startswith("vault:")] == []


def test_datastores_run_as_their_image_user_with_no_capability(production):
    for name, user in (("postgres-container", "70:70"), ("redis-container", "999:1000")):
        c = production.one(CONTAINER, name).inputs
        assert c["user"] == user and c["capabilities"] == {"drops": ["ALL"], "adds": []}, name


@pytest.mark.parametrize("stack", STACKS)
def test_every_container_carries_its_env_and_service(stack, request):
    run: ProgramRun = request.getfixturevalue(stack)
    for c in run.by_type(CONTAINER):
        assert labels(c).get("finance-report.env") == stack and labels(c).get("finance-report.service"), c.urn


def test_a_kv_change_replaces_the_agent_before_its_consumers(production):
    """The agent re-reads KV only every static_secret_render_interval: a consumer restarted by a KV change
    would read the old file. The agent carries its consumers' digest, so it is replaced (and renders anew)
    first; consumers depend on it."""
    changed = run_stack("production", secret_overrides={"s3SecretKey": "rotated-" + "x" * 16})
    for service, changes in (("app", True), ("postgres", False), ("redis", False)):
        before = labels(production.one(CONTAINER, f"{service}-vault-agent"))["finance-report.restart-digest"]
        after = labels(changed.one(CONTAINER, f"{service}-vault-agent"))["finance-report.restart-digest"]
        assert (before != after) == changes, service
    agent_urn = production.one(CONTAINER, "app-vault-agent").urn
    assert agent_urn in production.one(CONTAINER, "app-backend").options["dependsOn"]
