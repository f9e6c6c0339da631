"""The policy pack as the Pulumi engine drives it: `policies/__main__.py` started the way the policy host
starts it, then spoken to over the Analyzer gRPC protocol (Configure, Analyze per resource,
AnalyzeStack). Its verdicts on the real program's resources must equal the offline plan's, so the
offline plan is a faithful stand-in for `pulumi preview --policy-pack policies` where no CLI exists."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from ci.offline_plan import plan, resolve_policy
from ops.program_run import unwrap_secrets
from policies.registry import POLICIES
from tests.conftest import ROOT, stack_policy_config
from tests.policies.test_offline_plan import on, plaintext_password_env

LEVELS = {"advisory": analyzer_pb2.ADVISORY, "mandatory": analyzer_pb2.MANDATORY, "disabled": analyzer_pb2.DISABLED}


@pytest.fixture(scope="module")
def analyzer():
    proc = subprocess.Popen(
        [sys.executable, "__main__.py"],
        cwd=ROOT / "policies",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(proc.stdout.readline().strip())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        proc.kill()
        proc.wait(timeout=30)


def struct(value: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def configure(stub, stack: str) -> None:
    """What the engine sends: every policy's effective level and config, defaults included."""
    path = Path(f"derived policy config of {stack}")
    config = stack_policy_config(stack)
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for policy in POLICIES:
        level, properties = resolve_policy(policy, config, path)
        request.policyConfig[policy.name].CopyFrom(
            analyzer_pb2.PolicyConfig(enforcementLevel=LEVELS[level], properties=struct(properties))
        )
    stub.Configure(request, timeout=30)


def engine_verdicts(stub, run) -> set[tuple[str, str, str]]:
    verdicts = set()
    resources = []
    for r in run.resources:
        # What the engine sends: deleteBeforeReplace is "defined" only when the program set it.
        options = analyzer_pb2.AnalyzerResourceOptions(
            protect=r.options["protect"],
            ignoreChanges=r.options["ignoreChanges"],
            deleteBeforeReplace=bool(r.options["deleteBeforeReplace"]),
            deleteBeforeReplaceDefined=r.options["deleteBeforeReplace"] is not None,
            additionalSecretOutputs=r.options["additionalSecretOutputs"],
            parent=r.parent or "",
        )
        props = struct(unwrap_secrets(r.inputs))
        response = stub.Analyze(
            analyzer_pb2.AnalyzeRequest(type=r.type, properties=props, urn=r.urn, name=r.name, options=options),
            timeout=60,
        )
        verdicts |= {
            (d.policyName, analyzer_pb2.EnforcementLevel.Name(d.enforcementLevel).lower(), d.urn or r.urn)
            for d in response.diagnostics
        }
        resources.append(
            analyzer_pb2.AnalyzerResource(
                type=r.type, properties=props, urn=r.urn, name=r.name, options=options, parent=r.parent or ""
            )
        )
    response = stub.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources), timeout=60)
    verdicts |= {
        (d.policyName, analyzer_pb2.EnforcementLevel.Name(d.enforcementLevel).lower(), d.urn)
        for d in response.diagnostics
    }
    return verdicts


def test_the_pack_reports_its_policies_to_the_engine(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    assert info.name == "finance-report"
    assert [p.name for p in info.policies] == [p.name for p in POLICIES]
    assert all(p.description and p.remediation_steps and p.severity for p in info.policies)


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_engine_and_offline_plan_agree_on_the_real_program(analyzer, stack):
    configure(analyzer, stack)
    offline = plan(stack)
    assert engine_verdicts(analyzer, offline.run) == {(v.policy, v.enforcementLevel, v.urn) for v in offline.violations}


def test_engine_and_offline_plan_agree_on_a_seeded_regression(analyzer):
    configure(analyzer, "production")
    offline = plan("production", transforms=[on("postgres-container", plaintext_password_env)])
    verdicts = engine_verdicts(analyzer, offline.run)
    assert (
        "docker-container-disallow-plaintext-secrets",
        "mandatory",
        offline.run.one("docker:index/container:Container", "postgres-container").urn,
    ) in verdicts
    assert verdicts == {(v.policy, v.enforcementLevel, v.urn) for v in offline.violations}
