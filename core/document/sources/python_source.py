"""Python plans: the module-level ``PLAN = {...}`` (or ``dict(...)``) read statically, never executed.

The stdlib ``ast`` parses the file (about a millisecond; libcst is kept for
format-preserving fixes, where its lossless tree is worth its import). The
file is never imported or run. Only the module-level ``PLAN`` assignment is
read (``PLAN = ...``, ``PLAN: dict = ...``), and only literals are accepted
in it: numbers (with a sign), strings (implicitly concatenated too),
``True``/``False``/``None``, lists, tuples (read as lists), dicts with string
keys and nested ``dict(key=...)`` calls. Anything else — a name, a call, an
f-string, a comprehension, ``**`` unpacking, a non-string key — is an error at
its position: a plan must say what it means without running code. Everything
else in the file is ignored, except statements that assign ``PLAN`` again or
change it (``PLAN["x"] = 1``, ``PLAN.update(...)``), which would make the file
mean something other than its literal and are refused.

Positions: ``ast`` counts columns in UTF-8 bytes; they are converted to code
points with the line's text. Line numbers count ``\\n``, ``\\r\\n`` and ``\\r``
as breaks, as :class:`~deploylint.core.document.LineIndex` does. A dict entry's
key span is the key literal (quotes included), a ``dict(ep=4)`` entry's key
span is the keyword name; a value span is the value's expression (a negative
number includes its sign).
"""

from __future__ import annotations

import ast
import math
import re

from .. import pointer as jp
from ...diagnostics import Position, Range
from .. import MAX_ITEM_SPANS, Document, LineIndex, NodeSpan, Span, detect_newline
from . import SourceError, entry_lexer, refuse_too_many_entries

#: containers nested deeper than this are refused (a plan needs about four)
MAX_DEPTH = 64
#: string literals (triple-quoted too) and comments: what the entry count skips
_ENTRIES = entry_lexer(r'"""[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*"""|\'\'\'[^\'\\]*(?:(?:\\.|\'(?!\'\'))[^\'\\]*)*\'\'\''
                       r'|"[^"\\\n]*(?:\\.[^"\\\n]*)*"|\'[^\'\\\n]*(?:\\.[^\'\\\n]*)*\'', "#")


def refuse_too_large(text: str) -> None:
    """The SourceError of Python text past :data:`~deploylint.core.document.sources.MAX_ENTRIES` values, raised
    before ``ast`` parses it (``ast`` costs about a microsecond and a hundred bytes a node): for an adapter that
    reads a script with ``ast`` as this loader reads a plan."""
    refuse_too_many_entries(text, _ENTRIES, MAX_DEPTH)


def load(path: str, text: str) -> Document:
    lines = LineIndex(text)
    cols = _Columns(lines)
    refuse_too_large(text)
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as exc:  # IndentationError and TabError too
        deep = _brackets_too_deep(text)
        if deep is not None:
            pos = lines.position(deep)
            raise SourceError(f"invalid Python: brackets nest deeper than {MAX_DEPTH} levels (a plan needs about "
                              "four)", Range.at(pos.line, pos.column)) from None
        raise SourceError(f"invalid Python: {_syntax_message(exc)}", _syntax_range(exc, text, lines)) from None
    except UnicodeEncodeError as exc:  # a lone surrogate (possible in editor text, never in decoded files)
        pos = lines.position(exc.start)
        raise SourceError(f"the text holds an unpaired surrogate U+{ord(text[exc.start]):04X}, which is not "
                          "valid Unicode", Range.at(pos.line, pos.column)) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        if "\x00" in text:
            pos = lines.position(text.index("\x00"))
            raise SourceError("invalid Python: the file contains a null character", Range.at(pos.line, pos.column)) from None
        what = "nests too deeply" if not isinstance(exc, ValueError) else str(exc)
        raise SourceError(f"invalid Python: the file {what} to be read", Range.at(1, 1)) from None
    _refuse_foreign_encoding(text, lines)
    value = _find_plan(tree, cols)
    _refuse_hidden_assignments(tree, value, cols)
    reader = _Reader(text, cols)
    if not isinstance(value, ast.Dict) and not _is_dict_call(value):
        raise reader.fail("a plan must be a mapping at the top level: PLAN must be a dict literal {...} or "
                          f"dict(...), got {_describe(value, reader)}", value)
    data = reader.read(value, "", None, 1)
    return Document(path, text, "python", data, reader.spans, newline=detect_newline(text), _index=lines)


def _brackets_too_deep(text: str) -> int | None:
    """Offset of the first bracket past :data:`MAX_DEPTH` levels outside strings and comments, or None.

    Checked only once the parser has refused the file, so that very deep
    nesting gets the same message and position whatever limit, and whatever
    words, the running Python version's parser has.
    """
    depth = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":
            while i < n and text[i] not in "\r\n":
                i += 1
            continue
        if c in "'\"":
            quote = c * 3 if text.startswith(c * 3, i) else c
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                if text[j] == "\\":
                    j += 1
                elif len(quote) == 1 and text[j] in "\r\n":
                    break
                j += 1
            i = j + len(quote)
            continue
        if c in "([{":
            depth += 1
            if depth > MAX_DEPTH:
                return i
        elif c in ")]}" and depth:
            depth -= 1
        i += 1
    return None

def _syntax_message(exc: SyntaxError) -> str:
    msg = (exc.msg or "invalid syntax").strip()
    if msg.startswith("Exceeds the limit"):
        return "an integer literal is too long to be a plan value"
    return msg


def _syntax_range(exc: SyntaxError, text: str, lines: LineIndex) -> Range:
    """The error's position; ``SyntaxError.offset`` is 1-based and already in code points."""
    if exc.lineno is None:
        if "\x00" in text:
            pos = lines.position(text.index("\x00"))
            return Range.at(pos.line, pos.column)
        return Range.at(1, 1)
    line = max(1, exc.lineno)
    column = max(1, exc.offset or 1)
    text_line = lines.line_text(line)
    if isinstance(exc, IndentationError) and "unexpected indent" in (exc.msg or ""):
        column = len(text_line) - len(text_line.lstrip()) + 1  # at the statement, not inside its indent
    elif (exc.msg or "").startswith("Exceeds the limit"):
        digits = re.search(r"\d{4000,}", text_line)  # Python points at the line start; show the literal
        if digits:
            return Range.at(line, digits.start() + 1, line, digits.end() + 1)
    end_line, end_column = exc.end_lineno, exc.end_offset
    if end_line and end_column and end_column > 0 and (end_line, end_column) > (line, column):
        return Range(Position(line, column), Position(end_line, end_column))
    return Range.at(line, column)


def _find_plan(tree: ast.Module, cols: "_Columns") -> ast.expr:
    """The value assigned to PLAN at module level; refuses a second assignment or a later change."""
    found: ast.expr | None = None
    first_line = 0
    for stmt in tree.body:
        value = None
        if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "PLAN" for t in stmt.targets):
            value = stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == "PLAN":
            if stmt.value is None:
                continue  # a bare annotation, ``PLAN: dict``, assigns nothing
            value = stmt.value
        elif _changes_plan(stmt):
            if found is not None:
                raise SourceError(f"PLAN is changed after it is assigned (at line {first_line}): a plan file states "
                                  "PLAN in one literal", cols.range(stmt))
            continue
        if value is None:
            continue
        if found is not None:
            raise SourceError(f"PLAN is assigned a second time (first at line {first_line}): a plan file assigns it once",
                              cols.range(stmt))
        found, first_line = value, stmt.lineno
    if found is None:
        raise SourceError("no module-level PLAN = {...} assignment: a Python plan defines PLAN as a dict of literals",
                          Range.at(1, 1))
    return found


_CODING = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


def _refuse_foreign_encoding(text: str, lines: LineIndex) -> None:
    """A PEP 263 cookie naming another encoding than UTF-8 would make Python read another PLAN than we do."""
    for line in (1, 2):
        if line > lines.line_count:
            break
        match = _CODING.match(lines.line_text(line))
        if match is None:
            if not lines.line_text(line).lstrip().startswith("#"):
                break  # the cookie counts only on the first two lines, the second only after a comment line
            continue
        name = match.group(1).lower().replace("_", "-")
        if name not in ("utf-8", "utf8", "utf-8-sig"):
            raise SourceError(f"the coding cookie declares {match.group(1)!r}: Python would decode this file "
                              "differently from the UTF-8 text deploylint reads, so the PLAN it sees could differ; "
                              "a plan file is UTF-8 (remove the cookie or write utf-8)",
                              Range.at(line, match.start(1) + 1, line, match.end(1) + 1))
        break


_BLOCKS = {ast.If: "an if block", ast.For: "a for loop", ast.AsyncFor: "a for loop", ast.While: "a while loop",
           ast.With: "a with block", ast.AsyncWith: "a with block", ast.Try: "a try block",
           ast.FunctionDef: "a function", ast.AsyncFunctionDef: "a function", ast.ClassDef: "a class"}


def _refuse_hidden_assignments(tree: ast.Module, value: ast.expr, cols: "_Columns") -> None:
    """PLAN bound or changed anywhere but its one module-level assignment (in a block, a loop target, a
    walrus, an import) would make Python see another PLAN than the one linted."""
    accepted = set()
    for stmt in tree.body:
        if getattr(stmt, "value", None) is value:
            accepted.update(id(n) for n in getattr(stmt, "targets", [getattr(stmt, "target", None)]))

    def refuse(node: ast.AST, where: str) -> None:
        raise SourceError(f"PLAN is {where} at line {node.lineno}: a plan file assigns PLAN once, at module level, "
                          "and changes it nowhere (Python would see another value than the one linted)",
                          cols.range(node))

    def visit(node: ast.AST, block: str | None) -> None:
        inner = _BLOCKS.get(type(node), block)
        if isinstance(node, ast.Name) and node.id == "PLAN" and not isinstance(node.ctx, ast.Load) \
                and id(node) not in accepted:
            refuse(node, f"bound again inside {block}" if block else "bound a second time")
        elif isinstance(node, ast.alias) and (node.asname or node.name) == "PLAN":
            refuse(node, "bound by an import")
        elif isinstance(node, (ast.Global, ast.Nonlocal)) and "PLAN" in node.names:
            refuse(node, "declared global inside a function")
        elif block and isinstance(node, ast.stmt) and _changes_plan(node) and not _binds_name(node):
            refuse(node, f"changed inside {block}")
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    for stmt in tree.body:
        visit(stmt, None)

def _binds_name(stmt: ast.stmt) -> bool:
    """An assignment whose PLAN target is the bare name (reported at the name, as a binding)."""
    targets = getattr(stmt, "targets", None) or [getattr(stmt, "target", None)]
    return any(isinstance(t, ast.Name) and t.id == "PLAN" for t in targets)

def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Subscript, ast.Attribute)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _changes_plan(stmt: ast.stmt) -> bool:
    """``PLAN[...] = ``, ``PLAN.x = ``, ``PLAN |= ``, ``del PLAN[...]``, ``PLAN.update(...)`` at module level."""
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
        targets = [stmt.target]
    elif isinstance(stmt, ast.Delete):
        targets = stmt.targets
    elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        targets = [stmt.value.func] if isinstance(stmt.value.func, ast.Attribute) else []
    else:
        return False
    for target in targets:
        names = [target] if not isinstance(target, (ast.Tuple, ast.List)) else list(target.elts)
        if any(_root_name(t) == "PLAN" for t in names):
            return True
    return False


def _is_dict_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict"


class _Columns:
    """ast's (line, UTF-8 byte column) → code-point offsets and positions."""

    def __init__(self, lines: LineIndex) -> None:
        self.lines = lines
        self._cache: dict[int, str] = {}

    def column(self, line: int, col_bytes: int) -> int:
        """0-based code-point column."""
        text = self._cache.get(line)
        if text is None:
            text = self._cache[line] = self.lines.line_text(line)
        if text.isascii():
            return col_bytes
        return len(text.encode("utf-8")[:col_bytes].decode("utf-8", errors="ignore"))

    def offset(self, line: int, col_bytes: int) -> int:
        return self.lines.line_start(line) + self.column(line, col_bytes)

    def span(self, node: ast.AST) -> Span:
        return Span(self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset))

    def range(self, node: ast.AST) -> Range:
        return Range(Position(node.lineno, self.column(node.lineno, node.col_offset) + 1),
                     Position(node.end_lineno, self.column(node.end_lineno, node.end_col_offset) + 1))


#: ast positions → offsets into the text, for source adapters that read Python with ``ast``
Columns = _Columns


class _Reader:
    """Plain values and spans from the literal expression assigned to PLAN."""

    def __init__(self, text: str, cols: _Columns) -> None:
        self.text = text
        self.cols = cols
        self.spans: dict[str, NodeSpan] = {}

    def fail(self, message: str, node: ast.AST) -> SourceError:
        return SourceError(message, self.cols.range(node))

    def source(self, node: ast.AST, limit: int = 40) -> str:
        span = self.cols.span(node)
        written = " ".join(self.text[span.start:span.end].split())
        return written if len(written) <= limit else written[: limit - 1] + "…"

    def read(self, node: ast.expr, pointer: str, key: Span | None, depth: int, record: bool = True):
        """The value of ``node``; ``record`` is False inside list items past MAX_ITEM_SPANS (no spans kept)."""
        if record:
            self.spans[pointer] = NodeSpan(self.cols.span(node), key)
        if isinstance(node, (ast.Dict, ast.List, ast.Tuple)) or _is_dict_call(node):
            if depth > MAX_DEPTH:
                raise self.fail(f"PLAN nests deeper than {MAX_DEPTH} levels", node)
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) \
                and isinstance(node.operand, ast.Constant) and type(node.operand.value) in (int, float):
            v = self.constant(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.read(item, jp.child(pointer, i), None, depth + 1) if record and i < MAX_ITEM_SPANS
                    else self.read(item, "", None, depth + 1, False) for i, item in enumerate(node.elts)]
        if isinstance(node, ast.Dict):
            out: dict = {}
            first: dict[str, int] = {}
            for k, v in zip(node.keys, node.values):
                if k is None:
                    raise self.fail("PLAN must contain only literals: found ** unpacking (write the keys out)", v)
                if not (isinstance(k, ast.Constant) and isinstance(k.value, str)):
                    raise self.fail(f"dict keys in PLAN must be strings: found {_describe(k, self)}", k)
                self.unique(first, k.value, k.lineno, self.cols.range(k))
                out[k.value] = self.read(v, jp.child(pointer, k.value), self.cols.span(k), depth + 1, record)
            return out
        if _is_dict_call(node):
            if node.args:
                raise self.fail("dict(...) in PLAN takes keyword arguments only, like dict(ep=4)", node.args[0])
            out = {}
            first = {}
            for kw in node.keywords:
                if kw.arg is None:
                    raise self.fail("PLAN must contain only literals: found ** unpacking (write the keys out)", kw)
                column = self.cols.column(kw.lineno, kw.col_offset)  # a keyword starts at its name
                name = Range.at(kw.lineno, column + 1, kw.lineno, column + 1 + len(kw.arg))
                self.unique(first, kw.arg, kw.lineno, name)
                start = self.cols.offset(kw.lineno, kw.col_offset)
                out[kw.arg] = self.read(kw.value, jp.child(pointer, kw.arg), Span(start, start + len(kw.arg)), depth + 1,
                                        record)
            return out
        raise self.fail(f"PLAN must contain only literals: found {_describe(node, self)} "
                        "(deploylint reads the file, it never runs it)", node)

    def constant(self, node: ast.Constant):
        v = node.value
        if v is None or isinstance(v, (bool, int, str)):
            return v
        if isinstance(v, float):
            if not math.isfinite(v):
                raise self.fail(f"{self.source(node)} is not a finite number: a plan needs a real value here", node)
            return v
        raise self.fail(f"PLAN must contain only literals: found {_describe(node, self)} (a plan holds numbers, "
                        "strings, booleans, None, lists and dicts)", node)

    def unique(self, first: dict[str, int], key: str, line: int, where: Range) -> None:
        if key in first:
            raise SourceError(f"duplicate key {key!r} (first at line {first[key]})", where)
        first[key] = line


def _describe(node: ast.AST, reader: _Reader) -> str:
    """A short, human name for an expression that is not a plan literal."""
    written = f"`{reader.source(node)}`"
    if isinstance(node, ast.Call):
        return f"a function call {written}"
    if isinstance(node, ast.Name):
        return f"the name {written}"
    if isinstance(node, ast.Attribute):
        return f"the attribute {written}"
    if isinstance(node, ast.JoinedStr):
        return f"an f-string {written}"
    if isinstance(node, (ast.ListComp, ast.DictComp, ast.SetComp, ast.GeneratorExp)):
        return f"a comprehension {written}"
    if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare)):
        return f"an expression {written}"
    if isinstance(node, ast.Set):
        return f"a set {written}"
    if isinstance(node, (ast.List, ast.Tuple)):
        return f"a list {written}"
    if isinstance(node, ast.Constant):
        kinds = {bytes: "a bytes literal", complex: "a complex number", type(...): "an ellipsis", bool: "a boolean",
                 int: "a number", float: "a number", str: "a string", type(None): "None"}
        return f"{kinds.get(type(node.value), 'a value')} {written}"
    if isinstance(node, ast.Lambda):
        return f"a lambda {written}"
    return f"{written} (a {type(node).__name__} expression)"
