"""The repository's folders install as one package, deploylint, and nothing else leaks."""

import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_tests_import_the_installed_package_not_the_folders():
    # No top-level `core`, `plugins` or `schemas` module may be importable.
    for name in ("core", "plugins", "schemas"):
        assert importlib.util.find_spec(name) is None, name
    import deploylint.core
    import deploylint.plugins
    import deploylint.schemas

    assert os.path.basename(os.path.dirname(deploylint.core.__file__)) in ("core",)


def test_schema_is_package_data():
    import deploylint.schemas

    assert os.path.isfile(os.path.join(os.path.dirname(deploylint.schemas.__file__), "plan.schema.json"))


def test_console_script_is_installed():
    exe = shutil.which("deploylint", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    assert exe, "the deploylint console script is not on PATH"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("deploylint ")


@pytest.mark.slow
def test_a_normal_wheel_install_holds_only_the_deploylint_package(tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), ROOT],
                   check=True, capture_output=True)
    # `bin/` holds the console script pip writes next to a --target install
    top = sorted(p for p in os.listdir(target) if not p.endswith(".dist-info") and p != "bin")
    assert top == ["deploylint"]
    pkg = target / "deploylint"
    assert (pkg / "core" / "pipeline" / "engine.py").is_file()
    for sub in ("document/sources/toml_source.py", "estimate/analysis.py", "frontends/report/sarif.py",
                "document/writers/python_writer.py", "host/registry.py", "plan/resolve.py"):
        assert (pkg / "core" / sub).is_file(), sub
    assert (pkg / "plugins").is_dir()
    assert (pkg / "schemas" / "plan.schema.json").is_file()
    for build_dir in ("build", "deploylint.egg-info"):
        if os.path.exists(os.path.join(ROOT, build_dir)):
            # an in-tree build must stay ignored by git
            ignored = subprocess.run(["git", "check-ignore", build_dir], cwd=ROOT, capture_output=True)
            assert ignored.returncode == 0, build_dir
