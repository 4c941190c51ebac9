"""The JSON and SARIF reports are written by our own indenting encoder: the same text as ``json.dumps(indent=2)``."""

import json
import os

from hypothesis import given, settings
from hypothesis import strategies as st

from deploylint.core.frontends.cli import main
from deploylint.core.frontends.report.json_report import dumps

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
    try:
        dumps({"x": Opaque()})
    except TypeError as exc:
        assert "Opaque" in str(exc)
    else:
        raise AssertionError("an object JSON cannot hold was written")


def test_the_reports_of_the_examples_are_json_dumps_text(capsys):
    for fmt in ("json", "sarif"):
        main(["check", os.path.join(ROOT, "examples"), "--format", fmt, "--no-cache"])
        out = capsys.readouterr().out
        assert out == json.dumps(json.loads(out), indent=2, ensure_ascii=False) + "\n"
