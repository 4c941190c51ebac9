"""The YAML loader: values, exact spans (non-ASCII, CRLF), positioned errors and hostile-input limits.

Expected positions are counted by hand from the fixture text (1-based line,
1-based column in code points; a range's end is the first position after the
token). Every test runs with libyaml's C parser and with PyYAML's pure-Python
parser (the fallback when PyYAML is built without libyaml): both must give the
same values and the same positions.
"""


import pytest
import yaml

from deploylint.core.diagnostics import Position, Range
from deploylint.core.document.sources import SourceError, yaml_source

# é is written as an escape so the fixture cannot pick up a decomposed form.
PLAN = (
    "# \u03a9mega plan \u2713 \u2014 64 experts\n"          # 1
    "schema_version: 1\n"                                     # 2
    'name: "\u03a9mega-MoE \U0001F600"\n'                     # 3
    "model:\n"                                                # 4
    "  layers: 24\n"                                          # 5
    '  moe: {kind: "\u03c9\u03bc\u00e9 \U0001F600", top_k: 2}\n'  # 6
    "parallelism:\n"                                          # 7
    "  tp: 2\n"                                               # 8
    "  ep: 4\n"                                               # 9
    "  expert_placement:\n"                                   # 10
    "    - [0, 1, 2]\n"                                       # 11
    "    - [3, 4]\n"                                          # 12
    "workload:\n"                                             # 13
    "  mode: training\n"                                      # 14
    "  dtype: 'bf16'\n"                                       # 15
)

DATA = {
    "schema_version": 1,
    "name": "\u03a9mega-MoE \U0001F600",
    "model": {"layers": 24, "moe": {"kind": "\u03c9\u03bc\u00e9 \U0001F600", "top_k": 2}},
    "parallelism": {"tp": 2, "ep": 4, "expert_placement": [[0, 1, 2], [3, 4]]},
    "workload": {"mode": "training", "dtype": "bf16"},
}

# pointer -> ((line, col), (line, col)) of the value, counted by hand from PLAN
VALUE_RANGES = {
    "": ((2, 1), (15, 16)),                       # first key .. end of 'bf16'
    "/name": ((3, 7), (3, 20)),                   # quotes + 11 code points (😀 is one)
    "/model": ((5, 3), (6, 33)),                  # block mapping: 'layers' .. closing '}'
    "/model/moe": ((6, 8), (6, 33)),              # '{' at 8, '}' at 32
    "/model/moe/kind": ((6, 15), (6, 22)),        # "ωμé 😀" is 5 code points + 2 quotes
    "/model/moe/top_k": ((6, 31), (6, 32)),       # after the non-ASCII string on the same line
    "/parallelism": ((8, 3), (12, 13)),
    "/parallelism/ep": ((9, 7), (9, 8)),
    "/parallelism/expert_placement": ((11, 5), (12, 13)),  # from the first '-' to the last ']'
    "/parallelism/expert_placement/0": ((11, 7), (11, 16)),
    "/parallelism/expert_placement/1/1": ((12, 11), (12, 12)),
    "/workload/dtype": ((15, 10), (15, 16)),      # quotes included
}
KEY_RANGES = {
    "/name": ((3, 1), (3, 5)),
    "/model/moe/top_k": ((6, 24), (6, 29)),
    "/parallelism": ((7, 1), (7, 12)),
    "/parallelism/ep": ((9, 3), (9, 5)),
    "/parallelism/expert_placement": ((10, 3), (10, 19)),
}


@pytest.fixture(params=["libyaml", "pure-python"], autouse=True)
def parser(request, monkeypatch):
    """Run each test with the C parser and again with the pure-Python fallback."""
    if request.param == "libyaml":
        if not getattr(yaml, "__with_libyaml__", False):
            pytest.fail("PyYAML here is built without libyaml; the C path cannot be tested")
    else:
        monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    return request.param


def load(text):
    return yaml_source.load("plan.yaml", text)


def rng(r: Range):
    return (r.start.line, r.start.column), (r.end.line, r.end.column)


def pointers(value, prefix=""):
    """Every JSON pointer in ``value`` (the root included)."""
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
    assert doc.format == "yaml"
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
    assert cut("/model/moe/top_k") == "2"
    assert cut("/name") == '"\u03a9mega-MoE \U0001F600"'
    assert cut("/workload/dtype") == "'bf16'"
    assert cut("/parallelism/expert_placement") == f"- [0, 1, 2]{newline}    - [3, 4]"
    assert doc.spans["/parallelism/expert_placement/0"].key is None  # list items have no key
    assert doc.spans[""].key is None


def test_utf16_column_counts_the_emoji_twice():
    doc = load(PLAN)
    # top_k's value is at code-point column 31 (0-based 30); 😀 before it is two UTF-16 units.
    assert doc.lines.utf16_position(doc.spans["/model/moe/top_k"].value.start) == (5, 31)


def test_quoted_keys_include_their_quotes_and_anchors_are_not_part_of_the_value():
    text = "'a b': &x 5\nc: !!str 7\nd: &m\n  e: 1\n"
    doc = load(text)
    assert doc.data == {"a b": 5, "c": "7", "d": {"e": 1}}
    assert text[doc.spans["/a b"].key.start:doc.spans["/a b"].key.end] == "'a b'"
    assert text[doc.spans["/a b"].value.start:doc.spans["/a b"].value.end] == "5"
    assert text[doc.spans["/c"].value.start:doc.spans["/c"].value.end] == "7"
    assert rng(doc.lines.range(doc.spans["/d"].value)) == ((4, 3), (4, 7))


def test_alias_value_spans_the_alias_and_its_children_the_anchored_definition():
    text = "base: &b {tp: 2, pp: 1}\nparallelism: *b\n"
    doc = load(text)
    assert doc.data["parallelism"] == {"tp": 2, "pp": 1}
    assert rng(doc.lines.range(doc.spans["/parallelism"].value)) == ((2, 14), (2, 16))  # '*b'
    assert rng(doc.lines.range(doc.spans["/parallelism"].key)) == ((2, 1), (2, 12))
    assert rng(doc.lines.range(doc.spans["/parallelism/tp"].value)) == ((1, 15), (1, 16))  # the '2' after &b


def test_block_scalar_span_stops_at_its_last_character():
    text = "note: |\n  two\n  lines\n\nnext: 1\n"
    doc = load(text)
    assert doc.data == {"note": "two\nlines\n", "next": 1}
    assert rng(doc.lines.range(doc.spans["/note"].value)) == ((1, 7), (3, 8))


def test_yaml_11_scalars_read_as_safe_load_reads_them():
    text = ("a: yes\nb: Off\nc: 0x1F\nd: 010\ne: 1_000\nf: 1:30\ng: ~\nh: '5'\ni: 2001-12-14\n"
            "j: -1.5e+3\nk: 1:30.5\nl: 0b101\nm:\nn: !!float 3\n")
    doc = load(text)
    assert doc.data == {"a": True, "b": False, "c": 31, "d": 8, "e": 1000, "f": 90, "g": None, "h": "5",
                        "i": "2001-12-14", "j": -1500.0, "k": 90.5, "l": 5, "m": None, "n": 3.0}
    assert doc.data == {k: (str(v) if k == "i" else v) for k, v in yaml.safe_load(text).items()}


def test_keys_are_read_as_written():
    doc = load("1: one\ntrue: yes\n")
    assert doc.data == {"1": "one", "true": True}


# --- errors with exact positions ---------------------------------------------------------------

@pytest.mark.parametrize("text, start, phrase", [
    # the flow list opened on line 3 is not closed: the ':' after 'ep' on line 4 is where it fails
    ("schema_version: 1\nparallelism:\n  tp: [1, 2\n  ep: 4\n", (4, 5), "flow sequence that starts at line 3, column 7"),
    # a key indented by one space under a two-space mapping
    ("a:\n  b: 1\n c: 2\n", (3, 2), "line 3 is indented by 1 space, which matches no enclosing level: 0 or 2 spaces"),
    # a tab used for indentation
    ("a:\n\tb: 1\n", (2, 1), "(a tab: YAML indentation must use spaces)"),
    # a quote never closed: the stream ends on line 3
    ('a: "abc\nb: 1\n', (3, 1), "quoted scalar that starts at line 1, column 4"),
    # a second ':' after non-ASCII text: column counts code points, not bytes
    ("name: \u03a9\u00e9: x\n", (1, 9), "invalid YAML: "),
    # text left after a quoted value
    ('name: "\u03a9\u00e9" x\n', (1, 12), "invalid YAML"),
])
def test_syntax_errors_point_at_the_problem(text, start, phrase):
    # Positions and the phrases are deploylint's own; the parser's words in between may change.
    exc = error(text)
    assert (exc.range.start.line, exc.range.start.column) == start
    assert phrase in exc.message
    assert exc.message.startswith("invalid YAML: ")
    # same place with CRLF line endings
    crlf = error(text.replace("\n", "\r\n"))
    assert (crlf.range.start.line, crlf.range.start.column) == start


def test_duplicate_key_is_reported_at_the_second_occurrence():
    exc = error("parallelism:\n  ep: 4\n  tp: 2\n  ep: 8\n")
    assert exc.message == "duplicate key 'ep' (first at line 2)"
    assert rng(exc.range) == ((4, 3), (4, 5))


def test_duplicate_top_level_key_with_crlf():
    exc = error("a: 1\r\nb: 2\r\na: 3\r\n")
    assert exc.message == "duplicate key 'a' (first at line 1)"
    assert rng(exc.range) == ((3, 1), (3, 2))


@pytest.mark.parametrize("text, kind, start", [
    ("- 1\n- 2\n", "a list", (1, 1)),
    ("42\n", "a number", (1, 1)),
    ("just text\n", "a single value", (1, 1)),
    ("---\n", "nothing (null)", (2, 1)),  # the empty document's (null) content follows the marker
])
def test_top_level_must_be_a_mapping(text, kind, start):
    exc = error(text)
    assert exc.message == f"a plan must be a mapping at the top level, got {kind}"
    assert (exc.range.start.line, exc.range.start.column) == start


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "  # indented comment\r\n"])
def test_empty_file(text):
    exc = error(text)
    assert exc.message.startswith("the file is empty")
    assert exc.range.start == Position(1, 1)


def test_second_document_is_refused_where_it_starts():
    exc = error("a: 1\n---\nb: 2\n")
    assert "one YAML document" in exc.message
    assert rng(exc.range) == ((2, 1), (2, 4))


@pytest.mark.parametrize("text, start, shown", [
    ("a: .inf\n", (1, 4), ".inf"),
    ("a:\n  b: -.Inf\n", (2, 6), "-.Inf"),
    ("a: .NaN\n", (1, 4), ".NaN"),
    ("a: 1.0e+999\n", (1, 4), "1.0e+999"),  # YAML 1.1 floats need the exponent's sign; this overflows
])
def test_non_finite_numbers_are_refused_at_the_value(text, start, shown):
    exc = error(text)
    assert exc.message.startswith(f"{shown} is not a finite number")
    assert (exc.range.start.line, exc.range.start.column) == start


@pytest.mark.parametrize("text, tag", [
    ("a: !!python/object/apply:os.system ['echo hacked']\n", "!!python/object/apply:os.system"),
    ("a: !!python/name:os.system x\n", "!!python/name:os.system"),
    ("a: !!binary aGk=\n", "!!binary"),
    ("a: !custom 5\n", "!custom"),
    ("a: !!set {x, y}\n", "!!set"),
])
def test_tags_other_than_plain_values_are_refused(text, tag):
    exc = error(text)
    assert f"the tag {tag} is not allowed" in exc.message
    assert (exc.range.start.line, exc.range.start.column) == (1, 4)  # points at the tag


def test_merge_keys_are_refused_clearly():
    exc = error("base: &b {tp: 2}\nparallelism:\n  <<: *b\n  ep: 4\n")
    assert "merge keys (<<) are not supported" in exc.message
    assert rng(exc.range) == ((3, 3), (3, 5))


def test_undefined_and_self_referencing_aliases():
    exc = error("a: *nowhere\n")
    assert "*nowhere" in exc.message and exc.range.start == Position(1, 4)
    exc = error("a: &loop [1, *loop]\n")  # a cycle: the anchor is not complete where it is used
    assert "*loop" in exc.message and exc.range.start == Position(1, 14)


def test_non_scalar_key_is_refused():
    exc = error("? [a, b]\n: 1\n")
    assert "mapping key" in exc.message
    assert exc.range.start == Position(1, 3)


def test_control_character_is_reported_where_it_is():
    exc = error("a: \u00e9\U0001F600\x01\n")
    assert "U+0001" in exc.message
    assert exc.range.start == Position(1, 6)


# --- hostile input: fast, bounded, no traceback --------------------------------------------------

BILLION_LAUGHS = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)
    )
)


def test_billion_laughs_fails_fast(monkeypatch):
    # 9**9 values if expanded; the work is bounded by the alias budget, not by the expansion.
    built = []
    real = yaml_source._Builder.build

    def counting(self, *args, **kwargs):
        built.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(yaml_source._Builder, "build", counting)
    exc = error(BILLION_LAUGHS)
    assert exc.message.startswith("too many alias expansions")
    assert len(built) <= 20_000    # of 9**9 = 387,420,489 values (the budget is 10,000 copies)
    assert exc.range.start.line == 5  # the first alias that pushes the count over (e: [*d, ...])


def test_a_few_aliases_are_fine():
    doc = load("a: &a [1, 2]\nb: [*a, *a, *a]\n")
    assert doc.data["b"] == [[1, 2]] * 3


def test_200_nested_block_mappings_are_refused_at_level_65():
    text = "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v: 1\n"
    exc = error(text)
    assert "nests deeper than 64 levels" in exc.message
    # level 1 is the root mapping (line 1); the 65th mapping starts on line 65 at its key 'k64'
    assert exc.range.start == Position(65, 129)


def test_64_levels_are_allowed():
    text = "".join("  " * i + f"k{i}:\n" for i in range(63)) + "  " * 63 + "v: 1\n"
    doc = load(text)
    assert "/k0/k1/k2" in doc.spans


def test_very_deep_flow_nesting_is_refused_before_any_composer_sees_it():
    # 100,000 '[' crash libyaml's recursive composer; the loader stops at level 65.
    exc = error("a: " + "[" * 100_000)
    assert "nests deeper than 64 levels" in exc.message
    assert exc.range.start == Position(1, 67)  # the root mapping is level 1, so the 64th '[' (index 66)


def test_alias_that_nests_too_deep_after_expansion_is_refused():
    inner = "[" * 40 + "]" * 40
    exc = error(f"a: &x {inner}\nb: {'[' * 30}*x{']' * 30}\n")
    assert "nests deeper than 64 levels" in exc.message


@pytest.mark.parametrize("cut", range(0, len(PLAN), 7))
def test_every_truncation_is_a_document_or_a_source_error(cut):
    for text in (PLAN[:cut], PLAN[:cut] + "]", PLAN[:cut] + '"', PLAN[:cut] + ": :"):
        try:
            load(text)
        except SourceError as exc:
            assert exc.message and exc.range is not None


def test_unpaired_surrogate_from_an_editor_buffer_is_a_positioned_error():
    exc = error('a: "\ud800"\n')
    assert "U+D800" in exc.message
    assert exc.range.start == Position(1, 5)
