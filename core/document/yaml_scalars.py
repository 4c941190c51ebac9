"""Where each character of a YAML string scalar is written: decoded value → file offsets.

A Kubernetes container often runs its server through ``sh -c "…"`` or a
``|-`` block: the command line is one YAML string, and the flags inside it are
linted in place. The YAML loader gives the decoded string and the scalar's
span; :func:`offsets` decodes the scalar again from the text, keeping for each
character of the value the offset where it is written, so a word found by the
shell splitter in the decoded string maps back to the file.

Handled: plain scalars (over several lines too), single-quoted (``''``),
double-quoted (escapes, ``\\``-newline continuations, line folding), literal
``|`` and folded ``>`` blocks with chomping and indentation indicators. The
result is checked against the value the YAML parser decoded; when they differ
(a form this module does not follow) the answer is None and the caller falls
back to the scalar's whole span — never to a wrong position.
"""

from __future__ import annotations

_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r",
            "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0", "L": "\u2028",
            "P": "\u2029"}
_HEX = {"x": 2, "u": 4, "U": 8}


def offsets(text: str, start: int, end: int, value: str) -> list[int] | None:
    """For a scalar written at ``text[start:end]`` (quotes or block header included) whose decoded
    value is ``value``: the file offset of each character of ``value``, or None when it cannot be mapped."""
    if not isinstance(value, str) or start >= end:
        return None
    first = text[start]
    try:
        if first in "|>":
            got = _block(text, start, first == ">")
        elif first == '"':
            got = _double(text, start)
        elif first == "'":
            got = _single(text, start)
        else:
            got = _plain(text, start, end)
    except IndexError:
        return None
    if got is None:
        return None
    chars, where = got
    decoded = "".join(chars)
    if decoded != value:
        # Chomping differences at the end are harmless: keep the offsets of the common prefix.
        if decoded.rstrip("\n") == value.rstrip("\n") and len(value) <= len(decoded):
            return where[:len(value)]
        if value.startswith(decoded) and value[len(decoded):].strip("\n") == "":
            return where + [where[-1] if where else start] * (len(value) - len(decoded))
        return None
    return where


def span_of(where: list[int], i: int, j: int) -> tuple[int, int] | None:
    """The file span of ``value[i:j]`` when it is written contiguously, else None."""
    if i >= j or j > len(where):
        return None
    for k in range(i + 1, j):
        if where[k] != where[k - 1] + 1:
            return None
    return where[i], where[j - 1] + 1


def _fold(text: str, i: int, chars: list[str], where: list[int], stop: str) -> int:
    """At a line break inside a flow scalar: drop trailing spaces already emitted, fold the break(s)."""
    while chars and chars[-1] in " \t" and where[-1] >= 0:
        chars.pop()
        where.pop()
    breaks = 0
    first_break = i
    n = len(text)
    while i < n:
        if text[i] == "\r" and i + 1 < n and text[i + 1] == "\n":
            i += 2
            breaks += 1
        elif text[i] in "\r\n":
            i += 1
            breaks += 1
        elif text[i] in " \t":
            i += 1
        else:
            break
    if breaks == 1:
        chars.append(" ")
        where.append(first_break)
    else:
        for _ in range(breaks - 1):
            chars.append("\n")
            where.append(first_break)
    return i


def _double(text: str, start: int):
    chars: list[str] = []
    where: list[int] = []
    i = start + 1
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            return chars, where
        if c == "\\":
            nxt = text[i + 1]
            if nxt in "\r\n":
                i += 2 if nxt == "\r" and text[i + 2:i + 3] == "\n" else 1
                i += 1
                while i < n and text[i] in " \t":
                    i += 1
                continue
            if nxt in _HEX:
                width = _HEX[nxt]
                chars.append(chr(int(text[i + 2:i + 2 + width], 16)))
                where.append(i)
                i += 2 + width
                continue
            if nxt not in _ESCAPES:
                return None
            chars.append(_ESCAPES[nxt])
            where.append(i)
            i += 2
            continue
        if c in "\r\n":
            i = _fold(text, i, chars, where, '"')
            continue
        chars.append(c)
        where.append(i)
        i += 1
    return None


def _single(text: str, start: int):
    chars: list[str] = []
    where: list[int] = []
    i = start + 1
    n = len(text)
    while i < n:
        c = text[i]
        if c == "'":
            if i + 1 < n and text[i + 1] == "'":
                chars.append("'")
                where.append(i)
                i += 2
                continue
            return chars, where
        if c in "\r\n":
            i = _fold(text, i, chars, where, "'")
            continue
        chars.append(c)
        where.append(i)
        i += 1
    return None


def _plain(text: str, start: int, end: int):
    chars: list[str] = []
    where: list[int] = []
    i = start
    while i < end:
        c = text[i]
        if c in "\r\n":
            i = _fold(text, i, chars, where, "")
            continue
        chars.append(c)
        where.append(i)
        i += 1
    while chars and chars[-1] in " \t":
        chars.pop()
        where.pop()
    return chars, where


def _lines(text: str, i: int):
    """(start, end-without-break, next start) of each line from offset ``i``."""
    n = len(text)
    while i < n:
        j = i
        while j < n and text[j] not in "\r\n":
            j += 1
        k = j + 2 if text[j:j + 2] == "\r\n" else j + 1
        yield i, j, min(k, n)
        i = k


def _block(text: str, start: int, folded: bool):
    header_end = text.find("\n", start)
    if header_end < 0:
        return [], []
    header = text[start + 1:header_end].split("#", 1)[0].strip()
    chomp = "-" if "-" in header else "+" if "+" in header else ""
    digits = "".join(c for c in header if c.isdigit())
    # The indentation of the block: that of its first non-empty line (or the explicit indicator,
    # relative to the parent's, which is the indentation of the line holding the header).
    line_start = text.rfind("\n", 0, start) + 1
    parent = len(text[line_start:start]) - len(text[line_start:start].lstrip(" "))
    indent = parent + int(digits) if digits else None
    rows = []
    for a, b, nxt in _lines(text, header_end + 1):
        body = text[a:b]
        stripped = body.lstrip(" ")
        spaces = len(body) - len(stripped)
        if indent is None and stripped:
            if spaces <= parent:
                break
            indent = spaces
        if stripped and indent is not None and spaces < indent:
            break
        if not stripped and indent is None:
            rows.append((a + len(body), ""))          # a leading empty line
            continue
        if not stripped:
            rows.append((a + min(len(body), indent), body[indent:] if len(body) > indent else ""))
            continue
        rows.append((a + indent, body[indent:]))
    while rows and rows[-1][1].strip() == "" and chomp != "+":
        rows.pop()
    chars: list[str] = []
    where: list[int] = []
    previous_text = False
    for index, (at, body) in enumerate(rows):
        if index:
            joint = at - 1
            if folded and previous_text and body and not body.startswith((" ", "\t")) and rows[index - 1][1] \
                    and not rows[index - 1][1].startswith((" ", "\t")):
                chars.append(" ")
            else:
                chars.append("\n")
            where.append(joint)
        for k, ch in enumerate(body):
            chars.append(ch)
            where.append(at + k)
        previous_text = bool(body)
    if rows and chomp != "-":
        chars.append("\n")
        where.append(where[-1] + 1 if where else start)
    if folded:
        # Folding: a line break between two text lines became a space above; an empty line between
        # text lines stands for one break (the break before it is dropped).
        out_c, out_w = [], []
        for ch, w in zip(chars, where):
            out_c.append(ch)
            out_w.append(w)
        chars, where = _collapse_folded(out_c, out_w)
    return chars, where


def _collapse_folded(chars: list[str], where: list[int]):
    """In a folded block, ``text\\n\\ntext`` stands for ``text\\ntext``."""
    out_c: list[str] = []
    out_w: list[int] = []
    i = 0
    while i < len(chars):
        if chars[i] == "\n" and i + 1 < len(chars) and chars[i + 1] == "\n" and out_c and out_c[-1] not in "\n":
            j = i
            while j < len(chars) and chars[j] == "\n":
                j += 1
            if j < len(chars) and chars[j] not in " \t":
                for k in range(i + 1, j):
                    out_c.append("\n")
                    out_w.append(where[k])
                i = j
                continue
        out_c.append(chars[i])
        out_w.append(where[i])
        i += 1
    return out_c, out_w
