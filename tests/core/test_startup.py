"""A clean TOML or JSON check must not pay for heavy imports.

Measured on this machine kind (research/linters.md §4.1): jsonschema +100 ms,
libcst +190 ms, PyYAML +30 ms, importlib.metadata +35 ms, against ~16 ms for a
bare interpreter. This test runs the real command under ``python -X importtime``
and fails if one of those modules is imported on the clean path.
"""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEAVY = ("jsonschema", "libcst", "yaml", "pygls", "lsprotocol", "importlib.metadata", "importlib_metadata", "hypothesis",
         "zipfile", "tempfile", "importlib.resources")


def imported_modules(*args: str, cwd: str = ROOT) -> tuple[set[str], subprocess.CompletedProcess]:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "deploylint.core.frontends.cli", *args],
                          capture_output=True, text=True, cwd=cwd)
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names, proc


@pytest.mark.parametrize("plan", ["examples/mixtral-8x7b-h100.plan.toml", "examples/seed-moe-64e-3dev.toml"])
def test_toml_check_imports_nothing_heavy(plan):
    names, proc = imported_modules("check", plan)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    leaked = sorted(n for n in names if n.split(".")[0] in {h.split(".")[0] for h in HEAVY if "." not in h} or n in HEAVY)
    assert leaked == [], f"heavy modules on the TOML check path: {leaked}"


def test_a_clean_check_renders_no_diff_and_suggests_nothing():
    # difflib serves did-you-mean suggestions, --diff and fix rendering: a clean plan needs none of them
    names, proc = imported_modules("check", "examples/mixtral-8x7b-h100.plan.toml")
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "deploylint.core.pipeline.engine" in names and "difflib" not in names


def test_json_check_imports_nothing_heavy(tmp_path):
    from deploylint.core.document.sources import load
    import json

    with open(os.path.join(ROOT, "examples/seed-moe-64e-3dev.toml"), encoding="utf-8") as fh:
        data = load("seed.toml", fh.read()).data
    plan = tmp_path / "deploy.json"
    plan.write_text(json.dumps(data))
    names, proc = imported_modules("check", str(plan))
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    assert not {"jsonschema", "libcst", "yaml", "importlib.metadata"} & names


def test_an_invalid_plan_does_import_jsonschema_to_explain_itself(tmp_path):
    plan = tmp_path / "deploy.toml"
    plan.write_text("schema_version = 1\n[model]\nlayers = 0\n")
    names, proc = imported_modules("check", str(plan))
    assert proc.returncode == 1
    assert "jsonschema" in names and "DL002" in proc.stdout


def test_loading_the_pytest_plugin_imports_no_engine():
    # every pytest session of a project where deploylint is installed loads deploylint.core.testing
    code = ("import sys, deploylint.core.testing; "
            "print(sorted(m for m in sys.modules if m.startswith(('deploylint.core.pipeline', 'deploylint.core.host', "
            "'deploylint.core.estimate', 'deploylint.plugins'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


def modules_after_run(*args: str, cwd: str = ROOT) -> tuple[set[str], subprocess.CompletedProcess]:
    """Every module in sys.modules once the command has run: also those imported with importlib.import_module
    (plugins from entry points), which ``-X importtime`` does not list."""
    code = ("import sys\nfrom deploylint.core.frontends.cli import main\n"
            "try:\n    code = main(sys.argv[1:])\nexcept SystemExit as exc:\n    code = exc.code\n"
            "sys.stdout.flush()\nprint('\\nMODULES ' + ' '.join(sorted(sys.modules)), file=sys.stderr)\nsys.exit(code)")
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd)
    line = next((l for l in proc.stderr.splitlines() if l.startswith("MODULES ")), "MODULES ")
    return set(line.split()[1:]), proc


def test_what_a_clean_toml_check_imports():
    # the seed (findings, text output) and a clean plan: neither pays for what only other paths need
    for plan in ("examples/seed-moe-64e-3dev.toml", "examples/mixtral-8x7b-h100.plan.toml"):
        names, proc = modules_after_run("check", plan)
        assert proc.returncode in (0, 1), proc.stderr[-2000:]
        assert "deploylint.plugins.memory" in names, "the built-in rules ran"
        heavy = {"jsonschema", "libcst", "yaml", "pygls", "lsprotocol", "difflib", "importlib.metadata", "zipfile",
                 "tempfile", "importlib.resources", "hypothesis",
                 # the value types are records (deploylint.core.records), not dataclasses built at start-up
                 "dataclasses",
                 # the built-in plugins alone are called without pluggy (core/host/hookcalls.py), nor inspect
                 "pluggy", "inspect",
                 # the plain `check PATH` is read without argparse (core/frontends/replay.py)
                 "argparse",
                 # the rules' time budget is an alarm set through _signal, in the one thread (core/host/containment.py)
                 "threading", "signal"}
        leaked = sorted(n for n in names if n in heavy or n.split(".")[0] in heavy)
        assert leaked == [], f"{plan}: imported on the clean TOML path: {leaked}"


def test_a_repeated_check_is_answered_before_anything_is_parsed_or_loaded():
    # the second run of the same command on the same bytes replays the first's output (core/frontends/replay.py):
    # no configuration, plugin, plan parser or report is imported, nor the standard modules they need
    first, proc = modules_after_run("check", "examples/seed-moe-64e-3dev.toml")
    assert proc.returncode == 1 and "deploylint.plugins.memory" in first
    names, again = modules_after_run("check", "examples/seed-moe-64e-3dev.toml")
    assert (again.returncode, again.stdout) == (proc.returncode, proc.stdout)
    # (an editable install also imports the two packages whose source files its key hashes; a release does not)
    ours = sorted(n for n in names if n.startswith("deploylint") and n not in ("deploylint.plugins", "deploylint.schemas"))
    assert ours == ["deploylint", "deploylint.core", "deploylint.core.frontends", "deploylint.core.frontends.cli",
                    "deploylint.core.frontends.replay", "deploylint.core.pipeline",
                    "deploylint.core.pipeline.cache_inputs"], ours
    leaked = sorted({"tomllib", "argparse", "json", "typing", "pluggy", "importlib.metadata", "dataclasses"} & names)
    assert leaked == [], f"imported by a replayed check: {leaked}"


def test_the_version_is_printed_without_a_parser():
    names, proc = modules_after_run("--version")
    from deploylint.core import __version__

    assert (proc.returncode, proc.stdout) == (0, f"deploylint {__version__}\n")
    assert "argparse" not in names and "deploylint.core.diagnostics" not in names
    # the same words as with another option beside it, which goes through the parser
    both, with_command = modules_after_run("--version", "check")
    assert with_command.stdout == proc.stdout and "argparse" in both
