"""Code frames of the text report stay a window of the line (issue 16: a minified plan gave 794 MB)."""

from deploylint.core.diagnostics import Diagnostic, Position, Range, Severity
from deploylint.core.document import LineIndex
from deploylint.core.frontends.report.text import FRAME_COLUMNS, render_diagnostic


def frame(line: str, start: int, end: int) -> list[str]:
    d = Diagnostic("DL003", Severity.WARNING, "unknown key", "/x", range=Range(Position(1, start), Position(1, end)),
                   file="plan.json")
    return render_diagnostic(d, LineIndex(line + "\n")).splitlines()


def test_a_long_line_is_cut_to_a_window_around_the_span_with_the_caret_under_it():
    line = '{"a": 1, ' + ", ".join(f'"k{i}": {i}' for i in range(20_000)) + ', "bad": 2}'
    at = line.index('"bad"') + 1
    lines = frame(line, at, at + 5)
    shown, caret = lines[2], lines[3]
    assert len(shown) <= len("1 | ") + FRAME_COLUMNS + 2          # the window and two cut marks
    assert shown.startswith("1 | …") and shown.endswith("2}")
    col = caret.index("^")
    assert shown[col:col + 5] == '"bad"' and caret.count("^") == 5


def test_the_start_of_a_long_line_is_shown_without_a_leading_cut():
    line = '{"bad": 1, ' + "x" * 5_000 + "}"
    lines = frame(line, 2, 7)
    assert lines[2].startswith('1 | {"bad"') and lines[2].endswith("…")
    assert lines[3].index("^") == lines[2].index('"bad"')


def test_short_lines_are_shown_whole_and_control_characters_cannot_reach_the_terminal():
    lines = frame('{"a\x1b[2J": 1}', 2, 8)
    assert "\x1b" not in lines[2]
    assert lines[2] == '1 | {"a [2J": 1}'
