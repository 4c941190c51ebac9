"""JSON plans: values from the stdlib parser, positions from a small scanner of our own.

``json`` decides what the file means; when it refuses the text,
:func:`first_error` reads it again and says in our own words what was expected
where (in the object or array being read), whatever the stdlib's wording. It gives no positions for what it accepts, so :class:`_Scanner` walks
the accepted text once more and records every key and value span. Key spans
include the key's quotes and string values include theirs: a span is exactly
the token a fix replaces.

Three things Python's parser accepts are refused, each at its position:
duplicate keys (the parser keeps the last silently), ``NaN``/``Infinity`` and
numbers that overflow to infinity (not JSON, and meaningless in a plan), and
integers too long for Python to convert. The hooks that detect them cannot
know where they are, so they only abort the parse; the scanner, which reads
the same valid prefix in the same order, reports them with a position.

Nesting is capped at :data:`MAX_DEPTH` levels: the scanner is recursive within
that bound, and ``json``'s own ``RecursionError`` on very deep input becomes
the same positioned error.
"""

from __future__ import annotations

import json
import math
import re

from .. import pointer as jp
from ...diagnostics import Range
from .. import MAX_ITEM_SPANS, Document, LineIndex, NodeSpan, Span, detect_newline
from . import SourceError, entry_lexer, refuse_too_many_entries

#: objects and arrays nested deeper than this are refused (a plan needs about four)
MAX_DEPTH = 64
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_WS = " \t\r\n"
_BLANKS = re.compile(r"[ \t\r\n]*")
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
#: a run of scalar list items with their commas (text json accepted), skipped in one step past MAX_ITEM_SPANS
_SCALARS = re.compile(r'(?:[ \t\r\n]*(?:"(?:[^"\\]|\\.)*"|[-+.0-9eE]+|true|false|null)[ \t\r\n]*,)*[ \t\r\n]*')

_ENTRIES = entry_lexer(_STRING.pattern, None)


class _Abort(Exception):
    """Raised by a parser hook; the scanner finds where (``message`` is the fallback)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _pairs(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise _Abort(f"duplicate key {k!r}")
        out[k] = v
    return out


def _constant(name: str):
    raise _Abort(f"{name} is not a finite number")


def _float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise _Abort(f"{token} is not a finite number")
    return value


def _int(token: str) -> int:
    try:
        return int(token)
    except ValueError:
        raise _Abort(f"the integer {token[:20]}… is too long") from None


def load(path: str, text: str) -> Document:
    lines = LineIndex(text)
    if not text.strip(_WS):
        raise SourceError("the file is empty: a plan is a JSON object", Range.at(1, 1))
    refuse_too_many_entries(text, _ENTRIES, MAX_DEPTH)
    try:
        data = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant,
                          parse_float=_float, parse_int=_int)
    except json.JSONDecodeError as exc:
        found = first_error(text)
        offset, reason = found if found is not None else (exc.pos, "the text is not valid JSON here")
        raise SourceError(f"invalid JSON: {reason}", _point(lines, offset)) from None
    except _Abort as exc:
        _Scanner(text, lines).run()  # raises the same problem with its position
        raise SourceError(f"invalid JSON: {exc.message}", Range.at(1, 1)) from None
    except RecursionError:
        deep = _too_deep(text)
        raise SourceError(f"the JSON nests deeper than {MAX_DEPTH} levels",
                          _point(lines, deep if deep is not None else 0)) from None
    spans = _Scanner(text, lines, skim=True).run()
    if not isinstance(data, dict):
        root = spans[""].value
        raise SourceError(f"a plan must be a mapping (a JSON object) at the top level, got {_kind(data)}",
                          Range(lines.position(root.start), lines.position(root.end)))
    return Document(path, text, "json", data, spans, newline=detect_newline(text), _index=lines)


def _point(lines: LineIndex, offset: int) -> Range:
    pos = lines.position(offset)
    return Range.at(pos.line, pos.column)


def _kind(value) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


_VALUE_HELP = "a string in double quotes, a number, true, false, null, an object or an array"
_ESCAPES = frozenset('"\\/bfnrt')
_HEX = frozenset("0123456789abcdefABCDEF")


def first_error(text: str) -> tuple[int, str] | None:
    """The first syntax error of ``text`` in our own words: ``(offset, message)``, or None if it is valid.

    An iterative reader of the JSON grammar, run only after the stdlib parser
    refused the text, so that what we say, and where, does not depend on the
    wording or the positions of any Python version's ``json`` module.
    """
    n = len(text)
    stack: list[str] = []  # the open '{' and '['
    state = "value"  # value | first-value | key | first-key | colon | after
    i = 0
    while True:
        while i < n and text[i] in _WS:
            i += 1
        c = text[i] if i < n else ""
        ends = ", but the file ends here" if not c else ""
        if state in ("value", "first-value"):
            if c in "{[" and c:
                stack.append(c)
                state, i = ("first-key" if c == "{" else "first-value"), i + 1
            elif c == "]" and state == "first-value":
                stack.pop()
                state, i = "after", i + 1
            elif c == '"':
                problem = _string_problem(text, i)
                if problem:
                    return problem
                state, i = "after", _string_end(text, i)
            elif c == "\ufeff":
                return i, "a byte-order mark (U+FEFF) before the JSON text"
            elif c and (c == "-" or c.isdigit()):
                if text.startswith("-Infinity", i):
                    i += len("-Infinity")
                else:
                    m = _NUMBER.match(text, i)
                    if m is None:
                        return i, "a number needs digits here (such as -1, 0.5 or 2e3)"
                    i = m.end()
                state = "after"
            elif c.isalpha() or c == "_":
                word = re.match(r"[A-Za-z_]\w*", text[i:]).group(0)
                if word not in ("true", "false", "null", "NaN", "Infinity"):
                    return i, f"unexpected {word!r}: expected a value ({_VALUE_HELP})"
                state, i = "after", i + len(word)
            elif c == "'":
                return i, "expected a value: strings must be in double quotes"
            elif c and c in "]}" and text[:i].rstrip(_WS).endswith(","):
                return i, f"expected a value after ',' (JSON allows no trailing comma before '{c}')"
            else:
                return i, f"expected a value{ends}"
        elif state in ("key", "first-key"):
            if c == "}" and state == "first-key":
                stack.pop()
                state, i = "after", i + 1
            elif c == '"':
                problem = _string_problem(text, i)
                if problem:
                    return problem
                state, i = "colon", _string_end(text, i)
            elif c == "}":
                return i, "expected another key after ',' (JSON allows no trailing comma before '}')"
            elif c == "'":
                return i, "expected a key: keys must be in double quotes"
            else:
                return i, f"expected a key in double quotes{ends}"
        elif state == "colon":
            if c != ":":
                return i, f"expected ':' after the key{ends}"
            state, i = "value", i + 1
        else:  # after a value
            if not stack:
                if not c:
                    return None
                return i, "unexpected text after the top-level value (a plan file holds one JSON object)"
            top = stack[-1]
            if c == ",":
                state, i = ("key" if top == "{" else "value"), i + 1
            elif c and ((c == "}" and top == "{") or (c == "]" and top == "[")):
                stack.pop()
                i += 1
            elif top == "{":
                return i, f"expected ',' or '}}' after an object member{ends}"
            else:
                return i, f"expected ',' or ']' after an array item{ends}"


def _string_problem(text: str, i: int) -> tuple[int, str] | None:
    """What is wrong with the string token whose opening quote is at ``i``, if anything."""
    n = len(text)
    j = i + 1
    while j < n:
        ch = text[j]
        if ch == '"':
            return None
        if ch == "\\":
            esc = text[j + 1:j + 2]
            if esc == "u":
                digits = text[j + 2:j + 6]
                if len(digits) < 4 or not set(digits) <= _HEX:
                    return j, "invalid \\u escape in a string (it needs four hex digits)"
                j += 6
                continue
            if esc not in _ESCAPES:
                return j, "invalid escape in a string (JSON knows \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)"
            j += 2
            continue
        if ord(ch) < 0x20:
            return j, "a control character (a tab or line break) inside a string must be written as an escape (\\t, \\n)"
        j += 1
    return i, "this string is not closed (no closing '\"' before the end of the file)"


def _string_end(text: str, i: int) -> int:
    """Offset just past the string token opening at ``i`` (one :func:`_string_problem` accepted)."""
    j = i + 1
    while text[j] != '"':
        j += 2 if text[j] == "\\" else 1
    return j + 1


def _too_deep(text: str) -> int | None:
    """Offset of the first bracket past MAX_DEPTH levels (outside strings), or None."""
    depth = 0
    in_string = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if in_string:
            if c == "\\":
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return i
        elif c in "]}":
            depth -= 1
        i += 1
    return None


class _Scanner:
    """Spans of JSON text the parser accepted; also the positions of what the hooks refused.

    It reads only text ``json`` has validated (the whole file, or the prefix
    before the problem a hook aborted on), so it checks structure lightly.
    """

    def __init__(self, text: str, lines: LineIndex, *, skim: bool = False) -> None:
        self.text = text
        self.n = len(text)
        self.lines = lines
        self.spans: dict[str, NodeSpan] = {}
        # Text the parser accepted whole holds no problem to locate: list items past MAX_ITEM_SPANS are skimmed.
        self.skim = skim

    def run(self) -> dict[str, NodeSpan]:
        try:
            self.value(self.ws(0), "", None, 1)
        except (IndexError, ValueError):  # text json did not validate: no position to add
            pass
        return self.spans

    def fail(self, message: str, start: int, end: int) -> SourceError:
        return SourceError(message, Range(self.lines.position(start), self.lines.position(end)))

    def ws(self, i: int) -> int:
        return _BLANKS.match(self.text, i).end()

    def string_end(self, i: int) -> int:
        m = _STRING.match(self.text, i)
        if m is None:
            raise ValueError(i)   # not a string the parser accepted
        return m.end()

    def value(self, i: int, pointer: str, key: Span | None, depth: int, record: bool = True) -> int:
        t = self.text
        c = t[i]
        if c in "{[" and depth > MAX_DEPTH:
            raise self.fail(f"the JSON nests deeper than {MAX_DEPTH} levels", i, i + 1)
        if c == "{":
            j = self.ws(i + 1)
            seen: dict[str, int] = {}
            while t[j] != "}":
                if t[j] == ",":
                    j = self.ws(j + 1)
                    continue
                k_end = self.string_end(j)
                name = json.loads(t[j:k_end]) if "\\" in t[j:k_end] else t[j + 1:k_end - 1]
                if name in seen:
                    line = self.lines.position(seen[name]).line
                    raise self.fail(f"duplicate key {name!r} (first at line {line})", j, k_end)
                seen[name] = j
                v = self.ws(self.ws(k_end) + 1)  # past the ':'
                j = self.ws(self.value(v, jp.child(pointer, name) if record else "", Span(j, k_end), depth + 1, record))
            end = j + 1
        elif c == "[":
            j = self.ws(i + 1)
            index = 0
            while t[j] != "]":
                if t[j] == ",":
                    j = self.ws(j + 1)
                    continue
                if index >= MAX_ITEM_SPANS and self.skim:
                    skipped = _SCALARS.match(t, j).end()
                    if skipped > j:
                        j = skipped
                        continue
                    j = self.ws(self.value(j, "", None, depth + 1, False))
                    continue
                j = self.ws(self.value(j, jp.child(pointer, index) if record else "", None, depth + 1, record))
                index += 1
            end = j + 1
        elif c == '"':
            end = self.string_end(i)
        else:
            for word in ("-Infinity", "Infinity", "NaN"):
                if t.startswith(word, i):
                    raise self.fail(f"{word} is not a finite number (and not JSON): a plan needs a real value here",
                                    i, i + len(word))
            m = _NUMBER.match(t, i)
            if m is not None:
                end = m.end()
                self.number(t[i:end], i, end)
            else:  # true, false, null
                end = i
                while end < self.n and t[end].isalpha():
                    end += 1
        if record:
            self.spans[pointer] = NodeSpan(Span(i, end), key)
        return end

    def number(self, token: str, start: int, end: int) -> None:
        if any(ch in token for ch in ".eE"):
            if not math.isfinite(float(token)):
                shown = token if len(token) <= 24 else f"{token[:12]}…{token[-8:]} ({len(token)} characters)"
                raise self.fail(f"{shown} is not a finite number (it overflows a float)", start, end)
        else:
            try:
                int(token)
            except ValueError:
                raise self.fail(f"the integer {token[:12]}… has {len(token.lstrip('-'))} digits: too long to be a plan value",
                                start, end) from None
