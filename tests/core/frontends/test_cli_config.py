"""Configuration means what it says: each file is checked with its own configuration (issue 10, §3)."""

import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
EXAMPLES = os.path.join(ROOT, "examples")
SEED = os.path.join(EXAMPLES, "seed-moe-64e-3dev.toml")          # 1 error (MEM103) and 4 warnings
HEALTHY = os.path.join(EXAMPLES, "mixtral-8x7b-h100.plan.toml")  # clean

# A policy plugin: one finding on every plan it sees, with the configuration the rule was given.
POLICY = '''
from deploylint.core import Rule, Severity, hookimpl

__version__ = "4.2.1"

class Everywhere(Rule):
    code = "ACME001"
    name = "acme-everywhere"
    severity = Severity.WARNING
    summary = "Reports every plan (a test policy)."

    def check(self, ctx):
        yield self.report("/hardware", "seen by acme", data={"ignore": list(ctx.config.ignore), "select": list(ctx.config.select)})

@hookimpl
def deploylint_rules():
    return [Everywhere()]
'''


def deploylint(*args, cwd=ROOT, env=None):
    exe = shutil.which("deploylint", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run([exe, *args], capture_output=True, text=True, cwd=cwd, env=env, stdin=subprocess.DEVNULL)


def _folder(base, name, plan, config_text=None):
    folder = base / name
    folder.mkdir()
    shutil.copy(plan, folder / "deploy.toml")
    shutil.copytree(os.path.join(EXAMPLES, "configs"), folder / "configs")
    if config_text is not None:
        (folder / "deploylint.toml").write_text(config_text)
    return folder


def _codes_by_file(stdout):
    out = {}
    for d in json.loads(stdout)["diagnostics"]:
        out.setdefault(os.path.basename(os.path.dirname(d["file"])), set()).add(d["code"])
    return out


def test_a_plugin_named_in_one_folders_configuration_runs_only_on_that_folders_plans(tmp_path):
    a = _folder(tmp_path, "a", HEALTHY, 'plugins = ["acme_policy"]\n')
    (a / "acme_policy.py").write_text(POLICY)
    _folder(tmp_path, "b", HEALTHY, 'fail-on = "warning"\n')
    for order in (["a", "b"], ["b", "a"]):
        out = deploylint("check", *order, "--format", "json", cwd=tmp_path)
        assert out.returncode == 1, out.stderr            # a's ACME001 warning fails a's run
        assert _codes_by_file(out.stdout) == {"a": {"ACME001"}}, out.stdout
        assert json.loads(out.stdout)["summary"]["files"] == 2    # the plans; a folder walk skips deploylint.toml
    out = deploylint("check", "b", "--format", "json", cwd=tmp_path)
    assert out.returncode == 0 and json.loads(out.stdout)["diagnostics"] == []


@pytest.mark.parametrize("order", [("strict", "lenient"), ("lenient", "strict")])
@pytest.mark.parametrize("lenient_plan, strict_plan, exit_code", [
    (SEED, HEALTHY, 0),      # the lenient folder's warnings do not fail it, and the strict folder is clean
    (HEALTHY, SEED, 1),      # the strict folder's warnings fail the run
])
def test_each_files_findings_count_against_its_own_fail_on(tmp_path, order, lenient_plan, strict_plan, exit_code):
    # the seed plan's only error (MEM103) is ignored: it has warnings only
    _folder(tmp_path, "lenient", lenient_plan, 'fail-on = "error"\nignore = ["MEM103"]\n')
    _folder(tmp_path, "strict", strict_plan, 'fail-on = "warning"\nignore = ["MEM103"]\n')
    out = deploylint("check", *order, cwd=tmp_path)
    assert out.returncode == exit_code, out.stdout + out.stderr
    assert " warning " in out.stdout and " error " not in out.stdout


def test_command_line_overrides_are_applied_once_per_configuration(tmp_path):
    folder = tmp_path / "plans"
    folder.mkdir()
    for name in ("deploy-1.toml", "deploy-2.toml", "deploy-3.toml"):
        shutil.copy(HEALTHY, folder / name)
    shutil.copytree(os.path.join(EXAMPLES, "configs"), folder / "configs")
    (tmp_path / "acme_policy.py").write_text(POLICY)
    (tmp_path / "team.toml").write_text('ignore = ["MEM102"]\nplugins = ["acme_policy"]\n')
    out = deploylint("check", "plans", "--config", "team.toml", "--ignore", "PAR405", "--extend-select", "ACME",
                     "--format", "json", cwd=tmp_path)
    seen = [d["data"] for d in json.loads(out.stdout)["diagnostics"] if d["code"] == "ACME001"]
    assert len(seen) == 3, out.stdout + out.stderr
    assert all(s["ignore"] == ["MEM102", "PAR405"] and s["select"] == ["ALL", "ACME"] for s in seen), seen


def test_a_plugin_modules_version_comes_from_its_version_or_its_distribution(tmp_path):
    (tmp_path / "acme_policy.py").write_text(POLICY)
    package = tmp_path / "acme_pkg"
    package.mkdir()
    (package / "__init__.py").write_text(POLICY.replace('__version__ = "4.2.1"', "").replace("ACME001", "ACMP001"))
    dist = tmp_path / "acme_rules-1.3.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-rules\nVersion: 1.3.0\n")
    (dist / "top_level.txt").write_text("acme_pkg\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    out = deploylint("plugins", "--plugin", "acme_policy", "--plugin", "acme_pkg", cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines() if line.strip()}
    assert rows["acme_policy"][1:3] == ["4.2.1", "--plugin"] and rows["acme_policy"][-1] == "ACME001"
    assert rows["acme_pkg"][1] == "1.3.0" and rows["acme_pkg"][-1] == "ACMP001"


def test_plugins_named_in_the_configuration_are_listed_by_rules_and_plugins(tmp_path):
    (tmp_path / "acme_policy.py").write_text(POLICY)
    (tmp_path / "deploylint.toml").write_text('plugins = ["acme_policy"]\n')
    sub = tmp_path / "team"
    sub.mkdir()
    for cwd in (tmp_path, sub):                     # the configuration is found upward, as `check` finds it
        rules = deploylint("rules", cwd=cwd)
        assert rules.returncode == 0, rules.stderr
        assert any(line.split()[:3] == ["ACME001", "acme-everywhere", "warning"] for line in rules.stdout.splitlines()), rules.stdout
        plugins = deploylint("plugins", cwd=cwd)
        row = next(line for line in plugins.stdout.splitlines() if line.startswith("acme_policy "))
        assert "4.2.1" in row and str(tmp_path / "deploylint.toml") in row and row.endswith("ACME001")
        assert "ACME001 (acme-everywhere)" in deploylint("rule", "acme001", cwd=cwd).stdout
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text("select = [\"ALL\"]\n")
    out = deploylint("rules", "--config", str(elsewhere), cwd=tmp_path)
    assert out.returncode == 0 and "ACME001" not in out.stdout


def test_a_threshold_is_checked_against_the_rules_of_its_own_configuration(tmp_path):
    # b sets a threshold of a rule only a's plugin has: b's configuration is an error naming b's file
    a = _folder(tmp_path, "a", HEALTHY, 'plugins = ["acme_policy"]\n[thresholds.ACME001]\nacme_limit = 4\n')
    (a / "acme_policy.py").write_text(POLICY.replace('    summary = "Reports', '    thresholds = {"acme_limit": 3}\n    summary = "Reports'))
    out = deploylint("check", "a", cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    _folder(tmp_path, "b", HEALTHY, '[thresholds.ACME001]\nacme_limit = 4\n')
    out = deploylint("check", "a", "b", cwd=tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    assert os.path.join("b", "deploylint.toml") in out.stderr and "no loaded rule has the code or prefix ACME001" in out.stderr
