"""[tool.deploylint] discovery, validation and selection."""

import fnmatch

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from deploylint.core.pipeline.config import Config, ConfigError, config_from_table, glob_match, load_config
from deploylint.core.diagnostics import Severity


def test_nearest_config_wins_and_pyproject_without_table_is_skipped(tmp_path):
    (tmp_path / "deploylint.toml").write_text('ignore = ["MEM102"]\nfail-on = "error"\n')
    sub = tmp_path / "team"
    sub.mkdir()
    (sub / "pyproject.toml").write_text('[project]\nname = "x"\n')
    cfg = load_config(start_dir=str(sub))
    assert cfg.source == str(tmp_path / "deploylint.toml")
    assert cfg.ignore == ["MEM102"] and cfg.fail_on is Severity.ERROR
    (sub / "pyproject.toml").write_text('[tool.deploylint]\nselect = ["MOE"]\n')
    assert load_config(start_dir=str(sub)).select == ["MOE"]


def test_unknown_key_is_an_error_with_line_and_suggestion(tmp_path):
    f = tmp_path / "pyproject.toml"
    f.write_text('[tool.deploylint]\nselect = ["MOE"]\nignroe = ["MEM102"]\n')
    with pytest.raises(ConfigError) as err:
        load_config(start_dir=str(tmp_path))
    assert f"{f}:3" in str(err.value) and "did you mean 'ignore'" in str(err.value)


@pytest.mark.parametrize("table, words", [
    ({"select": "MOE"}, "select must be a list"),
    ({"severity": {"MOE301": "fatal"}}, "unknown severity 'fatal'"),
    ({"thresholds": {"x": "high"}}, "thresholds.x must be a finite number"),
    ({"thresholds": ["x"]}, "thresholds must be a table"),
    ({"fail-on": "loud"}, "unknown severity"),
    ({"rule-timeout": 0}, "rule-timeout must be"),
    ({"plugins": [3]}, "plugins must be"),
])
def test_invalid_values_are_clear_errors(table, words):
    with pytest.raises(ConfigError, match=words):
        config_from_table(table)


def test_invalid_toml_is_a_config_error(tmp_path):
    (tmp_path / "deploylint.toml").write_text("select = [\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(start_dir=str(tmp_path))


def test_longest_prefix_decides_between_select_and_ignore(tmp_path):
    cfg = config_from_table({"select": ["MOE", "PAR405"], "ignore": ["MOE3", "PAR"]})
    assert not cfg.is_selected("MOE301")           # MOE3 (4) beats MOE (3)
    assert cfg.is_selected("PAR405")                # PAR405 (6) beats PAR (3)
    assert not cfg.is_selected("PAR401")
    assert not cfg.is_selected("MEM101")            # not selected at all
    assert Config().is_selected("MEM101")           # default: ALL


def test_per_file_ignores_match_relative_globs(tmp_path):
    (tmp_path / "deploylint.toml").write_text('[per-file-ignores]\n"legacy/*.toml" = ["MEM"]\n')
    cfg = load_config(start_dir=str(tmp_path))
    assert not cfg.is_selected("MEM102", str(tmp_path / "legacy" / "old.toml"))
    assert cfg.is_selected("MEM102", str(tmp_path / "new.toml"))


def test_plugins_table_carries_options_and_module_list():
    cfg = config_from_table({"plugins": {"load": ["acme_rules"], "acme": {"max_ep": 8}}})
    assert cfg.plugins == ["acme_rules"]
    assert cfg.plugin_options("acme") == {"max_ep": 8}
    assert cfg.plugin_options("other") == {}


@settings(max_examples=2000, deadline=None)
@given(name=st.text(alphabet="ab./-*?[]", max_size=12), pattern=st.text(alphabet="ab.*/?[]!-", max_size=10))
@example(name="deploy.toml", pattern="deploy*.toml")
@example(name="deploy.toml.toml", pattern="deploy*.toml")
@example(name="deploytoml", pattern="deploy*.toml")
@example(name="x.plan.toml", pattern="*.plan.toml")
@example(name="plans/a.plan.toml", pattern="*.plan.toml")
@example(name="aba", pattern="a*b*a")
@example(name="ab", pattern="a*b*b")
@example(name="a", pattern="a**")
def test_include_and_exclude_globs_match_as_fnmatch_does(name, pattern):
    assert glob_match(name, pattern) == fnmatch.fnmatch(name, pattern)
