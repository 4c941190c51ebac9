"""JSON writer: value edits at the loader's spans, new members in the object's own indentation.

JSON has no comments, but people care about its layout all the same: a
changed value keeps its place, a new member follows the last one on its own
line with the same indentation (or on the same line in a one-line object),
and a removed member takes its separating comma with it.
"""

from __future__ import annotations

import json
import math

from . import TextEdit, WriteError, member_cut, splice, nearest_owner
from . import children as entries_of


def value_text(value) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        raise WriteError("JSON has no infinite or NaN numbers")
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def local_edit(document, change, before=(), after=()) -> TextEdit | None:
    """Exactly what a set of an existing value or a remove replaces; None for any other change.

    Such an edit depends on the text it replaces alone (and on the comma and blanks next to a member), which lets
    the changes of one fix be applied without re-reading the file between them (``writers._splice_local_edits``).
    """
    if change.path not in document.spans:
        return None
    if change.op == "set":
        return _set_edit(document, change.path, change.value)
    if change.op == "remove":
        return _remove_edit(document, change.path)
    return None


def apply(document, change) -> str:
    text, spans = document.text, document.spans
    op, path = change.op, change.path
    if op in ("set", "insert") and path in spans:
        if op == "insert":
            raise WriteError(f"{path} already exists")
        return splice(text, [_set_edit(document, path, change.value)])
    if op in ("set", "insert"):
        return _insert(document, path, change.value)
    if op == "remove":
        return splice(text, [_remove_edit(document, path)])
    if op == "rename":
        node = spans.get(path)
        if node is None or node.key is None:
            raise WriteError(f"{path} is not a key in this file")
        return text[:node.key.start] + json.dumps(change.value, ensure_ascii=False) + text[node.key.end:]
    raise WriteError(f"unknown change {op!r}")


def _set_edit(document, path, value) -> TextEdit:
    node = document.spans[path].value
    return TextEdit(node.start, node.end, value_text(value))


def _insert(document, path, value) -> str:
    text, spans, nl = document.text, document.spans, document.newline
    owner, rest = nearest_owner(spans, path)
    node = spans[owner].value
    if text[node.start] != "{":
        raise WriteError(f"{owner or 'the document'} is not an object")
    nested = value
    for t in reversed(rest[1:]):
        nested = {t: nested}
    member = f"{json.dumps(rest[0], ensure_ascii=False)}: {value_text(nested)}"
    children = entries_of(spans, owner)
    if not children:
        return text[:node.start] + "{" + member + "}" + text[node.end:]
    first = min(children, key=lambda c: c[1].key.start)[1]
    last = max(children, key=lambda c: c[1].value.end)[1]
    between = text[node.start + 1:first.key.start]
    if "\n" in between or "\r" in between:
        line_start = text.rfind("\n", 0, first.key.start) + 1
        indent = text[line_start:first.key.start]
        return text[:last.value.end] + "," + nl + indent + member + text[last.value.end:]
    return text[:last.value.end] + ", " + member + text[last.value.end:]


def _remove_edit(document, path) -> TextEdit:
    text, spans = document.text, document.spans
    node = spans.get(path)
    if node is None:
        raise WriteError(f"{path} is not in this file")
    start = node.key.start if node.key is not None else node.value.start
    return member_cut(text, start, node.value.end, whole_lines=True)
