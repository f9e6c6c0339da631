"""Offline plan: the real program under mocks, every policy of the pack over its resources.

Needs no Pulumi CLI, network, Vault, Docker or credentials, so it runs on pull requests from forks.
Exit codes: 0 no mandatory violation, 1 at least one, 2 bad input (one line on stderr).
Run it as `uv run invoke plan --stack <name> [--json] [--config-file PATH] [--policy-config PATH]`.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)

from config.errors import ConfigError
from facts import providers, tokens
from facts.bridge_check import TF_DEFAULTS, check_shape
from facts.revision import is_revision_named
from ops import policy_pack
from ops.command import bad_input, run_task
from ops.policy_pack import read_json_object
from ops.program_run import ROOT, ProgramRun, Resource, mask_secrets, run_program, unwrap_secrets
from ops.stack_context import load_stack, resolve_stack, stack_file

MANDATORY = EnforcementLevel.MANDATORY.value
SHAPED_TYPES = frozenset(TF_DEFAULTS)


@dataclass
class Violation:
    policy: str
    enforcementLevel: str
    urn: str
    message: str


@dataclass
class Plan:
    stack: str
    run: ProgramRun
    violations: list[Violation] = field(default_factory=list)
    budget: Any | None = None
    """The host's memory budget (ci/memory_budget.Budget), when the command line computed it."""
    unset: list[str] = field(default_factory=list)
    """Required secrets the stack file leaves unset: the plan used placeholders; `pulumi up` would stop."""

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.enforcementLevel == MANDATORY]

    @property
    def exit_code(self) -> int:
        return 1 if self.mandatory else 0

    def strict_exit_code(self) -> int:
        """`plan --strict`: an unset required value fails the plan too (the deploy workflow's gate)."""
        return 1 if self.mandatory or self.unset else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "resources": [
                {
                    "urn": r.urn,
                    "type": r.type,
                    "name": r.name,
                    "parent": r.parent,
                    "inputs": mask_secrets(r.inputs),
                    "options": r.options,
                    "replace": replace_plan(r),
                }
                for r in self.run.resources
            ],
            "outputs": {k: ("[secret]" if k in self.run.secret_outputs else v) for k, v in self.run.outputs.items()},
            "warnings": list(self.run.warnings),
            "violations": [vars(v) for v in self.violations],
            "unsetRequired": list(self.unset),
            **({"memoryBudget": self.budget.to_json()} if self.budget is not None else {}),
        }


def replace_plan(resource: Resource) -> dict[str, Any] | None:
    """How the real engine would replace this resource, from facts/providers.py: the effective
    strategy (and whether the program or the provider chose it) and the inputs whose change replaces it."""
    if not resource.custom or resource.type.startswith("pulumi:providers:"):
        return None
    props = unwrap_secrets(resource.inputs)
    strategy, why = providers.effective_strategy(resource.type, props, resource.options.get("deleteBeforeReplace"))
    properties = providers.replacing_properties(resource.type, props)
    if resource.type == tokens.CONTAINER and is_revision_named(props):
        properties = sorted(props)  # its name is the hash of every argument: any change renames it
    forced = sorted(set(resource.options.get("replaceOnChanges", [])) - set(properties or []))
    return {"strategy": strategy, "decidedBy": why, "properties": properties, "alsoReplaceOn": forced}


# ------------------------------------------------------------------------------------------ policy config


def load_policy_config(path: Path) -> dict[str, Any]:
    return read_json_object(path)


def resolve_policy(policy: Any, pack_config: Mapping[str, Any], path: Path) -> tuple[str, dict[str, Any]]:
    """(enforcement level, config) for one policy, as the engine resolves them."""
    section = pack_config.get(policy.name, {})
    if isinstance(section, str):
        section = {"enforcementLevel": section}
    if not isinstance(section, dict):
        raise bad_input(
            f"policy config {path}: {policy.name} = {json.dumps(section)[:60]}; expected an object of "
            "settings or an enforcement level"
        )
    level = (
        section.get("enforcementLevel")
        or pack_config.get("all")
        or (policy.enforcement_level or EnforcementLevel.ADVISORY).value
    )
    if level not in ("advisory", "mandatory", "disabled", "remediate"):
        raise bad_input(
            f"policy config {path}: {policy.name}.enforcementLevel = {level!r}; expected advisory, mandatory "
            "or disabled"
        )
    config: dict[str, Any] = {}
    schema = policy.config_schema
    if schema is not None:
        for key, prop in schema.properties.items():
            if "default" in prop:
                config[key] = prop["default"]
        config.update({k: v for k, v in section.items() if k != "enforcementLevel"})
        for key in schema.required or []:
            if key not in config:
                raise bad_input(
                    f"policy config {path}: {policy.name}.{key} is missing; expected "
                    f"{schema.properties[key].get('type', 'a value')}"
                )
        _check_schema(policy.name, config, schema, path)
    return level, config


def _check_schema(name: str, config: Mapping[str, Any], schema: Any, path: Path) -> None:
    """The engine validates each policy's config against its JSON schema before the pack runs."""
    import jsonschema

    document = {"type": "object", "properties": schema.properties, "additionalProperties": False}
    error = jsonschema.exceptions.best_match(jsonschema.Draft7Validator(document).iter_errors(dict(config)))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path)
        raise bad_input(f"policy config {path}: {name}{'.' + where if where else ''}: {error.message[:120]}")


def check_sections(pack_config: Mapping[str, Any], policies: Sequence[Any], path: Path) -> None:
    known = {p.name for p in policies} | {"all"}
    for section in pack_config:
        if section not in known and not section.startswith("$"):
            raise bad_input(
                f"policy config {path}: {section} names no policy of the pack; expected one of the names in "
                "docs/policies.md"
            )


# ------------------------------------------------------------------------------------------ engine-shaped resources


def policy_resources(run: ProgramRun) -> list[PolicyResource]:
    """The captured resources as CrossGuard sees them: plain (unwrapped) camelCase props and options.
    retainOnDelete is attached too: the engine does not pass it to policies, the offline plan can."""
    resources: dict[str, PolicyResource] = {}
    for r in run.resources:
        opts = PolicyResourceOptions(
            protect=r.options.get("protect", False),
            ignore_changes=r.options.get("ignoreChanges", []),
            # None when the program leaves it to the provider, as the engine passes it (deleteBeforeReplaceDefined).
            delete_before_replace=r.options.get("deleteBeforeReplace"),
            aliases=[],
            custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
            additional_secret_outputs=r.options.get("additionalSecretOutputs", []),
            parent=r.parent,
        )
        opts.retain_on_delete = r.options.get("retainOnDelete", False)  # type: ignore[attr-defined]
        provider = None
        if r.options.get("provider"):
            provider_urn = r.options["provider"]
            provider = PolicyProviderResource(
                "pulumi:providers:" + provider_urn.split("pulumi:providers:")[-1].split("::")[0],
                {},
                provider_urn,
                provider_urn.rsplit("::", 1)[-1],
            )
        resources[r.urn] = PolicyResource(r.type, unwrap_secrets(r.inputs), r.urn, r.name, opts, provider, None, [], {})
    for r in run.resources:
        resources[r.urn].parent = resources.get(r.parent or "")
        resources[r.urn].dependencies = [resources[d] for d in r.options.get("dependsOn", []) if d in resources]
    return list(resources.values())


def check_shaped(resources: Sequence[PolicyResource]) -> list[PolicyResource]:
    """The resources with the inputs the engine hands a policy: after their bridged provider's Check
    (facts/bridge_check.py). Component resources have no Check, and the command provider's is not
    modelled: their inputs stay as the program declared them."""
    shaped = []
    for resource in resources:
        copy_ = copy.copy(resource)
        if resource.resource_type in SHAPED_TYPES:
            copy_.props = check_shape(resource.resource_type, resource.props, urn_name=resource.name)
        shaped.append(copy_)
    return shaped


def evaluate(
    run: ProgramRun, pack_config: Mapping[str, Any], policies: Sequence[Any], config_path: Path = Path("policy-config")
) -> list[Violation]:
    # As the engine hands them: after each provider's Check (the only way it ever sees them).
    return evaluate_resources(check_shaped(policy_resources(run)), pack_config, policies, config_path)


def evaluate_resources(
    resources: Sequence[PolicyResource],
    pack_config: Mapping[str, Any],
    policies: Sequence[Any],
    config_path: Path = Path("policy-config"),
) -> list[Violation]:
    """Run each policy as the engine would: resource policies per resource, stack policies once."""
    violations: list[Violation] = []
    for policy in policies:
        level, config = resolve_policy(policy, pack_config, config_path)
        if level == "disabled":
            continue

        if isinstance(policy, ResourceValidationPolicy):
            for resource in resources:
                args = ResourceValidationArgs(
                    resource.resource_type,
                    resource.props,
                    resource.urn,
                    resource.name,
                    resource.opts,
                    resource.provider,
                    config,
                )

                def report(
                    message: str, urn: str | None = None, _urn: str = resource.urn, _p=policy, _lv=level
                ) -> None:
                    violations.append(Violation(_p.name, _lv, urn or _urn, message))

                policy.validate(args, report)
        else:

            def report_stack(message: str, urn: str | None = None, _p=policy, _lv=level) -> None:
                violations.append(Violation(_p.name, _lv, urn or "", message))

            policy.validate(StackValidationArgs(list(resources), config), report_stack)
    return violations


def plan(
    stack: str,
    config_file: Path | None = None,
    policy_config: Path | None = None,
    policies: Sequence[Any] | None = None,
    root: Path | None = None,
    **run_kwargs: Any,
) -> Plan:
    """The stack's program under mocks and every policy over it. The policy config is derived from the
    stack file (ops/policy_pack.py) unless `policy_config` names one, which must state the stack's env
    and domain. Bad input raises before the program registers anything."""
    from policies.registry import POLICIES

    root = root or ROOT
    context = load_stack(stack, config_file or root / f"Pulumi.{stack}.yaml")
    pack_config, policy_path = policy_pack.given_or_derived(context, policy_config, root)
    check_sections(pack_config, policies or POLICIES, policy_path)
    run = run_program(stack, context.engine_config, context.secret_keys, **run_kwargs)
    if isinstance(run.error, ConfigError):
        raise bad_input(str(run.error))
    if run.error is not None:
        raise run.error  # not the user's input: a crash (exit 3, its traceback printed)
    result = Plan(stack, run, evaluate(run, pack_config, policies or POLICIES, policy_path))
    result.unset = context.unset_required
    return result


# ------------------------------------------------------------------------------------------ report


KEY_PROPERTIES = (
    "name",
    "image",
    "networksAdvanced",
    "mounts",
    "labels",
    "memory",
    "restart",
    "driverOpts",
    "policy",
    "roleName",
    "mount",
)


def _summary(resource: Resource) -> str:
    inputs = mask_secrets(resource.inputs)
    parts = []
    for key in KEY_PROPERTIES:
        if key not in inputs:
            continue
        value = inputs[key]
        if key == "networksAdvanced":
            value = ",".join(n.get("name", "?") for n in value)
        elif key == "mounts":
            value = ",".join(f"{m.get('source')}:{m.get('target')}{':ro' if m.get('readOnly') else ''}" for m in value)
        elif key == "labels":
            value = f"{len(value)} labels"
        elif key == "policy":
            value = f"{len(str(value).splitlines())} lines HCL"
        elif isinstance(value, (dict, list)):
            value = json.dumps(value, separators=(",", ":"))
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        parts.append(f"{key}={value}")
    if resource.type == providers.SERVICE:
        parts += service_summary(inputs)
    flags = [name for name in ("protect", "retainOnDelete") if resource.options.get(name)]
    replace = replace_plan(resource)
    if replace:
        flags.append(replace["strategy"])
    if flags:
        parts.append("[" + ",".join(flags) + "]")
    return " ".join(parts)


def service_summary(inputs: dict[str, Any]) -> list[str]:
    """A Swarm service's image, tasks and update order (runtime swarm): what a rollout of it will do."""
    task = inputs.get("taskSpec") or {}
    mode = inputs.get("mode") or {}
    replicas = "global" if mode.get("global") else int((mode.get("replicated") or {}).get("replicas") or 1)
    pinned = [c for c in (task.get("placement") or {}).get("constraints") or [] if "==" in str(c)]
    return [
        f"image={(task.get('containerSpec') or {}).get('image')}",
        f"replicas={replicas}",
        f"update={(inputs.get('updateConfig') or {}).get('order', 'stop-first')}",
        *([f"placement={','.join(pinned)}"] if pinned else []),
    ]


def render(result: Plan) -> str:
    lines = [
        f"Offline plan for stack {result.stack}: {len(result.run.resources)} resources (mocks; no engine, no "
        "credentials)",
        "",
    ]
    width = max(len(r.type) for r in result.run.resources)
    for r in result.run.resources:
        lines.append(f"  {r.type:<{width}}  {r.name:<28}  {_summary(r)}")
    lines += ["", "Outputs:"]
    for key, value in result.run.outputs.items():
        shown = "[secret]" if key in result.run.secret_outputs else json.dumps(value)
        lines.append(f"  {key}: {shown}")
    if result.run.warnings:
        lines += ["", "Warnings (as `pulumi preview` prints them):"] + [f"  {w}" for w in result.run.warnings]
    if result.budget is not None:
        lines += ["", *result.budget.lines()]
    if result.unset:
        lines += ["", unset_line(result.stack, result.unset)]
    lines += [
        "",
        f"Policy violations: {len(result.mandatory)} mandatory, "
        f"{len(result.violations) - len(result.mandatory)} advisory",
    ]
    for v in sorted(result.violations, key=lambda v: (v.enforcementLevel != MANDATORY, v.policy)):
        lines.append(f"  [{v.enforcementLevel}] {v.policy}: {v.message}")
        if v.urn:
            lines.append(f"      {v.urn}")
    return "\n".join(lines)


def with_budget(result: Plan, config_file: Path | None = None) -> None:
    """The host memory budget across the committed stacks and maxPreviewEnvs previews (ci/memory_budget.py);
    each of its problems is a mandatory violation, so the plan fails on them."""
    from ci.memory_budget import host_budget

    result.budget = host_budget(result.stack, result.run, config_file)
    result.violations += [Violation("host-memory-budget", MANDATORY, "", problem) for problem in result.budget.problems]


def unset_line(stack: str, unset: Sequence[str]) -> str:
    """The plan's line on required values the stack file lacks, with the command that sets each."""
    commands = "; ".join(f"`pulumi config set --secret --stack {stack} {key}`" for key in unset)
    return f"not set (placeholders used): {', '.join(unset)}; `pulumi up` stops until they are: {commands}"


def show_plan(
    stack: str,
    as_json: bool = False,
    config_file: str | None = None,
    policy_config: str | None = None,
    strict: bool = False,
) -> int:
    """Exit 0: no mandatory violation (and with `strict`, no required value unset); 1: at least one; 2: bad
    input (one line); 3: the program crashed (a bug, not the user's input: its traceback is printed)."""
    stack = resolve_stack(stack, root=ROOT)
    path = stack_file(stack, config_file, root=ROOT)
    result = plan(stack, path, Path(policy_config) if policy_config else None, root=ROOT)
    with_budget(result, path if config_file else None)
    print(json.dumps(result.to_json(), indent=2, default=str) if as_json else render(result))
    if strict and result.unset:
        print(f"plan: --strict: {unset_line(stack, result.unset)}", file=sys.stderr)
    return result.strict_exit_code() if strict else result.exit_code


def main(*args: Any, **kwargs: Any) -> int:
    """`uv run invoke plan` as a command."""
    return run_task("plan", show_plan, *args, **kwargs)
