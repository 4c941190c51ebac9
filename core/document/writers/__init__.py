"""Writers: value-level changes (``Fix.set/remove/insert/rename``) → minimal text edits, per source format.

Rules never touch text. Each format has a writer module exposing
``apply(document, change) -> str`` (a source adapter's Document may carry its
own writer object with the same ``apply`` and a ``reload``; see
:mod:`.span_writer`) (the whole new text after one change); this
package applies the changes of one fix in turn — re-reading the text between
changes with the format's own loader, so every change sees correct positions,
unless the writer shows that the changes cannot see one another (``local_edit``,
see :func:`_splice_local_edits`: then they are applied at once) — and then reduces the result to the smallest edits against the original text.
Comments, key order, quoting, indentation, blank lines, line endings and the
final newline outside the changed values are therefore untouched by
construction: the edits only cover what differs.

The same edits are what the CLI applies (``--fix``) and what the language
server offers as quick fixes (converted to UTF-16 positions in one place,
:meth:`deploylint.core.document.LineIndex.utf16_position`).
"""

from __future__ import annotations

import importlib
import math
import re
from typing import Iterable

from ...records import record
from .. import MAX_ITEM_SPANS
from .. import pointer as jp


class WriteError(Exception):
    """A change this writer cannot express in this file (the fix is then not offered).

    ``explained=True``: the message tells the user why and what to change instead (a source adapter's
    writer: "Megatron-LM has no flag for dp …"); when no fix of a finding can be written, the finding's
    message ends with "no fix offered: <this message>".
    """

    def __init__(self, message: str = "", *, explained: bool = False) -> None:
        super().__init__(message)
        self.explained = explained


@record(frozen=True, slots=True)
class TextEdit:
    """Replace ``text[start:end]`` (code-point offsets) with ``new_text``."""

    start: int
    end: int
    new_text: str


def writer_for(fmt: str):
    writer = _WRITERS.get(fmt)
    if writer is None:
        try:
            writer = _WRITERS[fmt] = importlib.import_module(f"{__name__}.{fmt}_writer")
        except ImportError:
            raise WriteError(f"no writer for the {fmt!r} format") from None
    return writer


#: each format's writer module once imported (importlib.import_module costs a few µs, and every fix asks)
_WRITERS: dict = {}


def apply_changes(document, changes: Iterable) -> str:
    """The full text of ``document`` after ``changes`` (each applied to the result of the previous)."""
    writer = document.writer if document.writer is not None else writer_for(document.format)
    changes = list(changes)
    if len(changes) > 1 and getattr(writer, "local_edit", None) is not None:
        spliced = _splice_local_edits(document, writer, changes)
        if spliced is not None:
            return spliced
    return _apply_in_turn(document, writer, changes)


def _apply_in_turn(document, writer, changes: list) -> str:
    """The text after ``changes``, applying each to the text the previous one left (re-read in between)."""
    from .. import Document
    from ..sources import SourceError, load

    current = document
    text = document.text
    for i, change in enumerate(changes):
        _refuse_unlocated(current.data, change.path)
        if change.op == "rename":
            sibling = jp.child(jp.parent(change.path), change.value)
            if jp.exists(current.data, sibling):
                raise WriteError(f"cannot rename {change.path}: {sibling} already exists")
        # after a reload, the document's own writer: its bindings are the offsets in the text as it now is
        text = (current.writer or writer).apply(current, change)
        if i + 1 < len(changes):
            try:
                if document.writer is not None:
                    current = document.writer.reload(current, text)
                else:
                    current = load(document.path, text, document.format)
            except SourceError as exc:
                raise WriteError(f"the text after {change.op} {change.path} no longer parses: {exc.message}") from None
            if document.writer is None:
                current = Document(current.path, current.text, current.format, current.data, current.spans,
                                   current.newline, document.bom, _index=current._index, layout=current.layout)
    return text


def _splice_local_edits(document, writer, changes: list) -> str | None:
    """The text after ``changes`` without re-reading it between them, or None when that shortcut does not apply.

    A writer may offer ``local_edit(document, change, before, after) -> TextEdit | None`` (the other changes of
    the fix, ahead of this one and after it): the exact text it replaces for a change whose text depends only on
    what it replaces (and on the blanks and separator next to it), None for any other change. When every change
    of the fix has one, values are plain data (see :func:`_plain`) and the edits lie on lines of their own, no edit can
    see another: applying them to the original text at once is what the sequential path (apply, re-read, apply)
    produces, which re-reads only to find the positions again.
    """
    edits = []
    for i, change in enumerate(changes):
        if change.op in ("set", "insert") and not _plain(change.value):
            return None
        try:
            _refuse_unlocated(document.data, change.path)
            edit = writer.local_edit(document, change, changes[:i], changes[i + 1:])
        except WriteError:
            return None           # the sequential path says why, in its own words
        if edit is None:
            return None
        edits.append(edit)
    edits.sort(key=lambda e: (e.start, e.end))
    lines = document.lines
    last_line = None
    for e in edits:
        first = lines.position(e.start).line
        if last_line is not None and first <= last_line:
            return None           # two edits on one line (or overlapping): the sequential path decides
        last_line = lines.position(max(e.start, e.end - 1)).line
    return splice(document.text, edits)


def splice(text: str, edits) -> str:
    """``text`` with ``edits`` applied at once: each replaces ``text[start:end]`` (code-point offsets into ``text``)
    with its ``new_text`` — a writer's :class:`TextEdit` or a fix's ``Edit``; the one way deploylint applies edits.

    They are applied by position, and insertions at one point in the order given, as an editor applies the same
    edits sent as LSP text edits. Edits that overlap raise ValueError (no order of them is right)."""
    out, at = [], 0
    for e in sorted(edits, key=lambda e: (e.start, e.end)):
        if e.start < at:
            raise ValueError(f"edits overlap: {e.start}..{e.end} begins before {at}, where another ends")
        out += [text[at:e.start], e.new_text]
        at = e.end
    out.append(text[at:])
    return "".join(out)


def _plain(value) -> bool:
    """Data every splicing writer writes as one valid value: no null, no non-finite number, no control character."""
    if isinstance(value, (bool, int)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return re.fullmatch(_PLAIN_TEXT, value) is not None
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and re.fullmatch(_PLAIN_TEXT, k) is not None and _plain(v) for k, v in value.items())
    return False


#: printable text without surrogates: what TOML's basic strings and JSON strings hold as written (compiled when a
#: fix is first written: a check that writes none does not pay for it)
_PLAIN_TEXT = r"[^\x00-\x1f\x7f\ud800-\udfff]*"


def _refuse_unlocated(data, path: str) -> None:
    """A change inside a list item past MAX_ITEM_SPANS: the loaders kept no position for it to edit."""
    node = data
    for token in jp.split(path):
        if isinstance(node, list):
            if not token.isdigit():
                return
            if int(token) >= MAX_ITEM_SPANS:
                raise WriteError(f"{path} is past item {MAX_ITEM_SPANS:,} of its list, where no position is kept")
            node = node[int(token)] if int(token) < len(node) else None
        elif isinstance(node, dict) and token in node:
            node = node[token]
        else:
            return


def minimal_edits(old: str, new: str) -> list[TextEdit]:
    """The smallest line-aligned edits that turn ``old`` into ``new`` (one per changed region).

    The lines both texts share at their start and end are set aside first (in
    linear time, comparing large slices), so only the lines between the first
    and the last difference are compared line by line: the cost of a fix grows
    with the file, never with the square of its identical lines.
    """
    if old == new:
        return []
    head = _common_prefix(old, new)
    head = max(old.rfind("\n", 0, head), old.rfind("\r", 0, head)) + 1   # back to the start of its line
    tail = _common_suffix(old, new, min(len(old), len(new)) - head)
    tail = _line_tail(old, tail)
    old_mid, new_mid = old[head:len(old) - tail], new[head:len(new) - tail]
    return [TextEdit(head + e.start, head + e.end, e.new_text) for e in _line_diff(old_mid, new_mid)]


_CHUNK = 1 << 16


def _common_prefix(a: str, b: str) -> int:
    """Length of the longest common prefix of ``a`` and ``b``."""
    n = min(len(a), len(b))
    lo = 0
    while lo < n and a[lo:lo + _CHUNK] == b[lo:lo + _CHUNK]:
        lo += _CHUNK
    if lo >= n:
        return n
    hi = min(n, lo + _CHUNK)            # a[lo:hi] differs somewhere; a[:lo] is shared
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo if a[lo] != b[lo] else lo + 1


def _common_suffix(a: str, b: str, limit: int) -> int:
    """Length of the longest common suffix of ``a`` and ``b``, at most ``limit``."""
    la, lb = len(a), len(b)
    k = 0
    while k < limit:
        step = min(_CHUNK, limit - k)
        if a[la - k - step:la - k] != b[lb - k - step:lb - k]:
            break
        k += step
    else:
        return limit
    lo, hi = k, k + min(_CHUNK, limit - k)   # the last ``lo`` are shared, the last ``hi`` are not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[la - mid:la - lo] == b[lb - mid:lb - lo]:
            lo = mid
        else:
            hi = mid
    return lo


def _line_tail(text: str, tail: int) -> int:
    """Shrink a shared suffix of ``text`` so that it starts at the beginning of a line."""
    start = len(text) - tail
    if start == 0 or text[start - 1] in "\r\n":
        # a break just before: also the second half of a CRLF must not start the suffix
        if start and text[start - 1] == "\r" and start < len(text) and text[start] == "\n":
            return _line_tail(text, tail - 1)
        return tail
    nl = text.find("\n", start)
    cr = text.find("\r", start, nl if nl >= 0 else len(text))
    brk = cr if cr >= 0 else nl
    if brk < 0:
        return 0
    brk += 2 if text.startswith("\r\n", brk) else 1
    return len(text) - brk


def _line_diff(old: str, new: str) -> list[TextEdit]:
    old_lines = old.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    starts = [0]
    for line in old_lines:
        starts.append(starts[-1] + len(line))
    edits: list[TextEdit] = []
    if old_lines == new_lines:
        opcodes = []
    elif len(old_lines) + len(new_lines) <= 2 or not old_lines or not new_lines:
        # one line against another, or lines against none: no line can match, so difflib's only opcode is the
        # whole of both (replace, insert or delete), and so is this
        opcodes = [("replace", 0, len(old_lines), 0, len(new_lines))]
    else:
        import difflib  # only when a suggestion or a diff is needed

        # a few lines in the usual case; junk heuristics only matter (and only help) for long regions
        opcodes = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=len(old_lines) > 1000).get_opcodes()
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            continue
        a = "".join(old_lines[i1:i2])
        b = "".join(new_lines[j1:j2])
        # trim the common prefix and suffix inside the region: the edit covers only what changed
        p = _common_prefix(a, b)
        s = _common_suffix(a, b, min(len(a), len(b)) - p)
        edits.append(TextEdit(starts[i1] + p, starts[i2] - s, b[p:len(b) - s]))
    return edits


def cut_member(text: str, start: int, end: int, *, whole_lines: bool = False) -> str:
    """Remove the member ``text[start:end]`` of a comma-separated collection, and one comma with it.

    A member followed by a comma takes that comma (and the spaces after it);
    the last member takes the comma before it; an only member leaves the
    brackets empty. With ``whole_lines``, a member alone on its line takes the
    line, so one-member-per-line layouts stay tidy.
    """
    cut = member_cut(text, start, end, whole_lines=whole_lines)
    return text[:cut.start] + text[cut.end:]


def member_cut(text: str, start: int, end: int, *, whole_lines: bool = False) -> TextEdit:
    """The text :func:`cut_member` removes, as an edit."""
    j = end
    while j < len(text) and text[j] in " \t\r\n":
        j += 1
    if j < len(text) and text[j] == ",":
        k = j + 1
        while k < len(text) and text[k] in (" \t\r\n" if whole_lines else " \t"):
            k += 1
        line_start = text.rfind("\n", 0, start) + 1
        if whole_lines and text[line_start:start].strip() == "" and "\n" in text[j + 1:k]:
            return TextEdit(line_start, text.rfind("\n", 0, k) + 1, "")
        return TextEdit(start, k, "")
    i = start
    while i > 0 and text[i - 1] in " \t\r\n":
        i -= 1
    if i > 0 and text[i - 1] == ",":
        return TextEdit(i - 1, end, "")
    return TextEdit(start, end, "")


def children(spans, parent: str) -> list:
    """(pointer, NodeSpan) of the direct children of ``parent`` in a span map."""
    prefix = parent + "/"
    return [(p, n) for p, n in spans.items() if p.startswith(prefix) and "/" not in p[len(prefix):]]


def nearest_owner(spans, path: str) -> tuple[str, list[str]]:
    """The closest ancestor of ``path`` written in the file, and the keys still to create under it."""
    tokens = jp.split(path)
    for depth in range(len(tokens) - 1, -1, -1):
        owner = jp.join(*tokens[:depth])
        if owner in spans:
            return owner, tokens[depth:]
    raise WriteError(f"cannot find where to add {path}")


def render(document, change) -> list[TextEdit]:
    """Text edits for one value change."""
    return minimal_edits(document.text, apply_changes(document, [change]))


def render_changes(document, changes: Iterable) -> list[TextEdit]:
    """Text edits for the changes of one fix, applied together."""
    return minimal_edits(document.text, apply_changes(document, changes))
