"""The config a CI preview runs with: the stack file's, with the Docker host reached as the preview ssh
user and the Vault token used without a child token. A stack that does not run the proxy has no read-only
path, and the tool says so instead of printing a config that could only fail later. For the workflow
(`--github-output`) that is an explicit, successful "no preview" (preview=false and a notice); bad input
is still exit 2, with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci.preview_config import PreviewConfigError, github_outputs, load, main, preview_docker_host
from tests.conftest import ROOT


def opted_in(tmp_path, stack: str, extra: str = "") -> str:
    text = (
        (ROOT / f"Pulumi.{stack}.yaml")
        .read_text()
        .replace("config:\n", "config:\n  finance-report:previewDockerProxy: true\n" + extra, 1)
    )
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_a_preview_reaches_docker_as_the_preview_user_and_vault_without_a_child_token(stack, tmp_path, capsys):
    assert main(["--stack", stack, "--config-file", opted_in(tmp_path, stack)]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "finance-report:dockerHost": {"value": "ssh://fr-preview@dokploy.zitian.party", "secret": False},
        "finance-report:vaultSkipChildToken": {"value": "true", "secret": False},
    }


def test_the_port_of_the_docker_host_is_kept():
    assert preview_docker_host("ssh://deploy@dokploy.zitian.party:2222") == "ssh://fr-preview@dokploy.zitian.party:2222"
    with pytest.raises(PreviewConfigError, match="is not ssh://user@host"):
        preview_docker_host("tcp://dokploy.zitian.party:2375")


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_a_stack_without_the_proxy_is_refused_with_one_line(stack, capsys):
    assert main(["--stack", stack]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: stack {stack} has no read-only Docker path for previews: set previewDockerProxy: true in "
        f"Pulumi.{stack}.yaml "
        "after the host setup in docs/ci-credentials.md (the read-only Docker path)\n"
    )


def test_a_bad_stack_file_value_is_one_line(tmp_path, capsys):
    assert (
        main(
            [
                "--stack",
                "staging",
                "--config-file",
                opted_in(tmp_path, "staging", "  finance-report:previewDockerProxyGid: 5\n"),
            ]
        )
        == 2
    )
    assert (
        capsys.readouterr().err
        == 'error: config finance-report:previewDockerProxyGid = "5" is invalid: expected an integer from 1000 '
        "to 65533\n"
    )


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_for_the_workflow_a_stack_without_the_proxy_is_no_preview_not_an_error(stack, tmp_path, capsys):
    out = tmp_path / "github_output"
    out.write_text("earlier=kept\n")
    assert main(["--stack", stack, "--github-output", str(out)]) == 0
    assert out.read_text() == "earlier=kept\npreview=false\n"
    printed = capsys.readouterr()
    assert printed.err == ""
    assert printed.out.startswith(
        f"::notice title=No pulumi preview of {stack}::stack {stack} has no read-only Docker path "
        "(previewDockerProxy is off"
    )
    assert printed.out.count("\n") == 1


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_for_the_workflow_a_stack_with_the_proxy_gets_its_config_map(stack, tmp_path, capsys):
    out = tmp_path / "github_output"
    assert main(["--stack", stack, "--config-file", opted_in(tmp_path, stack), "--github-output", str(out)]) == 0
    preview, config_map = out.read_text().splitlines()
    assert preview == "preview=true" and config_map.startswith("config-map=")
    assert json.loads(config_map.removeprefix("config-map=")) == {
        "finance-report:dockerHost": {"value": "ssh://fr-preview@dokploy.zitian.party", "secret": False},
        "finance-report:vaultSkipChildToken": {"value": "true", "secret": False},
    }
    assert json.loads(capsys.readouterr().out) == json.loads(config_map.removeprefix("config-map="))


def test_for_the_workflow_bad_input_is_exit_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "github_output"
    assert (
        main(
            [
                "--stack",
                "staging",
                "--config-file",
                opted_in(tmp_path, "staging", "  finance-report:previewDockerProxyGid: 5\n"),
                "--github-output",
                str(out),
            ]
        )
        == 2
    )
    assert main(["--stack", "no-such-stack", "--github-output", str(out)]) == 2
    assert not out.exists()
    assert capsys.readouterr().err.count("\n") == 2


def test_the_outputs_are_one_line_each(tmp_path):
    assert github_outputs(load("staging")) == "preview=false\n"
    written = github_outputs(load("staging", Path(opted_in(tmp_path, "staging"))))
    assert written.startswith("preview=true\nconfig-map={") and written.count("\n") == 2
