"""TOML writer: set, insert, remove and rename values in place, keeping everything else byte for byte.

Positions come from the loader's span scanner (:func:`~deploylint.core.document.sources.toml_source.scan`),
which also says how each table was written, so a new key goes where a person
would put it: on a new line at the end of its ``[table]`` (with the table's
indentation), after the last ``dotted.key`` of a dotted table, or inside the
braces of an inline table. A missing table becomes a dotted key in the nearest
existing table, or a new ``[table]`` at the end of the file.
"""

from __future__ import annotations

import json
import math
import re

from .. import pointer as jp
from ..sources.toml_source import scan
from . import TextEdit, WriteError, member_cut, splice

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def key_text(key: str) -> str:
    return key if _BARE.match(key) else json.dumps(key, ensure_ascii=False)


def value_text(value, *, like: str | None = None) -> str:
    """``value`` as TOML, in the style of ``like`` (the text it replaces) where that matters."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise WriteError("a plan value must be finite")
        text = repr(value)
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(value, str):
        if like and like.startswith("'") and not like.startswith("'''") and "'" not in value and "\n" not in value:
            return f"'{value}'"
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{key_text(k)} = {value_text(v)}" for k, v in value.items()) + " }"
    if value is None:
        raise WriteError("TOML has no null: remove the key instead")
    raise WriteError(f"cannot write a {type(value).__name__} in TOML")


def apply(document, change) -> str:
    text = document.text
    if document.layout is not None:
        spans, layout = document.spans, document.layout   # what the loader's scan found: no second scan
    else:
        spans, layout = scan(text)
    op, path = change.op, change.path
    if op == "set":
        node = spans.get(path)
        if node is None:
            return splice(text, [_insert_edit(document, text, spans, layout, path, change.value)])
        return splice(text, [_set_edit(text, node, change.value)])
    if op == "insert":
        if path in spans:
            raise WriteError(f"{path} already exists")
        return splice(text, [_insert_edit(document, text, spans, layout, path, change.value)])
    if op == "remove":
        return splice(text, [_remove_edit(text, spans, layout, path)])
    if op == "rename":
        node = spans.get(path)
        if node is None or node.key is None:
            raise WriteError(f"{path} is not a key in this file")
        if jp.child(jp.parent(path), change.value) in spans:
            raise WriteError(f"{change.value!r} already exists next to {path}")
        return text[:node.key.start] + key_text(change.value) + text[node.key.end:]
    raise WriteError(f"unknown change {op!r}")


def local_edit(document, change, before=(), after=()) -> TextEdit | None:
    """Exactly what ``change`` replaces, when that depends on the replaced text alone; None otherwise.

    So are a set of an existing value (not a table), a remove (a list item takes the comma and blanks next to
    it), and a new key at the end of a ``[table]`` that no other change of the fix (``before`` and ``after``
    it) removes, nor any table around it, nor — earlier — a key of its own (which would move where its keys
    end). This lets the changes of one fix be applied without re-reading the file between them
    (``writers._splice_local_edits``).
    """
    spans, layout, path, text = document.spans, document.layout, change.path, document.text
    if layout is None or change.op not in ("set", "remove", "insert"):
        return None
    if path not in spans:
        if change.op == "remove":
            return None
        try:
            owner, _ = _owner(spans, layout, path)
        except WriteError:
            return None
        info = layout.tables.get(owner)
        if info is None or info.style not in ("header", "array-header"):
            return None
        removed = [c.path for c in (*before, *after) if c.op == "remove"]
        earlier = [c.path for c in before if c.op == "remove"]
        if any(p == owner or owner.startswith(p + "/") for p in removed) or \
                any(p.startswith(owner + "/") for p in earlier):
            return None
        return _insert_edit(document, text, spans, layout, path, change.value)
    if change.op == "insert":
        return None
    if change.op == "set":
        below = path + "/"
        if path in layout.tables or any(t.startswith(below) for t in layout.tables):
            return None
        return _set_edit(text, spans[path], change.value)
    return _remove_edit(text, spans, layout, path)


def _set_edit(text: str, node, value) -> TextEdit:
    old = text[node.value.start:node.value.end]
    return TextEdit(node.value.start, node.value.end, value_text(value, like=old))


def _line_start(text: str, i: int) -> int:
    return text.rfind("\n", 0, i) + 1


def _line_end(text: str, i: int) -> int:
    j = text.find("\n", i)
    return len(text) if j < 0 else j + 1


def _owner(spans, layout, path) -> tuple[str, list[str]]:
    """The nearest existing ancestor table of ``path``, and the keys still to create under it."""
    tokens = jp.split(path)
    for depth in range(len(tokens) - 1, -1, -1):
        owner = jp.join(*tokens[:depth])
        if owner == "" or owner in layout.tables:
            break
        if owner in spans:
            raise WriteError(f"{owner} is a value, not a table")
    return owner, tokens[depth:]


def _insert_edit(document, text, spans, layout, path, value) -> TextEdit:
    nl = document.newline
    owner, rest = _owner(spans, layout, path)
    info = layout.tables.get(owner)
    dotted = ".".join(key_text(t) for t in rest)
    line = f"{dotted} = {value_text(value)}"
    if owner == "" and len(rest) > 1:
        # a new [table] at the end of the file (a top-level dotted key would read oddly)
        head, tail = rest[0], rest[1:]
        if jp.join(head) in spans:
            raise WriteError(f"/{head} is not a table")
        body = ".".join(key_text(t) for t in tail) + f" = {value_text(value)}"
        sep = "" if text.endswith(("\n", "\r")) or not text else nl
        blank = nl if text.strip() else ""
        return TextEdit(len(text), len(text), f"{sep}{blank}[{key_text(head)}]{nl}{body}{nl}")
    if info is None:
        raise WriteError(f"cannot find where to add {path}")
    if info.style == "inline":
        node = spans[owner]
        inner_end = node.value.end - 1            # the closing brace
        inside = text[node.value.start + 1:inner_end]
        if inside.strip():
            stripped = inside.rstrip()
            cut = node.value.start + 1 + len(stripped)
            comma = "" if stripped.endswith(",") else ","
            return TextEdit(cut, cut, f"{comma} {line}")
        return TextEdit(node.value.start, node.value.end, "{ " + line + " }")
    if info.style == "implicit":
        # only sub-tables exist: open the table itself at the end of the file
        header = ".".join(key_text(t) for t in jp.split(owner))
        sep = "" if text.endswith(("\n", "\r")) or not text else nl
        return TextEdit(len(text), len(text), f"{sep}{nl}[{header}]{nl}{line}{nl}")
    if info.style == "dotted":
        # continue the dotted keys: same prefix, on a line after the last one
        prefix_tokens = []
        probe = owner
        while probe and layout.tables.get(probe) and layout.tables[probe].style == "dotted":
            prefix_tokens.insert(0, jp.split(probe)[-1])
            probe = jp.parent(probe)
        line = ".".join(key_text(t) for t in prefix_tokens) + "." + line
    at = info.body_end
    if owner == "" and info.body_end == 0:
        headers = [t.header.start for t in layout.tables.values() if t.header is not None]
        at = min(headers) if headers else len(text)
        if at and headers:
            return TextEdit(at, at, line + nl + nl)
    prefix = "" if at == 0 or text[at - 1] in "\n\r" else nl
    return TextEdit(at, at, prefix + info.indent + line + nl)


def _remove_edit(text, spans, layout, path) -> TextEdit:
    node = spans.get(path)
    if node is None:
        raise WriteError(f"{path} is not in this file")
    parent = jp.parent(path)
    parent_info = layout.tables.get(parent)
    is_item = node.key is None
    in_inline = parent_info is not None and parent_info.style == "inline"
    if path in layout.tables and layout.tables[path].style in ("header", "array-header"):
        info = layout.tables[path]
        return TextEdit(_line_start(text, info.header.start), info.body_end, "")
    if is_item or in_inline:
        start = node.key.start if node.key is not None else node.value.start
        return member_cut(text, start, node.value.end)
    # a key/value line (plain or dotted): remove its whole line(s), comment included
    start = _line_start(text, node.key.start)
    key_line_prefix = text[start:node.key.start]
    if key_line_prefix.strip() and not re.match(r"^[\s\w.\"'-]*$", key_line_prefix):
        raise WriteError(f"{path} shares its line with other content")
    return TextEdit(start, _line_end(text, node.value.end), "")
