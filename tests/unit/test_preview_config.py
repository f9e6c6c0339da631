"""The config a CI preview runs with: the stack file's, with the Docker host reached as the preview ssh
user and the Vault token used without a child token. A stack that does not run the proxy has no read-only
path, and the tool says so instead of printing a config that could only fail later."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT
from tools.preview_config import PreviewConfigError, main, preview_docker_host


def opted_in(tmp_path, stack: str, extra: str = "") -> str:
    text = (ROOT / f"Pulumi.{stack}.yaml").read_text().replace("config:\n", "config:\n  finance-report:previewDockerProxy: true\n" + extra, 1)
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
        f"error: stack {stack} has no read-only Docker path for previews: set previewDockerProxy: true in Pulumi.{stack}.yaml "
        "after the host setup in README's CI credentials section\n"
    )


def test_a_bad_stack_file_value_is_one_line(tmp_path, capsys):
    assert main(["--stack", "staging", "--config-file", opted_in(tmp_path, "staging", "  finance-report:previewDockerProxyGid: 5\n")]) == 2
    assert capsys.readouterr().err == 'error: config finance-report:previewDockerProxyGid = "5" is invalid: expected an integer from 1000 to 65533\n'
