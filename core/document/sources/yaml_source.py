"""YAML plans: PyYAML's event parser for the structure and positions, our own safe construction.

We read the *event* stream (``yaml.parse``, libyaml's C parser when PyYAML
has it) rather than calling ``yaml.safe_load`` or ``yaml.compose``, because:

* every event carries start/end marks whose ``index`` is a code-point offset
  into the text (checked for non-ASCII and ``\\r\\n``), so each key and value
  gets an exact span;
* we compose with an explicit stack and stop at :data:`MAX_DEPTH` levels as
  soon as the parser reaches them. PyYAML's composers recurse — the pure
  Python one hits ``RecursionError`` near 1,000 levels and the C one crashes
  the interpreter on ~100,000 nested ``[`` — so depth must be capped before
  any composer sees the input;
* an anchor is registered only when its node is complete, so an alias can
  never refer to the collection it sits in (no cycles);
* alias expansion is counted: past :data:`MAX_ALIAS_NODES` values copied
  through aliases the file is rejected (a "billion laughs" file fails in
  milliseconds instead of exhausting memory);
* duplicate keys are errors (PyYAML silently keeps the last one).

Scalars are resolved with PyYAML's YAML 1.1 resolver (the same one
``safe_load`` uses) and built with the same meaning as its safe constructors:
strings, integers (``0x``, ``0b``, leading-zero octal, ``1_000``, ``1:30``),
floats, booleans (``yes``/``no``/``on``/``off`` too) and null. Timestamps are
kept as the text written (the schema says where a date does not belong);
``.inf``/``.nan`` and any other tag (``!!python/object``, ``!!binary``, local
``!tags``) are errors at the value. Merge keys (``<<``) are rejected: a plan
says each value where it applies. Mapping keys are read as the text written
(``1: x`` has the key ``"1"``), since plan keys are names.

Spans: a key span covers the key token (quotes included when quoted); a value
span covers the value token without its anchor or tag (``&a``, ``!!int``),
quotes included; a flow collection spans its brackets; a block collection runs
from its first entry to the end of its last value; a block scalar (``|``,
``>``) ends at its last non-blank character. A value written as an alias
(``*a``) spans the alias; the values beneath it keep the spans of the anchored
definition, where they are actually written.
"""

from __future__ import annotations

import math

from .. import pointer as jp
from ...diagnostics import Range
from .. import MAX_ITEM_SPANS, Document, LineIndex, NodeSpan, Span, detect_newline
from . import MAX_ENTRIES, SourceError, too_many_entries

#: collections nested deeper than this are refused (a plan needs about four)
MAX_DEPTH = 64
#: values copied through aliases beyond this are refused (billion-laughs guard)
MAX_ALIAS_NODES = 10_000

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG + t for t in ("str", "int", "float", "bool", "null"))
_TIMESTAMP, _MERGE, _VALUE, _MAP, _SEQ = (_TAG + t for t in ("timestamp", "merge", "value", "map", "seq"))


class _Node:
    """One composed YAML node: ``kind`` is ``map``, ``seq``, ``scalar`` or ``alias``."""

    __slots__ = ("kind", "tag", "value", "start", "end", "style", "target", "origin")

    def __init__(self, kind: str, tag, value, start: int, end: int, style=None, target=None, origin=None) -> None:
        self.kind = kind
        self.origin = start if origin is None else origin  # where its anchor or tag begins, if it has one
        self.tag = tag
        self.value = value  # str for a scalar, list of (key, value) nodes or of nodes for collections
        self.start = start
        self.end = end
        self.style = style
        self.target = target  # the anchored node an alias stands for


def load(path: str, text: str) -> Document:
    import yaml

    lines = LineIndex(text)
    root = _compose(text, lines, yaml)
    if root.kind != "map":
        what = {"seq": "a list", "alias": "an alias"}.get(root.kind) or _scalar_kind(root)
        raise SourceError(f"a plan must be a mapping at the top level, got {what}", _range(lines, root.start, root.end))
    builder = _Builder(lines)
    data = builder.build(root, "", None, 1, False)
    return Document(path, text, "yaml", data, builder.spans, newline=detect_newline(text), _index=lines)


def _range(lines: LineIndex, start: int, end: int | None = None) -> Range:
    begin = lines.position(start)
    if end is None or end <= start:
        return Range.at(begin.line, begin.column)
    return Range(begin, lines.position(end))


def _scalar_kind(node: _Node) -> str:
    if node.tag == _NULL:
        return "nothing (null)"
    if node.tag in (_INT, _FLOAT):
        return "a number"
    if node.tag == _BOOL:
        return "a boolean"
    return "a single value"


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


def _skip_properties(text: str, start: int, end: int) -> int:
    """The offset of a node's content after its anchor (``&a``) and tag (``!!int``), comments and breaks."""
    i, n = start, len(text)
    while i < end and text[i] in "&!":
        while i < n and text[i] not in " \t\r\n":
            i += 1
        while i < n:
            c = text[i]
            if c in " \t\r\n":
                i += 1
            elif c == "#":
                while i < n and text[i] not in "\r\n":
                    i += 1
            else:
                break
    return min(i, end)


def load_all(path: str, text: str) -> list[tuple[object, dict[str, NodeSpan], int]]:
    """Every document of a multi-document YAML stream: ``(data, spans, start offset)`` each.

    For source adapters (a Kubernetes manifest holds a LeaderWorkerSet and a
    Service). The same safe construction, limits and spans as :func:`load`;
    empty documents are skipped.
    """
    import yaml

    lines = LineIndex(text)
    out = []
    for root in _compose(text, lines, yaml, multi=True):
        builder = _Builder(lines)
        out.append((builder.build(root, "", None, 1, False), builder.spans, root.origin))
    return out


def _compose(text: str, lines: LineIndex, yaml, multi: bool = False):
    """The single document's node tree (with ``multi``: the list of every document's tree), built from
    events with an explicit stack."""
    events_mod = yaml.events
    loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
    resolver = yaml.resolver.Resolver()
    anchors: dict[str, _Node] = {}
    stack: list[_Node] = []
    pending: list[str | None] = []  # the anchor of each open collection, registered when it closes
    root: _Node | None = None
    roots: list[_Node] = []
    documents = 0
    entries = 0   # keys and list items, counted as the events come (see MAX_ENTRIES)

    def add(node: _Node) -> None:
        nonlocal root, entries
        if stack:
            parent = stack[-1].value
            parent.append(node)
            if stack[-1].kind == "seq" or len(parent) % 2:   # a list item, or a key (not the value after it)
                entries += 1
                if entries > MAX_ENTRIES:
                    raise too_many_entries(_range(lines, node.origin))
        else:
            root = node
            roots.append(node)

    try:
        for event in yaml.parse(text, Loader=loader):
            cls = type(event)
            start, end = event.start_mark.index, event.end_mark.index
            if cls is events_mod.ScalarEvent:
                tag = event.tag
                if tag is None or tag == "!":
                    tag = resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
                node = _Node("scalar", tag, event.value, _skip_properties(text, start, end), end, event.style,
                             origin=start)
                if event.style in ("|", ">"):
                    while node.end > node.start + 1 and text[node.end - 1] in " \t\r\n":
                        node.end -= 1
                add(node)
                if event.anchor is not None:
                    anchors[event.anchor] = node
            elif cls is events_mod.MappingStartEvent or cls is events_mod.SequenceStartEvent:
                if len(stack) >= MAX_DEPTH:
                    raise SourceError(f"the YAML nests deeper than {MAX_DEPTH} levels", _range(lines, start))
                is_map = cls is events_mod.MappingStartEvent
                tag = event.tag
                if tag is None or tag == "!":
                    tag = _MAP if is_map else _SEQ
                begin = end - 1 if event.flow_style else end
                node = _Node("map" if is_map else "seq", tag, [], begin, begin, "flow" if event.flow_style else "block",
                             origin=start)
                add(node)
                stack.append(node)
                pending.append(event.anchor)
            elif cls is events_mod.MappingEndEvent or cls is events_mod.SequenceEndEvent:
                node = stack.pop()
                if node.style == "flow" or not node.value:
                    node.end = max(end, node.start)
                else:
                    node.end = max(node.start, node.value[-1].end)
                anchor = pending.pop()
                if node.kind == "map":
                    items = node.value
                    node.value = list(zip(items[0::2], items[1::2]))
                if anchor is not None:
                    anchors[anchor] = node
            elif cls is events_mod.AliasEvent:
                target = anchors.get(event.anchor)
                if target is None:
                    raise SourceError(
                        f"the alias *{event.anchor} refers to no anchor &{event.anchor} before it "
                        "(or to the collection it sits in)", _range(lines, start, end))
                add(_Node("alias", None, None, start, end, target=target))
            elif cls is events_mod.DocumentStartEvent:
                documents += 1
                if documents > 1 and not multi:
                    raise SourceError("a plan file holds one YAML document; a second one starts here",
                                      _range(lines, start, end))
    except SourceError:
        raise
    except yaml.MarkedYAMLError as exc:
        deep = _flow_too_deep(text)
        if deep is not None:
            raise SourceError(f"the YAML nests deeper than {MAX_DEPTH} levels", _range(lines, deep)) from None
        raise SourceError(_yaml_message(exc, lines), _mark_range(lines, exc.problem_mark or exc.context_mark)) from None
    except yaml.reader.ReaderError as exc:
        where = text.find(chr(exc.character)) if isinstance(exc.character, int) else -1
        code = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        raise SourceError(f"invalid YAML: the character {code} is not allowed in a YAML file ({exc.reason})",
                          _range(lines, max(where, 0))) from None
    except UnicodeEncodeError as exc:  # a lone surrogate (possible in editor text, never in decoded files)
        raise SourceError(f"the text holds an unpaired surrogate U+{ord(text[exc.start]):04X}, which is not "
                          "valid Unicode", _range(lines, exc.start)) from None
    except (RecursionError, MemoryError):
        raise SourceError("the YAML is too large or nests too deeply to read", Range.at(1, 1)) from None
    except Exception as exc:  # a parser failure PyYAML does not classify: still a message, not a traceback
        raise SourceError(f"invalid YAML: {exc}", Range.at(1, 1)) from None
    if multi:
        return roots
    if root is None:
        raise SourceError("the file is empty: a plan is a YAML mapping", Range.at(1, 1))
    return root


def _flow_too_deep(text: str) -> int | None:
    """Offset of the first flow bracket past :data:`MAX_DEPTH` levels, or None.

    Run only after the parser refused the text: libyaml looks ahead and stops
    deep flow nesting with its own limit before our composer sees the levels,
    and what we report must not depend on where, or in which words, it does.
    The block levels around the line count too (the root mapping is level 1).
    Quoted scalars and comments are skipped; a bracket opens a flow collection
    only where a value may start (after ``:``, ``-``, ``,``, another bracket,
    or at the start of a line), so ``a: x[1]`` holds no collection.
    """
    depth = 0
    base = 0
    i, n = 0, len(text)
    prev = "\n"  # the last significant character
    while i < n:
        c = text[i]
        if c == "#" and (prev in " \t\n" or i == 0 or text[i - 1] in " \t"):
            while i < n and text[i] not in "\r\n":
                i += 1
            continue
        if c in "'\"" and prev in "\n:-,[{ \t":
            j = i + 1
            while j < n:
                if text[j] == "\\" and c == '"':
                    j += 2
                    continue
                if text[j] == c:
                    if c == "'" and text[j + 1:j + 2] == "'":
                        j += 2
                        continue
                    break
                j += 1
            i, prev = j + 1, c
            continue
        if c in "[{" and (depth or prev in "\n:-,[{"):
            if depth == 0:
                base = _block_levels(text, i)
            depth += 1
            if base + depth > MAX_DEPTH:
                return i
        elif c in "]}" and depth:
            depth -= 1
        if c not in " \t":
            prev = "\n" if c in "\r\n" else c
        i += 1
    return None


def _block_levels(text: str, offset: int) -> int:
    """Block collections enclosing the line of ``offset``, that line's own included."""
    line_start = max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1
    line = text[line_start:offset]
    indent = len(line) - len(line.lstrip(" "))
    levels = 1
    for previous in reversed(text[:line_start].splitlines()):
        stripped = previous.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        width = len(previous) - len(stripped)
        if width < indent:
            levels += 1
            indent = width
        if width == 0:
            break
    return levels


def _mark_range(lines: LineIndex, mark) -> Range:
    if mark is None:
        return Range.at(1, 1)
    if getattr(mark, "index", None) is not None:
        # Through our own line index, so that positions agree with every other
        # diagnostic even where YAML counts U+0085/U+2028 as line breaks.
        return _range(lines, mark.index)
    return Range.at(mark.line + 1, mark.column + 1)


def _yaml_message(exc, lines: LineIndex) -> str:
    problem = (exc.problem or "the text is not valid YAML").strip()
    message = f"invalid YAML: {problem}"
    if exc.context:
        message += f" {exc.context.strip()}"
        context = exc.context_mark
        if context is not None and exc.problem_mark is not None and context.index != exc.problem_mark.index:
            pos = lines.position(context.index)
            message += f" that starts at line {pos.line}, column {pos.column}"
    mark = exc.problem_mark
    index = getattr(mark, "index", None)
    if index is not None and lines.text[index:index + 1] == "\t":
        message += " (a tab: YAML indentation must use spaces)"
    elif index is not None:
        message += _indent_hint(lines, lines.position(index).line)
    return message


def _indent_hint(lines: LineIndex, line: int) -> str:
    """`` (line N is indented by k spaces, …)`` when that line's indentation matches no enclosing level."""
    def indent(text: str) -> int | None:
        stripped = text.lstrip(" ")
        return None if not stripped or stripped.startswith("#") else len(text) - len(stripped)

    own = indent(lines.line_text(line))
    if own is None:
        return ""
    levels: list[int] = []  # indents of the enclosing block levels, innermost first
    for previous in range(line - 1, 0, -1):
        width = indent(lines.line_text(previous))
        if width is None or (levels and width >= levels[-1]):
            continue
        levels.append(width)
        if width == 0:
            break
    if not levels or own >= levels[0] or own in levels:
        return ""
    spaces = lambda k: f"{k} space" + ("" if k == 1 else "s")  # noqa: E731
    known = " or ".join(str(k) for k in sorted(set(levels)))
    return (f" (line {line} is indented by {spaces(own)}, which matches no enclosing level: "
            f"{known} spaces)")


class _Builder:
    """Plain values and spans from the node tree, with the alias and depth limits."""

    def __init__(self, lines: LineIndex) -> None:
        self.lines = lines
        self.spans: dict[str, NodeSpan] = {}
        self.expanded = 0
        self.site: _Node | None = None  # the outermost alias being expanded

    def error(self, message: str, node: _Node, *, from_tag: bool = False) -> SourceError:
        start = node.origin if from_tag else node.start
        return SourceError(message, _range(self.lines, start, node.end))

    def build(self, node: _Node, pointer: str, key: Span | None, depth: int, aliased: bool, record: bool = True):
        """The value of ``node``; ``record`` is False inside list items past MAX_ITEM_SPANS (no spans kept)."""
        if aliased:
            self.expanded += 1
            if self.expanded > MAX_ALIAS_NODES:
                raise self.error(f"too many alias expansions: the aliases copy more than {MAX_ALIAS_NODES:,} "
                                 "values (a plan needs no such file)", self.site or node)
        if node.kind == "alias":
            if not aliased:
                self.site = node
            value = self.build(node.target, pointer, key, depth, True, record)
            if record:
                self.spans[pointer] = NodeSpan(Span(node.start, node.end), key)
            return value
        if node.kind != "scalar" and depth > MAX_DEPTH:
            raise self.error(f"the YAML nests deeper than {MAX_DEPTH} levels", node)
        if record:
            self.spans[pointer] = NodeSpan(Span(node.start, node.end), key)
        if node.kind == "map":
            if node.tag != _MAP:
                raise self.error(f"the tag {_short_tag(node.tag)} is not allowed in a plan (only plain mappings)", node,
                                 from_tag=True)
            out: dict = {}
            first: dict[str, int] = {}
            for k, v in node.value:
                name = self.key(k)
                if name in first:
                    line = self.lines.position(first[name]).line
                    raise self.error(f"duplicate key {name!r} (first at line {line})", k)
                first[name] = k.start
                out[name] = self.build(v, jp.child(pointer, name) if record else "", Span(k.start, k.end), depth + 1,
                                       aliased, record)
            return out
        if node.kind == "seq":
            if node.tag != _SEQ:
                raise self.error(f"the tag {_short_tag(node.tag)} is not allowed in a plan (only plain lists)", node,
                                 from_tag=True)
            return [self.build(item, jp.child(pointer, i), None, depth + 1, aliased) if record and i < MAX_ITEM_SPANS
                    else self.build(item, "", None, depth + 1, aliased, False) for i, item in enumerate(node.value)]
        return self.scalar(node)

    def key(self, node: _Node) -> str:
        if node.kind == "alias":
            raise self.error("a mapping key must be written out, not an alias", node)
        if node.kind != "scalar":
            raise self.error("a mapping key must be a plain name, not a list or mapping", node)
        if node.tag == _MERGE:
            raise self.error("merge keys (<<) are not supported in plans: write the keys out", node)
        return node.value

    def scalar(self, node: _Node):
        tag, raw = node.tag, node.value
        if tag in (_STR, _TIMESTAMP, _VALUE):
            return raw
        if tag == _NULL:
            return None
        if tag == _BOOL:
            lowered = raw.lower()
            if lowered in ("yes", "true", "on"):
                return True
            if lowered in ("no", "false", "off"):
                return False
            raise self.error(f"cannot read {raw!r} as a boolean", node)
        if tag == _INT:
            try:
                return _yaml_int(raw)
            except ValueError:
                if len(raw) > 40:
                    raise self.error(f"the integer {raw[:12]}… has {len(raw)} characters: too long to be a plan value",
                                     node) from None
                raise self.error(f"cannot read {raw!r} as an integer", node) from None
        if tag == _FLOAT:
            try:
                value = _yaml_float(raw)
            except (ValueError, OverflowError):
                shown = repr(raw) if len(raw) <= 40 else _short(raw)
                raise self.error(f"cannot read {shown} as a number", node) from None
            if not math.isfinite(value):
                raise self.error(f"{_short(raw)} is not a finite number: a plan needs a real value here", node)
            return value
        raise self.error(f"the tag {_short_tag(tag)} is not allowed in a plan "
                         "(only strings, numbers, booleans and null)", node, from_tag=True)


def _short(raw: str) -> str:
    """A scalar as written, or its start and length when it is long (a message never repeats a huge value)."""
    return raw if len(raw) <= 40 else f"{raw[:12]}… ({len(raw)} characters)"


def _sign_and_body(raw: str) -> tuple[int, str]:
    text = raw.replace("_", "")
    if text and text[0] in "+-":
        return (-1 if text[0] == "-" else 1), text[1:]
    return 1, text


def _yaml_int(raw: str) -> int:
    """A YAML 1.1 integer, as PyYAML's safe constructor reads it."""
    sign, body = _sign_and_body(raw)
    if body == "0":
        return 0
    if body.startswith("0b"):
        return sign * int(body[2:], 2)
    if body.startswith("0x"):
        return sign * int(body[2:], 16)
    if ":" in body:  # sexagesimal, 1:30 == 90
        total = 0
        for part in body.split(":"):
            total = total * 60 + int(part)
        return sign * total
    if body.startswith("0"):
        return sign * int(body, 8)
    return sign * int(body)


def _yaml_float(raw: str) -> float:
    """A YAML 1.1 float, as PyYAML's safe constructor reads it (non-finite values are returned, then refused)."""
    sign, body = _sign_and_body(raw.lower())
    if body == ".inf":
        return sign * math.inf
    if body == ".nan":
        return math.nan
    if ":" in body:  # sexagesimal, 1:30.5 == 90.5
        total = 0.0
        for part in body.split(":"):
            total = total * 60 + float(part)
        return sign * total
    return sign * float(body)
