"""YAML plans: PyYAML's composer for the node tree and its marks, our own safe construction.

``yaml.compose`` (libyaml's C parser when available) gives nodes with start
and end marks — code-point offsets into the text. Constructing the values
ourselves instead of with ``yaml.safe_load`` lets us keep a span for every
key and value, reject duplicate keys (PyYAML silently keeps the last), and
cap what a hostile file can make us do: nesting depth and the number of nodes
alias expansion may produce (a "billion laughs" file fails fast instead of
exhausting memory). Only the YAML 1.1 core scalars are accepted: strings,
integers, floats, booleans and null; any other tag is an error.
"""

from __future__ import annotations

import math

from .. import pointer as jp
from ..diagnostics import Range
from ..document import Document, LineIndex, NodeSpan, Span, detect_newline
from . import SourceError

MAX_DEPTH = 64
MAX_NODES = 10_000
_SCALAR_TAGS = {"tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
                "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"}


def load(path: str, text: str) -> Document:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    if not text.strip() or all(not l.strip() or l.lstrip().startswith("#") for l in text.splitlines()):
        raise SourceError("the file is empty: a plan is a YAML mapping", Range.at(1, 1))
    try:
        nodes = list(yaml.compose_all(text, Loader=loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Range.at(mark.line + 1, mark.column + 1) if mark else Range.at(1, 1)
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        raise SourceError(f"invalid YAML: {problem}{context}", where) from None
    except yaml.YAMLError as exc:
        raise SourceError(f"invalid YAML: {exc}", Range.at(1, 1)) from None
    except RecursionError:
        raise SourceError(f"the YAML nests too deeply to read", Range.at(1, 1)) from None
    nodes = [n for n in nodes if n is not None]
    if len(nodes) != 1:
        if not nodes:
            raise SourceError("the file is empty: a plan is a YAML mapping", Range.at(1, 1))
        second = nodes[1].start_mark
        raise SourceError("a plan file holds one YAML document; found another one here",
                          Range.at(second.line + 1, second.column + 1))
    root = nodes[0]
    if not isinstance(root, yaml.MappingNode):
        raise SourceError(f"a plan must be a mapping at the top level, not {_kind(root, yaml)}", _mark(root.start_mark))
    builder = _Builder(text, yaml)
    data = builder.build(root, "", None, 0)
    return Document(path, text, "yaml", data, builder.spans, newline=detect_newline(text))


def _mark(mark) -> Range:
    return Range.at(mark.line + 1, mark.column + 1)


def _kind(node, yaml) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return "a single value"


class _Builder:
    def __init__(self, text: str, yaml) -> None:
        self.text = text
        self.yaml = yaml
        self.spans: dict[str, NodeSpan] = {}
        self.count = 0
        self.resolver = yaml.resolver.Resolver()
        self._lines: LineIndex | None = None

    def error(self, message: str, node) -> SourceError:
        return SourceError(message, Range(self._pos(node.start_mark.index), self._pos(node.end_mark.index)))

    def _pos(self, offset: int):
        if self._lines is None:
            self._lines = LineIndex(self.text)
        return self._lines.position(offset)

    def build(self, node, pointer: str, key_span: Span | None, depth: int, aliased: bool = False):
        yaml = self.yaml
        self.count += 1
        if self.count > MAX_NODES:
            raise self.error(f"the YAML expands to more than {MAX_NODES:,} values (alias expansion is capped)", node)
        if depth > MAX_DEPTH:
            raise self.error(f"the YAML nests deeper than {MAX_DEPTH} levels", node)
        start = node.start_mark.index
        if isinstance(node, yaml.MappingNode) and node.tag != "tag:yaml.org,2002:map" or \
                isinstance(node, yaml.SequenceNode) and node.tag != "tag:yaml.org,2002:seq":
            raise self.error(f"the tag {node.tag} is not allowed in a plan (only plain mappings and lists)", node)
        if isinstance(node, yaml.MappingNode):
            out = {}
            first_seen: dict = {}
            end = start
            for k, v in node.value:
                if k.tag == "tag:yaml.org,2002:merge":
                    raise self.error("merge keys (<<) are not supported in plans: write the keys out", k)
                if not isinstance(k, yaml.ScalarNode):
                    raise self.error("a mapping key must be a plain string", k)
                name = k.value
                if name in first_seen:
                    raise self.error(f"duplicate key {name!r} (first at line {first_seen[name]})", k)
                first_seen[name] = k.start_mark.line + 1
                kspan = Span(k.start_mark.index, k.end_mark.index)
                out[name] = self.build(v, jp.child(pointer, name), kspan, depth + 1, aliased)
                end = max(end, self._end(jp.child(pointer, name), v))
            if not node.value or node.flow_style:
                end = node.end_mark.index
            self._record(pointer, Span(start, end), key_span, aliased)
            return out
        if isinstance(node, yaml.SequenceNode):
            out = []
            end = start
            for i, item in enumerate(node.value):
                out.append(self.build(item, jp.child(pointer, i), None, depth + 1, aliased))
                end = max(end, self._end(jp.child(pointer, i), item))
            if not node.value or node.flow_style:
                end = node.end_mark.index
            self._record(pointer, Span(start, end), key_span, aliased)
            return out
        value = self.scalar(node)
        self._record(pointer, Span(start, node.end_mark.index), key_span, aliased)
        return value

    def _end(self, pointer: str, node) -> int:
        span = self.spans.get(pointer)
        return span.value.end if span is not None else node.end_mark.index

    def _record(self, pointer: str, span: Span, key: Span | None, aliased: bool) -> None:
        if pointer not in self.spans:
            self.spans[pointer] = NodeSpan(span, key)

    def scalar(self, node):
        tag = node.tag
        if tag == "tag:yaml.org,2002:timestamp" and not node.style:
            return node.value  # a date is kept as the text written; the schema says where it does not belong
        if tag == "tag:yaml.org,2002:str" or node.style in ("'", '"', "|", ">"):
            if tag not in _SCALAR_TAGS:
                raise self.error(f"the tag {tag} is not allowed in a plan (only plain values)", node)
            return node.value
        if tag not in _SCALAR_TAGS:
            raise self.error(f"the tag {tag} is not allowed in a plan (only strings, numbers, booleans, null)", node)
        raw = node.value
        if tag == "tag:yaml.org,2002:null":
            return None
        if tag == "tag:yaml.org,2002:bool":
            return raw.lower() in ("true", "yes", "on", "y")
        if tag == "tag:yaml.org,2002:int":
            try:
                return _yaml_int(raw)
            except ValueError:
                raise self.error(f"cannot read {raw!r} as an integer", node) from None
        if tag == "tag:yaml.org,2002:float":
            try:
                value = float(raw.replace("_", ""))
            except ValueError:
                lowered = raw.lower()
                value = math.nan if lowered.endswith("nan") else (-math.inf if lowered.startswith("-") else math.inf)
            if not math.isfinite(value):
                raise self.error(f"{raw} is not a finite number", node)
            return value
        return raw


def _yaml_int(raw: str) -> int:
    text = raw.replace("_", "")
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if body.startswith("0x"):
        return sign * int(body, 16)
    if body.startswith("0o"):
        return sign * int(body[2:], 8)
    if body.startswith("0b"):
        return sign * int(body[2:], 2)
    if ":" in body:  # sexagesimal (YAML 1.1)
        total = 0
        for part in body.split(":"):
            total = total * 60 + int(part)
        return sign * total
    if len(body) > 1 and body.startswith("0"):
        return sign * int(body, 8)
    return sign * int(body)
