"""The JSON loader: values, exact spans (non-ASCII, CRLF), positioned errors and hostile-input limits.

Expected positions are counted by hand from the fixture text (1-based line,
1-based column in code points; a range's end is the first position after the
token). Key spans include the key's quotes; string value spans include theirs.
"""

import json

import pytest

from deploylint.core.diagnostics import Position, Range
from deploylint.core.document.sources import SourceError, json_source

PLAN = (
    "{\n"                                                              # 1
    '  "schema_version": 1,\n'                                         # 2
    '  "name": "\u03a9mega-MoE \U0001F600",\n'                         # 3
    '  "model": {\n'                                                   # 4
    '    "layers": 24,\n'                                              # 5
    '    "moe": {"kind": "\u03c9\u03bc\u00e9 \U0001F600", "top_k": 2}\n'  # 6
    "  },\n"                                                           # 7
    '  "parallelism": {\n'                                             # 8
    '    "tp": 2,\n'                                                   # 9
    '    "ep": 4,\n'                                                   # 10
    '    "expert_placement": [[0, 1, 2], [3, 4]]\n'                    # 11
    "  },\n"                                                           # 12
    '  "workload": {"mode": "training", "dtype": "bf16"}\n'            # 13
    "}\n"                                                              # 14
)

DATA = {
    "schema_version": 1,
    "name": "\u03a9mega-MoE \U0001F600",
    "model": {"layers": 24, "moe": {"kind": "\u03c9\u03bc\u00e9 \U0001F600", "top_k": 2}},
    "parallelism": {"tp": 2, "ep": 4, "expert_placement": [[0, 1, 2], [3, 4]]},
    "workload": {"mode": "training", "dtype": "bf16"},
}

VALUE_RANGES = {
    "": ((1, 1), (14, 2)),
    "/name": ((3, 11), (3, 24)),                    # quotes + 11 code points
    "/model": ((4, 12), (7, 4)),
    "/model/moe": ((6, 12), (6, 41)),
    "/model/moe/kind": ((6, 21), (6, 28)),
    "/model/moe/top_k": ((6, 39), (6, 40)),         # after the non-ASCII string on the same line
    "/parallelism": ((8, 18), (12, 4)),
    "/parallelism/ep": ((10, 11), (10, 12)),
    "/parallelism/expert_placement": ((11, 25), (11, 44)),
    "/parallelism/expert_placement/0": ((11, 26), (11, 35)),
    "/parallelism/expert_placement/1/1": ((11, 41), (11, 42)),
    "/workload/dtype": ((13, 45), (13, 51)),
}
KEY_RANGES = {  # quotes included
    "/name": ((3, 3), (3, 9)),
    "/model/moe/top_k": ((6, 30), (6, 37)),
    "/parallelism": ((8, 3), (8, 16)),
    "/parallelism/ep": ((10, 5), (10, 9)),
    "/parallelism/expert_placement": ((11, 5), (11, 23)),
}


def load(text):
    return json_source.load("plan.json", text)


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
    assert doc.format == "json"
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
    assert cut("/parallelism/ep", "key") == '"ep"'
    assert cut("/name") == '"\u03a9mega-MoE \U0001F600"'
    assert cut("/parallelism/expert_placement") == "[[0, 1, 2], [3, 4]]"
    assert cut("/model") == '{' + newline + '    "layers": 24,' + newline + \
        '    "moe": {"kind": "\u03c9\u03bc\u00e9 \U0001F600", "top_k": 2}' + newline + "  }"
    assert doc.spans["/parallelism/expert_placement/1"].key is None
    # every value span holds exactly the JSON of its value
    for pointer, node in doc.spans.items():
        value = doc.data
        for token in [t for t in pointer.split("/")[1:]]:
            value = value[int(token)] if isinstance(value, list) else value[token]
        assert json.loads(text[node.value.start:node.value.end]) == value


def test_escaped_keys_and_literals():
    text = '{"a\\"b": -0.5e+2, "\\u00e9": [true, false, null], "s": "x\\ny"}'
    doc = load(text)
    assert doc.data == {'a"b': -50.0, "\u00e9": [True, False, None], "s": "x\ny"}
    assert text[doc.spans['/a"b'].key.start:doc.spans['/a"b'].key.end] == '"a\\"b"'
    assert text[doc.spans["/\u00e9"].key.start:doc.spans["/\u00e9"].key.end] == '"\\u00e9"'
    assert text[doc.spans["/\u00e9/2"].value.start:doc.spans["/\u00e9/2"].value.end] == "null"
    assert text[doc.spans["/s"].value.start:doc.spans["/s"].value.end] == '"x\\ny"'


def test_pointer_tokens_are_escaped():
    doc = load('{"a/b": {"c~d": 1}}')
    assert "/a~1b/c~0d" in doc.spans


# --- errors with exact positions ---------------------------------------------------------------

@pytest.mark.parametrize("text, at, message", [
    ('{\n  "a": 1,\n}\n', (3, 1), "expected another key after ',' (JSON allows no trailing comma before '}')"),
    ('{"a": [1, 2,]}', (1, 13), "expected a value after ',' (JSON allows no trailing comma before ']')"),
    ('{\n  "a": 1\n  "b": 2\n}\n', (3, 3), "expected ',' or '}' after an object member"),
    ('{"a": [1\n 2]}', (2, 2), "expected ',' or ']' after an array item"),
    ('{"a" 1}', (1, 6), "expected ':' after the key"),
    ('{"a": "x', (1, 7), "this string is not closed"),
    ('{"a": "x\n"}', (1, 9), "control character"),
    ("{'a': 1}", (1, 2), "keys must be in double quotes"),
    ('{"a": 1}\n{"b": 2}\n', (2, 1), "unexpected text after the top-level value"),
    # non-ASCII before the error: columns count code points (😀 is one)
    ('{"\u03c9\u00e9\U0001F600": 1 "b": 2}', (1, 11), "expected ',' or '}' after an object member"),
    ('{"a": tru}', (1, 7), "unexpected 'tru': expected a value"),
    ('{"a": "\\q"}', (1, 8), "invalid escape"),
    ('{"a": 1', (1, 8), "expected ',' or '}' after an object member, but the file ends here"),
])
def test_syntax_errors_point_at_the_problem(text, at, message):
    exc = error(text)
    assert start(exc.range) == at
    assert exc.message.startswith("invalid JSON: ")
    assert message in exc.message
    crlf = error(text.replace("\n", "\r\n"))
    assert start(crlf.range) == at


def test_what_we_say_does_not_depend_on_the_stdlib_wording(monkeypatch):
    # The stdlib only decides *whether* the text is JSON; the message and the position are ours.
    def refuses(text, **_):
        raise json.JSONDecodeError("some other wording entirely", text, 0)

    monkeypatch.setattr(json_source.json, "loads", refuses)
    exc = error('{\n  "a": 1\n  "b": 2\n}\n')
    assert exc.message == "invalid JSON: expected ',' or '}' after an object member"
    assert start(exc.range) == (3, 3)


@pytest.mark.parametrize("cut", range(0, len(PLAN) + 1, 3))
def test_our_reader_and_the_stdlib_agree_on_what_is_json(cut):
    # Every prefix of a plan (and the prefix with a stray character) is refused by both or by neither.
    for text in (PLAN[:cut], PLAN[:cut] + "]", PLAN[:cut] + ",}", PLAN[:cut] + "'"):
        try:
            json.loads(text)
            valid = True
        except json.JSONDecodeError:
            valid = False
        assert (json_source.first_error(text) is None) == valid, text


def test_lone_cr_line_endings_count_as_lines_like_the_document_does():
    exc = error('{"a": 1,\r"b": }')
    assert start(exc.range) == (2, 6)


def test_duplicate_key_is_reported_at_the_second_occurrence():
    exc = error('{\n  "parallelism": {\n    "ep": 4,\n    "ep": 8\n  }\n}\n')
    assert exc.message == "duplicate key 'ep' (first at line 3)"
    assert rng(exc.range) == ((4, 5), (4, 9))


def test_duplicate_key_after_non_ascii_with_crlf():
    exc = error('{"\u00e9": 1,\r\n "\u00e9": 2}')
    assert exc.message == "duplicate key '\u00e9' (first at line 1)"
    assert rng(exc.range) == ((2, 2), (2, 5))


@pytest.mark.parametrize("text, span, shown", [
    ('{"a": NaN}', ((1, 7), (1, 10)), "NaN"),
    ('{"a":\n  -Infinity}', ((2, 3), (2, 12)), "-Infinity"),
    ('{"a": [1, Infinity]}', ((1, 11), (1, 19)), "Infinity"),
    ('{"a": 1e999}', ((1, 7), (1, 12)), "1e999"),  # overflows to inf in Python's parser
])
def test_non_finite_numbers_are_refused_at_the_value(text, span, shown):
    exc = error(text)
    assert exc.message.startswith(f"{shown} is not a finite number")
    assert rng(exc.range) == span


def test_integer_too_long_for_python_is_refused_at_the_value():
    exc = error('{"a": ' + "9" * 5000 + "}")
    assert "5000 digits" in exc.message
    assert rng(exc.range) == ((1, 7), (1, 5007))


@pytest.mark.parametrize("text, kind, end", [
    ("[1, 2]", "an array", (1, 7)),
    ('"plan"', "a string", (1, 7)),
    ("3", "a number", (1, 2)),
    ("null", "null", (1, 5)),
    ("true", "a boolean", (1, 5)),
])
def test_top_level_must_be_an_object(text, kind, end):
    exc = error(text)
    assert exc.message == f"a plan must be a mapping (a JSON object) at the top level, got {kind}"
    assert rng(exc.range) == ((1, 1), end)


@pytest.mark.parametrize("text", ["", "   ", "\r\n\r\n"])
def test_empty_file(text):
    exc = error(text)
    assert exc.message.startswith("the file is empty")
    assert exc.range.start == Position(1, 1)


# --- hostile input: bounded, no traceback ---------------------------------------------------------

@pytest.mark.parametrize("text", ["[" * 10_000, "[" * 10_000 + "]" * 10_000, '{"a": ' + "[" * 100_000])
def test_ten_thousand_nested_brackets_are_refused_at_level_65(text):
    exc = error(text)
    assert exc.message == "the JSON nests deeper than 64 levels"
    assert start(exc.range) == ((1, 65) if text[0] == "[" else (1, 70))


def test_moderate_over_nesting_json_accepts_is_refused_by_the_scanner():
    # 100 levels parse fine in Python's json; the loader caps at 64: the object is level 1,
    # so the 64th '[' (at index 6 + 63 = 69, column 70) is level 65.
    exc = error('{"a": ' + "[" * 100 + "]" * 100 + "}")
    assert exc.message == "the JSON nests deeper than 64 levels"
    assert rng(exc.range) == ((1, 70), (1, 71))


def test_64_levels_are_allowed():
    doc = load('{"a": ' + "[" * 63 + "]" * 63 + "}")
    assert "/a" in doc.spans


@pytest.mark.parametrize("cut", range(0, len(PLAN), 5))
def test_every_truncation_is_a_document_or_a_source_error(cut):
    for text in (PLAN[:cut], PLAN[:cut] + "}", PLAN[:cut] + '"', PLAN[:cut] + "NaN}", PLAN[:cut] + ',"a": 1}'):
        try:
            load(text)
        except SourceError as exc:
            assert exc.message and exc.range is not None
