"""README is a front door and the pages behind it hold: README stays short with a table of contents; every
relative link in README and docs/ reaches an existing file (and heading); every `uv run invoke` command the
pages show parses with invoke's own parser over tasks.py's tasks; every `uv run pytest` line is one CI
runs; README's commands table is generated from tasks.py; and what README held before the move is still
in the page it moved to."""

from __future__ import annotations

import copy
import re
import shlex
from functools import cache
from pathlib import Path

import pytest
import yaml
from invoke.exceptions import ParseError
from invoke.parser import Parser

from ci.commands import PAGES, collection, commands_table
from tests.conftest import ROOT

README = ROOT / "README.md"
PAGES_MD = sorted([README, *(ROOT / "docs").rglob("*.md")])
MAX_README_LINES = 200

# Tasks the pages name that other branches are adding, with the flags the pages give them: the quick start's
# (operator-path) and the one docs/design/swarm.md proposes. Once a task exists in tasks.py its real flags
# are checked instead, and its entry here must go (a test says so).
PENDING_TASKS: dict[str, set[str]] = {
    "switch-runtime": {"--stack", "--to"},
}
INVOKE_CORE_FLAGS = {"--list", "-l", "--help", "-h", "--version", "-V"}


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def without_code(text: str) -> str:
    """The text outside fenced code blocks and inline code spans (links there are examples, not links)."""
    text = re.sub(r"(?ms)^```.*?^```", "", text)
    return re.sub(r"`[^`]*`", "", text)


def code_lines(text: str) -> list[str]:
    """Every line inside a fenced code block, and every inline code span (whitespace collapsed)."""
    blocks = re.findall(r"(?ms)^```[^\n]*\n(.*?)^```", text)
    # a command continued with a trailing backslash is one line, as the shell reads it
    lines = [line for block in blocks for line in re.sub(r"\s*\\\n\s*", " ", block).splitlines()]
    spans = [" ".join(span.split()) for span in re.findall(r"`([^`\n]+(?:\n[^`\n]+)?)`", without_fences(text))]
    return lines + spans


def without_fences(text: str) -> str:
    return re.sub(r"(?ms)^```.*?^```", "", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped (but - and _), spaces to hyphens."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for heading in re.findall(r"(?m)^#{1,6} (.+)$", without_fences(path.read_text())):
        base, n = slug(heading), 0
        anchor = base
        while anchor in found:
            n += 1
            anchor = f"{base}-{n}"
        found.add(anchor)
    return found


def links(path: Path) -> list[str]:
    return re.findall(r"!?\[[^\]]*\]\(([^)\s]+)\)", without_code(path.read_text()))


# ------------------------------------------------------------------------------------------ README shape


def test_readme_is_a_front_door_of_at_most_200_lines():
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, f"README has {len(lines)} lines: move detail to a page under docs/"


def test_readme_has_a_table_of_contents_that_lists_every_section():
    text = README.read_text()
    sections = re.findall(r"(?m)^## (.+)$", without_fences(text))
    contents = text[text.index("## Contents") : text.index("\n## ", text.index("## Contents") + 1)]
    listed = re.findall(r"\]\(#([^)]+)\)", contents)
    assert listed == [slug(s) for s in sections if s != "Contents"], "README's contents and sections differ"


def test_readme_shows_the_generated_picture_and_links_every_page():
    text = README.read_text()
    assert "](docs/images/production.svg)" in text
    linked = {target.split("#")[0] for target in links(README)}
    pages = {rel(p) for p in (ROOT / "docs").glob("*.md")}
    assert pages - linked == set(), f"pages README does not link: {sorted(pages - linked)}"


# ------------------------------------------------------------------------------------------ links


@pytest.mark.parametrize("page", PAGES_MD, ids=rel)
def test_every_relative_link_reaches_an_existing_file_and_heading(page):
    broken = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        file_part, _, anchor = target.partition("#")
        dest = (page.parent / file_part).resolve() if file_part else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {rel(dest)}")
    assert broken == [], f"{rel(page)}: {broken}"


def test_the_link_check_sees_a_broken_link_and_a_broken_anchor(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("# P\n\n## A b\n\n[x](missing.md) [y](#a-b) [z](#nope) `[not](a-link.md)`\n")
    assert links(page) == ["missing.md", "#a-b", "#nope"]
    assert anchors(page) == {"p", "a-b"}


# ------------------------------------------------------------------------------------------ commands


def invoke_argvs(line: str) -> list[str]:
    """The argv after each `uv run invoke` of one line: up to the shell's next command or a redirection of
    its output (` > FILE`; `<env>` is a placeholder, not a redirection)."""
    return [
        re.split(r"\s[12]?>>?\s", match.group(1))[0]
        for match in re.finditer(r"uv run invoke ([^;&|`]*(?:\|[a-z-]+)*[^;&`]*)", line)
    ]


def invoke_commands() -> list[tuple[str, str]]:
    """(page, argv after `uv run invoke`) for every command the pages show."""
    return [
        (rel(page), argv) for page in PAGES_MD for line in code_lines(page.read_text()) for argv in invoke_argvs(line)
    ]


def test_a_command_continued_over_lines_is_checked_whole():
    (line,) = code_lines("```bash\nuv run invoke new-stack x --domain d \\\n  --docker-hst h\n```\n")
    assert line == "uv run invoke new-stack x --domain d --docker-hst h"
    assert check_invoke_command(invoke_argvs(line)[0]) is not None


def test_a_command_ends_at_a_redirection_but_not_at_a_placeholder():
    assert invoke_argvs("uv run invoke policy-config --stack s > /tmp/p.json   # x") == ["policy-config --stack s"]
    assert invoke_argvs("uv run invoke rotate --stack <env> --wat x") == ["rotate --stack <env> --wat x"]
    assert check_invoke_command(invoke_argvs("uv run invoke rotate --stack <env> --wat x")[0]) is not None


@cache
def parser() -> Parser:
    return Parser(contexts=copy.deepcopy(collection()).to_contexts())


def check_invoke_command(argv_text: str) -> str | None:
    """None when invoke's parser accepts the command over tasks.py's tasks; else what is wrong."""
    argv = [token.strip("[]") for token in shlex.split(argv_text, comments=True)]
    if not argv or argv[0] in INVOKE_CORE_FLAGS:
        return None if not argv or set(argv) <= INVOKE_CORE_FLAGS else f"{argv}: not an invoke core flag"
    argv = [a for a in argv if a not in ("--help", "-h")]
    for task in argv[0].split("|"):  # `uv run invoke doctor|adopt|status --stack S`
        rest = argv[1:]
        if task in PENDING_TASKS and task not in collection().task_names:
            unknown = {a.split("=")[0] for a in rest if a.startswith("-")} - PENDING_TASKS[task]
            if unknown:
                return f"{task}: {sorted(unknown)} not among the flags documented for it"
            continue
        if not rest and task in collection().task_names:
            continue  # the task named on its own (the commands table): its required arguments come later
        try:
            parser().parse_argv([task, *rest])
        except ParseError as err:
            return f"{task} {' '.join(rest)}: {err}"
    return None


def test_the_pages_show_invoke_commands():
    tasks = {argv.split()[0] for _, argv in invoke_commands() if argv.split()}
    assert {"plan", "logs", "rotate", "rollback", "backup", "restore", "diagram"} <= tasks


def test_every_invoke_command_in_the_pages_parses_with_tasks_py():
    problems = [
        f"{page}: uv run invoke {argv}: {why}"
        for page, argv in invoke_commands()
        if (why := check_invoke_command(argv))
    ]
    assert problems == []


@pytest.mark.parametrize(
    "argv",
    ["logs --stack s --servce backend", "rotat --stack s", "plan --stack s --strikt", "new-stack x --dommain d"],
)
def test_the_command_check_refuses_a_wrong_task_or_flag(argv):
    assert check_invoke_command(argv) is not None


def test_a_pending_task_goes_from_the_list_once_tasks_py_has_it():
    """The quick start names tasks another branch adds; once merged, their real flags are checked."""
    landed = sorted(set(PENDING_TASKS) & set(collection().task_names))
    assert landed == [], f"{landed} exist in tasks.py now: remove them from PENDING_TASKS in {__file__}"


def ci_commands() -> set[str]:
    """The commands CI runs: each line of .ci/run and of every GitHub workflow's `run:` steps."""
    lines = {line.strip() for line in (ROOT / ".ci/run").read_text().splitlines()}
    for workflow in sorted((ROOT / ".github/workflows").glob("*.yml")):
        for job in yaml.safe_load(workflow.read_text())["jobs"].values():
            for step in job.get("steps", []):
                lines |= {line.strip() for line in str(step.get("run", "")).splitlines()}
    return lines


def test_every_pytest_line_in_the_pages_is_one_ci_runs():
    allowed = ci_commands()
    shown = [
        (rel(page), cmd.split("#")[0].strip())
        for page in PAGES_MD
        for line in code_lines(page.read_text())
        for cmd in re.findall(r"(uv run pytest[^`;&]*|bash \.ci/run)", line)
    ]
    assert shown, "the pages show the test command"
    assert [(p, c) for p, c in shown if c != "bash .ci/run" and c not in allowed] == []


def test_readme_s_test_command_is_the_one_ci_runs_as_readme_s():
    ci = (ROOT / ".ci/run").read_text().splitlines()
    marker = next(i for i, line in enumerate(ci) if line.startswith('phase "tests') and "README's test command" in line)
    # the phase's pytest line: README's command, run as it is written (the jobs in the background run beside it)
    ran = next(line for line in ci[marker:] if line.startswith("uv run pytest"))
    readme = README.read_text()
    tests = readme[readme.index("## Tests") :]
    block = re.search(r"```bash\n(.*?)\n```", tests, re.S)
    assert block, "README's Tests section shows its commands in a bash block"
    shown = block.group(1).splitlines()
    assert shown[-1] == ran, "README's test command and .ci/run differ"
    # ...and the checks .ci/run runs before it, as written there and in the same order
    checks = [line for line in ci[:marker] if line.startswith(("uv run ruff", "uv run mypy", "shellcheck"))]
    assert shown[:-1] == checks, "README's checks and .ci/run's differ"


# ------------------------------------------------------------------------------------------ generated


def test_readme_commands_table_is_generated_from_tasks_py():
    assert commands_table() in README.read_text(), "README's commands table is stale: `uv run invoke readme-tables`"


def test_readme_names_every_short_flag_as_invoke_parses_it():
    """README says the short flags mean the same in every task: each (-x, --long) pair invoke's parser gives
    any task is listed, and no other."""
    pairs = {
        (f"-{short}", f"--{long_name}")
        for name in collection().task_names
        for argument in copy.deepcopy(collection()[name]).get_arguments()
        for long_name in argument.names[:1]
        for short in argument.names[1:]
    }
    text = README.read_text()
    sentence = " ".join(text[text.index("the short\nflags") : text.index("):", text.index("the short\nflags"))].split())
    assert set(re.findall(r"`(-[a-z])` `(--[a-z-]+)`", sentence)) == pairs


def test_every_task_has_a_page():
    assert sorted(set(collection().task_names) - set(PAGES)) == [], "add the task's page to ci.commands.PAGES"
    assert all((ROOT / page).exists() for page in PAGES.values())


# ------------------------------------------------------------------------------------------ moved content

# Each `##` section README had before it became a front door, the page it moved to, and a sentence of it.
MOVED = {
    "What gets deployed (one environment)": ("docs/design.md", "`dokploy-network` is looked up, never created"),
    "Prerequisites": ("docs/your-own-stack.md", "Vault must already have KV v2 at `secret/` and AppRole at `approle/`"),
    "First deploy of an env": ("docs/deploy.md", "In this order; each step says what it needs and stops with one line"),
    "Tests": ("docs/testing.md", "It runs three layers"),
    "Real-systems harness": ("docs/testing.md", "`tests/integration/harness.py` starts, for the session, and stops"),
    "Deploying": ("docs/deploy.md", "The rollout gate ends every update that replaced a container"),
    "What the real engine and providers do": (
        "docs/design.md",
        "Mocks cannot show what the engine and the providers do",
    ),
    "What is on disk, in state and in Vault": ("docs/secrets.md", "The AppRole role-id and secret-id of each agent"),
    "CI credentials": (
        "docs/ci-credentials.md",
        "A preview runs the branch's own program, so whoever can push a branch",
    ),
    "Status": ("docs/logs-and-status.md", "The expected containers come from the program"),
    "Logs": ("docs/logs-and-status.md", "Containers are found on the stack's own Docker connection"),
    "Rollout gate and watched cutover": ("docs/deploy.md", "What you see when a new revision fails the watch"),
    "Rollback": ("docs/rollback.md", "The tags come from the stack's update history"),
    "Rotation": ("docs/rotation.md", "Each rotation is one `pulumi up --replace <urn>` (with the policy pack)"),
    "PR environments": ("docs/pr-environments.md", "A pull request gets its own environment"),
    "Offline plan": ("docs/plan.md", "It reads the stack file as the Pulumi CLI does"),
    "Policy pack": ("docs/policies.md", "Advisory violations the real plans report, and why they stay"),
    "Configuration reference": ("docs/configuration.md", "Keys live in the `finance-report:` namespace"),
    "Setting secrets": ("docs/secrets.md", "A secret key written in plaintext is refused"),
    "Adopting the running deployment": ("docs/adopt.md", "The compose deployment keeps data in"),
    "Backups and restore": ("docs/backups.md", "Every env runs a backup service"),
    "Troubleshooting": ("docs/troubleshooting.md", "the line names the key, the value"),
    "Only checkable on a real host": ("docs/testing.md", "What no test here can show, and where it is shown instead"),
    "Not covered yet": ("docs/design.md", "the program does not create them (the MinIO provider is not a dependency)"),
}


@pytest.mark.parametrize("heading", sorted(MOVED))
def test_what_readme_held_is_in_the_page_it_moved_to(heading):
    page, sentence = MOVED[heading]
    assert " ".join(sentence.split()) in " ".join((ROOT / page).read_text().split()), f"{heading} -> {page}"
