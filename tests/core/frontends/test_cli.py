"""The deploylint command as users run it: the installed console script, in a subprocess."""

import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SEED = os.path.join(ROOT, "examples", "seed-moe-64e-3dev.toml")
HEALTHY = os.path.join(ROOT, "examples", "mixtral-8x7b-h100.plan.toml")


def deploylint(*args, cwd=ROOT, env=None):
    exe = shutil.which("deploylint", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run([exe, *args], capture_output=True, text=True, cwd=cwd, env=env, stdin=subprocess.DEVNULL)


def test_json_output_follows_the_contract():
    out = deploylint("check", SEED, "--format", "json")
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    assert report["version"] == 1
    assert set(report["summary"]) >= {"files", "error", "warning", "info", "hint"}
    assert report["summary"]["files"] == 1
    assert report["diagnostics"], "the seed plan has findings"
    for d in report["diagnostics"]:
        assert set(d) >= {"code", "rule", "severity", "message", "file", "path", "range", "data", "fixes", "plugin"}
        assert d["file"].endswith("seed-moe-64e-3dev.toml")
        start, end = d["range"]["start"], d["range"]["end"]
        assert start["line"] >= 1 and start["column"] >= 1 and (end["line"], end["column"]) >= (start["line"], start["column"])
        for fix in d["fixes"]:
            assert fix["applicability"] in ("safe", "unsafe", "display")
            for e in fix["edits"]:
                assert set(e) == {"range", "new_text"}
    counts = {s: sum(1 for d in report["diagnostics"] if d["severity"] == s) for s in ("error", "warning", "info", "hint")}
    assert {k: report["summary"][k] for k in counts} == counts


def test_text_output_is_compiler_shaped_with_a_caret_under_the_span():
    out = deploylint("check", "examples/seed-moe-64e-3dev.toml")
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    head = next(l for l in lines if " MOE301 " in l)
    path, line, col, rest = head.split(":", 3)
    assert path == "examples/seed-moe-64e-3dev.toml" and rest.startswith(" MOE301 warning ")
    i = lines.index(head)
    assert lines[i + 2] == f"{line} | ep = 3"
    caret = lines[i + 3]
    assert caret.index("^") - caret.index("|") - 2 == int(col) - 1
    assert lines[-1].startswith("Found ") and "in 1 file" in lines[-1]


def test_healthy_example_is_clean_and_exit_zero():
    out = deploylint("check", HEALTHY)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().endswith("no problems found.")


def test_select_ignore_and_fail_on():
    out = deploylint("check", SEED, "--select", "MOE", "--format", "json")
    codes = {d["code"] for d in json.loads(out.stdout)["diagnostics"]}
    assert codes == {"MOE301"}
    out = deploylint("check", SEED, "--ignore", "MOE,MEM,CMP,PRF,PAR", "--format", "json")
    assert {d["code"] for d in json.loads(out.stdout)["diagnostics"]} == set()
    assert out.returncode == 0
    # warnings only: fail-on error passes unless an error is among them
    report = json.loads(deploylint("check", SEED, "--select", "MOE", "--format", "json").stdout)
    assert all(d["severity"] == "warning" for d in report["diagnostics"])
    assert deploylint("check", SEED, "--select", "MOE", "--fail-on", "error").returncode == 0


def test_directories_are_walked_with_include_patterns(tmp_path):
    shutil.copy(SEED, tmp_path / "deploy-seed.toml")
    shutil.copy(SEED, tmp_path / "notes.toml")          # not a plan name: skipped in a folder walk
    (tmp_path / "sub").mkdir()
    shutil.copy(SEED, tmp_path / "sub" / "serving.plan.toml")
    out = deploylint("check", str(tmp_path), "--format", "json")
    files = {os.path.basename(d["file"]) for d in json.loads(out.stdout)["diagnostics"]}
    assert files == {"deploy-seed.toml", "serving.plan.toml"}
    (tmp_path / "deploylint.toml").write_text('include = ["notes.toml"]\n')
    out = deploylint("check", str(tmp_path), "--format", "json")
    assert {os.path.basename(d["file"]) for d in json.loads(out.stdout)["diagnostics"]} == {"notes.toml"}


def test_usage_and_config_errors_exit_2_with_one_line(tmp_path):
    out = deploylint("check", str(tmp_path / "missing.toml"))
    assert out.returncode == 2 and "no such file" in out.stderr and out.stderr.count("\n") == 1
    (tmp_path / "deploylint.toml").write_text("selct = []\n")
    shutil.copy(SEED, tmp_path / "deploy.toml")
    out = deploylint("check", str(tmp_path / "deploy.toml"))
    assert out.returncode == 2 and "did you mean 'select'" in out.stderr and "Traceback" not in out.stderr


def test_broken_plugin_exit_3_and_builtin_rules_still_report(tmp_path):
    (tmp_path / "bad_plugin.py").write_text(
        "from deploylint.core import Rule, hookimpl\n"
        "class Crash(Rule):\n"
        "    code = 'BAD001'\n"
        "    name = 'always-crashes'\n"
        "    def check(self, ctx):\n"
        "        raise RuntimeError('policy service unreachable')\n"
        "class Garbage(Rule):\n"
        "    code = 'BAD002'\n"
        "    name = 'yields-garbage'\n"
        "    def check(self, ctx):\n"
        "        yield 'not a diagnostic'\n"
        "class Hang(Rule):\n"
        "    code = 'BAD003'\n"
        "    name = 'hangs'\n"
        "    def check(self, ctx):\n"
        "        while True:\n"
        "            pass\n"
        "class Nowhere(Rule):\n"
        "    code = 'BAD004'\n"
        "    name = 'reports-nowhere'\n"
        "    def check(self, ctx):\n"
        "        yield self.report('/no/such/key', 'x')\n"
        "@hookimpl\n"
        "def deploylint_rules():\n"
        "    return [Crash(), Garbage(), Hang(), Nowhere()]\n"
    )
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    out = deploylint("check", SEED, "--plugin", "bad_plugin", "--rule-timeout", "0.5", "--format", "json", env=env)
    assert out.returncode == 3, out.stderr
    diags = json.loads(out.stdout)["diagnostics"]
    failures = [d for d in diags if d["code"] == "DL005"]
    assert sorted(d["data"]["rule"] for d in failures) == ["BAD001", "BAD002", "BAD003", "BAD004"]
    assert all(d["data"]["plugin"] == "bad_plugin" for d in failures)
    assert "policy service unreachable" in next(d["message"] for d in failures if d["data"]["rule"] == "BAD001")
    assert {"MOE301", "MEM102", "PRF502"} <= {d["code"] for d in diags}


def test_rules_rule_schema_hardware_plugins_commands():
    rules = deploylint("rules")
    assert rules.returncode == 0
    for code in ("DL001", "DL005", "MEM101", "MOE301", "PAR405", "PRF502"):
        assert any(l.startswith(code) for l in rules.stdout.splitlines()), code
    rule = deploylint("rule", "moe301")
    assert rule.returncode == 0 and "MOE301" in rule.stdout and "Bad" in rule.stdout and "Good" in rule.stdout
    unknown = deploylint("rule", "MOE399")
    assert unknown.returncode == 2 and "did you mean" in unknown.stderr
    schema = json.loads(deploylint("schema").stdout)
    assert schema["$schema"].endswith("2020-12/schema")
    hardware = deploylint("hardware")
    assert "h100-sxm" in hardware.stdout and "ascend-910b" in hardware.stdout
    plugins = deploylint("plugins")
    assert "deploylint.plugins.experts" in plugins.stdout


@pytest.mark.parametrize("suffix, text, line, column", [
    (".toml", "schema_version = 1\n[model]\nlayers = = 4\n", 3, 10),
    (".json", '{\n  "schema_version": 1,\n  "model": {,}\n}\n', 3, 13),
    (".yaml", "schema_version: 1\nmodel:\n  layers: [4\n", 4, 1),
    (".py", "PLAN = {\n    'schema_version': 1,\n    'model': load(),\n}\n", 3, 14),
])
def test_parse_errors_land_on_their_line_and_column(tmp_path, suffix, text, line, column):
    plan = tmp_path / f"deploy{suffix}"
    plan.write_text(text)
    out = deploylint("check", str(plan), "--format", "json")
    assert out.returncode == 1, out.stderr
    (d,) = json.loads(out.stdout)["diagnostics"]
    assert d["code"] == "DL001"
    assert (d["range"]["start"]["line"], d["range"]["start"]["column"]) == (line, column), d["message"]


def test_analyze_seed_ends_with_an_assessment():
    out = deploylint("analyze", SEED)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assessment = text[text.index("Assessment"):]
    assert "fits in memory:  yes" in assessment
    assert "optimized:       no — CMP201 compute-underutilized; MEM102 memory-underutilized; MOE301 experts-not-divisible" in assessment
    assert "share of peak:   0.633%" in assessment     # 3800 samples/s × 2.0 GFLOP / 1,200 TFLOP/s


def test_analyze_json_contract_for_a_plan_from_config_json():
    out = deploylint("analyze", HEALTHY, "--format", "json")
    a = json.loads(out.stdout)
    assert a["model"]["total_params"] == 46_702_792_704           # Mixtral-8x7B, from examples/configs/mixtral-8x7b.json
    assert set(a["model"]) >= {"total_params", "active_params", "embedding_params", "expert_params"}
    dev = a["memory"]["devices"][0]
    assert set(dev) >= {"weights", "gradients", "optimizer", "activations", "kv_cache", "total", "capacity"}
    assert dev["total"] == sum(dev[k] for k in ("weights", "gradients", "optimizer", "activations", "kv_cache"))
    assert len(a["memory"]["devices"]) == 8 and 0 < a["memory"]["utilization"] < 1
    assert set(a["compute"]) >= {"flops_per_token", "flops_per_sample", "peak_flops", "implied_flops", "implied_utilization"}
    assert a["compute"]["peak_flops"] == 8 * 989.4e12
    assert set(a["bounds"]) >= {"max_throughput_samples_per_s", "min_latency_ms", "bottleneck"}


def test_analyze_html_is_a_page_with_the_same_figures():
    from html.parser import HTMLParser

    out = deploylint("analyze", SEED, "--format", "html")
    assert out.returncode == 0
    cells = []

    class Cells(HTMLParser):
        def handle_data(self, data):
            cells.append(data.strip())

    Cells().feed(out.stdout)
    assert out.stdout.startswith("<!doctype html>") and "<script" not in out.stdout
    assert "424 MiB" in cells and "MOE301" in cells                  # device 0's total, a finding


def test_a_selected_code_that_matches_no_rule_is_a_usage_error():
    out = deploylint("check", SEED, "--ignore", "MEN")
    assert out.returncode == 2 and "--ignore MEN: no rule has this code or prefix; did you mean" in out.stderr
    assert "MEM" in out.stderr


def test_the_help_lists_every_command_and_each_command_parses_alone():
    # one command runs per invocation, so only its parser is built; the help still lists all of them
    out = deploylint("--help")
    assert out.returncode == 0
    for command in ("check", "analyze", "suggest", "rules", "rule", "plugins", "hardware", "trust", "schema", "lsp"):
        assert f"    {command} " in out.stdout, command
    wrong = deploylint("chekc", SEED)
    assert wrong.returncode == 2 and "chekc" in wrong.stderr and "check" in wrong.stderr
    bad_option = deploylint("check", "--formt", "json", SEED)
    assert bad_option.returncode == 2 and "--formt" in bad_option.stderr
    assert "--unsafe-fixes" in deploylint("check", "--help").stdout


MULTILINE_RULE = '''\
from deploylint.core import Rule, hookimpl

class Explained(Rule):
    code = "ACME009"
    name = "explained"
    summary = """Experts should
        stay inside one node."""
    explanation = """Expert-parallel all-to-all traffic crosses the inter-node network when an EP group spans nodes, and that network is ten times slower than the links inside a node.
        So keep ep within a node.

        - first reason, written on a line that is long enough that it has to be wrapped by the formatter
        - second reason

            ep = 8   # an indented example stays as written, however long its line is, even past the terminal width
        \\x1b[2Jcleared?
    """
    bad_example = """[parallelism]
        ep = 16
    """

    def check(self, ctx):
        return ()

@hookimpl
def deploylint_rules():
    return [Explained()]
'''


def test_rule_formats_a_plugins_multiline_explanation(tmp_path):
    (tmp_path / "explained.py").write_text(MULTILINE_RULE)
    out = deploylint("rule", "acme009", "--plugin", "explained", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "Experts should stay inside one node." in lines
    why = lines[lines.index("Why it matters") + 2:lines.index("Bad")]
    # the docstring-style block is dedented and re-flowed: the first line and the indented ones form one paragraph
    paragraph = " ".join(why[:why.index("")])
    assert paragraph.startswith("Expert-parallel all-to-all traffic") and paragraph.endswith("So keep ep within a node.")
    prose = [line for line in why if not line.startswith("    ")]
    assert all(len(line) <= 79 for line in prose), prose
    assert all(not line.startswith(" ") for line in why[:why.index("")])
    # a list item wraps under its own text; an indented example is kept whole
    item = next(i for i, line in enumerate(why) if line.startswith("- first reason"))
    assert why[item + 1].startswith("  ") and not why[item + 1].startswith("   ")
    assert "    ep = 8   # an indented example stays as written, however long its line is, even past the terminal width" in why
    assert "\x1b" not in out.stdout and "[2Jcleared?" in out.stdout
    bad = lines[lines.index("Bad") + 2:lines.index("Bad") + 4]
    assert bad == ["    [parallelism]", "    ep = 16"]
