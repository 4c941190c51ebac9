"""The language server keeps one plugin registry per configuration: folder, file and contents.

Two folders whose deploylint.toml name a local plugin module of the same name each get their own folder's module,
and a configuration edited in place (another file taking over, another time budget) gets a registry built from what
it now says. The server is driven in-process (its lint method is what didOpen/didChange run).
"""

import pytest

PLAN = """schema_version = 1
[model]
layers = 4
hidden_size = 1024
num_attention_heads = 16
vocab_size = 32000
[hardware]
num_devices = 1
memory_gib = 64
peak_tflops = 400
memory_bandwidth_gbps = 1600
[parallelism]
tp = 1
[workload]
mode = "inference"
batch_size = 8
seq_len = 16
"""

POLICY = '''
from deploylint.core import Rule, Severity, hookimpl

class Policy(Rule):
    code = "{code}"
    name = "team-policy"
    severity = Severity.WARNING
    summary = "Reports every plan (a test policy)."

    def check(self, ctx):
        yield self.report("/hardware", "seen by the policy of {folder}")

@hookimpl
def deploylint_rules():
    return [Policy()]
'''


def _codes(server, path):
    linted = server.lint(path.as_uri(), path.read_text(), 1)
    return {d.code: d for _, d in linted.diagnostics}


@pytest.mark.slow  # each folder's plugin runs in its own worker process
async def test_two_folders_with_a_plugin_module_of_the_same_name_each_run_their_own(tmp_path):
    from deploylint.core.frontends.lsp import DeploylintServer

    plans = {}
    for folder, code in (("a", "TMA001"), ("b", "TMB001")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "team_policy.py").write_text(POLICY.format(code=code, folder=folder))
        (tmp_path / folder / "deploylint.toml").write_text('plugins = ["team_policy"]\n')
        plans[folder] = tmp_path / folder / "deploy.toml"
        plans[folder].write_text(PLAN)
    server = DeploylintServer()
    try:
        a, b = _codes(server, plans["a"]), _codes(server, plans["b"])
        assert "TMA001" in a and "TMB001" not in a
        assert "TMB001" in b and "TMA001" not in b
        assert a["TMA001"].message == "seen by the policy of a"
        # a's configuration is edited: its old registry's worker process (the policy it imported) ends
        before = server.registry_for(server.config_for(str(plans["a"])))
        worker = before._worker._proc
        assert worker is not None and worker.poll() is None
        (tmp_path / "a" / "deploylint.toml").write_text('plugins = ["team_policy"]\nrule-timeout = 3\n')
        server.configs_changed()
        assert "TMA001" in _codes(server, plans["a"])
        assert worker.wait(timeout=10) is not None and "TMB001" in _codes(server, plans["b"])
    finally:
        for cfg in (server.config_for(str(p)) for p in plans.values()):
            server.registry_for(cfg).close()


async def test_a_configuration_edited_in_place_gets_a_registry_of_what_it_now_says(tmp_path, monkeypatch):
    from deploylint.core.frontends.lsp import DeploylintServer
    from deploylint.core.pipeline.config import load_config

    # untrusted: the plugins are not imported, and DL009 names the configuration file that names them
    monkeypatch.delenv("DEPLOYLINT_ALLOW_LOCAL_PLUGINS", raising=False)
    monkeypatch.setenv("DEPLOYLINT_TRUST_FILE", str(tmp_path / "trust.toml"))
    (tmp_path / "pyproject.toml").write_text('[tool.deploylint]\nplugins = ["team_policy"]\n')
    plan = tmp_path / "deploy.toml"
    plan.write_text(PLAN)
    server = DeploylintServer()
    first = server.registry_for(load_config(start_dir=str(tmp_path)))
    assert "pyproject.toml" in _codes(server, plan)["DL009"].message

    # the same plugins, now in a deploylint.toml beside it (which takes precedence) with its own time budget
    (tmp_path / "deploylint.toml").write_text('plugins = ["team_policy"]\nrule-timeout = 3\n')
    server.configs_changed()
    edited = server.registry_for(load_config(start_dir=str(tmp_path)))
    assert edited is not first and edited.budget_s == 3
    message = _codes(server, plan)["DL009"].message
    assert "deploylint.toml" in message and "pyproject.toml" not in message
    # and an unchanged configuration keeps its registry (plugins are loaded once, not on every edit)
    assert server.registry_for(load_config(start_dir=str(tmp_path))) is edited
    # the superseded registry is let go of, with its worker process
    assert first not in server._registries.values() and len(server._registries) == 1
