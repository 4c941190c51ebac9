"""Writers: value-level changes (``Fix.set/remove/insert/rename``) → minimal text edits, per source format.

Rules never touch text. Each format has a writer module exposing
``apply(document, change) -> str`` (a source adapter's Document may carry its
own writer object with the same ``apply`` and a ``reload``; see
:mod:`.span_writer`) (the whole new text after one change); this
package applies the changes of one fix in turn — re-reading the text between
changes with the format's own loader, so every change sees correct positions —
and then reduces the result to the smallest edits against the original text.
Comments, key order, quoting, indentation, blank lines, line endings and the
final newline outside the changed values are therefore untouched by
construction: the edits only cover what differs.

The same edits are what the CLI applies (``--fix``) and what the language
server offers as quick fixes (converted to UTF-16 positions in one place,
:meth:`deploylint.core.document.LineIndex.utf16_position`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Iterable


class WriteError(Exception):
    """A change this writer cannot express in this file (the fix is then not offered)."""


@dataclass(frozen=True, slots=True)
class TextEdit:
    """Replace ``text[start:end]`` (code-point offsets) with ``new_text``."""

    start: int
    end: int
    new_text: str


def writer_for(fmt: str):
    try:
        return importlib.import_module(f"{__name__}.{fmt}_writer")
    except ImportError:
        raise WriteError(f"no writer for the {fmt!r} format") from None


def apply_changes(document, changes: Iterable) -> str:
    """The full text of ``document`` after ``changes`` (each applied to the result of the previous)."""
    from .. import Document
    from ..sources import SourceError, load

    writer = document.writer if document.writer is not None else writer_for(document.format)
    current = document
    text = document.text
    changes = list(changes)
    for i, change in enumerate(changes):
        if change.op == "rename":
            from .. import pointer as jp

            sibling = jp.child(jp.parent(change.path), change.value)
            if jp.exists(current.data, sibling):
                raise WriteError(f"cannot rename {change.path}: {sibling} already exists")
        text = writer.apply(current, change)
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
                                   current.newline, document.bom)
    return text


def minimal_edits(old: str, new: str) -> list[TextEdit]:
    """The smallest line-aligned edits that turn ``old`` into ``new`` (one per changed region)."""
    if old == new:
        return []
    old_lines = old.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    starts = [0]
    for line in old_lines:
        starts.append(starts[-1] + len(line))
    edits: list[TextEdit] = []
    import difflib  # only when a suggestion or a diff is needed

    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        a = "".join(old_lines[i1:i2])
        b = "".join(new_lines[j1:j2])
        # trim the common prefix and suffix inside the region: the edit covers only what changed
        p = 0
        while p < min(len(a), len(b)) and a[p] == b[p]:
            p += 1
        s = 0
        while s < min(len(a), len(b)) - p and a[len(a) - 1 - s] == b[len(b) - 1 - s]:
            s += 1
        edits.append(TextEdit(starts[i1] + p, starts[i2] - s, b[p:len(b) - s]))
    return edits


def cut_member(text: str, start: int, end: int, *, whole_lines: bool = False) -> str:
    """Remove the member ``text[start:end]`` of a comma-separated collection, and one comma with it.

    A member followed by a comma takes that comma (and the spaces after it);
    the last member takes the comma before it; an only member leaves the
    brackets empty. With ``whole_lines``, a member alone on its line takes the
    line, so one-member-per-line layouts stay tidy.
    """
    j = end
    while j < len(text) and text[j] in " \t\r\n":
        j += 1
    if j < len(text) and text[j] == ",":
        k = j + 1
        while k < len(text) and text[k] in (" \t\r\n" if whole_lines else " \t"):
            k += 1
        line_start = text.rfind("\n", 0, start) + 1
        if whole_lines and text[line_start:start].strip() == "" and "\n" in text[j + 1:k]:
            return text[:line_start] + text[text.rfind("\n", 0, k) + 1:]
        return text[:start] + text[k:]
    i = start
    while i > 0 and text[i - 1] in " \t\r\n":
        i -= 1
    if i > 0 and text[i - 1] == ",":
        return text[:i - 1] + text[end:]
    return text[:start] + text[end:]


def children(spans, parent: str) -> list:
    """(pointer, NodeSpan) of the direct children of ``parent`` in a span map."""
    prefix = parent + "/"
    return [(p, n) for p, n in spans.items() if p.startswith(prefix) and "/" not in p[len(prefix):]]


def nearest_owner(spans, path: str) -> tuple[str, list[str]]:
    """The closest ancestor of ``path`` written in the file, and the keys still to create under it."""
    from .. import pointer as jp

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
