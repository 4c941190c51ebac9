"""A plugin whose hooks are misspelt or missing is a DL005, never a silent "All clear"."""

import json
import os
import shutil
import subprocess
import sys

EXE = shutil.which("deploylint", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
HEALTHY = os.path.join(ROOT, "examples", "seed-moe-64e-3dev.toml")


def check(tmp_path, plugin):
    out = subprocess.run([EXE, "check", HEALTHY, "--plugin", plugin, "--format", "json"], capture_output=True,
                         text=True, cwd=tmp_path, stdin=subprocess.DEVNULL)
    return out, [d for d in json.loads(out.stdout)["diagnostics"] if d["code"] == "DL005"]


def test_a_misspelt_hook_is_named_with_the_hook_it_meant(tmp_path):
    (tmp_path / "typo_hook.py").write_text(
        "from deploylint.core import hookimpl\n@hookimpl\ndef deploylint_rule():\n    return []\n")
    out, [d] = check(tmp_path, "typo_hook")
    assert out.returncode == 3
    assert "implements unknown hooks: deploylint_rule (did you mean deploylint_rules?)" in d["message"]


def test_a_module_with_no_hook_at_all_is_reported(tmp_path):
    (tmp_path / "nohooks.py").write_text("x = 1\n")
    out, [d] = check(tmp_path, "nohooks")
    assert out.returncode == 3 and "implements no deploylint hook" in d["message"]
