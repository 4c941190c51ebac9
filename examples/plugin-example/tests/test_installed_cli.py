"""Installed as a normal package, the plugin shows up in the deploylint command itself."""

import json
import os
import shutil
import subprocess
import sys

EXE = shutil.which("deploylint", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))

PLAN = """schema_version = 1
[model]
layers = 32
hidden_size = 4096
num_attention_heads = 32
num_kv_heads = 8
vocab_size = 32000
moe = { num_experts = 16, top_k = 2 }
[hardware]
accelerator = "acme-npu-x1"
num_devices = 16
[parallelism]
ep = 16
[workload]
mode = "inference"
batch_size = 64
seq_len = 1024
"""


def run(*args, cwd=None):
    return subprocess.run([EXE, *args], capture_output=True, text=True, cwd=cwd, stdin=subprocess.DEVNULL)


def test_rules_and_hardware_list_the_plugin():
    rules = run("rules", "--format", "json")
    by_code = {r["code"]: r for r in json.loads(rules.stdout)}
    assert by_code["ACME001"]["plugin"] == "acme_policies" and "MOE301" in by_code
    assert "acme-npu-x1" in run("hardware").stdout
    assert "acme_policies" in run("plugins").stdout


def test_check_reports_plugin_and_builtin_findings_together(tmp_path):
    (tmp_path / "deploy.toml").write_text(PLAN)
    out = run("check", "deploy.toml", "--format", "json", cwd=tmp_path)
    codes = {d["code"] for d in json.loads(out.stdout)["diagnostics"]}
    assert "ACME001" in codes                  # ep=16 over nodes of 8
    assert {c for c in codes if c[:3] in {"MEM", "CMP", "MOE", "PAR", "PRF"}}  # the built-in rules ran too


def test_a_broken_plugin_is_contained_and_builtins_still_report(tmp_path):
    (tmp_path / "deploy.toml").write_text(PLAN)
    (tmp_path / "broken_policy.py").write_text(
        "from deploylint.core import Rule, hookimpl\n"
        "class Broken(Rule):\n    code = 'BRK001'\n    name = 'broken'\n    summary = 'raises'\n"
        "    def check(self, ctx):\n        raise ZeroDivisionError('oops')\n"
        "@hookimpl\ndef deploylint_rules():\n    return [Broken()]\n")
    out = run("check", "deploy.toml", "--plugin", "broken_policy", "--format", "json", cwd=tmp_path)
    report = json.loads(out.stdout)
    dl005 = [d for d in report["diagnostics"] if d["code"] == "DL005"]
    assert len(dl005) == 1 and "BRK001" in dl005[0]["message"] and "broken_policy" in dl005[0]["message"]
    assert "ACME001" in {d["code"] for d in report["diagnostics"]}
    assert out.returncode == 3                 # the run is incomplete, and says so
