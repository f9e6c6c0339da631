"""Runs the real Pulumi program (`__main__.py`) under `pulumi.runtime.set_mocks` and captures every
resource with its engine-shaped inputs and its options.

This is Pulumi's documented unit-testing method, not a fake engine: the SDK serialises each resource
registration exactly as it would for the engine, and a stack transformation records the options
(protect, deleteBeforeReplace, ...) that the mock monitor does not receive. Providers are never
contacted; the mocks answer with deterministic values derived from a seed, and secret-marked inputs
stay marked (Pulumi's RPC secret wrapper) so callers can mask or assert on them.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import runpy
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.stack import Stack, run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from config.stack_file import placeholder_secret
from facts import tokens
from facts.project import PROJECT

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "__main__.py"
SECRET_MASK = "[secret]"
SECRET_RESULTS = {tokens.RANDOM_PASSWORD, tokens.RANDOM_BYTES, tokens.SECRET_ID}
"""Resources whose computed outputs are secrets: never kept beside the captured inputs."""
PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!#%+-.:=?@^_~"


@dataclass
class Resource:
    urn: str
    type: str
    name: str
    parent: str | None
    inputs: dict[str, Any]
    options: dict[str, Any]
    custom: bool = True
    computed: dict[str, Any] = field(default_factory=dict)
    """Outputs the mocks computed that are not secret (an image's imageId, a role's roleId): what a later
    resource's input may hold, e.g. a container's `image`."""

    def plain_inputs(self) -> dict[str, Any]:
        plain: dict[str, Any] = unwrap_secrets(self.inputs)
        return plain


@dataclass
class ProgramRun:
    stack: str
    resources: list[Resource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    """What the program logged as warnings (pulumi.log.warn), as `pulumi preview` would print them."""
    error: BaseException | None = None

    def by_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str) -> Resource:
        matches = [r for r in self.resources if r.type == type_ and r.name == name]
        if len(matches) != 1:
            raise LookupError(
                f"expected one {type_} named {name}, found {len(matches)}: {[r.name for r in self.by_type(type_)]}"
            )
        return matches[0]


# ----------------------------------------------------------------------------- secrets in captured data


def unwrap_secrets(value: Any) -> Any:
    if rpc.is_rpc_secret(value):
        return unwrap_secrets(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def mask_secrets(value: Any) -> Any:
    if rpc.is_rpc_secret(value):
        return SECRET_MASK
    if isinstance(value, dict):
        return {k: mask_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v) for v in value]
    return value


def contains_secret(value: Any) -> bool:
    if rpc.is_rpc_secret(value):
        return True
    if isinstance(value, dict):
        return any(contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_secret(v) for v in value)
    return False


# ----------------------------------------------------------------------------- stack files


def with_missing_secrets(
    config: Mapping[str, str], secret_keys: Iterable[str], seed: str = "placeholder"
) -> tuple[dict[str, str], list[str]]:
    """Fill required secret keys that a stack file leaves to `pulumi config set --secret` with
    generated placeholders, so a plan runs without anyone's credentials (e.g. on fork PRs)."""
    from config.schema import FIELDS
    from config.stack_config import PRODUCTION_SECRETS
    from render.naming import PRODUCTION

    config, keys = dict(config), list(secret_keys)
    production = config.get(f"{PROJECT}:env") == PRODUCTION
    for spec in FIELDS:
        full = f"{PROJECT}:{spec.key}"
        required = spec.required or (production and spec.key in PRODUCTION_SECRETS)
        if spec.secret and required and full not in config:
            config[full] = placeholder_secret(spec.key, seed)
            keys.append(full)
    kept = f"{PROJECT}:vaultKeptValues"
    if kept in keys and config.get(kept, "").startswith("gen-"):
        config[kept] = "{}"  # an encrypted JSON document: an empty one plans the same resources
    return config, keys


# ----------------------------------------------------------------------------- mocks


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x00".join(parts).encode()).digest()


def mock_image_id(ref: str) -> str:
    """The image id the mocks answer for `ref`: digest-shaped (64 characters after `sha256:`, so the pinning
    policy reads it as an id) but marked `mock`, so a plan never shows it as the real image's digest."""
    return "sha256:mock" + hashlib.sha256(ref.encode()).hexdigest()[:60]


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers registrations with deterministic computed values (seeded) and records inputs.

    `state` gives the values a random resource already holds in the stack's state, by resource name:
    what `invoke adopt` imported, or a new value after `pulumi up --replace` rotated it."""

    def __init__(self, seed: str, state: Mapping[str, str]):
        self.seed = seed
        self.state = state
        self.inputs: dict[tuple[str, str], dict[str, Any]] = {}
        self.computed: dict[tuple[str, str], dict[str, Any]] = {}
        self.providers: dict[tuple[str, str], str | None] = {}

    def _password(self, name: str, length: int, special: bool) -> str:
        alphabet = PASSWORD_ALPHABET if special else PASSWORD_ALPHABET[:56]
        raw = _digest(self.seed, name) + _digest(self.seed, name, "2") + _digest(self.seed, name, "3")
        return "".join(alphabet[b % len(alphabet)] for b in raw[:length])

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.inputs[(args.typ, args.name)] = args.inputs
        self.providers[(args.typ, args.name)] = args.provider or None
        state = dict(unwrap_secrets(args.inputs))
        typ = args.typ
        if typ == tokens.RANDOM_PASSWORD:
            state["result"] = self.state.get(args.name) or self._password(
                args.name, int(state.get("length", 32)), bool(state.get("special", True))
            )
        elif typ == tokens.RANDOM_BYTES:
            raw = (
                base64.b64decode(self.state[args.name])
                if args.name in self.state
                else (_digest(self.seed, args.name) * 4)[: int(state.get("length", 32))]
            )
            state.update(base64=base64.b64encode(raw).decode(), hex=raw.hex())
        elif typ == tokens.REMOTE_IMAGE:
            state["imageId"] = mock_image_id(state["name"])
            state["repoDigest"] = state["name"].split(":")[0] + "@" + mock_image_id(state["name"])
        elif typ == tokens.APPROLE_ROLE:
            state["roleId"] = str(uuid.UUID(bytes=_digest(self.seed, args.name)[:16]))
        elif typ == tokens.SECRET_ID:
            # `state` may hold a new secret-id: what `pulumi up --replace` of it mints (invoke rotate). Every
            # argument is ForceNew (facts.providers.REPLACE_FACTS): new metadata (a new renewal window) is a
            # replacement, which mints a new secret-id.
            minted = str(state.get("metadata", ""))
            state["secretId"] = self.state.get(args.name) or str(
                uuid.UUID(bytes=_digest(self.seed, args.name, "secret-id", minted)[:16])
            )
            state["accessor"] = str(uuid.UUID(bytes=_digest(self.seed, args.name, "accessor", minted)[:16]))
        if typ not in SECRET_RESULTS:
            self.computed[(args.typ, args.name)] = {k: v for k, v in state.items() if k not in args.inputs}
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token == tokens.GET_NETWORK:
            return {
                "name": args.args["name"],
                "id": f"{args.args['name']}-id",
                "driver": "overlay",
                "internal": False,
                "scope": "swarm",
            }, []
        return {}, []


# ----------------------------------------------------------------------------- running the program


def engine_urns(
    stack: str, mock_urns: Mapping[tuple[str, str], str], options: Mapping[tuple[str, str], Mapping[str, Any]]
) -> dict[tuple[str, str], str]:
    """The URN the engine gives each resource. The mock monitor prefixes only the parent's own type; the
    engine prefixes the parent's whole type chain, leaving out the root stack's type
    (pulumi/pulumi sdk/go/common/resource/urn.go, NewURN; pkg/resource/deploy/source_eval.go generateURN),
    and that is what `pulumi preview`, `pulumi import` and `--replace` use."""
    result: dict[tuple[str, str], str] = {}

    def urn(key: tuple[str, str]) -> str:
        if key not in result:
            type_, name = key
            parent = options.get(key, {}).get("parent")
            chain = ""
            if parent is not None and parent in mock_urns:
                qualified = urn(parent).split("::")[2]
                chain = "" if qualified == "pulumi:pulumi:Stack" else qualified + "$"
            result[key] = f"urn:pulumi:{stack}::{PROJECT}::{chain}{type_}::{name}"
        return result[key]

    for key in mock_urns:
        urn(key)
    return result


class _ListHandler(logging.Handler):
    def __init__(self, sink: list[str]):
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record.getMessage())


def _option_record(opts: pulumi.ResourceOptions, names: dict[int, tuple[str, str]]) -> dict[str, Any]:
    def ref(resource: Any) -> tuple[str, str] | None:
        return names.get(id(resource)) if resource is not None else None

    depends: object = opts.depends_on or []
    if not isinstance(depends, list):
        depends = [depends]
    return {
        "protect": bool(opts.protect),
        # None, True or False as the SDK sends it: None leaves the choice to the provider (provider_facts).
        "deleteBeforeReplace": opts.delete_before_replace,
        "additionalSecretOutputs": list(opts.additional_secret_outputs or []),
        "retainOnDelete": bool(opts.retain_on_delete),
        "ignoreChanges": list(opts.ignore_changes or []),
        "replaceOnChanges": list(opts.replace_on_changes or []),
        "dependsOn": [ref(d) for d in depends if isinstance(d, pulumi.Resource)],
        "parent": ref(opts.parent),
        "provider": ref(opts.provider),
    }


def run_program(
    stack: str,
    config: Mapping[str, str],
    secret_keys: Iterable[str] = (),
    *,
    seed: str = "seed",
    state: Mapping[str, str] | None = None,
    program: Path = PROGRAM,
    transforms: Sequence[pulumi.ResourceTransformation] = (),
    preview: bool = True,
) -> ProgramRun:
    """Run `program` for `stack` with `config` (keys `finance-report:<key>`) under mocks.

    A ConfigError (or any exception) raised by the program is returned in `.error` together with
    whatever was registered before it, so callers can assert that nothing was. `transforms` are stack
    transformations applied before capture: tests use them to seed regressions into the program."""
    # pulumi's private helper has no annotations (pulumi/runtime/sync_await.py)
    _ensure_event_loop()  # type: ignore[no-untyped-call]  # a caller's asyncio.run() may have closed the loop
    run = ProgramRun(stack=stack)
    mocks, monitor = _start_mocks(run, config, secret_keys, seed, state or {}, preview)
    capture = _OptionCapture()
    for transform in transforms:
        pulumi.runtime.register_stack_transformation(transform)
    pulumi.runtime.register_stack_transformation(capture.record)
    root = settings.get_root_resource()
    run.error = _run_main(program)
    run.resources = _captured_resources(stack, mocks, monitor, capture.options())
    if run.error is None and isinstance(root, Stack):
        _collect_outputs(run, root)
    return run


def _start_mocks(
    run: ProgramRun,
    config: Mapping[str, str],
    secret_keys: Iterable[str],
    seed: str,
    state: Mapping[str, str],
    preview: bool,
) -> tuple[RecordingMocks, pulumi_mocks.MockMonitor]:
    """Point the SDK at fresh mocks for `run`: its config set, its warnings logged into `run.warnings`."""
    mocks = RecordingMocks(seed, state)
    monitor = pulumi_mocks.MockMonitor(mocks)
    settings.ROOT.set(None)
    logger = logging.getLogger(f"finance-report.program.{id(run)}")
    logger.propagate = False
    logger.addHandler(_ListHandler(run.warnings))
    # preview=True: a plan is what `pulumi preview` evaluates (pulumi.runtime.is_dry_run() is true).
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=run.stack, preview=preview, monitor=monitor, logger=logger)
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()
    pulumi.runtime.set_all_config(dict(config), list(secret_keys))
    return mocks, monitor


class _OptionCapture:
    """A stack transformation that records each resource's options: the mock monitor does not receive them."""

    def __init__(self) -> None:
        self.names: dict[int, tuple[str, str]] = {}
        self.raw_opts: dict[tuple[str, str], pulumi.ResourceOptions] = {}

    def record(self, args: pulumi.ResourceTransformationArgs) -> None:
        self.names[id(args.resource)] = (args.type_, args.name)
        self.raw_opts[(args.type_, args.name)] = args.opts

    def options(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {key: _option_record(opts, self.names) for key, opts in self.raw_opts.items()}


def _run_main(program: Path) -> BaseException | None:
    """Run `program` as `pulumi up` runs `__main__.py`, from its folder; return what it raised."""

    def body() -> None:
        old_cwd = os.getcwd()
        os.chdir(program.parent)
        try:
            runpy.run_path(str(program), run_name="__main__")
        finally:
            os.chdir(old_cwd)

    try:
        _sync_await(run_pulumi_func(body))
    except BaseException as err:
        return err
    return None


def _captured_resources(
    stack: str,
    mocks: RecordingMocks,
    monitor: pulumi_mocks.MockMonitor,
    options: Mapping[tuple[str, str], dict[str, Any]],
) -> list[Resource]:
    """Every registered resource under its engine URN, with its inputs and options, sorted by URN."""
    stack_urn = f"urn:pulumi:{stack}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{stack}"
    mock_urns: dict[tuple[str, str], str] = {}
    for urn in monitor.resources:
        type_chain, name = urn.split("::")[2], urn.split("::")[3]
        mock_urns[(type_chain.split("$")[-1], name)] = urn
    urn_of = engine_urns(stack, mock_urns, options)
    by_mock = {mock_urns[key]: urn_of[key] for key in mock_urns}
    resources = []
    # Registration order depends on the event loop: sort by URN so two runs print the same plan.
    for (type_, name), urn in sorted(urn_of.items(), key=lambda item: item[1]):
        if type_ == "pulumi:pulumi:Stack":
            continue
        opts = options.get((type_, name), {})
        parent_key = opts.get("parent")
        record = dict(opts)
        record["parent"] = urn_of.get(parent_key, stack_urn) if parent_key else stack_urn
        record["dependsOn"] = [urn_of[d] for d in opts.get("dependsOn", []) if d in urn_of]
        provider_ref = mocks.providers.get((type_, name))
        record["provider"] = by_mock.get(provider_ref.rsplit("::", 1)[0]) if provider_ref else None
        resources.append(
            Resource(
                urn=urn,
                type=type_,
                name=name,
                parent=record["parent"],
                inputs=mocks.inputs.get((type_, name), {}),
                options=record,
                custom=not type_.startswith("finance-report:"),
                computed=mocks.computed.get((type_, name), {}),
            )
        )
    return resources


def _collect_outputs(run: ProgramRun, root: Stack) -> None:
    """The stack's exports, resolved, and which of them are secret."""
    for key, value in root.outputs.items():
        output = pulumi.Output.from_input(value)
        run.outputs[key] = _sync_await(output.future())
        if _sync_await(output.is_secret()):
            run.secret_outputs.add(key)
