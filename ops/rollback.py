"""`uv run invoke rollback --stack S [--to TAG] [--list]`: redeploy an image tag this stack ran before
(docs/rollback.md).

The tags come from the stack's update history (Automation API `Stack.history()`, i.e. `pulumi stack
history --json`, read without decrypting secrets): every successful `update` records the config it ran
with, `finance-report:imageTag` included. The default target is the newest successful update whose tag
differs from the stack file's current imageTag, so it works both after a good deploy that turned out bad
and after a deploy that failed its rollout gate. --to picks another tag that once deployed successfully.
--list prints the history and the target and changes nothing.

The rollback itself is a normal update: the stack file's imageTag is set to the target (the line only:
comments and encrypted values stay) and `pulumi up` runs through the Automation API with the policy pack,
so the new revision rolls create-first, passes its health check, the rollout gate's watch and the public
URLs before the current one is deleted. When the last update failed its gate, the revision that served
before it is still running and is "pending deletion" in the state, under the same name the rollback would
create: the rollback first swaps the pending-deletion mark between the two revisions (state export,
edit, import through the CLI, secrets staying encrypted), so the `up` keeps the serving revision and
deletes the failed one. The state decides that swap, not the history: every rollback exports the state
and swaps when a rolling service has a failed revision live and an older one pending deletion, whatever
ran since (a `pulumi refresh` records entries of its own in the history).

Under `runtime: swarm` (docs/swarm.md "Rollback") Docker itself rolls a failed update back to the service's
previous spec (update_config failure_action rollback): the previous revision keeps serving and there is no
pending deletion to swap. `invoke rollback` is still this command, not `docker service rollback`: that one
reverts one step of the whole spec (a rotated secret or config the old spec names may be gone), leaves the
state and the stack file on the new tag, and the next deploy rolls forward again. Its `pulumi up` runs with
--refresh, so the state first learns what Docker runs (the provider saves the new spec even when Docker
rolled it back: facts.providers.SERVICE_CONVERGE).

It refuses (exit 1) a working tree with uncommitted changes, or a HEAD that is neither the commit the
stack last deployed nor main's tip (ops/git_guard.py): the update runs the program checked out here.

Exit codes: 0 rolled back (or listed), 1 declined (or standard input closed without --yes), the checkout
is not the deployed commit or main's, the update or a CLI step failed (the stack file is restored), or
this machine lacks the Pulumi CLI or the policy pack's venv; 2 bad input.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from config.stack_file import read_stack_file
from facts.project import PROJECT
from facts.services import Service
from facts.tokens import CONTAINER, SWARM_CONFIG, SWARM_SECRET
from ops import policy_pack, pulumi_cli
from ops.command import OperatorError, bad_input, confirm, run_task
from ops.git_guard import read_git_state, require_deployable_checkout
from ops.program_run import ROOT
from ops.stack_context import load_stack, resolve_stack, stack_file
from render import labels as L

IMAGE_TAG = f"{PROJECT}:imageTag"
RUNTIME = f"{PROJECT}:runtime"
# The history entry kinds (pulumi/pulumi sdk/go/common/apitype/updates.go, UpdateKind) that ran the program
# against the host: `pulumi up`. refresh, preview, import (a state import, e.g. a rollback's own swap),
# resource-import, rename and destroy deploy no image tag.
DEPLOY_KINDS = ("update",)
HISTORY_PAGE_SIZE = 100  # the CLI's default page is 10 updates: too short to find the tag before a bad streak
ROLLING_SERVICES = (Service.BACKEND, Service.FRONTEND)
# runtime swarm: a Swarm config or secret replaced create-first by an update Docker rolled back is pending
# deletion while the rolled-back service uses it again (docs/swarm.md "Operating").
SWARM_OBJECTS = (SWARM_CONFIG, SWARM_SECRET)


# ------------------------------------------------------------------------------------------ history (pure)


@dataclass(frozen=True)
class Update:
    """One entry of `pulumi stack history --json` (pulumi/pulumi pkg/cmd/pulumi/stack/stack_history.go,
    updateInfoJSON; the Automation API's UpdateSummary carries the same fields)."""

    version: int
    kind: str
    result: str
    start_time: str
    end_time: str | None
    message: str
    image_tag: str | None
    git_head: str

    @property
    def deployed(self) -> bool:
        """A successful update: its tag ran and passed the rollout gate."""
        return self.kind in DEPLOY_KINDS and self.result == "succeeded" and bool(self.image_tag)


def parse_history(entries: Sequence[Mapping[str, Any]]) -> list[Update]:
    """Newest first. Config values marked secret are never read (history is fetched without them)."""
    updates = []
    for entry in entries:
        tag = (entry.get("config") or {}).get(IMAGE_TAG) or {}
        updates.append(
            Update(
                version=int(entry.get("version", 0)),
                kind=str(entry.get("kind", "")),
                result=str(entry.get("result", "")),
                start_time=str(entry.get("startTime", "")),
                end_time=entry.get("endTime"),
                message=str(entry.get("message", "")),
                image_tag=None if tag.get("secret") else tag.get("value"),
                git_head=str((entry.get("environment") or {}).get("git.head", "")),
            )
        )
    return sorted(updates, key=lambda u: u.version, reverse=True)


def summaries_to_entries(summaries: Iterable[Any]) -> list[dict[str, Any]]:
    """pulumi.automation UpdateSummary objects -> the CLI's JSON shape parse_history reads."""
    entries = []
    for s in summaries:
        entries.append(
            {
                "version": s.version,
                "kind": s.kind,
                "result": s.result,
                "startTime": s.start_time.strftime("%Y-%m-%dT%H:%M:%S.000Z")
                if isinstance(s.start_time, datetime)
                else str(s.start_time),
                "endTime": s.end_time.strftime("%Y-%m-%dT%H:%M:%S.000Z")
                if isinstance(s.end_time, datetime)
                else s.end_time,
                "message": s.message,
                "environment": dict(s.environment or {}),
                "config": {
                    k: ({"secret": True} if v.secret else {"value": v.value, "secret": False})
                    for k, v in (s.config or {}).items()
                },
            }
        )
    return entries


@dataclass(frozen=True)
class Target:
    tag: str
    update: Update
    """The newest successful update that deployed this tag."""
    after_failed_cutover: bool
    """The newest `pulumi up` failed (refreshes and previews since do not count): the revision that served
    before it is likely still pending deletion. Only for what the command prints; the state decides."""


def deployed_tags(updates: Sequence[Update]) -> list[Update]:
    """The newest successful update of each tag, newest first."""
    seen: dict[str, Update] = {}
    for update in updates:
        if update.deployed and update.image_tag and update.image_tag not in seen:
            seen[update.image_tag] = update
    return list(seen.values())


def last_deploy(updates: Sequence[Update]) -> Update | None:
    """The newest `pulumi up` of the history (newest first), skipping refreshes, previews and imports."""
    return next((u for u in updates if u.kind in DEPLOY_KINDS), None)


def choose_target(stack: str, updates: Sequence[Update], current_tag: str, to: str | None = None) -> Target:
    deployed = deployed_tags(updates)
    if not deployed:
        raise OperatorError(f"stack {stack} has no successful update in its history: there is nothing to roll back to")
    last = last_deploy(updates)
    failed_cutover = last is not None and last.result == "failed"
    if to is not None:
        match = next((u for u in deployed if u.image_tag == to), None)
        if match is None:
            raise bad_input(
                f"--to = {to!r} is invalid: expected a tag stack {stack} deployed successfully: "
                f"{', '.join(u.image_tag for u in deployed if u.image_tag)}"
            )
        if to == current_tag:
            others = [u.image_tag for u in deployed if u.image_tag and u.image_tag != current_tag]
            raise bad_input(
                f"--to = {to!r} is invalid: it is the stack file's current imageTag; expected an earlier "
                f"one: {', '.join(others) or 'none'}"
            )
        return Target(to, match, failed_cutover)
    earlier = [(u.image_tag, u) for u in deployed if u.image_tag and u.image_tag != current_tag]
    if not earlier:
        raise OperatorError(
            f"every successful update of stack {stack} deployed imageTag {current_tag}: there is no earlier "
            "tag to roll back to",
        )
    tag, update = earlier[0]
    return Target(tag, update, failed_cutover)


def history_lines(stack: str, updates: Sequence[Update], current_tag: str, target: Target | None) -> list[str]:
    lines = [
        f"stack {stack}: update history, newest first (the stack file's imageTag is {current_tag})",
        f"  {'version':>7}  {'started':<24}  {'kind':<8}  {'result':<10}  {'imageTag':<14}  {'git.head':<8}  message",
    ]
    for u in updates:
        mark = "  <- rollback target" if target and u is target.update else ""
        lines.append(
            f"  {u.version:>7}  {u.start_time:<24}  {u.kind:<8}  {u.result:<10}  {(u.image_tag or '-'):<14}  "
            f"{u.git_head[:8]:<8}  {u.message[:60]}{mark}"
        )
    return lines


# ------------------------------------------------------------------------------------------ state (pure)


def _labels(resource: Mapping[str, Any]) -> dict[str, str]:
    items = (resource.get("inputs") or {}).get("labels") or []
    return {i.get("label", ""): i.get("value", "") for i in items if isinstance(i, Mapping)}


def swap_failed_revisions(deployment: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """`pulumi stack export` JSON (apitype.UntypedDeployment, version 3) after an update that failed its
    rollout gate: each rolling container's URN has a live (failed) revision and one `delete: true` (the
    revision that kept serving). Swap the mark, so the next update keeps the serving one and deletes the
    failed one. Under runtime swarm the same holds for a Swarm config or secret the failed update replaced:
    the service Docker rolled back uses the pending one. Returns the edited document and the URNs swapped;
    other resources are left alone."""
    doc = json.loads(json.dumps(deployment))
    resources = doc.get("deployment", {}).get("resources") or []
    by_urn: dict[str, list[dict[str, Any]]] = {}
    for resource in resources:
        rolling = resource.get("type") == CONTAINER and _labels(resource).get(L.SERVICE) in ROLLING_SERVICES
        if rolling or resource.get("type") in SWARM_OBJECTS:
            by_urn.setdefault(resource["urn"], []).append(resource)
    swapped = []
    for urn, states in by_urn.items():
        pending = [s for s in states if s.get("delete")]
        live = [s for s in states if not s.get("delete")]
        if len(pending) != 1 or len(live) != 1:
            continue
        if not pending[0].get("created") or not live[0].get("created"):
            raise OperatorError(
                f"the state of {urn} does not say when its revisions were created: swap them by hand "
                "(docs/rollback.md)",
            )
        # Only when the live revision is the newer one, i.e. the one the failed update created: a second
        # run (after a rollback that failed later on) must not swap the serving revision back out.
        if _instant(pending[0]["created"]) < _instant(live[0]["created"]):
            pending[0].pop("delete")
            live[0]["delete"] = True
            swapped.append(urn)
    return doc, swapped


def _instant(text: str) -> datetime:
    """RFC 3339 times as the engine writes them (`created`), with or without fractional seconds."""
    return datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00"))


# ------------------------------------------------------------------------------------------ stack file (pure)


_TAG_LINE = re.compile(rf"^(\s*{re.escape(IMAGE_TAG)}:)[ \t]*(.*?)[ \t]*$", re.M)


def with_image_tag(text: str, tag: str) -> str:
    """The stack file with only its imageTag line changed (comments and encrypted values untouched)."""
    if len(_TAG_LINE.findall(text)) != 1:
        raise bad_input(f"the stack file must set {IMAGE_TAG} on exactly one line")
    return _TAG_LINE.sub(lambda m: f'{m.group(1)} "{tag}"', text)


# ------------------------------------------------------------------------------------------ the engine


History = Callable[[str], list[dict[str, Any]]]


def cli_failure(doing: str, command: str, stack: str, err: Exception) -> OperatorError:
    """An Automation API error (the CLI's exit code and stderr in its text) as one line naming what
    failed and what fixes it; exit 1: the backend or the CLI, not the command line, is the problem."""
    from pulumi.automation.errors import InvalidVersionError, StackNotFoundError

    if isinstance(err, subprocess.CalledProcessError):
        # the Automation API's first step, `pulumi version` (pulumi/automation/_cmd.py, PulumiCommand.__init__)
        died = isinstance(err.returncode, int) and err.returncode < 0
        how = f"was killed by signal {signal.Signals(-err.returncode).name}" if died else f"exited {err.returncode}"
        where = shutil.which("pulumi") or "pulumi"
        return OperatorError(
            f"{doing} failed: `pulumi version` {how}: the Pulumi CLI on PATH ({where}) is broken; reinstall it "
            "(README Prerequisites: the version the workflows pin)"
        )
    if isinstance(err, InvalidVersionError):
        return OperatorError(
            f"{doing} failed: {str(err).strip().splitlines()[0][:200].rstrip('.')} (README Prerequisites: "
            "the version the workflows pin)",
        )
    text = str(err)
    code = re.search(r"\bcode: (-?\d+)", text)
    stderr = [line.strip() for line in text.split("stderr:", 1)[-1].splitlines() if line.strip()]
    line = next((s for s in stderr if s.startswith("error:")), stderr[-1] if stderr else "no output")[:200]
    if isinstance(err, StackNotFoundError):
        fix = (
            f"the backend the CLI is logged in to has no stack {stack}: `pulumi stack ls` lists its stacks; "
            "`pulumi login <backend>` for another"
        )
    elif "login" in line.lower() or "logged in" in line.lower() or "access token" in line.lower():
        fix = "log in to the state backend with `pulumi login` (README Prerequisites)"
    else:
        fix = f"`pulumi {command.split(' ', 1)[-1]} --stack {stack}` shows the CLI's own error"
    exited = f"exited {code.group(1)}" if code else "failed"
    return OperatorError(f"{doing} failed: `{command}` {exited}: {line}; {fix}")


def select(stack: str, work_dir: Path) -> Any:
    from pulumi import automation as auto

    try:
        return auto.select_stack(stack_name=stack, work_dir=str(work_dir))
    except (auto.CommandError, auto.errors.InvalidVersionError, subprocess.CalledProcessError) as err:
        raise cli_failure(f"selecting stack {stack}", "pulumi stack select", stack, err) from None


def engine_history(stack: str, work_dir: Path = ROOT) -> list[dict[str, Any]]:
    from pulumi import automation as auto

    workspace_stack = select(stack, work_dir)
    try:
        # show_secrets=False: secret config stays encrypted (the SDK's default decrypts it).
        summaries = workspace_stack.history(page_size=HISTORY_PAGE_SIZE, show_secrets=False)
    except auto.CommandError as err:
        raise cli_failure(f"reading the update history of stack {stack}", "pulumi stack history", stack, err) from None
    return summaries_to_entries(summaries)


@dataclass
class Engine:
    """The Automation API steps of a rollback (tests/engine/test_rollback.py runs them for real)."""

    stack: str
    work_dir: Path = ROOT
    on_output: Callable[[str], None] = field(default=lambda line: print(line, flush=True))
    refresh: bool = False
    """runtime swarm: refresh first, so a spec Docker rolled back is re-read before the update."""

    def _cli(self, argv: Sequence[str], stdin: bytes | None = None) -> bytes:
        # Export without --show-secrets and import from stdin: the Automation API's export_stack decrypts
        # every secret and import_stack writes the document to a temporary file.
        done = subprocess.run(
            ["pulumi", *argv, "--stack", self.stack], input=stdin, capture_output=True, cwd=self.work_dir, timeout=600
        )
        if done.returncode != 0:
            last = (done.stderr or b"").decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise OperatorError(f"pulumi {argv[0]} {argv[1]} failed (exit {done.returncode}): {last[0][:200]}")
        return done.stdout

    def keep_serving_revision(self) -> list[str]:
        """Export the state; when a rolling service has its failed revision live and the serving one
        pending deletion, import it with the mark swapped. Returns the URNs swapped (none: no import)."""
        doc, swapped = swap_failed_revisions(json.loads(self._cli(["stack", "export"])))
        if swapped:
            self._cli(["stack", "import"], json.dumps(doc).encode())
        return swapped

    def up(self, tag: str) -> int:
        from pulumi import automation as auto

        # The pack config derived from the stack file as it now reads (ops/policy_pack.py).
        context = load_stack(self.stack, stack_file(self.stack, root=self.work_dir))
        pack_config = policy_pack.derived(context, self.work_dir)
        stack = select(self.stack, self.work_dir)
        with policy_pack.config_file(pack_config, self.stack) as policy_config:
            try:
                stack.up(
                    message=f"invoke rollback to {tag}",
                    refresh=self.refresh or None,
                    policy_packs=[str(self.work_dir / "policies")],
                    policy_pack_configs=[str(policy_config)],
                    on_output=self.on_output,
                    show_secrets=False,
                )
            except auto.CommandError as err:
                self.on_output(str(err).strip().splitlines()[-1][:300] if str(err).strip() else "pulumi up failed")
                return 1
        return 0


def rollback(
    stack: str,
    to: str | None = None,
    list_only: bool = False,
    yes: bool = False,
    history: History | None = None,
    engine: Engine | None = None,
    answer: Callable[[str], str] = input,
    root: Path = ROOT,
) -> int:
    stack = resolve_stack(stack, root=root)
    path = stack_file(stack, root=root, takes_config_file=False)
    config, _ = read_stack_file(path)
    current = config.get(IMAGE_TAG, "")
    swarm = config.get(RUNTIME) == "swarm"
    if history is None:  # the real one: the stack's history through the Pulumi CLI
        missing = pulumi_cli.missing_cli("the rollback reads the stack's history and runs `pulumi up`")
        if missing is not None:
            raise OperatorError(missing)
        entries = engine_history(stack, root)
    else:
        entries = history(stack)
    updates = parse_history(entries)
    target = choose_target(stack, updates, current, to)
    print("\n".join(history_lines(stack, updates, current, target)))
    plan = (
        f"rollback: imageTag {current} -> {target.tag} (deployed by update {target.update.version}); `pulumi "
        "up` rolls it like any update, health-gated"
    )
    last = last_deploy(updates)  # after_failed_cutover: the last deploy failed
    if target.after_failed_cutover and swarm and last is not None:
        plan += (
            f"; the last update (version {last.version}) failed and Docker rolled its services "
            "back already: the update refreshes first, then records the tag that serves"
        )
    elif target.after_failed_cutover and last is not None:
        plan += (
            f"; the last update (version {last.version}) failed, so the revision still "
            "serving is kept and the failed one deleted"
        )
    print(plan)
    if list_only:
        return 0
    # The rollback is a whole `pulumi up` of this checkout's program: only the deployed commit or main's.
    require_deployable_checkout("rollback", stack, read_git_state(root), entries)
    if engine is None and (missing_venv := pulumi_cli.missing_policy_venv(root)) is not None:
        raise OperatorError(missing_venv)
    confirm(f"Roll stack {stack} back to {target.tag}?", yes, answer)
    engine = engine or Engine(stack, root, refresh=swarm)
    original = path.read_bytes()
    changed = with_image_tag(original.decode(), target.tag)
    path.write_text(changed)
    if read_stack_file(path)[0].get(IMAGE_TAG) != target.tag:
        path.write_bytes(original)
        raise OperatorError(f"the edited stack file does not read back imageTag {target.tag}; nothing changed")
    # The state, not the history, says whether a failed revision is live and the serving one pending
    # deletion: exported right before the up (read-only when there is nothing to swap).
    try:
        swapped = engine.keep_serving_revision()
    except OperatorError:
        path.write_bytes(original)
        raise
    for urn in swapped:
        print(
            f"rollback: the state now keeps the serving revision of {urn.rsplit('::', 1)[-1]}; the "
            "update deletes the failed one"
        )
    if engine.up(target.tag) != 0:
        if swapped:
            # The state already names the serving revision as current: the file must keep its tag.
            print(
                f"rollback: the update failed; Pulumi.{stack}.yaml stays at imageTag {target.tag}, which "
                f"the state now runs; fix the cause and run `pulumi up --stack {stack}` "
                "(docs/rollback.md)",
                file=sys.stderr,
            )
        else:
            path.write_bytes(original)
            print(
                f"rollback: the update failed; Pulumi.{stack}.yaml is back at imageTag {current}; the "
                "revision that was serving keeps serving (docs/rollback.md)",
                file=sys.stderr,
            )
        return 1
    print(
        f"rollback: stack {stack} runs {target.tag}. Commit Pulumi.{stack}.yaml (imageTag {current} -> "
        f"{target.tag}): the next deploy from main would otherwise roll forward again"
    )
    return 0


def main(*args: Any, **kwargs: Any) -> int:
    """`uv run invoke rollback` as a command (one line and an exit code on error)."""
    return run_task("rollback", rollback, *args, **kwargs)
