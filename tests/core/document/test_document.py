"""LineIndex: offsets ↔ 1-based line/column, and the UTF-16 positions editors use."""

from deploylint.core.diagnostics import Position
from deploylint.core.document import Document, LineIndex, NodeSpan, Span, detect_newline


def test_lf_crlf_and_cr_each_count_as_one_line_break():
    for nl in ("\n", "\r\n", "\r"):
        text = f"a = 1{nl}bb = 2{nl}ccc = 3"
        idx = LineIndex(text)
        assert idx.line_count == 3
        offset = text.index("ccc")
        assert idx.position(offset) == Position(3, 1)
        assert idx.offset(Position(3, 1)) == offset
        assert idx.line_text(2) == "bb = 2"


def test_columns_are_code_points_and_utf16_counts_surrogate_pairs():
    text = 'name = "𝄞x"\nep = 3\n'
    idx = LineIndex(text)
    end_of_string = text.index('"', 8) + 1
    # 𝄞 is one code point but two UTF-16 code units.
    assert idx.position(end_of_string) == Position(1, 12)
    assert idx.utf16_position(end_of_string) == (0, 12)
    assert idx.offset_from_utf16(0, 12) == end_of_string
    assert idx.utf16_position(text.index("3")) == (1, 5)


def test_missing_key_falls_back_to_the_enclosing_key_not_line_one():
    text = "[parallelism]\nep = 3\n"
    doc = Document("p.toml", text, "toml", {"parallelism": {"ep": 3}}, {
        "": NodeSpan(Span(0, len(text))),
        "/parallelism": NodeSpan(Span(0, len(text)), key=Span(1, 12)),
        "/parallelism/ep": NodeSpan(Span(19, 20), key=Span(14, 16)),
    })
    assert doc.range_of("/parallelism/ep").start == Position(2, 6)
    assert doc.range_of("/parallelism/ep", "key").start == Position(2, 1)
    # tp is not written: the finding lands on the [parallelism] header's key.
    r = doc.range_of("/parallelism/tp")
    assert (r.start, r.end) == (Position(1, 2), Position(1, 13))


def test_detect_newline_picks_the_dominant_ending():
    assert detect_newline("a\r\nb\r\nc\n") == "\r\n"
    assert detect_newline("a\nb") == "\n"
    assert detect_newline("") == "\n"
