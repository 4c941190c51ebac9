"""JSON plans: values from the stdlib parser, positions from a small scanner of our own.

``json`` decides what the file means and where a syntax error is; it gives no
positions for what it accepts, so :func:`scan` walks the (already valid) text
once more and records each key (quotes included) and value span. Duplicate
keys and non-finite numbers (``NaN``, ``Infinity``) are rejected with their
position: both are legal to Python's parser and meaningless in a plan.
"""

from __future__ import annotations

import json
import re

from .. import pointer as jp
from ..diagnostics import Range
from ..document import Document, LineIndex, NodeSpan, Span, detect_newline
from . import SourceError

MAX_DEPTH = 64
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_CONSTANTS = {"NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity"}


class _Duplicate(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _pairs(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise _Duplicate(k)
        out[k] = v
    return out


def _no_constant(name: str):
    raise ValueError(name)


def load(path: str, text: str) -> Document:
    if not text.strip():
        raise SourceError("the file is empty: a plan is a JSON object", Range.at(1, 1))
    depth_problem = _too_deep(text)
    if depth_problem is not None:
        raise SourceError(f"the JSON nests deeper than {MAX_DEPTH} levels", _at(text, depth_problem))
    try:
        data = json.loads(text, object_pairs_hook=_pairs, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise SourceError(f"invalid JSON: {_reason(exc.msg)}", Range.at(exc.lineno, exc.colno)) from None
    except (_Duplicate, ValueError):
        # positions for these come from the scanner, which sees them as it goes
        data = None
    except RecursionError:
        raise SourceError("the JSON nests too deeply to read", Range.at(1, 1)) from None
    spans = _Scanner(text).run()
    if data is None:  # pragma: no cover - the scanner raises first for both cases
        raise SourceError("invalid JSON", Range.at(1, 1))
    if not isinstance(data, dict):
        raise SourceError(f"a plan must be a JSON object at the top level, not {_kind(data)}", _at(text, spans[""].value.start))
    return Document(path, text, "json", data, spans, newline=detect_newline(text))


def _kind(value) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def _reason(msg: str) -> str:
    return {"Expecting value": "expected a value", "Expecting property name enclosed in double quotes":
            "expected a key in double quotes (JSON allows no trailing comma)", "Expecting ',' delimiter":
            "expected ',' between items", "Expecting ':' delimiter": "expected ':' after the key",
            "Extra data": "unexpected text after the top-level object", "Unterminated string starting at":
            "string not closed"}.get(msg, msg[:1].lower() + msg[1:])


def _at(text: str, offset: int) -> Range:
    pos = LineIndex(text).position(offset)
    return Range(pos, pos)


def _too_deep(text: str) -> int | None:
    """Offset of the first bracket past MAX_DEPTH (outside strings), or None."""
    depth = 0
    in_string = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if in_string:
            if c == "\\":
                i += 2
                continue
            if c == '"':
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
    """Spans of a JSON text that ``json.loads`` accepted (duplicates and constants are reported here)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.spans: dict[str, NodeSpan] = {}

    def ws(self, i: int) -> int:
        t = self.text
        while i < self.n and t[i] in " \t\r\n":
            i += 1
        return i

    def string_end(self, i: int) -> int:
        t = self.text
        j = i + 1
        while t[j] != '"':
            j += 2 if t[j] == "\\" else 1
        return j + 1

    def value(self, i: int, pointer: str, key: Span | None) -> int:
        t = self.text
        c = t[i]
        if c == "{":
            j = self.ws(i + 1)
            seen: dict[str, int] = {}
            while t[j] != "}":
                if t[j] == ",":
                    j = self.ws(j + 1)
                    continue
                k_end = self.string_end(j)
                name = json.loads(t[j:k_end])
                if name in seen:
                    first = LineIndex(t).position(seen[name])
                    raise SourceError(f"duplicate key {name!r} (first at line {first.line})", _at(t, j))
                seen[name] = j
                colon = self.ws(k_end)
                v = self.ws(colon + 1)
                j = self.ws(self.value(v, jp.child(pointer, name), Span(j, k_end)))
            end = j + 1
        elif c == "[":
            j = self.ws(i + 1)
            index = 0
            while t[j] != "]":
                if t[j] == ",":
                    j = self.ws(j + 1)
                    continue
                j = self.ws(self.value(j, jp.child(pointer, index), None))
                index += 1
            end = j + 1
        elif c == '"':
            end = self.string_end(i)
        else:
            for word in ("-Infinity", "Infinity", "NaN"):
                if t.startswith(word, i):
                    raise SourceError(f"{word} is not a number a plan can use (JSON has no {word})",
                                      Range(LineIndex(t).position(i), LineIndex(t).position(i + len(word))))
            m = _NUMBER.match(t, i)
            if m and m.end() > i:
                end = m.end()
            else:
                end = i
                while end < self.n and t[end].isalpha():
                    end += 1
        self.spans[pointer] = NodeSpan(Span(i, end), key)
        return end

    def run(self) -> dict[str, NodeSpan]:
        start = self.ws(0)
        self.value(start, "", None)
        return self.spans
