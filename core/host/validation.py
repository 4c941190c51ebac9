"""What a plugin hands back must be something every output can carry.

A rule's diagnostic travels to the text report, JSON, SARIF, GitHub workflow
commands and the language server. Each of them breaks on something different:
a severity none of them knows, a lone surrogate (no UTF-8 encoder accepts
it), ``NaN`` (not JSON), a negative or inverted range (SARIF's schema forbids
it), a line break in a message (a CI log reads a line that starts with
``::error`` as a workflow command). :func:`checked_diagnostic` either returns
the diagnostic in a form all of them accept, or says what is wrong, so that
the engine reports DL005 naming the plugin instead of crashing a reporter.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

from ..diagnostics import Diagnostic, Edit, Fix, Range, Related, Severity, ValueChange
from ..document import pointer as jp

#: control characters, line/paragraph separators and the bidirectional overrides and isolates (which can make
#: a terminal show text in another order than it is): each becomes one space in a message
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")

#: the value-level operations a fix may carry (see ValueChange)
FIX_OPERATIONS = ("set", "remove", "insert", "rename")


class BadOutput(Exception):
    """A plugin returned something no output can carry; the message says what (a verb phrase)."""


class PluginFault(Exception):
    """A plugin failed in its worker process; the message says how (a verb phrase: "ran past its time budget…")."""

    def __init__(self, message: str, plugin: str | None = None) -> None:
        super().__init__(message)
        self.plugin = plugin


def one_line(text: str) -> str:
    """``text`` with every control character (line breaks, tabs, escapes) replaced by one space."""
    return _CONTROL.sub(" ", text)


def utf8_problem(text: Any, what: str) -> str | None:
    if not isinstance(text, str):
        return f"gave {what} of type {type(text).__name__}, not a string"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"gave {what} that is not valid Unicode (a lone surrogate {text[exc.start:exc.end]!a} at character {exc.start})"
    return None


def json_problem(value: Any, what: str) -> str | None:
    """Why ``value`` is not plain, finite JSON that encodes as UTF-8, or None."""
    if _plainly_json(value, 0):
        return None
    try:
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        kind = "NaN or infinity" if isinstance(exc, ValueError) and "JSON compliant" in str(exc) else type(exc).__name__
        if isinstance(exc, UnicodeEncodeError):
            kind = "a lone surrogate"
        return f"gave {what} that is not plain, finite JSON ({kind})"
    return None


#: how deep :func:`_plainly_json` follows lists and mappings before it leaves the value to json.dumps
_PLAIN_DEPTH = 32


def _plainly_json(value: Any, depth: int) -> bool:
    """True when ``value`` is certainly what :func:`json_problem` accepts — built-in str, int, bool, None, finite
    float, and lists, tuples and str-keyed dicts of them, shallow, with no lone surrogate — without encoding it
    (json.dumps builds an encoder for every call: several µs for a rule's figures, and a file has dozens of
    them). False says nothing: json.dumps decides, and words the problem."""
    t = type(value)
    if t is str:
        if value.isascii():
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if t is int or t is bool or value is None:
        return True
    if t is float:
        return value - value == 0          # NaN and infinities give NaN
    if depth >= _PLAIN_DEPTH:
        return False
    if t is list or t is tuple:
        for item in value:
            if not _plainly_json(item, depth + 1):
                return False
        return True
    if t is dict:
        for key, item in value.items():
            if type(key) is not str or not _plainly_json(key, depth) or not _plainly_json(item, depth + 1):
                return False
        return True
    return False


def range_problem(rng: Any, lines, what: str) -> str | None:
    """Why ``rng`` is not a forward range inside the document (``lines``; None: of a file not read), or None."""
    if not isinstance(rng, Range) or not all(hasattr(rng, p) for p in ("start", "end")):
        return f"gave {what} that is not a deploylint.core.Range"
    for pos in (rng.start, rng.end):
        line, column = getattr(pos, "line", None), getattr(pos, "column", None)
        if type(line) is not int or type(column) is not int or line < 1 or column < 1:
            return f"gave {what} with a position that is not 1-based line and column numbers ({line!r}, {column!r})"
        if lines is not None and (line > lines.line_count or column > len(lines.line_text(line)) + 2):
            return f"gave {what} that ends outside the file (line {line}, column {column})"
    if (rng.end.line, rng.end.column) < (rng.start.line, rng.start.column):
        return f"gave {what} that ends before it starts"
    return None


def offsets_problem(edit: Edit, lines) -> str | None:
    """An edit is what its range says: offsets passed as well must be the ones the range names."""
    if edit.start is None:
        return None   # the engine derives them from the range
    start, end = lines.offset(edit.range.start), lines.offset(edit.range.end)
    if (edit.start, edit.end) == (start, end):
        return None
    r = edit.range
    return (f"gave an edit whose offsets {edit.start}..{edit.end} are not those of its range "
            f"{r.start.line}:{r.start.column}-{r.end.line}:{r.end.column} ({start}..{end})")


def checked_results(produced: list, rule, document, limit: int) -> list[Diagnostic]:
    """What a rule yielded for one file, each item checked (:func:`checked_diagnostic`); BadOutput otherwise."""
    if len(produced) > limit:
        raise BadOutput(f"yielded more than {limit} diagnostics for one file")
    return [checked_diagnostic(item, rule.code, rule.name, document) for item in produced]


def checked_diagnostic(item: Any, code: str, name: str, document) -> Diagnostic:
    """``item`` as a diagnostic every output accepts, or :class:`BadOutput` saying why it is not one.

    ``code`` and ``name`` are the rule's.
    """
    if not isinstance(item, Diagnostic):
        raise BadOutput(f"yielded {type(item).__name__} {one_line(_short_repr(item))}, not a Diagnostic")
    if item.code != code:
        raise BadOutput(f"yielded a diagnostic with code {one_line(_short_repr(item.code))}, not its own code {code}")
    severity = item.severity
    if not isinstance(severity, Severity):
        try:
            severity = Severity.parse(severity) if isinstance(severity, str) else None
        except ValueError:
            severity = None
        if severity is None:
            raise BadOutput(f"yielded a diagnostic with severity {one_line(_short_repr(item.severity))} "
                            "(expected error, warning, info or hint)")
    if not isinstance(item.message, str) or not item.message.strip():
        raise BadOutput("yielded a diagnostic without a message")
    _raise(utf8_problem(item.message, "a message"))
    if not isinstance(item.path, str):
        raise BadOutput(f"reported {one_line(_short_repr(item.path))}, which is not a JSON pointer")
    try:
        jp.split(item.path)
    except (ValueError, AttributeError):
        raise BadOutput(f"reported {one_line(_short_repr(item.path))}, which is not a JSON pointer") from None
    _raise(utf8_problem(item.path, "a path"))
    if not jp.exists(document.data, item.path) and not schema_knows(item.path):
        raise BadOutput(f"reported path {one_line(_short_repr(item.path))}, which is neither in the plan nor in the plan format")
    if not isinstance(item.data, Mapping):
        raise BadOutput(f"gave figures (data) of type {type(item.data).__name__}, not a mapping")
    _raise(json_problem(dict(item.data), "figures (data)"))
    if item.range is not None:
        _raise(range_problem(item.range, document.lines, "a range"))
    fixes = item.fixes if isinstance(item.fixes, (tuple, list)) else None
    if fixes is None:
        raise BadOutput(f"gave fixes of type {type(item.fixes).__name__}, not a tuple of Fix")
    related = item.related if isinstance(item.related, (tuple, list)) else None
    if related is None:
        raise BadOutput(f"gave related places of type {type(item.related).__name__}, not a tuple of Related")
    if not isinstance(item.refusal, str):
        raise BadOutput(f"gave a refusal of type {type(item.refusal).__name__}, not a string")
    _raise(utf8_problem(item.refusal, "a refusal"))
    refusal = one_line(item.refusal)
    message = one_line(item.message)
    if refusal and "no fix offered" not in message:     # every report says why, not only the editor's menu
        message = f"{message}; no fix offered: {refusal}"
    return item.with_(severity=severity, message=message, rule=name, refusal=refusal,
                      data=dict(item.data), fixes=tuple(_checked_fix(f, document) for f in fixes),
                      related=tuple(_checked_related(r, document) for r in related))


def _checked_related(place: Any, document) -> Related:
    """A related place every output can carry: a message on one line, and a range (or offsets) inside the file."""
    if not isinstance(place, Related):
        raise BadOutput(f"gave a related place that is not a deploylint.core.Related: {one_line(_short_repr(place))}")
    _raise(utf8_problem(place.message, "a related message"))
    if place.file is not None:
        _raise(utf8_problem(place.file, "a related file"))
        if _CONTROL.search(place.file):
            # a file name is printed as it is (an editor must find the file): one with a line break could
            # write a line of its own into the report, such as a CI system's command
            raise BadOutput(f"gave a related file name with a control character: {_short_repr(place.file)}")
    if place.range is not None:   # in another file (which deploylint has not read): a forward range, at least
        _raise(range_problem(place.range, document.lines if place.file is None else None, "a related range"))
    start, end = place.start, place.end
    if type(start) is not int or type(end) is not int or (start, end) != (-1, -1) and not (
            place.file is None and 0 <= start <= end <= len(document.text)):
        raise BadOutput(f"gave a related place whose offsets {one_line(_short_repr(start))}..{one_line(_short_repr(end))} "
                        "are not inside the file")
    if place.range is None and start < 0:
        raise BadOutput("gave a related place with neither a range nor offsets")
    return Related(one_line(place.message), place.range, place.file, start, end)


def schema_knows(pointer: str) -> bool:
    """Whether the plan format defines ``pointer`` (a key a plan may leave to its default)."""
    from ..pipeline.schema import load_schema

    schema = load_schema()
    node: Any = schema
    for token in jp.split(pointer):
        node = _deref(schema, node)
        props = node.get("properties", {}) if isinstance(node, dict) else {}
        if token in props:
            node = props[token]
        elif token.isdigit() and isinstance(node, dict) and ("items" in node or "anyOf" in node or "oneOf" in node):
            node = node.get("items", node)
        else:
            return False
    return True


def _deref(root: dict, node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#"):
            return node
        node = jp.resolve(root, ref[1:], {})
    return node


def _checked_fix(fix: Any, document) -> Fix:
    if not isinstance(fix, Fix):
        raise BadOutput(f"offered a fix that is not a Fix: {one_line(_short_repr(fix))}")
    _raise(utf8_problem(fix.message, "a fix message"))
    for change in fix.changes:
        if not isinstance(change, ValueChange) or change.op not in FIX_OPERATIONS or not isinstance(change.path, str):
            raise BadOutput(f"offered a fix with a change that is not a ValueChange ({', '.join(FIX_OPERATIONS)}): "
                            f"{one_line(_short_repr(change))}")
        _raise(json_problem(change.value, "a fix value"))
    for edit in fix.edits:
        if not isinstance(edit, Edit):
            raise BadOutput(f"offered a fix with an edit that is not an Edit: {one_line(_short_repr(edit))}")
        _raise(range_problem(edit.range, document.lines, "an edit range"))
        _raise(utf8_problem(edit.new_text, "an edit text"))
        _raise(offsets_problem(edit, document.lines))
    ordered = sorted(fix.edits, key=lambda e: (e.range.start, e.range.end))
    for a, b in zip(ordered, ordered[1:]):
        if b.range.start < a.range.end:
            raise BadOutput(f"offered a fix whose edits overlap (at line {b.range.start.line}, column "
                            f"{b.range.start.column}): no order of applying them is right")
    return fix if fix.message == one_line(fix.message) else _with_message(fix, one_line(fix.message))


def _with_message(fix: Fix, message: str) -> Fix:
    from ..records import replace

    return replace(fix, message=message)


def _raise(problem: str | None) -> None:
    if problem:
        raise BadOutput(problem)


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # a hostile __repr__ stays the plugin's problem
        text = f"<unprintable {type(value).__name__}: {type(exc).__name__}>"
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= 80 else text[:77] + "..."


def exception_text(exc: BaseException) -> str:
    """What a plugin's exception did, as a verb phrase: ``raised Type: message`` or ``called sys.exit(0)``.

    Safe whatever the exception's ``__str__`` does; the text is cut to 500 characters.
    """
    if isinstance(exc, (BadOutput, PluginFault)):
        return str(exc)
    if isinstance(exc, SystemExit):
        return f"called sys.exit({_short_repr(exc.code)}), which deploylint does not let a plugin end the run with"
    try:
        text = str(exc)
    except Exception as inner:  # an exception whose __str__ raises
        text = f"<unprintable: {type(inner).__name__}>"
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    text = text if len(text) <= 500 else text[:497] + "..."
    return f"raised {type(exc).__name__}: {text}" if text else f"raised {type(exc).__name__}"
