"""Python plans: the module-level ``PLAN = {...}`` (or ``dict(...)``) read statically, never executed.

The stdlib ``ast`` parses the file (about a millisecond; libcst is kept for
format-preserving fixes, where its lossless tree is worth its import). Only the
``PLAN`` assignment is read, and only literals are accepted in it — numbers
(with a sign), strings (implicitly concatenated too), ``True``/``False``/
``None``, lists, tuples, dicts with string keys and nested ``dict(key=...)``
calls. Anything else (a name, a call, an f-string, ``**`` unpacking) is an
error at its position: the plan must say what it means without running code.
Everything else in the file is ignored.
"""

from __future__ import annotations

import ast
import math

from .. import pointer as jp
from ..diagnostics import Position, Range
from ..document import Document, NodeSpan, Span, detect_newline
from . import SourceError

MAX_DEPTH = 64


def load(path: str, text: str) -> Document:
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as exc:
        line = exc.lineno or 1
        col = _col(lines, line, (exc.offset or 1) - 1, from_bytes=False) + 1
        raise SourceError(f"invalid Python: {exc.msg}", Range.at(line, col)) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise SourceError(f"invalid Python: {exc}", Range.at(1, 1)) from None
    value = None
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "PLAN" for t in stmt.targets):
            value = stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == "PLAN" and stmt.value:
            value = stmt.value
    if value is None:
        raise SourceError("no module-level PLAN = {...} assignment: a Python plan defines PLAN as a dict literal", Range.at(1, 1))
    reader = _Reader(lines, starts)
    data = reader.read(value, "", None, 0)
    if not isinstance(data, dict):
        raise SourceError("PLAN must be a dict literal (or dict(...) of literals)", reader.range(value))
    return Document(path, text, "python", data, reader.spans, newline=detect_newline(text))


def _col(lines: list[str], line: int, offset: int, *, from_bytes: bool = True) -> int:
    """A 0-based column in code points from ast's UTF-8 byte offset on 1-based ``line``."""
    if line - 1 >= len(lines):
        return offset
    text = lines[line - 1]
    if not from_bytes:
        return offset
    return len(text.encode("utf-8")[:offset].decode("utf-8", errors="replace"))


class _Reader:
    def __init__(self, lines: list[str], starts: list[int]) -> None:
        self.lines = lines
        self.starts = starts
        self.spans: dict[str, NodeSpan] = {}

    def offset(self, line: int, col_bytes: int) -> int:
        return self.starts[min(line - 1, len(self.starts) - 1)] + _col(self.lines, line, col_bytes)

    def span(self, node) -> Span:
        return Span(self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset))

    def range(self, node) -> Range:
        def pos(line, col):
            return Position(line, _col(self.lines, line, col) + 1)

        return Range(pos(node.lineno, node.col_offset), pos(node.end_lineno, node.end_col_offset))

    def fail(self, message: str, node) -> SourceError:
        return SourceError(message, self.range(node))

    def read(self, node, pointer: str, key: Span | None, depth: int):
        if depth > MAX_DEPTH:
            raise self.fail(f"PLAN nests deeper than {MAX_DEPTH} levels", node)
        value = self._value(node, pointer, depth)
        self.spans[pointer] = NodeSpan(self.span(node), key)
        return value

    def _value(self, node, pointer: str, depth: int):
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, (bool, int, str)) or v is None:
                return v
            if isinstance(v, float):
                if not math.isfinite(v):
                    raise self.fail(f"{v!r} is not a finite number", node)
                return v
            raise self.fail(f"PLAN may contain only numbers, strings, booleans, None, lists and dicts; found {type(v).__name__}", node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) and isinstance(node.operand, ast.Constant) \
                and isinstance(node.operand.value, (int, float)) and not isinstance(node.operand.value, bool):
            v = node.operand.value
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.read(item, jp.child(pointer, i), None, depth + 1) for i, item in enumerate(node.elts)]
        if isinstance(node, ast.Dict):
            out = {}
            for k, v in zip(node.keys, node.values):
                if k is None:
                    raise self.fail("PLAN may not use ** unpacking: write the keys out", v)
                if not (isinstance(k, ast.Constant) and isinstance(k.value, str)):
                    raise self.fail("dict keys in PLAN must be strings", k)
                self._unique(out, k.value, k)
                out[k.value] = self.read(v, jp.child(pointer, k.value), self.span(k), depth + 1)
            return out
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
            if node.args:
                raise self.fail("dict(...) in PLAN takes keyword arguments only", node.args[0])
            out = {}
            for kw in node.keywords:
                if kw.arg is None:
                    raise self.fail("PLAN may not use ** unpacking: write the keys out", kw.value)
                self._unique(out, kw.arg, kw)
                key = Span(self.offset(kw.lineno, kw.col_offset), self.offset(kw.lineno, kw.col_offset) + len(kw.arg))
                out[kw.arg] = self.read(kw.value, jp.child(pointer, kw.arg), key, depth + 1)
            return out
        what = _describe(node)
        raise self.fail(f"PLAN must contain only literals: found {what} (deploylint reads the file, it never runs it)", node)

    def _unique(self, out: dict, key: str, node) -> None:
        if key in out:
            raise self.fail(f"duplicate key {key!r}", node)


def _describe(node) -> str:
    if isinstance(node, ast.Call):
        try:
            return f"a function call `{ast.unparse(node)[:40]}`"
        except Exception:  # pragma: no cover - unparse of a parsed tree does not fail
            return "a function call"
    if isinstance(node, ast.Name):
        return f"the name `{node.id}`"
    if isinstance(node, ast.JoinedStr):
        return "an f-string"
    if isinstance(node, (ast.ListComp, ast.DictComp, ast.SetComp, ast.GeneratorExp)):
        return "a comprehension"
    if isinstance(node, ast.BinOp):
        return "an arithmetic expression"
    if isinstance(node, ast.Set):
        return "a set"
    return f"a {type(node).__name__} expression"
