"""TOML plans: values from tomllib (tomli), positions from a span scanner of our own.

tomllib is the reference parser and decides what the file *means*; it reports
no positions. :func:`scan` walks the same text once more and records, for each
key and value, where it sits — dotted keys, quoted keys, inline tables,
``[table]`` and ``[[array]]`` headers, multi-line strings and arrays, and
comments included. The scanner only runs on text tomllib accepted, so it can
assume the syntax is valid.

:class:`TomlLayout` keeps what a writer needs beyond spans: for every table,
how it was written (header, dotted keys, inline, implicit) and where its
directly owned lines end, so a new key lands in the right table.
"""

from __future__ import annotations

import math
import re

try:  # Python 3.11+
    import tomllib
except ImportError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from ...records import record, field
from .. import pointer as jp
from ...diagnostics import Range
from .. import MAX_ITEM_SPANS, Document, LineIndex, NodeSpan, Span, detect_newline
from . import SourceError, entry_lexer, refuse_too_many_entries

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_WS_COMMENTS = re.compile(r"(?:[ \t\r\n]+|#[^\n]*)*")
#: characters of bare scalars (numbers, booleans, dates), blanks and commas: runs of list items skimmed past MAX_ITEM_SPANS
_BARE_ITEMS = re.compile(r"[-+.:0-9A-Za-z_ \t\r\n,]*")
#: a one-line basic string (text tomllib accepted: it is closed on its line)
_BASIC_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
#: (these three are compiled when a file is refused: a plan tomllib reads needs none of them)
_LONG_INT = r"[+-]?[0-9][0-9_]{4000,}"
_ERR_AT = r"\s*\(at line (\d+), column (\d+)\)\s*$"
_ERR_END = r"\s*\(at end of document\)\s*$"
#: arrays and inline tables nested deeper than this are no plan's (tomllib's recursion refuses them): the entry
#: count leaves them to that error
MAX_DEPTH = 64
#: strings (multi-line and literal ones too), comments and headers: what the entry count skips
_ENTRIES = entry_lexer(r'"""[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*"""|\'\'\'[^\']*(?:\'(?!\'\')[^\']*)*\'\'\''
                       r'|"[^"\\\n]*(?:\\.[^"\\\n]*)*"|\'[^\'\n]*\'', "#", headers=True)


@record
class TableInfo:
    """How one table was written and where its own key/value lines end."""

    style: str                      # "header", "array-header", "dotted", "inline", "implicit", "root"
    header: Span | None = None      # the ``[name]`` text, for header tables
    body_end: int = 0               # offset just after the last key/value line owned directly
    indent: str = ""                # indentation of its key/value lines


@record
class TomlLayout:
    tables: dict[str, TableInfo] = field(default_factory=dict)


def load(path: str, text: str) -> Document:
    refuse_too_many_entries(text, _ENTRIES, MAX_DEPTH)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _error(text, exc) from None
    except RecursionError:
        raise SourceError("the TOML nests too deeply to read", Range.at(1, 1)) from None
    except ValueError:  # tomllib lets int() refuse an integer of thousands of digits
        raise _too_long(text) from None
    spans, layout = scan(text)
    _reject_non_finite(data, "", spans, text)
    return Document(path, text, "toml", data, spans, newline=detect_newline(text), layout=layout)


def _too_long(text: str) -> SourceError:
    m = re.search(_LONG_INT, text)
    if m is None:
        return SourceError("invalid TOML: a value cannot be converted", Range.at(1, 1))
    pos = LineIndex(text).position(m.start())
    digits = m.group().replace("_", "")
    return SourceError(f"the integer {digits[:12]}… has {len(digits.lstrip('+-'))} digits: too long to be a plan value",
                       Range.at(pos.line, pos.column, pos.line, pos.column + len(m.group())))


def _error(text: str, exc: Exception) -> SourceError:
    msg = str(getattr(exc, "msg", None) or exc)
    line = getattr(exc, "lineno", None)
    col = getattr(exc, "colno", None)
    m = re.search(_ERR_AT, msg)
    if m:
        line, col = int(m.group(1)), int(m.group(2))
        msg = msg[: m.start()]
    elif re.search(_ERR_END, msg):
        msg = re.sub(_ERR_END, "", msg)
        index = LineIndex(text)
        pos = index.position(len(text))
        line, col = pos.line, pos.column
    msg = msg.strip().rstrip(".")
    msg = msg[:1].lower() + msg[1:] if msg else "invalid TOML"
    return SourceError(f"invalid TOML: {msg}", Range.at(int(line or 1), int(col or 1)))


def _reject_non_finite(value, pointer: str, spans: dict[str, NodeSpan], text: str) -> None:
    """TOML allows ``inf`` and ``nan``; no plan quantity is infinite, so they are a parse-level error."""
    if isinstance(value, float) and not math.isfinite(value):
        node = spans.get(pointer)
        rng = LineIndex(text).range(node.value) if node else Range.at(1, 1)
        name = ".".join(f"[{t}]" if t.isdigit() else t for t in jp.split(pointer)).replace(".[", "[") or "the value"
        raise SourceError(f"{name} is {value!r} (too large, or not a number), not a finite number", rng)
    if isinstance(value, dict):
        for k, v in value.items():
            _reject_non_finite(v, jp.child(pointer, k), spans, text)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _reject_non_finite(v, jp.child(pointer, i), spans, text)


# -- the span scanner -----------------------------------------------------------------
class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.spans: dict[str, NodeSpan] = {"": NodeSpan(Span(0, len(text)))}
        self.layout = TomlLayout({"": TableInfo("root", body_end=0)})
        self.array_counts: dict[str, int] = {}

    # low-level helpers
    def skip_ws(self, i: int) -> int:
        t, n = self.text, self.n
        while i < n and t[i] in " \t":
            i += 1
        return i

    def skip_ws_comments_newlines(self, i: int) -> int:
        return _WS_COMMENTS.match(self.text, i).end()

    def line_end(self, i: int) -> int:
        """Offset just after the end of the line holding ``i`` (comment and break included)."""
        j = self.text.find("\n", i)
        return self.n if j < 0 else j + 1

    def string_end(self, i: int) -> int:
        t = self.text
        if t.startswith('"""', i):
            j = i + 3
            while True:
                k = t.find('"""', j)
                if k < 0:
                    return self.n
                # a backslash-escaped quote inside: count preceding backslashes
                b, m = 0, k - 1
                while m >= j and t[m] == "\\":
                    b += 1
                    m -= 1
                if b % 2:
                    j = k + 1
                    continue
                end = k + 3
                while end < self.n and t[end] == '"' and end - k < 5:  # up to two quotes may close the content
                    end += 1
                return end
        if t.startswith("'''", i):
            k = t.find("'''", i + 3)
            end = k + 3
            while end < self.n and t[end] == "'" and end - k < 5:
                end += 1
            return end
        if t[i] == '"':
            return _BASIC_STRING.match(t, i).end()
        if t[i] == "'":
            return t.find("'", i + 1) + 1
        raise ValueError(i)

    def key(self, i: int) -> tuple[list[tuple[str, Span]], int]:
        """A possibly dotted key at ``i``: its parts with their spans, and the offset after it."""
        parts: list[tuple[str, Span]] = []
        t = self.text
        while True:
            i = self.skip_ws(i)
            if t[i] in "\"'":
                end = self.string_end(i)
                raw = t[i:end]
                name = tomllib.loads(f"k = {raw}")["k"]
            else:
                m = _BARE.match(t, i)
                end = m.end()
                name = t[i:end]
            parts.append((name, Span(i, end)))
            i = self.skip_ws(end)
            if i < self.n and t[i] == ".":
                i += 1
                continue
            return parts, i

    def value_end(self, i: int, pointer: str) -> int:
        """Record spans inside the value at ``i`` (arrays, inline tables) and return its end."""
        t = self.text
        c = t[i]
        if c in "\"'":
            return self.string_end(i)
        if c == "[":
            j = i + 1
            index = 0
            while True:
                j = self.skip_ws_comments_newlines(j)
                if t[j] == "]":
                    return j + 1
                if t[j] == ",":
                    j += 1
                    continue
                if index >= MAX_ITEM_SPANS:
                    # whole items (up to the last comma of a run of bare scalars) need no span: skip them at once
                    skipped = t.rfind(",", j, _BARE_ITEMS.match(t, j).end()) + 1
                    if skipped > j:
                        j = skipped
                        continue
                start = j
                end = self.value_end(j, jp.child(pointer, index))
                if index < MAX_ITEM_SPANS:
                    self.spans[jp.child(pointer, index)] = NodeSpan(Span(start, end))
                index += 1
                j = end
        if c == "{":
            self.layout.tables[pointer] = TableInfo("inline")
            j = i + 1
            while True:
                j = self.skip_ws_comments_newlines(j)
                if t[j] == "}":
                    return j + 1
                if t[j] == ",":
                    j += 1
                    continue
                j = self.keyval(j, pointer, inline=True)
        # a bare scalar: number, boolean, date/time (which may hold one space)
        j = i
        while j < self.n and t[j] not in ",]}\r\n#":
            j += 1
        return i + len(t[i:j].rstrip(" \t"))

    def keyval(self, i: int, table: str, inline: bool = False) -> int:
        parts, j = self.key(i)
        assert self.text[j] == "="
        j = self.skip_ws(j + 1)
        pointer = table
        for depth, (name, span) in enumerate(parts):
            pointer = jp.child(pointer, name)
            last = depth == len(parts) - 1
            if not last:
                # a table created (or extended) by a dotted key
                if pointer not in self.spans:
                    self.spans[pointer] = NodeSpan(Span(i, i), span)
                    self.layout.tables.setdefault(pointer, TableInfo("inline" if inline else "dotted"))
        start = j
        end = self.value_end(j, pointer)
        self.spans[pointer] = NodeSpan(Span(start, end), parts[-1][1])
        # dotted parents span from their first to their last key/value
        p = table
        for name, _ in parts[:-1]:
            p = jp.child(p, name)
            old = self.spans[p]
            first = old.value.start if old.value.end > old.value.start else i
            self.spans[p] = NodeSpan(Span(first, end), old.key)
            info = self.layout.tables[p]
            info.body_end = max(info.body_end, self.line_end(end) if not inline else end)
            info.indent = info.indent or self._indent(i)
        return end

    def _indent(self, i: int) -> str:
        start = self.text.rfind("\n", 0, i) + 1
        return self.text[start:i] if self.text[start:i].strip() == "" else ""

    def run(self) -> tuple[dict[str, NodeSpan], TomlLayout]:
        t, n = self.text, self.n
        table = ""
        i = 0
        while True:
            i = self.skip_ws_comments_newlines(i)
            if i >= n:
                break
            if t.startswith("[[", i):
                parts, j = self.key(i + 2)
                close = j + 2
                base = "".join(jp.child("", name) for name, _ in parts)
                base = jp.join(*(name for name, _ in parts))
                index = self.array_counts.get(base, 0)
                self.array_counts[base] = index + 1
                table = jp.child(base, index)
                self._ensure_parents(parts)
                self.spans[base] = NodeSpan(self.spans.get(base, NodeSpan(Span(i, close))).value, parts[-1][1])
                self.spans[table] = NodeSpan(Span(i, close), parts[-1][1])
                self.layout.tables[table] = TableInfo("array-header", Span(i, close), body_end=self.line_end(close))
                i = close
            elif t[i] == "[":
                parts, j = self.key(i + 1)
                close = j + 1
                table = jp.join(*(name for name, _ in parts))
                self._ensure_parents(parts)
                self.spans[table] = NodeSpan(Span(i, close), parts[-1][1])
                self.layout.tables[table] = TableInfo("header", Span(i, close), body_end=self.line_end(close))
                i = close
            else:
                end = self.keyval(i, table)
                info = self.layout.tables[table]
                info.body_end = self.line_end(end)
                info.indent = info.indent or self._indent(i)
                if table:
                    old = self.spans[table]
                    self.spans[table] = NodeSpan(Span(old.value.start, end), old.key)
                i = end
            # rest of the line: spaces and a comment
            i = self.skip_ws(i)
            if i < n and t[i] == "#":
                i = self.line_end(i)
        return self.spans, self.layout

    def _ensure_parents(self, parts: list[tuple[str, Span]]) -> None:
        pointer = ""
        for name, span in parts[:-1]:
            pointer = jp.child(pointer, name)
            if pointer not in self.spans:
                self.spans[pointer] = NodeSpan(span, span)
                self.layout.tables.setdefault(pointer, TableInfo("implicit"))


def scan(text: str) -> tuple[dict[str, NodeSpan], TomlLayout]:
    """Spans of every key and value in valid TOML ``text``, and how its tables are written."""
    return _Scanner(text).run()
