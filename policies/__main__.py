"""Entry point `pulumi preview --policy-pack policies` runs: it only builds the PolicyPack."""

import sys
from pathlib import Path

# The pack's modules form the `policies` package; make it importable when the policy host runs this
# file as a script from inside the pack directory.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.registry import POLICIES

PolicyPack(
    name="finance-report",
    description="Guardrails for the Finance Report deployment on Dokploy",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=POLICIES,
)
