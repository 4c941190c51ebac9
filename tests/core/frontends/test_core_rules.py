"""The core's codes DL001–DL011 are rules like any other, with one severity in every output (issue 10, §3)."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from deploylint.core import Severity
from deploylint.core.host.registry import Registry
from deploylint.core.rule import describe

EXE = shutil.which("deploylint", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))

BASE = """schema_version = 1
name = "severity-check"

[model]
layers = 4
hidden_size = 1024
num_attention_heads = 16
vocab_size = 32000

[hardware]
accelerator = "h100-sxm"
num_devices = 1

[parallelism]
tp = 1

[workload]
mode = "inference"
batch_size = 8
seq_len = 16
output_len = 4
"""

#: one plan per code the core produces from a plan alone
PLANS = {
    "DL001": "schema_version = 1\n[model]\nlayers = = 4\n",
    "DL002": BASE.replace("tp = 1", "tp = 0"),
    "DL003": BASE.replace("output_len = 4", "outptu_len = 4"),
    "DL004": BASE.replace('"h100-sxm"', '"h100-sxn"'),
    "DL006": BASE.replace("tp = 1", "tp = 1  # deploylint: ignore[MOE399]"),
    # a custom accelerator without inter-node bandwidth, and tp across two nodes: the communication bound is skipped
    "DL008": BASE.replace('accelerator = "h100-sxm"\nnum_devices = 1',
                          "num_devices = 16\ndevices_per_node = 8\nmemory_gib = 80\npeak_tflops = 989\n"
                          "memory_bandwidth_gbps = 3350\nintra_node_bandwidth_gbps = 450").replace("tp = 1", "tp = 16"),
}

# DL005: a rule that raises; DL007: a safe fix the plan format forbids (tp = 0), which --fix refuses
PLUGIN = """
from deploylint.core import Fix, Rule, hookimpl

class Crash(Rule):
    code = "SEV001"
    name = "crashes"
    summary = "Raises."
    def check(self, ctx):
        raise RuntimeError("policy service unreachable")

class BadFix(Rule):
    code = "SEV002"
    name = "bad-fix"
    summary = "Offers a fix the schema forbids."
    def check(self, ctx):
        if ctx.plan.parallelism.tp == 1:
            yield self.report("/parallelism/tp", "tp", fixes=[Fix.set("/parallelism/tp", 0, "tp to 0", applicability="safe")])

@hookimpl
def deploylint_rules():
    return [Crash(), BadFix()]
"""

SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note", "hint": "note"}
GITHUB_COMMAND = {"error": "error", "warning": "warning", "info": "notice", "hint": "notice"}


def _run(*args, cwd):
    # local plugins named by a configuration are not allowed here (DL009), and no folder is trusted
    env = dict(os.environ, PYTHONPATH=str(cwd), DEPLOYLINT_TRUST_FILE=str(cwd / "trusted.toml"))
    env.pop("DEPLOYLINT_ALLOW_LOCAL_PLUGINS", None)
    return subprocess.run([EXE, *args], capture_output=True, text=True, cwd=cwd, env=env, stdin=subprocess.DEVNULL)


def _declared():
    return {r.code: Severity.parse(r.severity).value for r in Registry().load(autoload=False).all_rules() if r.code.startswith("DL")}


def _severities(cwd, files, extra):
    """code → the set of severities each output format shows for it."""
    seen: dict[str, dict[str, set]] = {}

    def note(fmt, code, value):
        seen.setdefault(code, {}).setdefault(fmt, set()).add(value)

    out = _run("check", *files, *extra, "--format", "json", cwd=cwd)
    for d in json.loads(out.stdout)["diagnostics"]:
        note("json", d["code"], d["severity"])
    out = _run("check", *files, *extra, cwd=cwd)
    for line in out.stdout.splitlines():
        parts = line.split(": ", 1)
        words = parts[1].split() if len(parts) == 2 else []
        if len(words) >= 2 and words[0].startswith("DL") and words[0][2:].isdigit():
            note("text", words[0], words[1])
    out = _run("check", *files, *extra, "--format", "sarif", cwd=cwd)
    run = json.loads(out.stdout)["runs"][0]
    levels = {r["id"]: r["defaultConfiguration"]["level"] for r in run["tool"]["driver"]["rules"]}
    for result in run["results"]:
        note("sarif", result["ruleId"], result["level"])
        note("sarif rule", result["ruleId"], levels[result["ruleId"]])
    out = _run("check", *files, *extra, "--format", "github", cwd=cwd)
    for line in out.stdout.splitlines():
        command, props = line[2:].split(" ", 1)
        code = props.split("title=", 1)[1].split("::", 1)[0]
        note("github", code, command)
    return seen


def _assert_one_severity(seen, declared, codes):
    for code in codes:
        severity = declared[code]
        expected = {"json": {severity}, "text": {severity}, "sarif": {SARIF_LEVEL[severity]},
                    "sarif rule": {SARIF_LEVEL[severity]}, "github": {GITHUB_COMMAND[severity]}}
        assert seen.get(code) == expected, (code, seen.get(code))


def test_each_core_code_has_its_one_declared_severity_in_text_json_sarif_and_github(tmp_path):
    declared = _declared()
    assert declared == {"DL001": "error", "DL002": "error", "DL003": "error", "DL004": "error",
                        "DL005": "error", "DL006": "warning", "DL007": "error", "DL008": "info", "DL009": "warning",
                        "DL010": "info", "DL011": "info"}
    files = []
    for code, text in PLANS.items():
        (tmp_path / f"deploy-{code}.toml").write_text(text)
        files.append(f"deploy-{code}.toml")
    (tmp_path / "sev_rules.py").write_text(PLUGIN)
    # DL009: a folder whose configuration names a local plugin nobody allowed
    (tmp_path / "untrusted").mkdir()
    (tmp_path / "untrusted" / "deploylint.toml").write_text('plugins = ["team_policy"]\n')
    (tmp_path / "untrusted" / "deploy.toml").write_text(BASE)
    # DL010: a serving command, whose device count comes from its layout
    (tmp_path / "serve.sh").write_text("vllm serve meta-llama/Llama-3.1-8B -tp 2\n")
    # DL011: a file named explicitly that is no plan and that no adapter reads
    (tmp_path / "service.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n")
    seen = _severities(tmp_path, [*files, "untrusted", "serve.sh", "service.yaml"], ["--plugin", "sev_rules"])
    _assert_one_severity(seen, declared, [*PLANS, "DL005", "DL009", "DL010", "DL011"])
    # DL007 comes from fixing: the plugin's fix is refused, and the plan is left as it was
    (tmp_path / "deploy-fix.toml").write_text(BASE)
    seen = _severities(tmp_path, ["deploy-fix.toml"], ["--plugin", "sev_rules", "--fix"])
    _assert_one_severity(seen, declared, ["DL007"])
    assert (tmp_path / "deploy-fix.toml").read_text() == BASE


def test_core_rules_are_listed_explained_and_documented_like_any_rule(tmp_path):
    declared = _declared()
    rules = json.loads(_run("rules", "--format", "json", cwd=tmp_path).stdout)
    listed = {r["code"]: r for r in rules if r["code"].startswith("DL")}
    assert {code: r["severity"] for code, r in listed.items()} == declared
    assert all(r["plugin"] == "deploylint.core" for r in listed.values())
    for code in declared:
        out = _run("rule", code.lower(), cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith(f"{code} ({listed[code]['name']}) — default severity {declared[code]}")
        assert "Why it matters" in out.stdout and "Bad" in out.stdout and "Good" in out.stdout
    markdown = _run("rules", "--format", "markdown", cwd=tmp_path).stdout
    assert f"## DL006 suppression\n\n*{declared['DL006']}* · plugin `deploylint.core`" in markdown
    for rule in Registry().load(autoload=False).all_rules():
        if rule.code.startswith("DL"):
            assert len(rule.explanation.split()) >= 30 and rule.bad_example and rule.good_example, rule.code
            assert rule.summary in describe(rule)


@pytest.mark.parametrize("code", ["DL001", "DL002", "DL003", "DL004", "DL006", "DL008"])
def test_the_language_server_severity_is_the_declared_one(code, tmp_path):
    from lsprotocol import types

    from deploylint.core.frontends.lsp import DeploylintServer

    server = DeploylintServer()
    expected = {"error": types.DiagnosticSeverity.Error, "warning": types.DiagnosticSeverity.Warning,
                "info": types.DiagnosticSeverity.Information}[_declared()[code]]
    linted = server.lint((tmp_path / "deploy.toml").as_uri(), PLANS[code], 1)
    found = [lsp_d.severity for lsp_d, d in linted.diagnostics if d.code == code]
    assert found and set(found) == {expected}
