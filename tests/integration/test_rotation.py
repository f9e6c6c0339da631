"""`invoke rotate` on real OpenBao, Postgres and Redis (stand-in images), following the command's own plan.

For each password (Postgres's superuser's, its app role's, Redis's): the datastore runs with the
program's generated value; `invoke rotate` plans the replace (its URN from the program, the containers it
recreates from the program run again); the program with the new value in its state is applied to OpenBao
(what `pulumi up` writes), the containers the plan names are recreated as the program declares them
(delete-first); then the old password is refused by the server (and by the URL rendered before, when the
app's URL carries it), and the new one is accepted by the server and through the app's freshly rendered
DATABASE_URL / REDIS_URL; the superuser's is in no URL, so the app's URL stays as it was and connects.

For a secret-id: the plan recreates the agent only; the replace mints a new secret-id, the new agent
renders with it, deleting the old resource revokes the old one (it no longer logs in), and the server
keeps running on its rendered files, untouched, accepting the same password.
"""

from __future__ import annotations

import secrets
from urllib.parse import unquote, urlsplit

import pytest

from ops import rotate
from ops.git_guard import GitState
from tests.conftest import ROOT, run_stack
from tests.integration.datastore_deployment import URL_KEY, DatastoreDeployment
from tests.integration.harness import wait_until
from tests.integration.sidecar import MINTED, Artifacts, apply_vault

pytestmark = pytest.mark.integration
KEY = {"postgres": "POSTGRES_PASSWORD", "redis": "PASSWORD"}  # each server's own (superuser's) password


def settings(openbao) -> dict:
    return {
        "vaultAddress": openbao.address,
        "postgresDataPath": None,
        "redisDataPath": None,
        "adoptVaultValues": "false",
    }


@pytest.fixture
def image_of(postgres_image, redis_image):
    return {"postgres": postgres_image, "redis": redis_image}


# (service, --what, its KV key, whether the app's URL carries it)
ROTATIONS = [
    ("postgres", "postgres-password", "POSTGRES_PASSWORD", False),
    ("postgres", "postgres-app-password", "APP_DB_PASSWORD", True),
    ("redis", "redis-password", "PASSWORD", True),
]


@pytest.mark.parametrize("service,what,key,in_url", ROTATIONS, ids=[r[1] for r in ROTATIONS])
def test_a_rotated_password_works_and_the_old_one_no_longer_does(
    service, what, key, in_url, docker_engine, agent_image, image_of, openbao, program
):
    config = settings(openbao)
    before = Artifacts(run_stack("staging", config))
    apply_vault(openbao, before)
    old = before.kv()[service][1][key]
    deployment = DatastoreDeployment(
        docker_engine, agent_image, image_of[service], openbao, before, service, f"rot-{what[:12]}"
    )
    try:
        deployment.up()
        old_url = deployment.rendered_url()
        # the role that holds this password: the superuser's is in no URL, the others are the URL's own
        user = "postgres" if service == "postgres" and not in_url else unquote(urlsplit(old_url).username or "")
        assert deployment.connects(old, user=user), deployment.last_error
        assert deployment.url_connects(old_url), deployment.last_error

        new = "rotated-" + secrets.token_urlsafe(18) + "%@:/"  # reserved URL characters: the URL must encode them
        plan = rotate.plan_rotation(
            "staging", what, before.run, lambda state: run_stack("staging", config, state=state), new_value=new
        )
        assert plan.urn == before.run.one("random:index/randomPassword:RandomPassword", what).urn
        recreated = {(r.service, r.agent_for) for r in plan.replaced}
        assert {(service, None), ("vault-agent", service)} <= recreated
        app = {("vault-agent", "app"), ("backend", None)}
        assert app <= recreated if in_url else not app & recreated, recreated

        after = Artifacts(run_stack("staging", config, state={plan.resource_name: new}))
        assert after.kv()[service][1][key] == new
        apply_vault(openbao, after)  # what the up writes to Vault
        deployment.artifacts = after
        deployment.up(replace=True)  # the datastore and its agent, delete-first, as the plan says

        assert not deployment.connects(old, user=user), f"the old {what} still works"
        assert deployment.connects(new, user=user), deployment.last_error
        new_url = deployment.rendered_url()
        if in_url:
            assert not deployment.url_connects(old_url), (
                f"the {URL_KEY[service]} rendered before the rotation still connects"
            )
            assert new_url != old_url and deployment.url_connects(new_url), deployment.last_error
            assert new not in new_url, "the password must be percent-encoded in the URL"
        else:
            assert new_url == old_url and deployment.url_connects(new_url), deployment.last_error
    finally:
        apply_vault(openbao, program["staging"])  # the program's values back, for the other tests
        docker_engine.cleanup()


@pytest.mark.parametrize("service", ["postgres", "redis"])
def test_a_rotated_secret_id_revokes_the_old_one_and_nothing_but_the_agent_restarts(
    service, docker_engine, agent_image, image_of, openbao, program
):
    config = settings(openbao)
    artifacts = Artifacts(run_stack("staging", config))
    apply_vault(openbao, artifacts)
    password = artifacts.kv()[service][1][KEY[service]]
    deployment = DatastoreDeployment(
        docker_engine, agent_image, image_of[service], openbao, artifacts, service, f"sid-{service[:2]}"
    )
    role = f"finance_report-staging-{service}"
    try:
        deployment.up()
        plan = rotate.plan_rotation(
            "staging", f"{service}-secret-id", artifacts.run, lambda state: run_stack("staging", config, state=state)
        )
        assert [(r.service, r.agent_for) for r in plan.replaced] == [("vault-agent", service)]
        role_id, old_secret_id = MINTED[deployment.agent]
        server, started = deployment.container, docker_engine.inspect(deployment.container)["State"]["StartedAt"]

        deployment.replace_agent()  # the replace: a new secret-id, the agent recreated with it ...
        _, new_secret_id = MINTED[deployment.agent]
        assert new_secret_id != old_secret_id
        client = openbao.client()
        client.auth.approle.destroy_secret_id(
            role_name=role, secret_id=old_secret_id, mount_point="approle"
        )  # ... then the old one deleted

        def logs_in(secret_id: str) -> bool:
            try:
                openbao.client(token="none").auth.approle.login(role_id=role_id, secret_id=secret_id, use_token=False)
                return True
            except Exception:
                return False

        assert not logs_in(old_secret_id), "the old secret-id still logs in"
        assert logs_in(new_secret_id)
        wait_until(lambda: docker_engine.health(deployment.agent) == "healthy", 60, "the new agent")
        assert deployment.container == server and docker_engine.inspect(server)["State"]["StartedAt"] == started, (
            "the server restarted"
        )
        assert docker_engine.health(server) == "healthy" and deployment.connects(password), deployment.last_error
    finally:
        apply_vault(openbao, program["staging"])
        docker_engine.cleanup()


def test_rotating_a_secret_id_destroys_one_a_leaked_deploy_token_minted(openbao, program, monkeypatch, tmp_path):
    """Issue 16 item 1: a secret-id minted with the deploy token outlived the token; `invoke rotate` kept
    it (it destroyed only the accessor in state). Here the deploy token mints such a backdoor, then
    `invoke rotate --what app-secret-id` runs with that token (VAULT_TOKEN) against OpenBao, its `pulumi
    up --replace` doing what the provider does (mint the new secret-id as the program declares it,
    destroy the replaced one), and the rotation lists the role's accessors and destroys every other: the
    backdoor no longer logs in, the new one does."""
    import json as _json

    from tests.integration.vault_provider import APPROLE, deploy_token, secret_id_metadata

    artifacts = program["staging"]
    role = artifacts.run.outputs["vault_roles"]["app"]
    token = deploy_token(openbao, artifacts)
    path = f"auth/{APPROLE}/role/{role}"
    metadata = secret_id_metadata(artifacts)[role]
    in_state = token.ok("POST", f"{path}/secret-id", {"metadata": metadata})["data"]  # the agent's today
    backdoor = token.ok("POST", f"{path}/secret-id", {"metadata": _json.dumps({"env": "staging"})})["data"]
    role_id = token.ok("GET", f"{path}/role-id")["data"]["role_id"]
    minted: dict[str, str] = {}

    def pulumi_up_replace(argv):
        """What `pulumi up --replace <secret-id urn>` does in Vault through the provider."""
        assert argv[:5] == ["pulumi", "up", "--stack", "staging", "--replace"]
        minted.update(token.ok("POST", f"{path}/secret-id", {"metadata": metadata})["data"])
        token.ok("POST", f"{path}/secret-id-accessor/destroy", {"secret_id_accessor": in_state["secret_id_accessor"]})
        return 0

    stack_file = tmp_path / "Pulumi.staging.yaml"
    text = (ROOT / "Pulumi.staging.yaml").read_text()
    stack_file.write_text(text.replace("https://vault.zitian.party", openbao.address))
    monkeypatch.setenv("VAULT_TOKEN", token.token)
    monkeypatch.setattr(rotate, "read_git_state", lambda root: GitState("c" * 40, (), "c" * 40))  # main's tip
    monkeypatch.setattr(rotate, "deploy_history", lambda stack: [])
    code = rotate.main(
        "staging",
        "app-secret-id",
        yes=True,
        config_file=str(stack_file),
        runner=pulumi_up_replace,
        preflight=lambda: None,
        outputs=lambda stack: {"vault_secret_id_accessors": {"app": minted["secret_id_accessor"]}},
    )
    assert code == 0

    def logs_in(secret_id: str) -> bool:
        try:
            openbao.client(token="none").auth.approle.login(role_id=role_id, secret_id=secret_id, use_token=False)
            return True
        except Exception:
            return False

    assert not logs_in(backdoor["secret_id"]), "the backdoor secret-id still logs in"
    assert not logs_in(in_state["secret_id"])
    assert logs_in(minted["secret_id"])
    remaining = openbao.client().list(f"{path}/secret-id")["data"]["keys"]
    assert remaining == [minted["secret_id_accessor"]]
