"""The plugin example of docs/plugins.md (ARCHITECTURE.md's example) runs verbatim."""

import os
import re
import subprocess
import sys

import deploylint.core as api

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

PLAN = """\
schema_version = 1
[model]
layers = 32
hidden_size = 4096
num_attention_heads = 32
num_kv_heads = 8
vocab_size = 32000
[model.moe]
num_experts = 16
top_k = 2
[hardware]
accelerator = "h100-sxm"
num_devices = 16
[parallelism]
ep = 16
[workload]
mode = "inference"
batch_size = 64
seq_len = 1024
output_len = 128
"""


def first_python_block(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return re.search(r"```python\n(.*?)```", fh.read(), re.S).group(1)


def test_public_api_names_exist():
    for name in api.__all__:
        assert getattr(api, name) is not None, name


def test_documented_example_runs_verbatim_as_a_local_plugin(tmp_path):
    (tmp_path / "acme_rules.py").write_text(first_python_block(os.path.join(ROOT, "docs", "plugins.md")))
    (tmp_path / "deploy.toml").write_text(PLAN)
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    out = subprocess.run([sys.executable, "-m", "deploylint.core.frontends.cli", "check", "--plugin", "acme_rules", "--format", "json",
                          "deploy.toml"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert out.returncode == 1, out.stderr
    import json

    report = json.loads(out.stdout)
    (d,) = [d for d in report["diagnostics"] if d["code"] == "ACME001"]
    assert d["message"] == "ep=16 spans 2 nodes"
    assert d["data"] == {"ep": 16, "devices_per_node": 8}
    assert d["plugin"] == "acme_rules"
    assert d["range"]["start"] == {"line": 15, "column": 6}
    (fix,) = d["fixes"]
    assert fix["applicability"] == "unsafe" and fix["edits"][0]["new_text"] == "8"


def test_contributing_ten_minute_plugin_runs_as_written(tmp_path):
    text = open(os.path.join(ROOT, "CONTRIBUTING.md"), encoding="utf-8").read()
    section = text[text.index("## Writing a rule plugin in ten minutes"):]
    (tmp_path / "my_rules.py").write_text(first_python_block_of(section))
    (tmp_path / "deploy.toml").write_text(PLAN.replace('mode = "inference"', 'mode = "inference"\ndtype = "fp32"'))
    out = subprocess.run([sys.executable, "-m", "deploylint.core.frontends.cli", "check", "--plugin", "my_rules", "--format", "json",
                          "deploy.toml"], cwd=tmp_path, capture_output=True, text=True)
    import json

    (d,) = [d for d in json.loads(out.stdout)["diagnostics"] if d["code"] == "ACME010"]
    assert d["path"] == "/workload/dtype" and d["fixes"][0]["edits"][0]["new_text"] == "bf16"   # inside the quotes


def first_python_block_of(text: str) -> str:
    start = text.index("```python\n") + len("```python\n")
    return text[start:text.index("```", start)]


def test_a_diagnostic_with_changes_is_a_copy_and_with_none_is_itself():
    """``Diagnostic.with_`` copies only when something changes (the engine asks for the configured severity of
    every finding, which is mostly the rule's own): a frozen diagnostic is shared, never changed underneath."""
    import pytest

    d = api.Diagnostic("X001", api.Severity.WARNING, "m", "/a", plugin="p")
    assert d.with_(severity=api.Severity.WARNING, plugin="p") is d
    moved = d.with_(severity=api.Severity.ERROR, plugin="p")
    assert moved is not d and moved.severity is api.Severity.ERROR and d.severity is api.Severity.WARNING
    assert moved == api.Diagnostic("X001", api.Severity.ERROR, "m", "/a", plugin="p")
    with pytest.raises(TypeError):
        d.with_(colour="red")
