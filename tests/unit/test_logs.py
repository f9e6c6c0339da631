"""`invoke logs` without a Docker engine: service names map to the labels the program puts on its
containers, --since/--tail/--grep parsing with exact error lines, the multiplexed stream's framing, the
order of revisions, and that only the container list, inspect and logs endpoints are ever called (the
real engine: tests/integration/test_logs.py)."""

from __future__ import annotations

import io
import json
import struct
from typing import Any

import pytest

from clients.docker_api import DockerError, Response
from ops import logs
from ops.command import OperatorError
from render import labels as L
from tests.conftest import stacks_here


def frame(stream: int, text: str) -> bytes:
    data = text.encode()
    return bytes([stream, 0, 0, 0]) + struct.pack(">I", len(data)) + data


def test_every_service_label_the_program_declares_can_be_asked_for(production):
    declared = set()
    for c in production.by_type("docker:index/container:Container"):
        labels = {item["label"]: item["value"] for item in c.inputs["labels"]}
        declared.add((labels[L.SERVICE], labels.get(L.AGENT_FOR)))
    reachable = {
        (logs.parse_service(s).service, logs.parse_service(s).agent_for)
        for s in [*logs.SERVICES, *(f"agent:{a}" for a in logs.AGENT_SERVICES)]
    }
    assert declared <= reachable, declared - reachable
    assert logs.parse_service("worker") == logs.Target("prefect-worker")
    assert logs.parse_service("agent:app").filters("staging") == [
        "finance-report.env=staging",
        "finance-report.service=vault-agent",
        "finance-report.agent-for=app",
    ]


def test_the_logs_page_and_the_invoke_help_list_every_service_the_tool_accepts():
    """docs/logs-and-status.md and `invoke logs --help` are derived from logs.SERVICES and logs.AGENT_SERVICES: an
    accepted name missing from either (agent:backup once) fails here."""
    import importlib.util

    from tests.conftest import ROOT

    # A fresh copy of tasks.py: invoke pops each help text off its Task when it builds a parser (invoke 3.0.3,
    # invoke/tasks.py line 235 in Task.arg_opts: `self.help.pop(possibility)`), so the imported module's
    # dict is empty once any test in this process has parsed a command line.
    spec = importlib.util.spec_from_file_location("tasks_for_help", ROOT / "tasks.py")
    assert spec is not None and spec.loader is not None
    tasks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tasks)

    doc = logs.readme_services()
    page = " ".join((ROOT / "docs/logs-and-status.md").read_text().split())
    assert doc in page, (
        "docs/logs-and-status.md's --service values are stale: `uv run invoke readme-tables` prints them"
    )
    documented = {
        f"agent:{a}" for part in doc.split("`") if part.startswith("agent:") for a in part[len("agent:") :].split("|")
    }
    documented |= {part for part in doc.split("`") if part in logs.SERVICES}
    assert documented == {*logs.SERVICES, *(f"agent:{a}" for a in logs.AGENT_SERVICES)}
    assert tasks.logs.help["service"] == logs.SERVICE_CHOICES


@pytest.mark.parametrize("value", ["web", "agent:backend", "agent:", "Backend"])
def test_an_unknown_service_is_one_line_naming_the_choices(value):
    with pytest.raises(OperatorError) as err:
        logs.parse_service(value)
    assert err.value.exit_code == 2
    assert str(err.value) == f"--service = {value!r} is invalid: expected {logs.SERVICE_CHOICES}"


def test_since_takes_durations_and_times():
    now = 1_800_000_000.7
    assert logs.parse_since("10m", now) == 1_800_000_000 - 600
    assert logs.parse_since("2h", now) == 1_800_000_000 - 7200
    assert logs.parse_since("1d", now) == 1_800_000_000 - 86400
    assert logs.parse_since("2026-05-12T09:00:00Z", now) == 1778576400
    assert logs.parse_since(None, now) is None
    with pytest.raises(OperatorError) as err:
        logs.parse_since("yesterday", now)
    assert err.value.exit_code == 2
    assert (
        str(err.value)
        == "--since = 'yesterday' is invalid: expected a duration such as 10m, 2h or 1d, or a time such as "
        "2026-05-12T09:00:00Z"
    )


def test_tail_defaults_to_200_lines_or_all_since_a_time():
    assert logs.parse_tail(None, None) == "200"
    assert logs.parse_tail(None, 5) == "all"
    assert logs.parse_tail("50", None) == "50" and logs.parse_tail("all", None) == "all"
    with pytest.raises(OperatorError) as err:
        logs.parse_tail("-3", None)
    assert err.value.exit_code == 2
    assert str(err.value) == "--tail = '-3' is invalid: expected a number of lines or all"


def test_a_bad_grep_is_a_bad_input():
    with pytest.raises(OperatorError) as err:
        logs.parse_grep("(unclosed")
    assert err.value.exit_code == 2
    assert str(err.value).startswith("--grep = '(unclosed' is invalid: expected a regular expression")


def test_multiplexed_frames_are_split_into_lines_per_stream_even_across_chunks():
    raw = frame(1, "first line\nsecond ") + frame(2, "an error\n") + frame(1, "line\n") + frame(1, "no newline")
    demux = logs.Demux(tty=False)
    got = []
    for i in range(0, len(raw), 5):  # frames cut anywhere, headers included
        got += list(demux.feed(raw[i : i + 5]))
    got += list(demux.flush())
    assert got == [(1, "first line"), (2, "an error"), (1, "second line"), (1, "no newline")]


def test_a_tty_stream_is_raw_output():
    demux = logs.Demux(tty=True)
    assert list(demux.feed(b"\x01\x00 not a header\nrest")) + list(demux.flush()) == [
        (1, "\x01\x00 not a header"),
        (1, "rest"),
    ]


def test_the_newest_container_is_the_current_revision():
    listing = [{"Id": "a", "Created": 10}, {"Id": "c", "Created": 30}, {"Id": "b", "Created": 20}]
    assert [c["Id"] for c in logs.pick(listing, False)] == ["c"]
    assert [c["Id"] for c in logs.pick(listing, True)] == ["c", "b", "a"]
    assert logs.pick([], True) == []


class FakeAPI:
    """The Docker API as the logs command sees it, recording every path it asks for."""

    def __init__(
        self, containers: list[dict[str, Any]], streams: dict[str, bytes], tty: bool = False, fail: bool = False
    ):
        self.containers_, self.streams, self.tty, self.fail = containers, streams, tty, fail
        self.calls: list[tuple[str, str, dict]] = []

    def containers(self, filters):
        self.calls.append(("GET", "/containers/json", {"filters": json.dumps({"label": filters})}))
        if self.fail:
            raise DockerError(
                "cannot reach the Docker engine at ssh://deploy@host: ssh: connect to host host port 22: "
                "Connection refused"
            )
        return self.containers_

    def request(self, method, path, query=None, **kwargs):
        self.calls.append((method, path, query or {}))
        return Response(200, json.dumps({"Config": {"Tty": self.tty}}).encode())

    def stream(self, path, query=None):
        self.calls.append(("GET", path, dict(query or {})))
        yield self.streams[path.split("/")[2]]


def run(api: FakeAPI, **kwargs) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = logs.main(
        "staging",
        kwargs.pop("service", "backend"),
        out=out,
        err=err,
        api_factory=lambda host, opts: api,
        now=lambda: 1_800_000_000,
        **kwargs,
    )
    return code, out.getvalue(), err.getvalue()


CONTAINERS = [
    {"Id": "old", "Names": ["/finance_report-backend-staging-1111111111"], "Created": 100, "State": "running"},
    {"Id": "new", "Names": ["/finance_report-backend-staging-2222222222"], "Created": 200, "State": "running"},
]
STREAMS = {
    "old": frame(1, "old: started\n"),
    "new": frame(1, "new: GET /health 200\n") + frame(2, "new: warning\n") + frame(1, "new: GET /x 500\n"),
}


def test_the_current_revision_is_shown_with_only_list_inspect_and_logs_calls():
    api = FakeAPI(CONTAINERS, STREAMS)
    code, out, err = run(api, since="10m")
    assert code == 0
    assert out == "new: GET /health 200\nnew: GET /x 500\n" and err == "new: warning\n"
    assert [(m, p) for m, p, _ in api.calls] == [
        ("GET", "/containers/json"),
        ("GET", "/containers/new/json"),
        ("GET", "/containers/new/logs"),
    ]
    assert json.loads(api.calls[0][2]["filters"]) == {
        "label": ["finance-report.env=staging", "finance-report.service=backend"]
    }
    assert api.calls[2][2] == {
        "stdout": "1",
        "stderr": "1",
        "tail": "all",
        "follow": "0",
        "timestamps": "0",
        "since": str(1_800_000_000 - 600),
    }


def test_all_revisions_come_newest_first_and_follow_keeps_the_current_one_last():
    api = FakeAPI(CONTAINERS, STREAMS)
    code, out, err = run(api, all_revisions=True, grep="GET|started")
    assert code == 0 and out == "new: GET /health 200\nnew: GET /x 500\nold: started\n"
    assert (
        "==> finance_report-backend-staging-2222222222 (running, current revision) <==" in err and "warning" not in err
    )
    api = FakeAPI(CONTAINERS, STREAMS)
    code, out, err = run(api, all_revisions=True, follow=True)
    logs_calls = [(p, q["follow"]) for _, p, q in api.calls if p.endswith("/logs")]
    assert logs_calls == [("/containers/old/logs", "0"), ("/containers/new/logs", "1")]
    assert out.splitlines()[0] == "old: started"


def test_no_container_or_no_host_is_one_line_and_exit_1():
    code, out, err = run(FakeAPI([], STREAMS))
    assert (
        (code, out) == (1, "")
        and err
        == "logs: no backend container of env staging on ssh://deploy@dokploy.zitian.party; `uv run invoke "
        "status --stack staging` lists what runs there\n"
    )
    code, out, err = run(FakeAPI([], STREAMS, fail=True))
    assert (
        (code, out) == (1, "")
        and err
        == "logs: cannot reach the Docker engine at ssh://deploy@host: ssh: connect to host host port 22: "
        "Connection refused\n"
    )


def test_bad_input_exits_2_before_any_call():
    api = FakeAPI(CONTAINERS, STREAMS)
    assert run(api, tail="many")[0] == 2 and api.calls == []
    out, err = io.StringIO(), io.StringIO()
    assert logs.main("nope", "backend", out=out, err=err) == 2
    assert err.getvalue() == (
        f"logs: no stack file Pulumi.nope.yaml: the stacks here are {stacks_here()}; `uv run invoke new-stack "
        "nope` writes one, or pass --config-file PATH\n"
    )
