"""YAML writer: edits at the loader's spans, block or flow style kept as the file has it.

A changed scalar keeps its quoting style; a new key in a block mapping goes on
its own line after the mapping's last entry, at the entries' indentation; in a
flow mapping (``{a: 1}``) it goes before the closing brace. Lists and tables
written as new values use flow style (``[22, 21, 21]``), which is valid YAML at
any position. Comments and blank lines outside the changed value are untouched.
"""

from __future__ import annotations

import json
import math
import re

from .. import pointer as jp
from . import WriteError, cut_member, nearest_owner
from . import children as entries_of

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/]*$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def scalar_text(value, like: str | None = None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and not math.isfinite(value):
        raise WriteError("a plan value must be finite")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        if like and like.startswith("'") and "\n" not in value:
            return "'" + value.replace("'", "''") + "'"
        if like and like.startswith('"'):
            return json.dumps(value, ensure_ascii=False)
        if _PLAIN.match(value) and value.lower() not in _RESERVED:
            return value
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(scalar_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key_text(k)}: {scalar_text(v)}" for k, v in value.items()) + "}"
    raise WriteError(f"cannot write a {type(value).__name__} in YAML")


def key_text(key: str) -> str:
    return key if _PLAIN.match(key) and key.lower() not in _RESERVED else json.dumps(key, ensure_ascii=False)


def _line_start(text: str, i: int) -> int:
    return text.rfind("\n", 0, i) + 1


def _line_end(text: str, i: int) -> int:
    if i > 0 and text[i - 1] == "\n":
        return i
    j = text.find("\n", i)
    return len(text) if j < 0 else j + 1


def _subtree_end(spans, pointer: str) -> int:
    """Where a value really ends: the furthest end of its leaves written inside it.

    Leaves reached through an ``*alias`` keep the spans of the anchored definition, earlier in the file; they
    are not part of this value's text and are left out.
    """
    node = spans[pointer].value
    prefix = pointer + "/"
    ends = [n.value.end for p, n in spans.items() if p.startswith(prefix) and n.value.start >= node.start]
    return max([node.end, *ends])


def _is_flow(text: str, node) -> bool:
    return text[node.value.start:node.value.start + 1] in ("{", "[")


def apply(document, change) -> str:
    text, spans = document.text, document.spans
    op, path = change.op, change.path
    if op in ("set", "insert") and path in spans:
        if op == "insert":
            raise WriteError(f"{path} already exists")
        node = spans[path]
        old = text[node.value.start:node.value.end]
        new = scalar_text(change.value, like=old)
        if old.startswith("*"):
            return text[:node.value.start] + new + text[node.value.end:]      # an alias: replace the alias itself
        block = not _is_flow(text, node) and any(p.startswith(path + "/") and spans[p].value.start >= node.value.start
                                                 for p in spans)
        if block and node.key is not None:
            # a block collection becomes a flow value on the key's line (its own comment kept)
            colon = text.find(":", node.key.end)
            eol = _line_end(text, colon)
            comment = text[colon + 1:eol].strip()
            tail = f"  {comment}" if comment.startswith("#") else ""
            end = _line_end(text, _subtree_end(spans, path))
            return text[:colon + 1] + " " + new + tail + document.newline + text[end:]
        return text[:node.value.start] + new + text[node.value.end:]
    if op in ("set", "insert"):
        return _insert(document, path, change.value)
    if op == "remove":
        return _remove(document, path)
    if op == "rename":
        node = spans.get(path)
        if node is None or node.key is None:
            raise WriteError(f"{path} is not a key in this file")
        return text[:node.key.start] + key_text(change.value) + text[node.key.end:]
    raise WriteError(f"unknown change {op!r}")


def _insert(document, path, value) -> str:
    text, spans, nl = document.text, document.spans, document.newline
    owner, rest = nearest_owner(spans, path)
    node = spans[owner]
    children = entries_of(spans, owner)
    if _is_flow(text, node):
        if text[node.value.start] != "{":
            raise WriteError(f"{owner} is a list, not a mapping")
        nested = value
        for t in reversed(rest[1:]):
            nested = {t: nested}
        member = f"{key_text(rest[0])}: {scalar_text(nested)}"
        close = node.value.end - 1
        inside = text[node.value.start + 1:close]
        if inside.strip():
            cut = node.value.start + 1 + len(inside.rstrip())
            return text[:cut] + ", " + member + text[cut:]
        return text[:node.value.start] + "{" + member + "}" + text[node.value.end:]
    if not children:
        raise WriteError(f"{owner or 'the document'} is not a mapping with entries")
    first = min(children, key=lambda c: c[1].key.start if c[1].key else c[1].value.start)[1]
    if first.key is None:
        raise WriteError(f"{owner} is a list, not a mapping")
    line_start = _line_start(text, first.key.start)
    lead = text[line_start:first.key.start]
    indent = lead if lead.strip() == "" else " " * len(lead)
    step = "  "
    lines = []
    for i, t in enumerate(rest):
        pad = indent + step * i
        if i == len(rest) - 1:
            lines.append(f"{pad}{key_text(t)}: {scalar_text(value)}")
        else:
            lines.append(f"{pad}{key_text(t)}:")
    at = _line_end(text, _subtree_end(spans, owner) if owner else max(_subtree_end(spans, p) for p, _ in children))
    block = nl.join(lines) + nl
    prefix = "" if at == 0 or text[at - 1] in "\r\n" else nl
    return text[:at] + prefix + block + text[at:]


def _remove(document, path) -> str:
    text, spans = document.text, document.spans
    node = spans.get(path)
    if node is None:
        raise WriteError(f"{path} is not in this file")
    parent = spans.get(jp.parent(path))
    if parent is not None and _is_flow(text, parent):
        start = node.key.start if node.key is not None else node.value.start
        return cut_member(text, start, node.value.end)
    parent_path = jp.parent(path)
    if parent is not None and parent_path and len(entries_of(spans, parent_path)) == 1 and parent.key is not None:
        # the last entry of a block mapping: leave an empty mapping, not a null
        colon = text.find(":", parent.key.end)
        eol = _line_end(text, colon)
        comment = text[colon + 1:eol].strip()
        tail = f"  {comment}" if comment.startswith("#") else ""
        end = _line_end(text, _subtree_end(spans, path))
        return text[:colon + 1] + " {}" + tail + document.newline + text[end:]
    start = _line_start(text, node.key.start if node.key is not None else node.value.start)
    first_on_line = text[start:(node.key.start if node.key is not None else node.value.start)]
    if first_on_line.strip() not in ("", "-"):
        raise WriteError(f"{path} shares its line with other content")
    end = _line_end(text, _subtree_end(spans, path))
    return text[:start] + text[end:]
