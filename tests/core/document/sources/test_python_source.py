"""The Python loader: PLAN read with ast (never run), exact spans, positioned errors, limits.

Expected positions are counted by hand from the fixture text (1-based line,
1-based column in code points; a range's end is the first position after the
token). ast counts columns in UTF-8 bytes, so the non-ASCII text before some
values checks the conversion.
"""

import sys

import pytest

from deploylint.core.diagnostics import Position, Range
from deploylint.core.document.sources import SourceError, python_source

PLAN = (
    '"""Plan for \u03a9mega \u2713 (read, never run)."""\n'               # 1
    "PLAN = {\n"                                                          # 2
    '    "schema_version": 1,\n'                                          # 3
    '    "name": "\u03a9mega-MoE \U0001F600",\n'                          # 4
    '    "model": {\n'                                                    # 5
    '        "layers": 24,\n'                                             # 6
    '        "moe": {"kind": "\u03c9\u03bc\u00e9 \U0001F600", "top_k": 2},\n'  # 7
    "    },\n"                                                            # 8
    '    "parallelism": dict(\n'                                          # 9
    "        tp=2,\n"                                                     # 10
    "        ep=4,\n"                                                     # 11
    "        expert_placement=[[0, 1, 2], (3, 4)],\n"                     # 12
    "    ),\n"                                                            # 13
    "    \"workload\": {\"mode\": \"training\", \"dtype\": 'bf16'},\n"    # 14
    "}\n"                                                                 # 15
)

DATA = {
    "schema_version": 1,
    "name": "\u03a9mega-MoE \U0001F600",
    "model": {"layers": 24, "moe": {"kind": "\u03c9\u03bc\u00e9 \U0001F600", "top_k": 2}},
    "parallelism": {"tp": 2, "ep": 4, "expert_placement": [[0, 1, 2], [3, 4]]},
    "workload": {"mode": "training", "dtype": "bf16"},
}

VALUE_RANGES = {
    "": ((2, 8), (15, 2)),
    "/name": ((4, 13), (4, 26)),
    "/model": ((5, 14), (8, 6)),
    "/model/moe": ((7, 16), (7, 45)),
    "/model/moe/kind": ((7, 25), (7, 32)),
    "/model/moe/top_k": ((7, 43), (7, 44)),       # 10 UTF-8 bytes of ωμé😀 before it are 4 code points
    "/parallelism": ((9, 20), (13, 6)),           # the whole dict( ... ) call
    "/parallelism/ep": ((11, 12), (11, 13)),
    "/parallelism/expert_placement": ((12, 26), (12, 45)),
    "/parallelism/expert_placement/0": ((12, 27), (12, 36)),
    "/parallelism/expert_placement/1": ((12, 38), (12, 44)),  # a tuple, read as a list
    "/parallelism/expert_placement/1/1": ((12, 42), (12, 43)),
    "/workload/dtype": ((14, 47), (14, 53)),
}
KEY_RANGES = {
    "/name": ((4, 5), (4, 11)),                   # a dict key: the string literal, quotes included
    "/model/moe/top_k": ((7, 34), (7, 41)),
    "/parallelism": ((9, 5), (9, 18)),
    "/parallelism/ep": ((11, 9), (11, 11)),       # a dict(...) keyword: the name
    "/parallelism/expert_placement": ((12, 9), (12, 25)),
}


def load(text):
    return python_source.load("plan.py", text)


def rng(r: Range):
    return (r.start.line, r.start.column), (r.end.line, r.end.column)


def start(r: Range):
    return r.start.line, r.start.column


def pointers(value, prefix=""):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from pointers(v, f"{prefix}/{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from pointers(v, f"{prefix}/{i}")


def error(text) -> SourceError:
    with pytest.raises(SourceError) as info:
        load(text)
    return info.value


# --- values and spans -------------------------------------------------------------------------

@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_values_and_every_pointer_has_a_span(newline):
    doc = load(PLAN.replace("\n", newline))
    assert doc.format == "python"
    assert doc.data == DATA
    assert doc.newline == newline
    assert set(doc.spans) == set(pointers(DATA))


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("pointer", sorted(VALUE_RANGES))
def test_value_ranges_counted_by_hand(pointer, newline):
    doc = load(PLAN.replace("\n", newline))
    assert rng(doc.lines.range(doc.spans[pointer].value)) == VALUE_RANGES[pointer]


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("pointer", sorted(KEY_RANGES))
def test_key_ranges_counted_by_hand(pointer, newline):
    doc = load(PLAN.replace("\n", newline))
    assert rng(doc.lines.range(doc.spans[pointer].key)) == KEY_RANGES[pointer]


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_spans_slice_the_tokens_out_of_the_text(newline):
    text = PLAN.replace("\n", newline)
    doc = load(text)

    def cut(pointer, part="value"):
        span = getattr(doc.spans[pointer], part)
        return text[span.start:span.end]

    assert cut("/parallelism/ep") == "4"
    assert cut("/parallelism/ep", "key") == "ep"
    assert cut("/model/moe/top_k", "key") == '"top_k"'
    assert cut("/name") == '"\u03a9mega-MoE \U0001F600"'
    assert cut("/workload/dtype") == "'bf16'"
    assert cut("/parallelism/expert_placement/1") == "(3, 4)"
    assert doc.spans["/parallelism/expert_placement/0"].key is None


def test_plan_equal_dict_call_at_the_top():
    text = "PLAN = dict(\n    schema_version=1,\n    parallelism=dict(ep=4),\n)\n"
    doc = load(text)
    assert doc.data == {"schema_version": 1, "parallelism": {"ep": 4}}
    assert rng(doc.lines.range(doc.spans["/parallelism/ep"].key)) == ((3, 22), (3, 24))
    assert rng(doc.lines.range(doc.spans["/parallelism/ep"].value)) == ((3, 25), (3, 26))
    assert rng(doc.lines.range(doc.spans["/parallelism"].key)) == ((3, 5), (3, 16))
    assert rng(doc.lines.range(doc.spans["/parallelism"].value)) == ((3, 17), (3, 27))
    assert rng(doc.lines.range(doc.spans[""].value)) == ((1, 8), (4, 2))


def test_annotated_assignment_and_literal_forms():
    text = ('from typing import Any\nPLAN: dict[str, Any] = {\n    "neg": -4, "pos": +2.5, "s": "a" \'b\'\n'
            '        "c",\n    "t": (1,), "n": None, "b": False,\n}\n')
    doc = load(text)
    assert doc.data == {"neg": -4, "pos": 2.5, "s": "abc", "t": [1], "n": None, "b": False}
    assert text[doc.spans["/neg"].value.start:doc.spans["/neg"].value.end] == "-4"  # the sign is part of it
    assert rng(doc.lines.range(doc.spans["/s"].value)) == ((3, 34), (4, 12))  # implicit concatenation over 2 lines


# --- the file is never executed -------------------------------------------------------------------

def test_code_around_plan_is_never_executed(tmp_path):
    sentinel = tmp_path / "ran.txt"
    text = (
        "import os\n"
        "import pathlib\n"
        f"pathlib.Path({str(sentinel)!r}).write_text('ran')\n"
        f"os.system('echo ran > {sentinel}')\n"
        'PLAN = {"schema_version": 1, "name": "safe"}\n'
        "raise SystemExit('executed')\n"
    )
    modules = set(sys.modules)
    doc = load(text)
    assert doc.data == {"schema_version": 1, "name": "safe"}
    assert not sentinel.exists()
    assert "plan" not in set(sys.modules) - modules


def test_code_inside_plan_is_refused_not_run(tmp_path):
    sentinel = tmp_path / "ran.txt"
    text = f'PLAN = {{"a": __import__("pathlib").Path({str(sentinel)!r}).write_text("x")}}\n'
    exc = error(text)
    assert exc.message.startswith("PLAN must contain only literals: found a function call `__import__(")
    assert start(exc.range) == (1, 14)
    assert not sentinel.exists()


# --- errors with exact positions ---------------------------------------------------------------

@pytest.mark.parametrize("text, span, found", [
    ('PLAN = {"a": foo()}\n', ((1, 14), (1, 19)), "a function call `foo()`"),
    ('PLAN = {"\u00e9": TP}\n', ((1, 14), (1, 16)), "the name `TP`"),            # é is 2 bytes, 1 column
    ('PLAN = {"a": f"{x}"}\n', ((1, 14), (1, 20)), "an f-string"),
    ('PLAN = {"a": [i for i in range(3)]}\n', ((1, 14), (1, 35)), "a comprehension"),
    ('PLAN = {"a": 2 * 4}\n', ((1, 14), (1, 19)), "an expression `2 * 4`"),
    ('PLAN = {"a": {1, 2}}\n', ((1, 14), (1, 20)), "a set"),
    ('PLAN = {"a": os.environ}\n', ((1, 14), (1, 24)), "the attribute `os.environ`"),
    ('PLAN = {"a": b"x"}\n', ((1, 14), (1, 18)), "a bytes literal"),
    ('PLAN = {"a": lambda: 1}\n', ((1, 14), (1, 23)), "a lambda"),
    ('PLAN = dict(ep=int("4"))\n', ((1, 16), (1, 24)), 'a function call `int("4")`'),
    ('PLAN = {"a": float("nan")}\n', ((1, 14), (1, 26)), "a function call"),
    ('PLAN = {\n    "m": {\n        "x": -True,\n    },\n}\n', ((3, 14), (3, 19)), "an expression `-True`"),
])
def test_non_literals_are_refused_at_the_node(text, span, found):
    exc = error(text)
    assert exc.message.startswith(f"PLAN must contain only literals: found {found}")
    assert rng(exc.range) == span


def test_unpacking_is_refused():
    exc = error("PLAN = {**BASE, 'a': 1}\n")
    assert "** unpacking" in exc.message
    assert rng(exc.range) == ((1, 11), (1, 15))
    exc = error("PLAN = dict(a=1, **BASE)\n")
    assert "** unpacking" in exc.message
    assert rng(exc.range) == ((1, 18), (1, 24))


def test_non_string_key_is_refused():
    exc = error('PLAN = {"a": 1, 2: "b"}\n')
    assert exc.message == "dict keys in PLAN must be strings: found a number `2`"
    assert rng(exc.range) == ((1, 17), (1, 18))


def test_positional_dict_argument_is_refused():
    exc = error('PLAN = dict({"a": 1})\n')
    assert "keyword arguments only" in exc.message
    assert start(exc.range) == (1, 13)


@pytest.mark.parametrize("text", ["", "x = 1\n", "def f():\n    PLAN = {}\n", "PLAN: dict\n", "if True:\n    PLAN = {}\n"])
def test_missing_plan(text):
    exc = error(text)
    assert exc.message.startswith("no module-level PLAN = {...} assignment")
    assert exc.range.start == Position(1, 1)


@pytest.mark.parametrize("text, span, found", [
    ("PLAN = [1, 2]\n", ((1, 8), (1, 14)), "a list `[1, 2]`"),
    ("PLAN = None\n", ((1, 8), (1, 12)), "None `None`"),
    ("PLAN = make_plan()\n", ((1, 8), (1, 19)), "a function call `make_plan()`"),
])
def test_plan_must_be_a_mapping(text, span, found):
    exc = error(text)
    assert exc.message.startswith("a plan must be a mapping at the top level")
    assert exc.message.endswith(f"got {found}")
    assert rng(exc.range) == span


def test_plan_assigned_twice_or_changed_later_is_refused():
    exc = error('PLAN = {"a": 1}\nPLAN = {"a": 2}\n')
    assert exc.message.startswith("PLAN is assigned a second time (first at line 1)")
    assert start(exc.range) == (2, 1)
    exc = error('PLAN = {"a": 1}\nx = 1\nPLAN["a"] = 2\n')
    assert exc.message.startswith("PLAN is changed after it is assigned (at line 1)")
    assert start(exc.range) == (3, 1)
    exc = error('PLAN = {"a": 1}\nPLAN.update(a=2)\n')
    assert start(exc.range) == (2, 1)


@pytest.mark.parametrize("text, span", [
    # non-ASCII before the error: the column counts code points (at the '$')
    ('PLAN = {"\u03c9\u00e9\U0001F600": 1 $ 2}\n', ((1, 18), (1, 19))),
    # a ']' was expected: at the '}' that closes too early
    ('PLAN = {\n  "a": [1, 2\n}\n', ((3, 1), (3, 2))),
    # an indented statement: at the statement, not inside its indentation
    ('PLAN = {"a": 1}\n  x = 2\n', ((2, 3), (2, 4))),
    # a string never closed: at its opening quote
    ('PLAN = {"\u00e9": "x}\n', ((1, 14), (1, 15))),
    # a parenthesis never closed: at the parenthesis
    ('PLAN = {"a": (1,\n', ((1, 14), (1, 15))),
])
def test_syntax_errors_point_at_the_problem(text, span):
    # The position and the prefix are deploylint's; the words after it are the Python parser's.
    exc = error(text)
    assert exc.message.startswith("invalid Python: ")
    assert len(exc.message) > len("invalid Python: ")
    assert rng(exc.range) == span
    assert rng(error(text.replace("\n", "\r\n")).range) == span


def test_missing_comma_error_spans_both_items():
    exc = error('PLAN = {\n    "a": 1\n    "b": 2,\n}\n')
    assert "comma" in exc.message
    assert rng(exc.range) == ((2, 10), (3, 8))


def test_duplicate_keys_are_reported_at_the_second_occurrence():
    exc = error('PLAN = {\n    "ep": 4,\n    "ep": 8,\n}\n')
    assert exc.message == "duplicate key 'ep' (first at line 2)"
    assert rng(exc.range) == ((3, 5), (3, 9))
    exc = error("PLAN = dict(\n    ep=4,\r\n    ep=8,\n)\n")  # Python's parser accepts a repeated keyword
    assert exc.message == "duplicate key 'ep' (first at line 2)"
    assert rng(exc.range) == ((3, 5), (3, 7))


@pytest.mark.parametrize("text, span", [
    ('PLAN = {"a": 1e999}\n', ((1, 14), (1, 19))),
    ('PLAN = {"a": -1e999}\n', ((1, 15), (1, 20))),
])
def test_non_finite_numbers_are_refused(text, span):
    exc = error(text)
    assert "is not a finite number" in exc.message
    assert rng(exc.range) == span


def test_null_character_is_reported_where_it_is():
    exc = error('PLAN = {"a": 1}\nx = 1\x00\n')
    assert "null" in exc.message
    assert exc.range.start == Position(2, 6)


def test_integer_too_long_points_at_the_literal():
    exc = error('x = 1\nPLAN = {"a": 1, "b": ' + "9" * 5000 + "}\n")
    assert exc.message == "invalid Python: an integer literal is too long to be a plan value"
    assert rng(exc.range) == ((2, 22), (2, 5022))


# --- hostile input: bounded, no traceback ---------------------------------------------------------

def test_nesting_past_64_levels_is_refused():
    exc = error("PLAN = " + '{"a": ' * 100 + "1" + "}" * 100 + "\n")
    assert exc.message == "PLAN nests deeper than 64 levels"
    # the root dict (column 8) is level 1; each '{"a": ' is 6 columns, so level 65 starts at 8 + 64 * 6
    assert start(exc.range) == (1, 392)


def test_64_levels_are_allowed():
    # 63 dicts (the root is the first) and a list: 64 levels
    doc = load("PLAN = " + '{"a": ' * 63 + "[1]" + "}" * 63 + "\n")
    assert "/a" * 63 + "/0" in doc.spans


def test_very_deep_brackets_are_refused_in_our_words_at_the_65th_bracket():
    exc = error("PLAN = " + "[" * 10_000)
    assert exc.message == "invalid Python: brackets nest deeper than 64 levels (a plan needs about four)"
    assert start(exc.range) == (1, 8 + 64)


def test_brackets_in_strings_and_comments_do_not_count_as_nesting():
    exc = error('PLAN = {"a": "' + "[" * 100 + '"}  # ' + "(" * 100 + "\nx = )\n")
    assert "nest deeper" not in exc.message
    assert start(exc.range)[0] == 2


def test_an_expression_too_deep_for_the_parser_is_a_source_error_on_its_line():
    # 100,000 unary minus signs: whichever limit the parser hits, the answer is a positioned DL001 message
    exc = error("x = " + "-" * 100_000 + "1\n")
    assert exc.message.startswith("invalid Python: ")
    assert start(exc.range)[0] == 1


@pytest.mark.parametrize("cut", range(0, len(PLAN), 5))
def test_every_truncation_is_a_document_or_a_source_error(cut):
    for text in (PLAN[:cut], PLAN[:cut] + "}", PLAN[:cut] + '"', PLAN[:cut] + ")\n}\n"):
        try:
            load(text)
        except SourceError as exc:
            assert exc.message and exc.range is not None


def test_unpaired_surrogate_from_an_editor_buffer_is_a_positioned_error():
    exc = error('PLAN = {"a": "\ud800"}\n')
    assert exc.message == "the text holds an unpaired surrogate U+D800, which is not valid Unicode"
    assert exc.range.start == Position(1, 15)


# --- the PLAN Python would see is the PLAN we lint (issue 16) ------------------------------------

@pytest.mark.parametrize("cookie", ["# -*- coding: utf-7 -*-", "# vim: set fileencoding=latin-1 :"])
def test_a_coding_cookie_for_another_encoding_is_refused(cookie):
    exc = error(cookie + '\nPLAN = {"a": 1}\n')
    assert "coding cookie declares" in exc.message and "a plan file is UTF-8" in exc.message
    assert start(exc.range)[0] == 1


def test_a_cookie_on_the_second_line_after_a_shebang_counts_and_utf8_cookies_are_fine():
    exc = error('#!/usr/bin/env python\n# coding: utf-7\nPLAN = {"a": 1}\n')
    assert start(exc.range)[0] == 2
    assert load('# -*- coding: utf-8 -*-\nPLAN = {"a": 1}\n').data == {"a": 1}
    # only the first two lines can hold a cookie
    assert load('PLAN = {"a": 1}\n# coding: utf-7\n').data == {"a": 1}


@pytest.mark.parametrize("text, line, where", [
    ('PLAN = {"a": 1}\nif True:\n    PLAN = {"a": 2}\n', 3, "bound again inside an if block"),
    ('PLAN = {"a": 1}\nfor PLAN in [{"a": 2}]:\n    pass\n', 2, "bound again inside a for loop"),
    ('PLAN = {"a": 1}\ndef f():\n    global PLAN\n    PLAN = {}\n', 3, "declared global inside a function"),
    ('PLAN = {"a": 1}\ntry:\n    PLAN["a"] = 2\nexcept Exception:\n    pass\n', 3, "changed inside a try block"),
    ('PLAN = {"a": 1}\nwith open("x") as f:\n    PLAN.update(a=2)\n', 3, "changed inside a with block"),
    ('PLAN = {"a": 1}\n(PLAN := {"a": 2})\n', 2, "bound a second time"),
    ('from os import environ as PLAN\nPLAN = {"a": 1}\n', 1, "bound by an import"),
])
def test_plan_bound_or_changed_outside_its_one_assignment_is_refused(text, line, where):
    exc = error(text)
    assert f"PLAN is {where} at line {line}" in exc.message
    assert start(exc.range)[0] == line


def test_other_names_in_blocks_are_fine():
    assert load('PLAN = {"a": 1}\nif True:\n    other = 2\n').data == {"a": 1}
