"""Developer tasks: `uv run invoke --list`."""

import sys

from invoke import task


@task(help={
    "stack": "stack name (production, staging, ...)",
    "json": "print one JSON object instead of the table",
    "config_file": "evaluate this stack file instead of Pulumi.<stack>.yaml",
    "policy_config": "policy config JSON instead of policies/config.<stack>.json",
})
def plan(c, stack="", json=False, config_file=None, policy_config=None):
    """Offline plan: the program under mocks plus every policy; exit 0 clean, 1 mandatory violation, 2 bad input."""
    from tools.offline_plan import main

    sys.exit(main(stack, json, config_file, policy_config))


@task(name="config-reference")
def config_reference(c):
    """Print Pulumi.yaml's config block and README's config table, generated from components/config.py."""
    import yaml

    from tools.config_reference import project_config_block, readme_table

    print(yaml.safe_dump({"config": project_config_block()}, sort_keys=False, width=120))
    print(readme_table())


@task(help={
    "stack": "stack name (production, staging, ...)",
    "docker_host": "Docker host to ask instead of the stack's dockerHost",
    "http": "also GET the public health URL (--no-http to skip)",
    "config_file": "read this stack file instead of Pulumi.<stack>.yaml",
})
def status(c, stack="", docker_host=None, http=True, config_file=None):
    """One env's containers (by label) with state and health, and its public health URL."""
    from tools.status import main

    sys.exit(main(stack, docker_host, http, config_file))


@task(help={
    "stack": "stack name (production, staging, ...)",
    "config_file": "read this stack file instead of Pulumi.<stack>.yaml",
    "vault_address": "Vault to read instead of the stack's vaultAddress",
    "yes": "do not ask for confirmation",
    "dry_run": "only say what would be imported and kept",
})
def adopt(c, stack="", config_file=None, vault_address=None, yes=False, dry_run=False):
    """Once, before the first `pulumi up` of an env with values in Vault: import them into the stack."""
    from tools.adopt import main

    sys.exit(main(stack, config_file, vault_address, yes, dry_run))


@task(help={
    "stack": "stack name (production, staging, ...)",
    "config_file": "read this stack file instead of Pulumi.<stack>.yaml",
    "docker_host": "Docker host to check instead of the stack's dockerHost",
    "vault_address": "Vault to check instead of the stack's vaultAddress",
    "pull": "pull images the host lacks (--no-pull: only report them)",
})
def doctor(c, stack="", config_file=None, docker_host=None, vault_address=None, pull=True):
    """Preflight of the Docker host, Vault and S3 before the first deploy: one line per check, exit 0/1/2."""
    from tools.doctor import main

    sys.exit(main(stack, config_file, docker_host, vault_address, pull))

_BACKUP_HELP = {
    "stack": "stack name (production, staging, ...)",
    "docker_host": "Docker host to use instead of the stack's dockerHost",
    "config_file": "read this stack file instead of Pulumi.<stack>.yaml",
    "yes": "do not ask for confirmation",
}


@task(help=_BACKUP_HELP)
def backup(c, stack="", docker_host=None, config_file=None, yes=False):
    """Back up the env now (dump, store off-host, restore check); waits and reports. Exit 0/1/2."""
    from tools.backup_ops import main

    sys.exit(main("backup", stack, docker_host=docker_host, config_file=config_file, yes=yes))


@task(help={k: v for k, v in _BACKUP_HELP.items() if k != "yes"})
def backups(c, stack="", docker_host=None, config_file=None):
    """List the env's backups: time, size, restore-check result. Exit 0/1/2."""
    from tools.backup_ops import main

    sys.exit(main("backups", stack, docker_host=docker_host, config_file=config_file))


@task(help={**_BACKUP_HELP, "from_": "latest or a snapshot id from `invoke backups`", "into_scratch": "restore into a new database beside the live one", "http": "check the public health URLs after the restore (--no-http to skip)"})
def restore(c, stack="", from_="", docker_host=None, config_file=None, yes=False, into_scratch=False, http=True):
    """Safety backup, stop backend/worker, restore, start them, health gate (--into-scratch: a new database only). Exit 0/1/2."""
    from tools.backup_ops import main

    sys.exit(main("restore", stack, docker_host=docker_host, config_file=config_file, yes=yes, source=from_, into_scratch=into_scratch, no_http=not http))
