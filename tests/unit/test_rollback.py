"""`invoke rollback` without the Pulumi CLI, on hand-written engine documents (not recordings: their
times, git SHAs, messages and resources are invented; their shape follows the CLI's source):

- fixtures/stack_history_production.json: written in the shape of `pulumi stack history --json` (newest
  first): pulumi/pulumi pkg/cmd/pulumi/stack/stack_history.go (read at commit 055a380cee61),
  updateInfoJSON (version, kind, startTime, message, environment, config, result, endTime,
  resourceChanges) and configValueJSON (value, objectValue, secret: a secret's value is absent without
  --show-secrets); the Automation API's `Stack.history()` builds `pulumi.automation.UpdateSummary`
  objects from the same JSON (test_the_automation_apis_summaries_read_the_same);
- fixtures/stack_export_failed_cutover.json: written in the shape of `pulumi stack export`
  (apitype.UntypedDeployment version 3, resources as sdk/go/common/apitype/core.go ResourceV3 with
  `delete` and `created`), ten resources as the state would hold them after an update whose rollout gate
  failed: the new backend/frontend revisions live, the serving ones `delete: true`.

The deploy step itself, and these shapes against a real CLI, need the engine: tests/engine/test_rollback.py.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from pulumi.automation._stack import _DATETIME_FORMAT, UpdateSummary

from config.stack_file import read_stack_file
from ops import pulumi_cli
from ops import rollback as rb
from ops.command import OperatorError
from ops.git_guard import GitState
from tests.conftest import ROOT

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def deployable_checkout(monkeypatch):
    """Every test here runs from a clean checkout of main's tip (the refusals: tests/unit/test_git_guard.py)."""
    monkeypatch.setattr(rb, "read_git_state", lambda root: GitState("c" * 40, (), "c" * 40))


HISTORY = json.loads((FIXTURES / "stack_history_production.json").read_text())
EXPORT = json.loads((FIXTURES / "stack_export_failed_cutover.json").read_text())


def updates(entries=HISTORY):
    return rb.parse_history(entries)


def test_the_history_is_read_newest_first_with_tags_and_without_secret_values():
    parsed = updates(list(reversed(HISTORY)))
    assert [u.version for u in parsed] == [48, 47, 46, 45, 44, 43, 42, 41]
    assert [(u.kind, u.result, u.image_tag) for u in parsed[:3]] == [
        ("update", "failed", "v1.4.3"),
        ("refresh", "succeeded", "v1.4.2"),
        ("update", "succeeded", "v1.4.2"),
    ]
    assert parsed[0].git_head.startswith("e41c0b7")
    assert [u.image_tag for u in rb.deployed_tags(parsed)] == ["v1.4.2", "v1.4.1", "v1.4.0"]
    assert [u.version for u in rb.deployed_tags(parsed)] == [46, 45, 42], (
        "a tag's newest successful update; refreshes and imports deploy nothing"
    )


def test_the_automation_apis_summaries_read_the_same():
    """Stack.history() turns each JSON entry into an UpdateSummary exactly like this (pulumi/automation/_stack.py)."""
    summaries = [
        UpdateSummary(
            kind=e["kind"],
            start_time=datetime.strptime(e["startTime"], _DATETIME_FORMAT),
            message=e["message"],
            environment=e["environment"],
            config=e["config"],
            result=e["result"],
            end_time=datetime.strptime(e["endTime"], _DATETIME_FORMAT),
            version=e["version"],
            resource_changes=e.get("resourceChanges"),
        )
        for e in HISTORY
    ]
    assert updates(rb.summaries_to_entries(summaries)) == updates()
    secret = next(v for k, v in summaries[0].config.items() if k.endswith("s3SecretKey"))
    assert secret.secret and secret.value == "[secret]"


def test_after_a_failed_cutover_the_default_is_the_tag_that_kept_serving():
    target = rb.choose_target("production", updates(), "v1.4.3")
    assert (target.tag, target.update.version, target.after_failed_cutover) == ("v1.4.2", 46, True)


def with_refreshes_in_front(history=HISTORY, count=2):
    """`pulumi refresh` after the update (a scheduled drift check, an operator looking): newer entries of
    kind refresh, each recording the config it ran with, deploying nothing."""
    newest = max(e["version"] for e in history)
    refresh = next(e for e in history if e["kind"] == "refresh")
    return [{**refresh, "version": newest + i, "message": f"drift check {i}"} for i in range(count, 0, -1)] + list(
        history
    )


def test_refreshes_after_a_failed_cutover_do_not_hide_it():
    target = rb.choose_target("production", updates(with_refreshes_in_front()), "v1.4.3")
    assert (target.tag, target.update.version, target.after_failed_cutover) == ("v1.4.2", 46, True)
    good = with_refreshes_in_front([e for e in HISTORY if e["version"] != 48])
    assert rb.choose_target("production", updates(good), "v1.4.2").after_failed_cutover is False


def test_after_a_good_deploy_the_default_is_the_tag_before_it():
    good = [e for e in HISTORY if e["version"] != 48]
    target = rb.choose_target("production", updates(good), "v1.4.2")
    assert (target.tag, target.update.version, target.after_failed_cutover) == ("v1.4.1", 45, False)


def test_to_picks_any_tag_that_once_deployed_successfully():
    assert rb.choose_target("production", updates(), "v1.4.3", "v1.4.0").update.version == 42
    with pytest.raises(OperatorError) as err:
        rb.choose_target("production", updates(), "v1.4.3", "v1.3.9")
    assert (str(err.value), err.value.exit_code) == (
        "--to = 'v1.3.9' is invalid: expected a tag stack production deployed successfully: v1.4.2, v1.4.1, v1.4.0",
        2,
    )
    with pytest.raises(OperatorError) as err:
        rb.choose_target("production", updates(), "v1.4.2", "v1.4.2")
    assert (
        str(err.value)
        == "--to = 'v1.4.2' is invalid: it is the stack file's current imageTag; expected an earlier one: "
        "v1.4.1, v1.4.0"
    )
    with pytest.raises(OperatorError) as err:
        rb.choose_target("production", updates(), "v1.4.3", "v1.4.3")
    assert "expected a tag stack production deployed successfully" in str(err.value), (
        "a tag that only failed is never a target"
    )


def test_nothing_to_roll_back_to_is_exit_1():
    only_failed = [e for e in HISTORY if e["result"] == "failed"]
    with pytest.raises(OperatorError) as err:
        rb.choose_target("production", updates(only_failed), "v1.4.3")
    assert (
        err.value.exit_code == 1
        and str(err.value)
        == "stack production has no successful update in its history: there is nothing to roll back to"
    )
    same = [e for e in HISTORY if e["version"] == 46]
    with pytest.raises(OperatorError) as err:
        rb.choose_target("production", updates(same), "v1.4.2")
    assert err.value.exit_code == 1


def test_the_failed_revisions_become_the_pending_deletes_and_nothing_else_changes():
    doc, swapped = rb.swap_failed_revisions(EXPORT)
    assert sorted(u.rsplit("::", 1)[1] for u in swapped) == ["app-backend", "app-frontend"]
    before, after = EXPORT["deployment"]["resources"], doc["deployment"]["resources"]
    assert len(before) == len(after)
    for old, new in zip(before, after, strict=True):
        if old["urn"] in swapped:
            assert bool(old.get("delete")) != bool(new.get("delete")), old["urn"]
            assert {k: v for k, v in old.items() if k != "delete"} == {k: v for k, v in new.items() if k != "delete"}
        else:
            assert old == new, old["urn"]
    live = {
        r["urn"].rsplit("::", 1)[1]: r["outputs"]["name"]
        for r in after
        if r["type"] == rb.CONTAINER and not r.get("delete")
    }
    pending = {r["urn"].rsplit("::", 1)[1]: r["outputs"]["name"] for r in after if r.get("delete")}
    served = {r["urn"].rsplit("::", 1)[1]: r["outputs"]["name"] for r in before if r.get("delete")}
    assert {k: live[k] for k in served} == served, "the revisions that kept serving are the live ones now"
    assert set(pending) == {"app-backend", "app-frontend"}
    agent = next(r for r in after if r["urn"].endswith("::app-vault-agent"))
    assert agent["outputs"]["uploads"]["ciphertext"].startswith("v1:"), "secrets stay encrypted"
    again, twice = rb.swap_failed_revisions(doc)
    assert (again, twice) == (doc, []), "a second run keeps the serving revision live"


def test_revisions_without_a_creation_time_are_not_guessed_at():
    old = json.loads(json.dumps(EXPORT))
    for r in old["deployment"]["resources"]:
        r.pop("created", None)
    with pytest.raises(OperatorError) as err:
        rb.swap_failed_revisions(old)
    assert "does not say when its revisions were created" in str(err.value)


def test_without_a_pending_revision_nothing_is_swapped():
    clean = json.loads(json.dumps(EXPORT))
    clean["deployment"]["resources"] = [r for r in clean["deployment"]["resources"] if not r.get("delete")]
    doc, swapped = rb.swap_failed_revisions(clean)
    assert swapped == [] and doc == clean


def test_only_the_image_tag_line_of_the_stack_file_changes():
    text = (ROOT / "Pulumi.production.yaml").read_text()
    changed = rb.with_image_tag(text, "v1.4.1")
    diff = [(a, b) for a, b in zip(text.splitlines(), changed.splitlines(), strict=True) if a != b]
    assert diff == [("  finance-report:imageTag: v1.4.2", '  finance-report:imageTag: "v1.4.1"')]
    with pytest.raises(OperatorError):
        rb.with_image_tag(text.replace("finance-report:imageTag", "finance-report:imageTagX"), "v1")


# ------------------------------------------------------------------------------------------ the command


CLEAN_EXPORT = {
    **EXPORT,
    "deployment": {
        **EXPORT["deployment"],
        "resources": [r for r in EXPORT["deployment"]["resources"] if not r.get("delete")],
    },
}


class FakeEngine:
    """The engine's state as `pulumi stack export` gives it (default: after the failed cutover)."""

    def __init__(self, code: int = 0, state=EXPORT):
        self.code, self.state, self.calls = code, json.loads(json.dumps(state)), []

    def keep_serving_revision(self):
        self.calls.append("export")
        doc, swapped = rb.swap_failed_revisions(self.state)
        if swapped:
            self.calls.append("import")
            self.state = doc
        return swapped

    def up(self, tag):
        self.calls.append(f"up {tag}")
        return self.code


@pytest.fixture
def project(tmp_path):
    shutil.copy(ROOT / "Pulumi.production.yaml", tmp_path / "Pulumi.production.yaml")
    return tmp_path


def command(project, engine, history=HISTORY, **kwargs):
    return rb.main("production", history=lambda stack: history, engine=engine, root=project, **kwargs)


def test_list_prints_the_history_and_target_and_changes_nothing(project, capsys):
    engine = FakeEngine()
    before = (project / "Pulumi.production.yaml").read_bytes()
    assert command(project, engine, list_only=True) == 0
    out = capsys.readouterr().out
    assert engine.calls == [] and (project / "Pulumi.production.yaml").read_bytes() == before
    assert "46  2026-05-12T09:14:03.000Z  update    succeeded   v1.4.1" not in out
    target_line = next(line for line in out.splitlines() if "<- rollback target" in line)
    assert target_line.split()[0] == "45" and "v1.4.1" in target_line
    assert "rollback: imageTag v1.4.2 -> v1.4.1 (deployed by update 45)" in out


def test_after_a_failed_cutover_the_state_is_swapped_before_the_up(project, capsys):
    path = project / "Pulumi.production.yaml"
    path.write_text(rb.with_image_tag(path.read_text(), "v1.4.3"))
    engine = FakeEngine()
    assert command(project, engine, yes=True) == 0
    assert engine.calls == ["export", "import", "up v1.4.2"]
    assert read_stack_file(path)[0]["finance-report:imageTag"] == "v1.4.2"
    assert "Commit Pulumi.production.yaml (imageTag v1.4.3 -> v1.4.2)" in capsys.readouterr().out


def test_a_failed_rollback_restores_the_stack_file_unless_the_state_was_swapped(project, capsys):
    path = project / "Pulumi.production.yaml"
    good = [e for e in HISTORY if e["version"] != 48]
    before = path.read_bytes()
    engine = FakeEngine(code=1, state=CLEAN_EXPORT)
    assert command(project, engine, history=good, yes=True) == 1
    assert engine.calls == ["export", "up v1.4.1"] and path.read_bytes() == before
    assert "is back at imageTag v1.4.2" in capsys.readouterr().err
    path.write_text(rb.with_image_tag(path.read_text(), "v1.4.3"))
    assert command(project, FakeEngine(code=1), yes=True) == 1
    assert read_stack_file(path)[0]["finance-report:imageTag"] == "v1.4.2"
    assert "stays at imageTag v1.4.2, which the state now runs" in capsys.readouterr().err


def test_refreshes_after_a_failed_cutover_still_swap_the_state_before_the_up(project, capsys):
    """The container-name conflict docs/deploy.md warns about: without the swap the `up` recreates the serving
    revision's name while that container still runs."""
    path = project / "Pulumi.production.yaml"
    path.write_text(rb.with_image_tag(path.read_text(), "v1.4.3"))
    engine = FakeEngine()
    assert command(project, engine, history=with_refreshes_in_front(), yes=True) == 0
    assert engine.calls == ["export", "import", "up v1.4.2"]
    assert "the last update (version 48) failed, so the revision still serving is kept" in capsys.readouterr().out


def test_the_state_decides_the_swap_whatever_the_history_says(project, capsys):
    """A history that does not show the failure (cut at a page, or only refreshes since): the state's
    pending-delete revisions still get swapped; a clean state is never imported."""
    path = project / "Pulumi.production.yaml"
    path.write_text(rb.with_image_tag(path.read_text(), "v1.4.3"))
    good = [e for e in HISTORY if e["version"] != 48]
    engine = FakeEngine()
    assert command(project, engine, history=good, yes=True) == 0
    assert engine.calls == ["export", "import", "up v1.4.2"]
    path.write_text(rb.with_image_tag(path.read_text(), "v1.4.3"))
    clean = FakeEngine(state=CLEAN_EXPORT)
    assert command(project, clean, yes=True) == 0
    assert clean.calls == ["export", "up v1.4.2"]


def test_a_state_that_cannot_be_exported_changes_nothing(project, capsys):
    class Unreadable(FakeEngine):
        def keep_serving_revision(self):
            self.calls.append("export")
            raise OperatorError("pulumi stack export failed (exit 255): error: no access")

    path = project / "Pulumi.production.yaml"
    before = path.read_bytes()
    engine = Unreadable()
    assert command(project, engine, yes=True) == 1
    assert engine.calls == ["export"] and path.read_bytes() == before
    assert capsys.readouterr().err == "rollback: pulumi stack export failed (exit 255): error: no access\n"


def test_it_asks_and_a_no_changes_nothing(project, capsys):
    engine = FakeEngine()
    before = (project / "Pulumi.production.yaml").read_bytes()
    prompts = []
    assert command(project, engine, answer=lambda p: prompts.append(p) or "") == 1
    assert prompts == ["Roll stack production back to v1.4.1? [y/N] "] and engine.calls == []
    assert (project / "Pulumi.production.yaml").read_bytes() == before


def test_bad_input_exits_2(project, capsys):
    assert command(project, FakeEngine(), to="v0.0.1", yes=True) == 2
    assert capsys.readouterr().err.startswith("rollback: --to = 'v0.0.1' is invalid")
    assert rb.main("nope", history=lambda s: HISTORY, engine=FakeEngine(), root=project) == 2


def test_closed_stdin_is_one_line_and_exit_1_like_a_no(project, monkeypatch, capsys):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    engine = FakeEngine()
    before = (project / "Pulumi.production.yaml").read_bytes()
    assert rb.main("production", history=lambda stack: HISTORY, engine=engine, root=project) == 1
    assert engine.calls == [] and (project / "Pulumi.production.yaml").read_bytes() == before
    assert (
        capsys.readouterr().err
        == "rollback: no confirmation (standard input is closed): pass --yes to run without asking; nothing changed\n"
    )


# ------------------------------------------------------------------------------------------ the CLI's own failures


def cli_error(stderr: str, code: int = 255):
    """What the Automation API raises when the CLI exits non-zero (pulumi/automation/errors.py)."""
    from pulumi.automation._cmd import CommandResult
    from pulumi.automation.errors import create_command_error

    return create_command_error(CommandResult(stdout="", stderr=stderr, code=code))


@pytest.mark.parametrize(
    "stderr,fix",
    [
        (
            "error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions",
            "log in to the state backend with `pulumi login` (README Prerequisites)",
        ),
        (
            "error: no stack named 'production' found",
            "the backend the CLI is logged in to has no stack production: `pulumi stack ls` lists its "
            "stacks; `pulumi login <backend>` for another",
        ),
        (
            "warning: A new version of Pulumi is available.\nerror: getting history: [500] Internal Server Error",
            "`pulumi stack history --stack production` shows the CLI's own error",
        ),
    ],
)
def test_a_cli_failure_is_one_line_naming_the_step_the_cli_error_and_the_fix(stderr, fix):
    err = rb.cli_failure(
        "reading the update history of stack production", "pulumi stack history", "production", cli_error(stderr)
    )
    error_line = next(line for line in stderr.splitlines() if line.startswith("error:"))
    assert (str(err), err.exit_code) == (
        "reading the update history of stack production failed: `pulumi stack history` exited 255: "
        f"{error_line}; {fix}",
        1,
    )


def test_a_cli_too_old_for_the_automation_api_is_one_line():
    from pulumi.automation.errors import InvalidVersionError

    err = rb.cli_failure(
        "selecting stack production",
        "pulumi stack select",
        "production",
        InvalidVersionError(
            "Minimum version requirement failed. The minimum CLI version requirement is 3.1.0, your current "
            "CLI version is 3.0.0. Please update the Pulumi CLI."
        ),
    )
    assert err.exit_code == 1 and str(err) == (
        "selecting stack production failed: Minimum version requirement failed. The minimum CLI version "
        "requirement is 3.1.0, "
        "your current CLI version is 3.0.0. Please update the Pulumi CLI (README Prerequisites: the version "
        "the workflows pin)"
    )


def test_without_the_pulumi_cli_it_is_one_line_and_exit_1(project, monkeypatch, capsys):
    """The default history reads the stack's backend through the CLI: its absence is the machine's
    problem (exit 1, how to install it), not bad input (2)."""
    monkeypatch.setattr(pulumi_cli.shutil, "which", lambda name: None)
    assert rb.main("production", list_only=True, root=project) == 1
    assert capsys.readouterr().err.strip() == (
        "rollback: the pulumi CLI is not on PATH: install the version the workflows pin (`curl -fsSL "
        "https://get.pulumi.com | sh -s -- --version 3.272.0`) "
        "and put ~/.pulumi/bin on PATH (README Prerequisites); the rollback reads the stack's history and "
        "runs `pulumi up`"
    )


def test_without_the_policy_venv_it_is_one_line_and_exit_1(project, capsys):
    """The rollback's `up` runs the policy pack from its venv; the project copy here has none."""
    assert rb.main("production", yes=True, history=lambda stack: HISTORY, root=project) == 1
    assert (
        capsys.readouterr()
        .err.strip()
        .startswith("rollback: the policy pack's venv is missing: run `uv venv policies/venv")
    )
