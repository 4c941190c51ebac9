"""Thresholds belong to their rule (issue 10, §3): per-rule tables, no silent sharing, collisions named."""

import os
import types

import pytest

from deploylint.core import Rule, Severity, hookimpl
from deploylint.core.host.registry import Registry, RegistryError
from deploylint.core.pipeline.config import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
with open(os.path.join(ROOT, "examples", "seed-moe-64e-3dev.toml"), encoding="utf-8") as fh:
    SEED = fh.read()       # CMP201 fires on it (MFU 0.63% < 10%), MEM102 too (0.65% of memory used < 30%)


def _plugin(name, *rules):
    mod = types.ModuleType(name)
    mod.deploylint_rules = hookimpl(lambda: [r() for r in rules])
    return mod


def _reader(code, declared, reads=None):
    """A rule that declares ``declared`` and reports the value it reads for ``reads`` (default: each declared name)."""

    class Reader(Rule):
        name = "reads-" + code.lower()
        severity = Severity.INFO
        summary = "Reports the thresholds it reads."
        thresholds = declared

        def check(self, ctx):
            names = [reads] if reads else list(self.thresholds)
            yield self.report("/hardware", "read", data={n: ctx.threshold(n) for n in names})

    Reader.code = code
    return Reader


ACME = _plugin("acme", _reader("ACME201", {"utilization_min": 0.50}))


def test_a_plugins_threshold_is_its_own_not_a_builtin_rules_of_the_same_name(deploylint):
    result = deploylint.lint(SEED, plugins=[ACME])
    assert result.one("ACME201").data == {"utilization_min": 0.50}
    assert result.one("CMP201").data["threshold"] == 0.10


def test_a_rule_table_sets_only_that_rules_threshold(deploylint):
    result = deploylint.lint(SEED, plugins=[ACME], config={"thresholds": {"ACME201": {"utilization_min": 0.6}}})
    assert result.one("ACME201").data == {"utilization_min": 0.6}
    assert result.one("CMP201").data["threshold"] == 0.10
    result = deploylint.lint(SEED, plugins=[ACME], config={"thresholds": {"CMP201": {"utilization_min": 0.005}}})
    assert result.one("ACME201").data == {"utilization_min": 0.50}
    assert result.with_code("CMP201") == []            # 0.63% is above the configured 0.5%


def test_a_prefix_table_and_the_older_bare_names_reach_the_one_rule_that_declares_them(deploylint):
    by_prefix = deploylint.lint(SEED, config={"thresholds": {"MEM": {"memory_utilization_min": 0.005}}})
    assert by_prefix.with_code("MEM102") == []
    assert by_prefix.one("CMP201").data["threshold"] == 0.10
    bare = deploylint.lint(SEED, config={"thresholds": {"utilization_min": 0.005}})
    assert bare.with_code("CMP201") == [] and bare.with_code("MEM102")
    # the most specific setting wins
    both = deploylint.lint(SEED, config={"thresholds": {"utilization_min": 0.005, "CMP": {"utilization_min": 0.9}}})
    assert both.one("CMP201").data["threshold"] == 0.9


def test_a_bare_name_two_rules_declare_is_an_error_naming_both_owners(deploylint):
    with pytest.raises(ConfigError) as err:
        deploylint.lint(SEED, plugins=[ACME], config={"thresholds": {"utilization_min": 0.2}})
    message = str(err.value)
    assert "'utilization_min'" in message and "ACME201 (plugin 'acme')" in message
    assert "CMP201 (plugin 'deploylint.plugins.compute')" in message and "[thresholds.CMP201]" in message


def test_two_rules_of_one_prefix_declaring_one_name_is_a_load_error_naming_both():
    clash = _plugin("acme_clash", _reader("ACME301", {"max_ep": 8}), _reader("ACME302", {"max_ep": 16}))
    reg = Registry()
    reg.register_object(clash, "acme_clash")
    with pytest.raises(RegistryError) as err:
        reg.load(autoload=False)
    message = str(err.value)
    assert "'max_ep'" in message and "ACME301" in message and "ACME302" in message
    assert "[tool.deploylint.thresholds.ACME]" in message


@pytest.mark.parametrize("thresholds, words", [
    ({"CMP201": {"utilisation_min": 0.2}}, ["unknown threshold 'utilisation_min' in [thresholds.CMP201]", "did you mean 'utilization_min'"]),
    ({"CMP209": {"utilization_min": 0.2}}, ["no loaded rule has the code or prefix CMP209"]),
    ({"memory_targett": 0.8}, ["unknown threshold 'memory_targett'", "did you mean 'memory_target'"]),
    ({"CMP201": {"utilization_min": "low"}}, ["thresholds.CMP201.utilization_min must be a finite number"]),
    ({"CMP201": {"utilization_min": float("nan")}}, ["must be a finite number"]),
    ({"cmp 201": {"utilization_min": 0.2}}, ["rule code or code prefix"]),
])
def test_threshold_settings_no_rule_owns_are_errors(deploylint, thresholds, words):
    with pytest.raises(ConfigError) as err:
        deploylint.lint(SEED, config={"thresholds": thresholds})
    for w in words:
        assert w in str(err.value)


def test_a_rule_declaring_bad_thresholds_or_reading_an_undeclared_one_is_a_plugin_failure(deploylint):
    bad = _plugin("acme_bad", _reader("ACME401", {"Max EP": 8}), _reader("ACME402", {"ratio": True}))
    reg = deploylint.registry([bad])
    assert sorted(d.message.split(":")[-1].strip() for d in reg.failures) == [
        "threshold 'Max EP' of ACME401 is not a lower_snake_case name",
        "threshold 'ratio' of ACME402 must default to a finite number, got True",
    ]
    undeclared = _plugin("acme_undeclared", _reader("ACME501", {"ratio_max": 2.0}, reads="ratio_min"))
    result = deploylint.lint(SEED, plugins=[undeclared])
    failure = next(d for d in result.with_code("DL005") if d.data["rule"] == "ACME501")
    assert "'ratio_min' is not declared" in failure.message and "ratio_max" in failure.message
