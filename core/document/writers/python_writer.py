"""Python writer: a libcst transform of the module-level ``PLAN`` literal, never an import or an exec.

libcst keeps every byte of the module it does not change (comments,
formatting, trailing commas, the code around ``PLAN``), so the transform
edits the literal's syntax tree — replace a value, add or drop a dict entry
or a ``dict(...)`` keyword, rename a key — and the new module's text differs
from the old only where the plan changed. libcst is imported here only, when a
fix is rendered; checking a Python plan reads it with the stdlib ``ast``.
"""

from __future__ import annotations

import json
import math

from .. import pointer as jp
from . import WriteError


def literal(value) -> str:
    """``value`` as Python source (the literals a plan may contain)."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise WriteError("a plan value must be finite")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(str(k))}: {literal(v)}" for k, v in value.items()) + "}"
    raise WriteError(f"cannot write a {type(value).__name__} in a Python plan")


def apply(document, change) -> str:
    import libcst as cst

    try:
        module = cst.parse_module(document.text)
    except cst.ParserSyntaxError as exc:
        raise WriteError(f"libcst cannot parse the file: {exc}") from None
    transformer = _PlanEdit(change, cst)
    new = module.visit(transformer)
    if not transformer.done:
        raise WriteError(transformer.problem or f"cannot apply {change.op} {change.path}")
    return new.code


def _key_of(element, cst) -> str | None:
    """The string key of a dict element or the name of a dict(...) keyword."""
    if isinstance(element, cst.Arg):
        return element.keyword.value if element.keyword is not None else None
    if isinstance(element, cst.DictElement):
        key = element.key
        if isinstance(key, (cst.SimpleString, cst.ConcatenatedString)):
            value = key.evaluated_value
            return value if isinstance(value, str) else None
    return None


class _PlanEdit:
    """A libcst transformer (built lazily so that libcst is imported only when needed)."""

    def __new__(cls, change, cst):
        class Transformer(cst.CSTTransformer):
            def __init__(self) -> None:
                super().__init__()
                self.done = False
                self.problem = None

            def leave_Assign(self, original, updated):
                targets = [t.target for t in updated.targets]
                if len(targets) == 1 and isinstance(targets[0], cst.Name) and targets[0].value == "PLAN" and not self.done:
                    return updated.with_changes(value=self._edit(updated.value, jp.split(change.path)))
                return updated

            def leave_AnnAssign(self, original, updated):
                if isinstance(updated.target, cst.Name) and updated.target.value == "PLAN" and updated.value is not None \
                        and not self.done:
                    return updated.with_changes(value=self._edit(updated.value, jp.split(change.path)))
                return updated

            # -- navigation -------------------------------------------------------------
            def _items(self, node):
                if isinstance(node, cst.Dict):
                    return list(node.elements), "dict"
                if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "dict":
                    return list(node.args), "call"
                if isinstance(node, (cst.List, cst.Tuple)):
                    return list(node.elements), "list"
                return None, None

            def _rebuild(self, node, items, kind):
                if kind == "call":
                    return node.with_changes(args=items)
                return node.with_changes(elements=items)

            def _edit(self, node, tokens):
                items, kind = self._items(node)
                if items is None:
                    self.problem = f"{change.path}: a value on the way is not a dict or list literal"
                    return node
                token = tokens[0]
                last = len(tokens) == 1
                index = None
                if kind == "list":
                    if token.isdigit() and int(token) < len(items):
                        index = int(token)
                else:
                    index = next((i for i, el in enumerate(items) if _key_of(el, cst) == token), None)
                if index is None:
                    if kind == "list" or change.op not in ("set", "insert"):
                        self.problem = f"{change.path} is not in this file"
                        return node
                    value = change.value
                    for t in reversed(tokens[1:]):
                        value = {t: value}
                    return self._rebuild(node, self._append(items, kind, token, value), kind)
                element = items[index]
                if not last:
                    items[index] = element.with_changes(value=self._edit(element.value, tokens[1:]))
                    return self._rebuild(node, items, kind)
                if change.op in ("set",):
                    items[index] = element.with_changes(value=cst.parse_expression(literal(change.value)))
                    self.done = True
                elif change.op == "insert":
                    self.problem = f"{change.path} already exists"
                    return node
                elif change.op == "remove":
                    removed = items.pop(index)
                    if index == len(items) and items:
                        # the removed entry was the last: on one line, the new last takes its closing style;
                        # across lines the new last keeps its own comma (and comment), a valid trailing comma
                        prev = items[-1].comma
                        if isinstance(prev, cst.Comma) and isinstance(prev.whitespace_after, cst.SimpleWhitespace):
                            items[-1] = items[-1].with_changes(comma=removed.comma)
                    self.done = True
                elif change.op == "rename":
                    new = change.value
                    if kind == "call":
                        if not new.isidentifier():
                            self.problem = f"{new!r} is not a valid keyword name for dict(...)"
                            return node
                        items[index] = element.with_changes(keyword=cst.Name(new))
                    else:
                        old = element.key
                        quote = old.quote if isinstance(old, cst.SimpleString) else '"'
                        items[index] = element.with_changes(key=cst.SimpleString(quote + new + quote)
                                                            if quote not in new and "\\" not in new
                                                            else cst.parse_expression(repr(new)))
                    self.done = True
                return self._rebuild(node, items, kind)

            def _append(self, items, kind, key, value):
                value_node = cst.parse_expression(literal(value))
                if kind == "call":
                    if not key.isidentifier():
                        self.problem = f"{key!r} is not a valid keyword name for dict(...)"
                        return items
                    new = cst.Arg(value=value_node, keyword=cst.Name(key),
                                  equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                                        whitespace_after=cst.SimpleWhitespace("")))
                else:
                    new = cst.DictElement(key=cst.parse_expression(literal(key)), value=value_node)
                self.done = True
                if not items:
                    return [new]
                last = items[-1]
                own = last.comma                     # the last entry's comma: may hold its comment, or be absent
                if len(items) >= 2 and isinstance(items[-2].comma, cst.Comma):
                    between = items[-2].comma       # how entries are separated in this literal
                elif isinstance(own, cst.Comma):
                    between = own
                else:
                    between = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
                # last entry: the usual separator, but its own end-of-line comment stays on its line
                items[-1] = last.with_changes(comma=_with_first_line(between, own, cst))
                # new entry: the old last's closing style (trailing comma or not), without that comment
                items.append(new.with_changes(comma=_without_comment(own, cst)))
                return items

        return Transformer()


def _first_line(comma, cst):
    ws = getattr(comma, "whitespace_after", None)
    return ws.first_line if isinstance(ws, cst.ParenthesizedWhitespace) else None


def _with_first_line(separator, source, cst):
    """``separator`` carrying the end-of-line comment of ``source`` (the comma it replaces)."""
    line = _first_line(source, cst)
    ws = separator.whitespace_after
    if isinstance(ws, cst.ParenthesizedWhitespace):
        clean = ws.first_line.with_changes(comment=None, whitespace=cst.SimpleWhitespace(""))
        return separator.with_changes(whitespace_after=ws.with_changes(first_line=line or clean))
    return separator


def _without_comment(comma, cst):
    if not isinstance(comma, cst.Comma):
        return comma
    ws = comma.whitespace_after
    if isinstance(ws, cst.ParenthesizedWhitespace) and ws.first_line.comment is not None:
        return comma.with_changes(whitespace_after=ws.with_changes(
            first_line=ws.first_line.with_changes(comment=None, whitespace=cst.SimpleWhitespace(""))))
    return comma
