"""The preview-env workflow (.github/workflows/preview-env.yml) holds credentials that deploy, so it is
checked like the deploy workflow: who can reach them (mutations of the real file must be caught by
test_workflows.trust_problems), and that it runs the same gates as a deploy (generated stack within
maxPreviewEnvs, offline plan with every policy and the memory budget, policy pack, status) and destroys
the stack, data included, when the pull request closes. zizmor and actionlint run over it in
test_workflows.py and test_offline_plan.py."""

from __future__ import annotations

import copy
import json
import re

import pytest

from tests.policies.test_workflows import (
    PR_ENV_SECRETS,
    SAME_REPO_GUARD,
    engine_steps,
    steps_using,
    triggers,
    trust_problems,
    workflows,
)

NAME = "preview-env.yml"


def wf():
    return copy.deepcopy(workflows()[NAME])


def runs(job) -> list[str]:
    return [str(s.get("run", "")) for s in job["steps"]]


def index(job, predicate) -> int:
    (found,) = [i for i, s in enumerate(job["steps"]) if predicate(s)]
    return found


def test_it_runs_on_pull_request_events_of_this_repository_only_in_the_reviewed_environment():
    doc = wf()
    assert triggers(doc) == {"pull_request"}
    assert doc[True]["pull_request"]["types"] == ["opened", "reopened", "synchronize", "closed"]
    assert doc["concurrency"] == {
        "group": "pr-env-${{ github.event.pull_request.number }}",
        "cancel-in-progress": False,
    }
    for job_name, job in doc["jobs"].items():
        assert job["environment"] == "pr-envs", job_name
        assert SAME_REPO_GUARD in job["if"], job_name
    assert (
        "github.event.action != 'closed'" in doc["jobs"]["deploy"]["if"]
        and "github.event.action == 'closed'" in doc["jobs"]["destroy"]["if"]
    )
    assert trust_problems(NAME, doc) == []


def run_in(doc, job: str, script: str, **step) -> None:
    doc["jobs"][job]["steps"].append({"run": script, **step})


def mutate(change) -> list[str]:
    doc = wf()
    change(doc)
    return trust_problems(NAME, doc)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["jobs"]["deploy"].pop("if"),
            "deploy: holds preview-env secrets on pull requests without the same-repository guard",
        ),
        (
            lambda d: d["jobs"]["destroy"].update({"if": "github.event.action == 'closed'"}),
            "destroy: holds preview-env secrets on pull requests without the same-repository guard",
        ),
        (
            lambda d: d["jobs"]["deploy"].update(environment="preview-staging"),
            "deploy: holds preview-env secrets outside the pr-envs environment (preview-staging)",
        ),
        (lambda d: d["jobs"]["deploy"].pop("environment"), "without a literal environment"),
        (lambda d: d.update({True: {"pull_request_target": None}}), "pull_request_target/workflow_run"),
        (
            lambda d: engine_steps(d["jobs"]["deploy"])[0][0].update(run="uv run invoke up --stack staging --yes"),
            "deploy: runs `invoke up` on stack staging; a pr-envs job may touch only pr<pull request number>",
        ),
        (
            lambda d: steps_using(d["jobs"]["destroy"], "pulumi/actions")[1]["with"].update(
                {"stack-name": "production"}
            ),
            "destroy: runs `pulumi destroy` (pulumi/actions) on stack production; a pr-envs job may touch "
            "only pr<pull request number>",
        ),
        (
            lambda d: d["jobs"]["deploy"]["steps"].append(
                {"run": "true", "env": {"T": "${{ secrets.VAULT_DEPLOY_TOKEN }}"}}
            ),
            "deploy: holds preview-env secrets beside ['VAULT_DEPLOY_TOKEN']",
        ),
        (
            lambda d: d["jobs"]["destroy"]["steps"].append(
                {"run": "true", "env": {"T": "${{ secrets.VAULT_PREVIEW_TOKEN }}"}}
            ),
            "destroy: the pr-envs environment holds ['VAULT_PREVIEW_TOKEN']",
        ),
        # pulumi in a script names pr<N> only (a pulumi/actions-only check passed each of these)
        (
            lambda d: run_in(d, "destroy", "pulumi destroy --yes --stack staging"),
            "destroy: runs `pulumi destroy` on stack staging; a pr-envs job may touch only pr<pull request number>",
        ),
        (
            lambda d: run_in(d, "destroy", "pulumi destroy --yes -s production"),
            "destroy: runs `pulumi destroy` on stack production",
        ),
        (
            lambda d: run_in(d, "deploy", 'echo "$(pulumi stack rm --yes --stack=staging)"'),
            "deploy: runs `pulumi stack rm` on stack staging",
        ),
        (
            lambda d: run_in(d, "destroy", "bash -c 'pulumi stack select staging && pulumi destroy --yes'"),
            "destroy: runs `pulumi stack select` on stack staging",
        ),
        (
            lambda d: run_in(d, "destroy", "uv run invoke rotate --stack staging --what postgres-password --yes"),
            "destroy: runs `invoke rotate` on stack staging",
        ),
        (
            lambda d: run_in(d, "destroy", 'STACK=staging\npulumi destroy --yes --stack "$STACK"'),
            "destroy: runs `pulumi destroy` on stack $STACK, which cannot be resolved",
        ),
        (
            lambda d: run_in(d, "destroy", 'PR=1\npulumi destroy --yes --stack "pr$PR"'),
            "destroy: runs `pulumi destroy` on stack pr$PR, which cannot be resolved (a script of the job may set $PR)",
        ),
        (
            lambda d: run_in(d, "destroy", 'pulumi destroy --yes --stack "pr$PR"', env={"PR": "7"}),
            "destroy: runs `pulumi destroy` on stack pr$PR (= pr7)",
        ),
        (
            lambda d: run_in(d, "destroy", "pulumi destroy --yes", env={"PULUMI_STACK": "staging"}),
            "destroy: runs pulumi (PULUMI_STACK) on stack staging",
        ),
        (
            lambda d: run_in(d, "deploy", 'echo "PULUMI_STACK=production" >> "$GITHUB_ENV"'),
            "deploy: a script sets or reads PULUMI_STACK",
        ),
    ],
)
def test_a_change_that_would_hand_the_preview_env_credentials_to_unreviewed_code_is_caught(change, expected):
    problems = mutate(change)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    "script",
    [
        'pulumi destroy --yes --stack "pr$PR"',
        "pulumi stack rm --yes pr${{ github.event.pull_request.number }}",
        'pulumi stack select "pr${PR}" && pulumi destroy --yes',
        'uv run invoke logs --stack "pr$PR" --service backend',
    ],
)
def test_pulumi_on_the_pull_requests_own_stack_is_allowed(script):
    assert mutate(lambda d: run_in(d, "destroy", script)) == []


def test_a_deploy_is_generated_planned_policy_checked_and_ends_with_status():
    job = wf()["jobs"]["deploy"]
    text = runs(job)
    generate = index(job, lambda s: "uv run invoke preview-env --pr" in str(s.get("run", "")))
    assert (
        '--existing-stacks "$RUNNER_TEMP/stacks.json"' in text[generate] and "pulumi stack ls --json" in text[generate]
    )
    plan = index(job, lambda s: s.get("run") == 'uv run invoke plan --stack "pr$PR"')
    install = index(job, lambda s: s in steps_using(job, "pulumi/actions") and "command" not in s["with"])
    keys = index(job, lambda s: "config set --secret" in str(s.get("run", "")))
    # `invoke up` makes the policy venv, passes the pack with the config derived from Pulumi.pr<N>.yaml and
    # runs `invoke status` after the update (tests/unit/test_deploy.py)
    ((step, what, stack),) = engine_steps(job)
    up = job["steps"].index(step)
    assert (what, stack, step["run"]) == ("invoke up", "pr$PR", 'uv run invoke up --stack "pr$PR" --yes')
    assert install < generate < plan < keys < up and up == len(job["steps"]) - 1
    assert set(step["env"]) == {"PULUMI_ACCESS_TOKEN", "VAULT_TOKEN"}
    assert job["env"] == {"PR": "${{ github.event.pull_request.number }}"}


@pytest.mark.parametrize("job_name", ["deploy", "destroy"])
def test_the_s3_keys_reach_pulumi_on_stdin_never_in_a_command_line(job_name):
    job = wf()["jobs"][job_name]
    step = job["steps"][index(job, lambda s: "config set --secret" in str(s.get("run", "")))]
    assert set(step["env"]) == {"PULUMI_ACCESS_TOKEN", "S3_ACCESS_KEY", "S3_SECRET_KEY"}
    lines = [line for line in step["run"].splitlines() if "config set" in line]
    assert len(lines) == 2
    for line in lines:
        assert (
            line.startswith("printf '%s' \"$S3_")
            and '| pulumi config set --secret --stack "pr$PR" finance-report:s3' in line
        )
    assert all("secrets." not in run for job in wf()["jobs"].values() for run in runs(job)), (
        "a secret expanded into a script"
    )


def test_closing_the_pull_request_destroys_and_removes_the_stack():
    job = wf()["jobs"]["destroy"]
    install, destroy = steps_using(job, "pulumi/actions")
    assert "command" not in install["with"]
    assert destroy["with"]["command"] == "destroy" and destroy["with"]["remove"] is True
    assert destroy["with"]["stack-name"] == "pr${{ github.event.pull_request.number }}"
    assert set(destroy["env"]) == {"PULUMI_ACCESS_TOKEN", "VAULT_TOKEN"}


def test_the_workflow_uses_only_its_own_credentials():
    used = set()
    for job in wf()["jobs"].values():
        used |= set(re.findall(r"secrets\.([A-Za-z0-9_]+)", json.dumps(job)))
    assert used == PR_ENV_SECRETS | {"DOKPLOY_KNOWN_HOSTS"}
