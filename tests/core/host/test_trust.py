"""A repository's configuration cannot run its own code unless the user allows it (issue 16)."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

EXE = shutil.which("deploylint", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
PLAN = ('schema_version = 1\n[model]\nlayers = 4\nhidden_size = 1024\nnum_attention_heads = 16\nvocab_size = 32000\n'
        '[hardware]\nnum_devices = 1\nmemory_gib = 64\npeak_tflops = 400\nmemory_bandwidth_gbps = 1600\n'
        '[parallelism]\ntp = 1\n[workload]\nmode = "inference"\nbatch_size = 8\nseq_len = 16\n')
# a plugin that leaves a mark when it is imported, and reports on every plan when it runs
EVIL = ("import pathlib\npathlib.Path(__file__).with_name('IMPORTED').write_text('ran')\n"
        "from deploylint.core import Rule, Severity, hookimpl\n"
        "class Mark(Rule):\n    code = 'EVIL001'\n    name = 'mark'\n    severity = Severity.WARNING\n"
        "    summary = 'marks every plan'\n    def check(self, ctx):\n        yield self.report('', 'local plugin ran')\n"
        "@hookimpl\ndef deploylint_rules():\n    return [Mark()]\n")


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "evil_rules.py").write_text(EVIL)
    (tmp_path / "deploylint.toml").write_text('plugins = ["evil_rules"]\nignore = ["DL009"]\n')
    (tmp_path / "deploy.plan.toml").write_text(PLAN)
    return tmp_path


def env(tmp_path, **extra):
    out = {k: v for k, v in os.environ.items() if k != "DEPLOYLINT_ALLOW_LOCAL_PLUGINS"}
    out["DEPLOYLINT_TRUST_FILE"] = str(tmp_path / "user-config" / "trust.toml")
    out.update(extra)
    return out


def check(repo, *args, environ):
    out = subprocess.run([EXE, "check", "deploy.plan.toml", "--format", "json", *args], capture_output=True,
                         text=True, cwd=repo, env=environ, stdin=subprocess.DEVNULL)
    return out, {d["code"] for d in json.loads(out.stdout)["diagnostics"]}


def test_by_default_local_plugins_are_not_imported_and_dl009_says_so(repo):
    out, codes = check(repo, environ=env(repo))
    assert not (repo / "IMPORTED").exists()
    assert "DL009" in codes and "EVIL001" not in codes      # the repository's own ignore cannot hide DL009
    assert out.returncode == 1                                # a warning: never "clean"
    message = next(d["message"] for d in json.loads(out.stdout)["diagnostics"] if d["code"] == "DL009")
    assert "names local plugins (evil_rules) that were not run" in message
    assert "--allow-local-plugins" in message and f"deploylint trust {repo}" in message


def test_the_repositorys_own_fail_on_cannot_make_an_untrusted_run_clean(repo):
    (repo / "deploylint.toml").write_text('plugins = ["evil_rules"]\nfail-on = "error"\n')
    out, codes = check(repo, environ=env(repo))
    assert "DL009" in codes and out.returncode == 1


def test_trust_needs_a_folder_and_refuses_the_root_and_home(repo):
    for args in (["trust"], ["trust", "/"], ["trust", os.path.expanduser("~")]):
        out = subprocess.run([EXE, *args], capture_output=True, text=True, env=env(repo), cwd=repo)
        assert out.returncode == 2, args
    assert not (repo / "user-config" / "trust.toml").exists()


def test_the_command_line_flag_allows_them_for_one_run(repo):
    _, codes = check(repo, "--allow-local-plugins", environ=env(repo))
    assert (repo / "IMPORTED").read_text() == "ran" and "EVIL001" in codes and "DL009" not in codes


def test_a_trusted_folder_in_the_user_level_file_allows_them(repo):
    environ = env(repo)
    out = subprocess.run([EXE, "trust", str(repo)], capture_output=True, text=True, env=environ)
    assert out.returncode == 0 and "trusted" in out.stdout
    assert str(repo.resolve()) in (repo / "user-config" / "trust.toml").read_text()
    _, codes = check(repo, environ=environ)
    assert "EVIL001" in codes and (repo / "IMPORTED").exists()
    listed = subprocess.run([EXE, "trust", "--list"], capture_output=True, text=True, env=environ).stdout
    assert str(repo.resolve()) in listed.splitlines()


def test_the_catalog_commands_do_not_import_them_either(repo):
    out = subprocess.run([EXE, "plugins"], capture_output=True, text=True, cwd=repo, env=env(repo))
    assert not (repo / "IMPORTED").exists() and "DL009" in out.stderr



@pytest_lsp.fixture(config=ClientServerConfig(server_command=[EXE, "lsp"],
                                              server_env={k: v for k, v in os.environ.items()
                                                          if k != "DEPLOYLINT_ALLOW_LOCAL_PLUGINS"}))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(capabilities=client_capabilities("visual-studio-code")))
    yield
    await lsp_client.shutdown_session()


def _open(client, uri):
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="toml", version=1, text=PLAN)))


async def test_the_language_server_asks_and_runs_them_only_when_allowed(client: LanguageClient, repo):
    asked = []

    @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    def answer(params: types.ShowMessageRequestParams):
        asked.append(params)
        return types.MessageActionItem(title="Allow once")

    uri = (repo / "deploy.plan.toml").as_uri()
    _open(client, uri)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    first = {d.code for d in client.diagnostics[uri]}
    assert "DL009" in first and "EVIL001" not in first
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)   # re-linted once allowed
    assert len(asked) == 1 and "evil_rules" in asked[0].message
    second = {d.code for d in client.diagnostics[uri]}
    assert "EVIL001" in second and "DL009" not in second


async def test_the_language_server_keeps_them_off_when_declined(client: LanguageClient, repo):
    @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    def answer(params: types.ShowMessageRequestParams):
        return types.MessageActionItem(title="Don't run")

    uri = (repo / "deploy.plan.toml").as_uri()
    _open(client, uri)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert "DL009" in {d.code for d in client.diagnostics[uri]}
    # the answer has been handled once the server answers a later request; the plugins are still off
    client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert "DL009" in {d.code for d in client.diagnostics[uri]}
    assert not (repo / "IMPORTED").exists()


def test_a_suppression_of_dl009_in_the_plan_is_reported_as_impossible_not_as_unused(repo):
    (repo / "deploy.plan.toml").write_text("# deploylint: ignore-file[DL009]\n" + PLAN)
    out, codes = check(repo, environ=env(repo))
    messages = [d["message"] for d in json.loads(out.stdout)["diagnostics"] if d["code"] == "DL006"]
    assert "DL009" in codes
    assert messages == ["DL009 cannot be suppressed from the checked repository: it says that the repository's own "
                        "plugins did not run"]
