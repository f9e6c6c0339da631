"""The offline plan and every policy for a generated preview stack, as for staging and production: the
generated pr<N> plan is clean, and a preview program changed to share anything with another env (its data
directory, KV path, host, network, label) or to keep its data after the PR fails the plan naming
preview-stack-disallow-shared-resources, whatever else also fires."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker
import pytest

from ci.offline_plan import plan
from ops import preview_env as pe
from tests.conftest import ROOT
from tests.policies.test_offline_plan import on

POLICY = "preview-stack-disallow-shared-resources"
ADVISORY_EXPLAINED_IN_DOCS = {"vault-approle-configure-hygiene", "backup-enforce-separate-storage"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    stack_path, _ = pe.generate(314, tmp_path_factory.mktemp("preview"))
    return stack_path


def preview_plan(stack_path, *transforms):
    return plan("pr314", stack_path, transforms=list(transforms))


def test_a_generated_preview_plans_clean_like_staging_and_production(files):
    result = preview_plan(files)
    assert result.mandatory == [], "\n".join(f"{v.policy}: {v.message}" for v in result.mandatory)
    assert {v.policy for v in result.violations} <= ADVISORY_EXPLAINED_IN_DOCS
    assert result.run.outputs["site_url"] == "https://report-pr314.zitian.party"


def staging_data_dir(props, opts):
    props["volumes"] = [
        docker.ContainerVolumeArgs(
            host_path="/data/finance_report/postgres-staging", container_path="/var/lib/postgresql/data"
        )
    ]
    return props, opts


def staging_kv(props, opts):
    props["name"] = "finance_report/staging/app"
    return props, opts


def production_host(props, opts):
    props["labels"] = [
        docker.ContainerLabelArgs(
            label=lb.label,
            value=lb.value.replace("report-pr314.", "report.") if lb.label.endswith(".rule") else lb.value,
        )
        for lb in props["labels"]
    ]
    return props, opts


def other_preview_network(props, opts):
    props["networks_advanced"] = list(props["networks_advanced"]) + [
        docker.ContainerNetworksAdvancedArgs(name="finance_report-internal-pr31")
    ]
    return props, opts


def staging_label(props, opts):
    props["labels"] = [docker.NetworkLabelArgs(label="finance-report.env", value="staging")]
    return props, opts


def protected(props, opts):
    return props, pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=True))


def retained(props, opts):
    return props, pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(retain_on_delete=True))


SHARED = [
    (
        "staging's data directory",
        on("postgres-container", staging_data_dir),
        "mounts host path /data/finance_report/postgres-staging",
    ),
    ("staging's KV path", on("app-vault-kv", staging_kv), "references env(s) staging"),
    ("production's host", on("app-backend", production_host), "routes host report.zitian.party"),
    ("another preview's network", on("app-backend", other_preview_network), "references env(s) pr31"),
    (
        "a network labelled staging",
        on("vault-egress", staging_label),
        "is labelled finance-report.env=staging in env pr314",
    ),
    (
        "a protected data volume",
        on("postgres-data", protected),
        "is protected: destroying the preview on PR close would fail",
    ),
    (
        "a retained KV secret",
        on("redis-vault-kv", retained),
        "is retainOnDelete: destroying the preview would leave it behind",
    ),
]


@pytest.mark.parametrize("label,transform,message", SHARED, ids=[s[0] for s in SHARED])
def test_a_preview_that_shares_with_another_env_fails_the_plan(files, label, transform, message):
    result = preview_plan(files, transform)
    assert result.exit_code == 1
    ours = [v for v in result.mandatory if v.policy == POLICY]
    assert any(message in v.message for v in ours), [v.message for v in result.mandatory]


def test_the_same_changes_in_staging_are_not_judged_as_a_previews():
    """The preview rules apply to pr<N> envs only; staging adopts host directories on purpose."""
    result = plan("staging")
    assert POLICY not in {v.policy for v in result.violations}
    assert result.run.by_type("docker:index/container:Container")[0] is not None
    assert (ROOT / "Pulumi.staging.yaml").read_text().count("postgresDataPath") == 1
