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


@task(name="preview-env", help={
    "pr": "pull request number N: the preview env and stack are pr<N>",
    "out_dir": "write Pulumi.pr<N>.yaml and policies/config.pr<N>.json here instead of the project",
    "image_tag": "backend/frontend image tag (default: the base stack's imageTag)",
    "existing_stacks": "JSON of `pulumi stack ls --json`: refuse a new preview beyond maxPreviewEnvs",
})
def preview_env(c, pr="", out_dir=None, image_tag=None, existing_stacks=None):
    """Generate a pull request's preview env (stack pr<N>) from tools/preview_env.template.yaml."""
    from tools.preview_env import main

    sys.exit(main(pr, out_dir, image_tag, existing_stacks))
