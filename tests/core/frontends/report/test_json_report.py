"""The JSON and SARIF reports are written by our own indenting encoder: the same text as ``json.dumps(indent=2)``."""

import json
import os

import pytest

from hypothesis import given, settings
from hypothesis import strategies as st

from deploylint.core.frontends.cli import main
from deploylint.core.diagnostics import Diagnostic, Range, Severity
from deploylint.core.frontends.report.json_report import dumps, render, written

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))

leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                   st.text(), st.sampled_from(["\u2028", "\x00", "é", '"', "\\", "\ud800"]))
keys = st.one_of(st.text(), st.integers(), st.floats(), st.booleans(), st.none())
values = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner), st.tuples(inner, inner), st.lists(st.integers(), min_size=1),
    st.dictionaries(keys, inner)), max_leaves=40)


@settings(max_examples=400, deadline=None)
@given(values)
def test_the_text_is_json_dumps_with_an_indent_of_two(value):
    assert dumps(value) == json.dumps(value, indent=2, ensure_ascii=False)


def test_what_it_does_not_know_is_left_to_json_dumps():
    class Opaque:
        pass
    with pytest.raises(TypeError) as ours:
        dumps({"x": Opaque()})
    with pytest.raises(TypeError) as theirs:
        json.dumps({"x": Opaque()}, indent=2, ensure_ascii=False)
    assert str(ours.value) == str(theirs.value)          # json.dumps's own refusal, not one of ours


def test_the_reports_of_the_examples_are_json_dumps_text(capsys):
    for fmt in ("json", "sarif"):
        main(["check", os.path.join(ROOT, "examples"), "--format", fmt, "--no-cache"])
        out = capsys.readouterr().out
        assert out == json.dumps(json.loads(out), indent=2, ensure_ascii=False) + "\n"


def _report_as_json_dumps_writes_it(diagnostics, files, fixed=0):
    summary = {"files": files, **{s.value: sum(1 for d in diagnostics if d.severity is s) for s in Severity}}
    if fixed:
        summary["fixed"] = fixed
    return json.dumps({"version": 1, "diagnostics": [d.to_json() for d in diagnostics], "summary": summary},
                      indent=2, ensure_ascii=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(Severity)), st.text(), values), max_size=4),
       st.integers(0, 3), st.lists(st.booleans(), min_size=4, max_size=4))
def test_a_report_of_findings_written_in_the_workers_is_the_report_written_at_once(found, fixed, sent_written):
    diagnostics = [Diagnostic("X001", severity, message, "/a", Range.at(1, 1), data={"value": value}, file="p.toml")
                   for severity, message, value in found]
    # a worker process sends a finding as its text (json_report.written); the run's own findings stay as they are
    mixed = [written(d) if w else d for d, w in zip(diagnostics, sent_written)]
    expected = _report_as_json_dumps_writes_it(diagnostics, len(found), fixed)
    assert render(diagnostics, len(found), fixed=fixed) == expected
    assert render(mixed, len(found), fixed=fixed) == expected


def test_the_report_of_the_examples_is_the_same_from_written_findings(tmp_path):
    from deploylint.core.pipeline.engine import Engine
    from deploylint.core.host.registry import Registry

    engine = Engine(Registry().load())
    diagnostics = [d for name in sorted(os.listdir(os.path.join(ROOT, "examples")))
                   if name.endswith((".toml", ".yaml", ".json"))
                   for d in engine.check_path(os.path.join(ROOT, "examples", name)).diagnostics]
    assert len(diagnostics) > 10 and any(d.fixes and d.fixes[0].edits for d in diagnostics)
    expected = _report_as_json_dumps_writes_it(diagnostics, 7)
    assert render([written(d) for d in diagnostics], 7) == expected
