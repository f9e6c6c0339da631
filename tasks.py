"""Developer tasks: `uv run invoke --list`."""

import sys

import invoke
import invoke.main
from invoke.exceptions import Exit, ParseError


class TasksProgram(invoke.Program):
    """invoke's Program with a usage error (unknown task or flag, a flag without its value) as bad input: one
    line, exit 2, as every command here documents. Invoke's own Program exits 1 for them (invoke 3.0.3,
    invoke/program.py lines 416-417 in Program.run: `elif isinstance(e, ParseError): code = 1`). `parse_tasks`
    is the documented step that parses the task names and their flags (API docs: Program.parse_tasks)."""

    def parse_tasks(self) -> None:
        try:
            super().parse_tasks()
        except ParseError as err:
            raise Exit(str(err), code=2) from None
        # A positional parameter (new-stack's NAME) takes the next word whatever it is, so `new-stack --help`
        # would run the task with the name "--help": show the task's help, as for any other task.
        for context in self.tasks:
            if context.name and any(arg.value in ("-h", "--help") for arg in context.positional_args):
                self.print_task_help(context.name)
                raise Exit(code=0)


# `uv run invoke` (and `python -m invoke`) runs invoke's own Program instance, built before this file is loaded
# (invoke 3.0.3, invoke/main.py line 9: `program = Program(name="Invoke", ...)`; the console script calls its
# `run()`). Invoke has no setting for the Program class: a custom one needs a console script of its own
# (docs.pyinvoke.org/en/stable/concepts/library.html), and this project installs none. So that one instance
# becomes a TasksProgram; Program.run calls `self.parse_tasks()` after it loaded this file (invoke/program.py
# line 389). Other Program instances (a test's, a library user's) are left as they are.
if type(invoke.main.program) is invoke.Program:
    invoke.main.program.__class__ = TasksProgram


# The only short flags, the same in every task. Invoke would give each parameter the first free letter of
# its name, so one letter meant different flags in different tasks (-t: --http in status, --tail in logs).
SHORT_FLAGS = {"stack": "s", "config_file": "c", "docker_host": "d", "yes": "y", "follow": "f", "quiet": "q"}


class _HelpKeepsDashH(invoke.Task):
    """`-h` after a task stays its help: invoke hands a task's first parameter starting with h the short
    flag -h, so `invoke restore -h` ran a restore (its --http) instead of printing help. Short flags come
    from SHORT_FLAGS only."""

    def arg_opts(self, name, default, taken_names):
        opts = super().arg_opts(name, default, taken_names | {"h"})
        short = SHORT_FLAGS.get(name)
        opts["names"] = opts["names"][:1] + ([short] if short and short not in taken_names else [])
        return opts


def task(*args, **kwargs):
    return invoke.task(*args, klass=_HelpKeepsDashH, **kwargs)


@task(
    help={
        "stack": "stack name (production, staging, ...)",
        "json": "print one JSON object instead of the table",
        "config_file": "evaluate this stack file instead of Pulumi.<stack>.yaml",
        "policy_config": "FILE holding a policy config (JSON) instead of the one derived from the stack file (its env "
        "and domain must be the stack's)",
        "strict": "also fail (exit 1) when a required value is unset and the plan used a placeholder",
    }
)
def plan(c, stack="", json=False, config_file=None, policy_config=None, strict=False):
    """Offline plan: the program under mocks plus every policy; exit 0 clean, 1 mandatory violation, 2 bad input."""
    from ci.offline_plan import main

    sys.exit(main(stack, json, config_file, policy_config, strict))


_DEPLOY_HELP = {
    "stack": "stack name (default: PULUMI_STACK, else the one `pulumi stack select` chose)",
    "config_map": "JSON of pulumi/actions' config-map (CI: ci.preview_config's read-only connection); values are "
    "passed as --config and never kept in the stack file",
}


@task(help=_DEPLOY_HELP)
def preview(c, stack="", config_map=None):
    """`pulumi preview` of the stack with the policy pack and its config derived from the stack file."""
    from ops.deploy import main

    sys.exit(main("preview", stack, config_map=config_map))


@task(help={**_DEPLOY_HELP, "yes": "do not ask for confirmation (passes --yes to pulumi up)"})
def up(c, stack="", yes=False, config_map=None):
    """`pulumi up` of the stack with the policy pack and its derived config, then `invoke status`."""
    from ops.deploy import main

    sys.exit(main("up", stack, yes=yes, config_map=config_map))


@task(
    name="new-stack",
    positional=["name"],
    help={
        "name": "the new stack's name, which is its env (lowercase letters and digits)",
        "domain": "required: internal domain; the site is served at report-<name>.<domain>",
        "docker_host": "required: Docker host of the Dokploy server, ssh://user@host[:port]",
        "vault_address": "Vault address (https://...)",
        "image_tag": "backend/frontend image tag (sha7, vX.Y.Z or sha256 digest)",
        "s3_endpoint": "S3 (MinIO) endpoint URL of the app's buckets",
        "out_dir": "write Pulumi.<name>.yaml here instead of the project",
    },
)
def new_stack(
    c, name=None, domain=None, docker_host=None, vault_address=None, image_tag=None, s3_endpoint=None, out_dir=None
):
    """Write Pulumi.<name>.yaml from the program's config schema and print the steps to a first preview."""
    from ops.new_stack import main

    sys.exit(main(name, domain, docker_host, vault_address, image_tag, s3_endpoint, out_dir))


@task(
    name="policy-config",
    help={
        "stack": "stack name (production, staging, ...)",
        "config_file": "derive it from this stack file instead of Pulumi.<stack>.yaml",
    },
)
def policy_config(c, stack="", config_file=None):
    """Print the policy pack's config for a stack, derived from its stack file, for a hand-run `pulumi preview`.

    Give it to `pulumi preview --policy-pack policies --policy-pack-config FILE`."""
    from ops.policy_pack import main

    sys.exit(main(stack, config_file))


@task(name="config-reference")
def config_reference(c):
    """Print Pulumi.yaml's config block and docs/configuration.md's table, generated from config/schema.py.

    `invoke docs` writes them in place."""
    import yaml

    from ci.config_reference import project_config_block, readme_table

    print(yaml.safe_dump({"config": project_config_block()}, sort_keys=False, width=120))
    print(readme_table())


@task(
    help={
        "stack": "stack name (production, staging, ...)",
        "docker_host": "Docker host to ask instead of the stack's dockerHost",
        "http": "also GET the public health URL (--no-http to skip)",
        "config_file": "read this stack file instead of Pulumi.<stack>.yaml",
    }
)
def status(c, stack="", docker_host=None, http=True, config_file=None):
    """One env's containers (by label) with state and health, and its public health URL."""
    from ops.status import main

    sys.exit(main(stack, docker_host, http, config_file))


@task(
    help={
        "stack": "stack name (production, staging, ...)",
        "config_file": "read this stack file instead of Pulumi.<stack>.yaml",
        "vault_address": "Vault to read instead of the stack's vaultAddress",
        "yes": "do not ask for confirmation",
        "dry_run": "only say what would be imported and kept",
    }
)
def adopt(c, stack="", config_file=None, vault_address=None, yes=False, dry_run=False):
    """Once, before the first `pulumi up` of an env with values in Vault: import them into the stack."""
    from ops.adopt import main

    sys.exit(main(stack, config_file, vault_address, yes, dry_run))


@task
def architecture(c):
    """Regenerate docs/architecture.md's layer picture and table from the project's imports."""
    from ci.architecture import write_docs

    write_docs()


@task(
    help={
        "stack": "stack name (production, staging, ...)",
        "out": "SVG to write (default docs/images/<stack>.svg); its DOT source goes beside it as .dot",
    }
)
def diagram(c, stack="", out=None):
    """Draw the stack's deployment from its plan (containers, networks, volumes, Vault, secret flow, backups) to SVG."""
    from ci.diagram import main

    sys.exit(main(stack, out))


@task(name="vault-policies")
def vault_policies(c):
    """Write docs/vault/*.hcl, the Vault policies an administrator writes by hand, from the program's builders."""
    from ci.vault_policies import ROOT, policy_files, write

    for path in write(policy_files()):
        print(path.relative_to(ROOT))


@task
def docs(c):
    """Rewrite every generated file and block in place; ci/docs_tables.py lists them.

    README's and docs/ tables, Pulumi.yaml's config, docs/vault/*.hcl, the production diagram."""
    from ci.docs_tables import main

    sys.exit(main())


@task(name="readme-tables")
def readme_tables(c):
    """Print the blocks of README and docs/ generated from the tools (`invoke docs` writes them in place)."""
    from ci.commands import commands_table
    from ci.memory_budget import host_budget
    from ops.logs import readme_services
    from ops.rotate import readme_table as rotation_table

    print("## README.md: Commands\n")
    print(commands_table())
    print("## docs/rotation.md\n")
    print(rotation_table())
    print("## docs/logs-and-status.md: --service\n")
    print(readme_services() + "\n")
    print("## docs/pr-environments.md: host memory budget\n")
    print("\n".join(host_budget("staging").lines()))


@task(
    help={
        "stack": "stack name (production, staging, ...)",
        "config_file": "read this stack file instead of Pulumi.<stack>.yaml",
        "docker_host": "Docker host to check instead of the stack's dockerHost",
        "vault_address": "Vault to check instead of the stack's vaultAddress",
        "pull": "pull images the host lacks (the default; --no-pull: only report them)",
    }
)
def doctor(c, stack="", config_file=None, docker_host=None, vault_address=None, pull=True):
    """Preflight of the Docker host, Vault (VAULT_TOKEN) and S3, one line per check. Exit 0/1/2.

    Exit 0 every check passed, 1 a check failed, 2 bad input."""
    from ops.doctor import main

    sys.exit(main(stack, config_file, docker_host, vault_address, pull))


_BACKUP_HELP = {
    "stack": "stack name (production, staging, ...); required",
    "docker_host": "Docker host to use instead of the stack's dockerHost (ssh://user@host or unix:///path)",
    "config_file": "read this stack file instead of Pulumi.<stack>.yaml",
    "yes": "do not ask for confirmation",
}


@task(
    help={
        **_BACKUP_HELP,
        "quiet": "no progress lines (each job line with the time since the start); the result only",
        "accept_drop": "verify this backup even if the table count or a large table's rows dropped sharply since "
        "the last verified one (a drop that is wanted)",
    }
)
def backup(c, stack="", docker_host=None, config_file=None, yes=False, quiet=False, accept_drop=False):
    """Back up the env now (dump, store off-host, restore check); waits and reports. Exit 0/1/2.

    Runs the backup container's job: dump, upload, restore check (compared with the last verified backup:
    a sharp drop fails it unless --accept-drop), then retention (forget --prune over the env's verified
    backups). It can take as long as the dump and the restore check (up to 6 h) and fails when another
    backup or restore holds the lock. Exit 0 done, 1 failed or not confirmed, 2 bad input.
    """
    from ops.backup_ops import main

    sys.exit(
        main(
            "backup",
            stack,
            docker_host=docker_host,
            config_file=config_file,
            yes=yes,
            quiet=quiet,
            accept_drop=accept_drop,
        )
    )


@task(help={k: v for k, v in _BACKUP_HELP.items() if k != "yes"})
def backups(c, stack="", docker_host=None, config_file=None):
    """List the env's backups: time, size, restore-check result. Exit 0/1/2.

    The result is verified, failed or unverified; `invoke restore --from ID` takes a verified one (the
    others only with --unverified). Exit 0 listed, 1 the host or repository failed, 2 bad input.
    """
    from ops.backup_ops import main

    sys.exit(main("backups", stack, docker_host=docker_host, config_file=config_file))


@task(
    help={
        **_BACKUP_HELP,
        "from_": "required: latest (the newest verified backup) or a snapshot id (8 to 64 hex digits) from `invoke "
        "backups`",
        "into_scratch": "restore into a new database beside the live one",
        "unverified": "allow a snapshot that failed (or never passed) its restore check",
        "http": "check the public health URLs after the restore (--no-http to skip)",
        "quiet": "no progress lines (each phase with the time since the start); the result only",
    }
)
def restore(
    c,
    stack="",
    from_="",
    docker_host=None,
    config_file=None,
    yes=False,
    into_scratch=False,
    unverified=False,
    http=True,
    quiet=False,
):
    """Safety backup, stop backend/worker, restore, start them, health gate (--into-scratch: new database). Exit 0/1/2.

    Without --into-scratch it restores OVER the live database: the current one is kept as
    finance_report_before_<time> (drop it by hand once the restore is confirmed), then the health gate
    (and, unless --no-http, the public URLs) must pass. --into-scratch still takes the safety backup and
    leaves the live database and services alone. --from is required. Exit 0 done, 1 failed or not
    confirmed, 2 bad input.
    """
    from ops.backup_ops import main

    sys.exit(
        main(
            "restore",
            stack,
            docker_host=docker_host,
            config_file=config_file,
            yes=yes,
            source=from_,
            into_scratch=into_scratch,
            unverified=unverified,
            no_http=not http,
            quiet=quiet,
        )
    )


_PR_ENV_HELP = {
    "pr": "pull request number N: the PR environment and its stack are pr<N>",
    "out_dir": "write Pulumi.pr<N>.yaml here instead of the project",
    "image_tag": "backend/frontend image tag (default: the base stack's imageTag)",
    "existing_stacks": "FILE holding `pulumi stack ls --json`'s output: refuse a new PR environment beyond maxPrEnvs",
}


@task(name="pr-env", help=_PR_ENV_HELP)
def pr_env(c, pr="", out_dir=None, image_tag=None, existing_stacks=None):
    """Generate a pull request's PR environment (stack pr<N>) from ops/pr_env.template.yaml."""
    from ops.pr_env import main

    sys.exit(main(pr, out_dir, image_tag, existing_stacks))


@task(name="preview-env", help=_PR_ENV_HELP)
def preview_env(c, pr="", out_dir=None, image_tag=None, existing_stacks=None):
    """Deprecated name of pr-env ("preview" means `pulumi preview` only): says so, then runs pr-env."""
    from ops.pr_env import main

    print("preview-env: deprecated, use `uv run invoke pr-env` (same flags); running it now", file=sys.stderr)
    sys.exit(main(pr, out_dir, image_tag, existing_stacks))


@task(
    help={
        "stack": "stack name (production, staging, pr<N>)",
        "service": "backend, frontend, postgres, redis, worker, backup, agent:postgres, agent:redis, agent:app or "
        "agent:backup",
        "since": "only lines since a duration ago (10m, 2h, 1d) or an RFC 3339 time",
        "tail": "lines from the end: a number or all (default 200, or all with --since)",
        "follow": "keep printing new lines of the current revision (Ctrl-C to stop)",
        "grep": "only lines matching this regular expression",
        "all_revisions": "also earlier revisions (a rolling service's previous or failed container), newest first",
        "timestamps": "prefix each line with Docker's timestamp",
        "docker_host": "Docker host to ask instead of the stack's dockerHost",
        "config_file": "read this stack file instead of Pulumi.<stack>.yaml",
    }
)
def logs(
    c,
    stack="",
    service="",
    since=None,
    tail=None,
    follow=False,
    grep=None,
    all_revisions=False,
    timestamps=False,
    docker_host=None,
    config_file=None,
):
    """One service's container logs in one env, found by label over the stack's Docker connection."""
    from ops.logs import main

    sys.exit(main(stack, service, since, tail, follow, grep, all_revisions, timestamps, docker_host, config_file))


@task(
    help={
        "stack": "stack name (production, staging, pr<N>)",
        "what": "app-secret-id, postgres-secret-id, redis-secret-id, backup-secret-id, postgres-password, "
        "postgres-app-password, postgres-backup-password, redis-password or secret-key",
        "yes": "do not ask for confirmation",
        "dry_run": "only say what the rotation replaces and does",
        "config_file": "read this stack file instead of Pulumi.<stack>.yaml",
    }
)
def rotate(c, stack="", what="", yes=False, dry_run=False, config_file=None):
    """Rotate a generated secret or an AppRole secret-id (`pulumi up --replace`), after saying what it does.

    A secret-id's rotation then destroys every other secret-id of its role. Runs from a clean checkout of the
    deployed commit or main's tip only (exit 1 otherwise)."""
    from ops.rotate import main

    sys.exit(main(stack, what, yes, dry_run, config_file))


@task(
    help={
        "stack": "stack name (production, staging)",
        "to": "image tag to redeploy (default: the newest successful one before the current imageTag)",
        "list": "only print the update history and the target; change nothing",
        "yes": "do not ask for confirmation",
    }
)
def rollback(c, stack="", to=None, list=False, yes=False):
    """Redeploy an image tag from the stack's update history, as a normal health-gated update.

    Runs from a clean checkout of the deployed commit or main's tip only (exit 1 otherwise)."""
    from ops.rollback import main

    sys.exit(main(stack, to, list, yes))
