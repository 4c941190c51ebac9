"""Plugin loading: built-ins through entry points, local modules, containment, code clashes."""

import subprocess
import sys
import textwrap
import types

import pytest

from deploylint.core import Rule, Severity, hookimpl
from deploylint.core.host.registry import Registry, RegistryError


def _plugin(name, rules=None, raises=None):
    mod = types.ModuleType(name)

    def deploylint_rules():
        if raises:
            raise raises
        return rules() if callable(rules) else rules

    mod.deploylint_rules = hookimpl(deploylint_rules)
    return mod


class Good(Rule):
    code = "ACME001"
    name = "acme-good"
    severity = Severity.WARNING
    summary = "A rule that is fine."


def test_builtin_rule_families_load_through_entry_points():
    reg = Registry().load()
    assert not reg.failures, [d.message for d in reg.failures]
    names = {p.name for p in reg.plugins}
    for family in ("memory", "compute", "experts", "parallelism", "claims"):
        assert f"deploylint.plugins.{family}" in names
    prefixes = {r.code[:3] for r in reg.rules}
    assert {"MEM", "CMP", "MOE", "PAR", "PRF"} <= prefixes


def test_a_plugin_that_raises_is_one_dl005_and_others_still_load():
    reg = Registry()
    reg.register_object(_plugin("broken", raises=RuntimeError("boom")), "broken")
    reg.register_object(_plugin("fine", rules=[Good()]), "fine")
    reg.load(autoload=False)
    assert [r.code for r in reg.rules] == ["ACME001"]
    (failure,) = reg.failures
    assert failure.code == "DL005" and "broken" in failure.message and "boom" in failure.message


def test_invalid_rules_are_reported_not_registered():
    class BadCode(Rule):
        code = "acme-1"
        name = "bad-code"

    class Reserved(Rule):
        code = "DL999"
        name = "reserved"

    reg = Registry()
    reg.register_object(_plugin("p", rules=[BadCode(), Reserved(), "not a rule"]), "p")
    reg.load(autoload=False)
    assert reg.rules == []
    messages = " | ".join(d.message for d in reg.failures)
    assert "'acme-1'" in messages and "reserves" in messages and "not a deploylint.core.Rule" in messages


def test_two_plugins_claiming_one_code_is_a_load_error_naming_both():
    reg = Registry()
    reg.register_object(_plugin("team_a", rules=[Good()]), "team_a")
    reg.register_object(_plugin("team_b", rules=[Good()]), "team_b")
    with pytest.raises(RegistryError, match="team_a.*team_b|team_b.*team_a"):
        reg.load(autoload=False)


def test_a_module_that_fails_to_import_is_contained():
    reg = Registry().load(autoload=False, modules=["no_such_module_for_deploylint"])
    (failure,) = reg.failures
    assert failure.code == "DL005" and "no_such_module_for_deploylint" in failure.message


@pytest.mark.slow
def test_plugin_installed_as_a_real_distribution_is_discovered(tmp_path):
    """Build and install a tiny distribution with pip, then ask the CLI which rules it has."""
    src = tmp_path / "src"
    (src / "acme_deploy_rules").mkdir(parents=True)
    (src / "pyproject.toml").write_text(textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "acme-deploy-rules"
        version = "2.3.4"
        [project.entry-points.deploylint]
        acme = "acme_deploy_rules"
    """))
    (src / "acme_deploy_rules" / "__init__.py").write_text(textwrap.dedent("""
        from deploylint.core import Rule, hookimpl

        class NoFp32(Rule):
            code = "ACME010"
            name = "no-fp32-in-production"
            summary = "Production plans use bf16 or fp8."

        @hookimpl
        def deploylint_rules():
            return [NoFp32()]
    """))
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(src)],
                   check=True, capture_output=True)
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "deploylint.core.frontends.cli", "plugins"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    line = next(l for l in out.stdout.splitlines() if l.startswith("acme_deploy_rules"))
    assert "2.3.4" in line and "ACME010" in line
    rules = subprocess.run([sys.executable, "-m", "deploylint.core.frontends.cli", "rules"], capture_output=True, text=True, env=env)
    assert "ACME010" in rules.stdout and "no-fp32-in-production" in rules.stdout
