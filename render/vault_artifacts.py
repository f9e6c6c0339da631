"""What the program hands to Vault and to the vault-agent sidecars: policy HCL, agent HCL, consul-template
templates, the tmpfs volume options and the health-check commands. Pure functions; the integration tests
run these exact strings on a real OpenBao server, agent and Docker engine.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from facts import providers
from render import naming

# Paths inside the agent container.
AGENT_CONFIG_DIR = "/vault/config"
AGENT_CONFIG_PATH = f"{AGENT_CONFIG_DIR}/agent.hcl"
CA_CERT_PATH = f"{AGENT_CONFIG_DIR}/vault-ca.pem"
ROLE_ID_PATH = "/vault/approle/role-id"
SECRET_ID_PATH = "/vault/approle/secret-id"

# AppRole token settings: short-lived tokens; the agent logs in again with its secret-id when one expires.
TOKEN_TTL_SECONDS = 3600
TOKEN_MAX_TTL_SECONDS = 4 * 3600
# Secret-ids expire (config secretIdTtlDays): one a leaked deploy token mints, or one read from the
# Docker host's disk, dies by itself. Each deploy re-mints them before that (secret_id_renewal_window).
SECRET_ID_TTL_DAYS = 30
# Bounds of secretIdTtlDays. At least 12: the weekly scheduled deploy (.github/workflows/deploy.yml) must
# come within two thirds of the TTL. At most 32: Vault caps a secret-id's TTL at the AppRole mount's max
# lease TTL, 768 h unless tuned (openbao/openbao@df6ce2ceba internal/builtin/credential/approle/
# validation.go:306-318), and the renewal windows must be computed from the TTL Vault applies.
SECRET_ID_TTL_MIN_DAYS, SECRET_ID_TTL_MAX_DAYS = 12, 32
SECRET_ID_TTL_SECONDS = SECRET_ID_TTL_DAYS * 86400
SECRETS_TMPFS_SIZE = "1m"
RENDERED_FILE_MODE = "0440"  # owner (agent, uid 0) and the consumer's group only
CREDENTIAL_FILE_MODE = "0400"  # role-id and secret-id: the agent (uid 0) only


def secrets_mount_path(service: str) -> str:
    """Where the secrets volume is mounted, in the agent (read-write) and its consumers (read-only)."""
    return f"/run/secrets/{service}"


@dataclass(frozen=True)
class Template:
    """One file the agent renders into the secrets volume."""

    filename: str
    contents: str

    def source_path(self) -> str:
        return f"{AGENT_CONFIG_DIR}/{self.filename}.ctmpl"


# ------------------------------------------------------------------------------------------ Vault side


def policy_hcl(kv_mount: str, env: str, service: str) -> str:
    """Least privilege (invariant 2): read this service's own KV secret, look up its own token."""
    return (
        f'path "{naming.kv_data_path(kv_mount, env, service)}" {{\n'
        '  capabilities = ["read"]\n'
        "}\n\n"
        'path "auth/token/lookup-self" {\n'
        '  capabilities = ["read"]\n'
        "}\n"
    )


def preview_policy_name(env: str) -> str:
    return f"{naming.PREFIX}-{env}-preview"


def preview_policy_hcl(kv_mount: str, approle_mount: str, env: str, services: Sequence[str]) -> str:
    """The policy of `pulumi preview --stack <env>`'s token (docs/ci-credentials.md): exactly the calls the
    Vault provider makes to read this env's resources (facts.providers.VAULT_READ_CALLS), on each service's
    own paths, without globs. No list, no write, no auth/token/create (previews set vaultSkipChildToken).
    The one update is the secret-id accessor lookup the provider's read uses: it returns a secret-id's
    metadata, never the secret-id."""
    grants: dict[str, str] = {}
    for capability, template in providers.VAULT_READ_CALLS:
        for service in services:
            path = template.format(
                kv=kv_mount,
                approle=approle_mount,
                name=naming.kv_name(env, service),
                policy=naming.vault_policy_name(env, service),
                role=naming.approle_role_name(env, service),
            )
            grants.setdefault(path, capability)
    return "\n".join(
        f'path "{path}" {{\n  capabilities = ["{capability}"]\n}}\n' for path, capability in grants.items()
    )


def deploy_grants(
    kv_mount: str, approle_mount: str, env: str, services: Sequence[str], child_token: bool = True
) -> dict[str, set[str]]:
    """path -> capabilities the `pulumi up` token of one env needs: every read the provider makes
    (facts.providers.VAULT_READ_CALLS), its writes (VAULT_WRITE_CALLS) and what `invoke rotate` does
    (VAULT_ROTATION_CALLS), on each service's own paths. A committed env's token may create a role but never
    update or delete one, and never write a role-id (DEPLOY_ROLE_NARROWING)."""
    grants: dict[str, set[str]] = {}
    writes = list(providers.VAULT_WRITE_CALLS)
    if not naming.is_preview_env(env):
        writes = [(DEPLOY_ROLE_NARROWING.get(t, c), t) for c, t in writes]
    calls = [((c,), t) for c, t in providers.VAULT_READ_CALLS] + writes + list(providers.VAULT_ROTATION_CALLS)
    if naming.is_preview_env(env):
        calls = [(c, t) for c, t in calls if "{policy}" not in t]  # a preview declares no policy (preview_env.py)
    for capabilities, template in calls:
        for service in services:
            path = template.format(
                kv=kv_mount,
                approle=approle_mount,
                name=naming.kv_name(env, service),
                policy=naming.vault_policy_name(env, service),
                role=naming.approle_role_name(env, service),
            )
            if capabilities:
                grants.setdefault(path, set()).update(capabilities)
    if child_token:
        capabilities, path = providers.VAULT_CHILD_TOKEN_CALL
        grants[path] = set(capabilities)
    return grants


# A committed env's deploy token creates its roles (the first deploy) and never changes or deletes one,
# although the provider would update a role whose settings the program changed, or delete one on destroy:
# Vault cannot pin a JSON number (facts.providers.VAULT_JSON_NUMBERS_UNPINNABLE), so an update right would
# let a leaked token set secret_id_ttl to 0, and a deleted role comes back with Vault's defaults (no CIDR
# binding, secret-ids that never expire). The program never sets a role-id: nothing writes one. A change
# to a role's settings, or destroying a stack, is an admin's job (docs/ci-credentials.md "The deploy Vault policy and
# token"). Write capabilities only: the reads stay.
DEPLOY_ROLE_NARROWING: dict[str, tuple[str, ...]] = {
    "auth/{approle}/role/{role}": ("create",),
    "auth/{approle}/role/{role}/role-id": (),
}

DOCTOR_GRANT = ("sys/capabilities-self", {"update"})  # `invoke doctor` asks Vault what the token may do


def _hcl_value(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_hcl_value(v) for v in value) + "]"
    return json.dumps(value)  # HCL strings take JSON's escapes (\n, \"); true/false as HCL booleans


def hcl_block(path: str, capabilities: Sequence[str], allowed: Mapping[str, Sequence[object]] | None = None) -> str:
    """One `path` block; `allowed` becomes allowed_parameters (Vault then refuses any parameter not named)."""
    lines = [f'path "{path}" {{', f"  capabilities = [{', '.join(json.dumps(c) for c in sorted(capabilities))}]"]
    if allowed is not None:
        lines.append("  allowed_parameters = {")
        lines += [f"    {json.dumps(key)} = {_hcl_value(list(values))}" for key, values in allowed.items()]
        lines.append("  }")
    return "\n".join(lines) + "\n}\n"


MAX_BOUND_CIDRS = 4
"""vaultAgentCidrs' limit: each CIDR list is pinned in every order the provider may send it (n! lists)."""


def role_write_parameters(settings: AppRoleSettings, policy_names: Sequence[str]) -> dict[str, list[object]]:
    """allowed_parameters of a role: exactly the fields the provider sends when it creates the role with
    `settings` (facts.providers.VAULT_ROLE_CREATE_FACT), each pinned to the program's value. A field the
    program leaves at Vault's default (0, an empty list) is never sent, so it is not allowed at all: a
    token_period, a use count, an explicit max TTL or a cleared CIDR list are refused. Lists are compared
    whole by Vault: each CIDR list is allowed in every order (the provider sends a schema.Set in its own
    order), never empty, a subset or a string. token_policies may be one of `policy_names`, as a string or
    the one-element list the provider sends; names are exact, never globs, which a comma-joined string
    could satisfy (a token that could attach any policy to its role could mint a secret-id and log in with
    it: staging's deploy token would read production). The TTLs are numbers, which Vault cannot pin
    (facts.providers.VAULT_JSON_NUMBERS_UNPINNABLE): any value is allowed, which is why a committed env's
    token may only create a role (DEPLOY_ROLE_NARROWING)."""
    allowed: dict[str, list[object]] = {"token_policies": [*policy_names, *([name] for name in policy_names)]}
    allowed["bind_secret_id"] = [settings.bind_secret_id]
    allowed["token_no_default_policy"] = [settings.token_no_default_policy]
    allowed["local_secret_ids"] = [False]  # sent as the schema's default when unset; true only at creation
    allowed["token_type"] = [settings.token_type]
    if settings.bound_cidrs:
        if len(settings.bound_cidrs) > MAX_BOUND_CIDRS:
            raise ValueError(f"at most {MAX_BOUND_CIDRS} bound CIDRs")
        orders = [list(order) for order in itertools.permutations(settings.bound_cidrs)]
        allowed["secret_id_bound_cidrs"] = orders
        allowed["token_bound_cidrs"] = [list(order) for order in orders]
    for number, value in (
        ("token_ttl", settings.token_ttl),
        ("token_max_ttl", settings.token_max_ttl),
        ("secret_id_ttl", settings.secret_id_ttl),
        ("secret_id_num_uses", settings.secret_id_num_uses),
    ):
        if value:
            allowed[number] = []  # any value: Vault cannot pin a JSON number
    return allowed


# What a secret-id mint may carry: the program sends metadata only (program/vault_agent.py); no ttl,
# num_uses, cidr_list, token_bound_cidrs or value of its own (facts.providers.VAULT_SECRET_ID_PARAMS_FACT).
# Its content is free: it changes with the renewal window (secret_id_metadata).
SECRET_ID_MINT_PARAMETERS: dict[str, list[object]] = {"metadata": []}
ACCESSOR_PARAMETERS: dict[str, list[object]] = {providers.VAULT_ACCESSOR_PARAM: []}


def deploy_policy_hcl(
    kv_mount: str,
    approle_mount: str,
    env: str,
    services: Sequence[str],
    bound_cidrs: Sequence[str] = (),
    secret_id_ttl: int = SECRET_ID_TTL_SECONDS,
) -> str:
    """The policy of `pulumi up --stack <env>`'s token (docs/ci-credentials.md): what the deploy reads
    and writes, what `invoke rotate` destroys, and sys/capabilities-self so `invoke doctor` can check
    exactly that. Each ACL policy may only be written with the exact text the program writes, each role
    only created, with its own policy and the program's settings (`bound_cidrs`, `secret_id_ttl`: the
    env's config), and each secret-id minted as the program mints it: a token that may write any of
    these could otherwise grant itself any path, or leave a credential that outlives it."""
    grants = {**deploy_grants(kv_mount, approle_mount, env, services), DOCTOR_GRANT[0]: DOCTOR_GRANT[1]}
    pinned: dict[str, dict[str, list[object]]] = {}
    for service in services:
        name = naming.vault_policy_name(env, service)
        role = f"auth/{approle_mount}/role/{naming.approle_role_name(env, service)}"
        settings = approle_settings(env, service, bound_cidrs, secret_id_ttl)
        pinned[f"sys/policies/acl/{name}"] = {providers.VAULT_POLICY_WRITE_PARAM: [policy_hcl(kv_mount, env, service)]}
        pinned[role] = role_write_parameters(settings, [name])
        pinned[f"{role}/secret-id"] = SECRET_ID_MINT_PARAMETERS
        pinned[f"{role}/secret-id-accessor/lookup"] = ACCESSOR_PARAMETERS
        pinned[f"{role}/secret-id-accessor/destroy"] = ACCESSOR_PARAMETERS
    return "\n".join(hcl_block(path, caps, pinned.get(path)) for path, caps in grants.items())


@dataclass(frozen=True)
class AppRoleSettings:
    role_name: str
    bound_cidrs: tuple[str, ...] = ()
    """Where the agents' requests reach Vault from (the Docker host): the secret-id and the tokens it
    yields work from nowhere else."""
    token_ttl: int = TOKEN_TTL_SECONDS
    token_max_ttl: int = TOKEN_MAX_TTL_SECONDS
    token_no_default_policy: bool = True
    secret_id_ttl: int = SECRET_ID_TTL_SECONDS
    secret_id_num_uses: int = 0  # the agent logs in again after restarts and token expiry
    bind_secret_id: bool = True
    token_type: str = "service"


def approle_settings(
    env: str, service: str, bound_cidrs: Sequence[str] = (), secret_id_ttl: int = SECRET_ID_TTL_SECONDS
) -> AppRoleSettings:
    return AppRoleSettings(
        role_name=naming.approle_role_name(env, service),
        bound_cidrs=tuple(bound_cidrs),
        secret_id_ttl=secret_id_ttl,
    )


def secret_id_renewal_window(now: float, secret_id_ttl: int) -> str:
    """The start (UTC, ISO 8601) of the renewal window `now` falls in: windows are a third of the TTL
    long, counted from the Unix epoch. The secret-id's metadata carries it, so the first `pulumi up` in a
    new window replaces the secret-id (every argument of the resource is ForceNew: facts.providers
    REPLACE_FACTS): the new one is minted, the agent recreated with it, the old one destroyed. One minted
    in window k lives until at least the end of window k+2, so a deploy at least every two thirds of the
    TTL (docs/rotation.md: the weekly scheduled deploy) renews every secret-id before it expires."""
    import datetime

    window = secret_id_ttl // 3
    start = int(now) // window * window
    return datetime.datetime.fromtimestamp(start, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def secret_id_metadata(env: str, service: str, renewal_window: str) -> str:
    """The secret-id's metadata, written as the provider sends it (normalizeDataJSON: keys sorted, no
    spaces; facts.providers.VAULT_SECRET_ID_PARAMS_FACT), so the state holds what Vault holds."""
    return json.dumps(
        {"env": env, "renewal_window": renewal_window, "service": service}, sort_keys=True, separators=(",", ":")
    )


# ------------------------------------------------------------------------------------------ agent side


def _hcl_string(value: str) -> str:
    """A JSON string is a valid HCL string once template sequences are escaped."""
    return json.dumps(value).replace("${", "$${").replace("%{", "%%{")


def agent_hcl(
    vault_address: str,
    approle_mount: str,
    service: str,
    templates: Sequence[Template],
    ca_cert: bool = False,
    render_once: bool = False,
) -> str:
    """Agent config: AppRole auto-auth that exits on error, templates that exit when retries fail, so a
    broken agent shows as a stopped container (restart policy) instead of a silent stale file. With
    `ca_cert`, Vault's certificate is verified against the uploaded CA_CERT_PATH (a private CA). With
    `render_once` (runtime swarm's in-task agent) it renders every template once and exits 0."""
    mount = secrets_mount_path(service)
    blocks = [
        f"exit_after_auth = {'true' if render_once else 'false'}\n",
        "vault {\n"
        f"  address = {_hcl_string(vault_address)}\n"
        + (f"  ca_cert = {_hcl_string(CA_CERT_PATH)}\n" if ca_cert else "")
        + "  retry {\n    num_retries = 5\n  }\n"
        "}\n",
        "auto_auth {\n"
        '  method "approle" {\n'
        f"    mount_path  = {_hcl_string('auth/' + approle_mount)}\n"
        "    exit_on_err = true\n"
        "    config = {\n"
        f"      role_id_file_path                   = {_hcl_string(ROLE_ID_PATH)}\n"
        f"      secret_id_file_path                 = {_hcl_string(SECRET_ID_PATH)}\n"
        # The agent re-reads it on every login (restarts, token expiry): keep it.
        "      remove_secret_id_file_after_reading = false\n"
        "    }\n"
        "  }\n"
        "}\n",
        "template_config {\n"
        "  exit_on_retry_failure         = true\n"
        # KV v2 values are not leases: re-read them on this interval so a changed value is re-rendered.
        '  static_secret_render_interval = "1m"\n'
        "}\n",
    ]
    for template in templates:
        blocks.append(
            "template {\n"
            f"  source               = {_hcl_string(template.source_path())}\n"
            f"  destination          = {_hcl_string(mount + '/' + template.filename)}\n"
            f'  perms                = "{RENDERED_FILE_MODE}"\n'
            "  error_on_missing_key = true\n"
            "}\n"
        )
    return "\n".join(blocks)


def agent_command(service: str) -> list[str]:
    """Runs the agent binary directly (the vault image's entrypoint would drop to the `vault` user and
    render files the consumer's group cannot read), after emptying the secrets volume: a volume that a
    running consumer keeps mounted still holds the previous agent's files, and the health check ("every
    file present") must only pass once this agent has rendered them."""
    return ["sh", "-c", f"rm -f {secrets_mount_path(service)}/* && exec vault agent -config={AGENT_CONFIG_PATH}"]


def tmpfs_driver_opts(consumer_gid: int) -> dict[str, str]:
    """Local-driver volume backed by tmpfs: rendered secrets live in memory only, and only while a
    container mounts the volume. Owned by the agent (uid 0), readable by the consumer's group."""
    return {
        "type": "tmpfs",
        "device": "tmpfs",
        "o": f"size={SECRETS_TMPFS_SIZE},mode=0750,uid=0,gid={consumer_gid}",
    }


def agent_healthcheck(service: str, templates: Sequence[Template]) -> list[str]:
    """Healthy once every rendered file is present, non-empty and holds no unresolved value."""
    files = [f"{secrets_mount_path(service)}/{t.filename}" for t in templates]
    present = " && ".join(f"test -s {f}" for f in files)
    return ["CMD-SHELL", f"{present} && ! grep -qs '<no value>' {' '.join(files)}"]


# ------------------------------------------------------------------------------------------ templates

_SH_QUOTE = "replaceAll \"'\" \"'\\\\''\""  # consul-template: ' -> '\''  (inside '...' for sh)
# Redis config strings: \ -> \\, then " -> \", newline and CR -> \n and \r (one value stays one line).
_REDIS_QUOTE = (
    'replaceAll "\\\\" "\\\\\\\\" | replaceAll "\\"" "\\\\\\"" | replaceAll "\\n" "\\\\n" | replaceAll "\\r" "\\\\r"'
)


def sh_single_quote(value: str) -> str:
    """Python twin of _SH_QUOTE for literal (non-secret) values written into the same env file."""
    return "'" + value.replace("'", "'\\''") + "'"


def _secret_block(kv_mount: str, env: str, service: str, body: str) -> str:
    return f'{{{{ with secret "{naming.kv_data_path(kv_mount, env, service)}" }}}}{body}{{{{ end }}}}'


def password_template(kv_mount: str, env: str, service: str, key: str) -> Template:
    """The bare value, no newline: read with `$(cat file)` or a *_FILE variable."""
    return Template("password", _secret_block(kv_mount, env, service, f"{{{{ .Data.data.{key} }}}}"))


def redis_conf_template(kv_mount: str, env: str) -> Template:
    """`requirepass` in a config file Redis includes, so the password is never on its command line."""
    body = f'requirepass "{{{{ .Data.data.PASSWORD | {_REDIS_QUOTE} }}}}"\n'
    return Template("redis.conf", _secret_block(kv_mount, env, "redis", body))


def env_file_template(
    kv_mount: str,
    env: str,
    service: str,
    secret_keys: Sequence[str],
    literals: Mapping[str, str],
    filename: str = "app.env",
) -> Template:
    """A file `sh` can source with `set -a; . file`: secret keys come from Vault, the rest are literal.
    Both are single-quoted, so any byte sequence survives except NUL."""
    lines = []
    for key, value in sorted(literals.items()):
        if "{{" in value or "}}" in value:
            raise ValueError(f"literal for {key} contains a template delimiter")
        lines.append(f"{key}={sh_single_quote(value)}")
    body = "\n".join(lines) + "\n"
    body += "".join(f"{key}='{{{{ .Data.data.{key} | {_SH_QUOTE} }}}}'\n" for key in sorted(secret_keys))
    return Template(filename, _secret_block(kv_mount, env, service, "\n" + body))


# ------------------------------------------------------------------------------------------ restart digest


def restart_digest(key: bytes, templates: Sequence[Template], kv_data: Mapping[str, str]) -> str:
    """HMAC of everything a consumer reads from its secrets volume. Carried as a container label, it
    changes exactly when a consumed value or template changes, which replaces (restarts) the consumer
    (invariant 6). Keyed with a random per-stack key so it reveals nothing about weak values."""
    message = json.dumps(
        {"templates": [[t.filename, t.contents] for t in templates], "data": dict(sorted(kv_data.items()))},
        sort_keys=True,
        ensure_ascii=False,
    ).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
