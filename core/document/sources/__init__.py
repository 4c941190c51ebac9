"""Loaders: file bytes → :class:`~deploylint.core.document.Document`.

One module per format. Each exposes ``load(path: str, text: str) -> Document``
and raises :class:`SourceError` (with a position) for text it cannot read.
Heavy parsers (PyYAML, libcst) are imported inside their loader only.
"""

from __future__ import annotations

import os
import re

from ...diagnostics import Range


class SourceError(Exception):
    """A file that cannot be read as a plan: the message and where it went wrong."""

    def __init__(self, message: str, range: Range | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.range = range


#: keys and list items a plan may hold (a deployment plan holds a few hundred; the longest lists, one figure per
#: device or expert, a few thousand). The parsers cost a few microseconds per value whatever we do (tomllib,
#: PyYAML's events, ``ast`` nodes), so past this bound a file is refused before they run: its check stays
#: bounded in time and memory whatever its size (docs/plan-format.md, "Limits")
MAX_ENTRIES = 50_000


def refuse_too_many_entries(text: str, tokens: str, max_depth: int) -> None:
    """A :class:`SourceError` at the first key or list item of ``text`` past :data:`MAX_ENTRIES`.

    Run before the parser, so that its cost per value is bounded. ``tokens`` is the format's lexer (see
    :func:`entry_lexer`; compiled when a text is first long enough to be lexed): strings, comments, blanks and bare words are skipped whole, and the rest are named
    groups: ``key`` (the ``=`` or ``:`` after a key), ``open`` (``[``, ``{`` or ``(``; ``empty`` when its
    closer follows at once), ``lead`` (a ``[`` that starts a line: a TOML table header, whose name is a key,
    outside any bracket), ``comma`` and ``close`` (a run of closers). A key counts once and a list or tuple item once
    (its first from the bracket, the next from their commas); a mapping's commas and a ``dict(k=v)``
    call's ``=`` do not count, nor do brackets nested deeper than ``max_depth`` (the loader's own nesting
    error says more about such a file). The loop stops at the bound, so a file of any size is counted in
    bounded time.

    Every entry counted is a token of at least one character, and tokens do not overlap: a text of at most
    :data:`MAX_ENTRIES` characters cannot pass the bound, and is not lexed at all (a plan is a few kilobytes).
    """
    if len(text) <= MAX_ENTRIES:
        return
    count = 0
    stack: list[str] = []
    for m in re.finditer(tokens, text, re.MULTILINE):
        kind = m.lastgroup
        if kind == "key":
            if stack and stack[-1] == "(":   # dict(key=value): one item, counted by its bracket or comma
                continue
        elif kind == "lead" and not stack:
            pass   # a table header: its name is a key
        elif kind in ("open", "lead"):
            if kind == "open" and m.group("empty") is not None:
                continue
            char = m.group()[-1] if kind == "lead" else m.group()[0]
            stack.append(char)
            if char == "{" or len(stack) > max_depth:
                continue
        elif kind == "comma":
            if not stack or stack[-1] == "{":
                continue
        elif kind == "close":
            closers = len(m.group()) - sum(map(m.group().count, " \t\r\n"))
            del stack[max(0, len(stack) - closers):]
            continue
        else:   # a string, a comment, blanks, a bare word or number
            continue
        count += 1
        if count > MAX_ENTRIES:
            from .. import LineIndex

            pos = LineIndex(text).position(_entry_start(text, m.start(), kind == "key"))
            raise too_many_entries(Range.at(pos.line, pos.column))


def _entry_start(text: str, at: int, key: bool) -> int:
    """Where the entry a token counts begins: the key before its ``=``/``:``, the item after a bracket or comma."""
    if not key:
        return _BLANKS.match(text, at + 1).end()
    i = at
    while i > 0 and text[i - 1] in " \t":
        i -= 1
    if i > 0 and text[i - 1] in "\"'":
        opening = text.rfind(text[i - 1], 0, i - 1)
        return opening if opening >= 0 else i - 1
    while i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_-."):
        i -= 1
    return i


_BLANKS = re.compile(r"[ \t\r\n]*")


def too_many_entries(where: Range) -> SourceError:
    """The error of a file past :data:`MAX_ENTRIES`, at the first key or list item past the bound."""
    return SourceError(f"the plan holds more than {MAX_ENTRIES:,} keys and list items, too many to be a deployment "
                       "plan (which holds a few hundred): the first one past the limit is here", where)


def entry_lexer(strings: str, comment: str | None, headers: bool = False) -> str:
    """The lexer :func:`refuse_too_many_entries` reads a format with (a regular expression of ``re.MULTILINE``
    mode, not compiled until a file is long enough to be lexed): ``strings`` is the regular expression of
    its string literals, ``comment`` the character that starts a comment, ``headers`` whether a ``[`` at the
    start of a line may be a table header (TOML)."""
    parts = [strings]
    if comment:
        parts.append(rf"(?:{re.escape(comment)}[^\n]*\n?)+")
    if headers:
        parts.append(r"(?P<lead>^[ \t]*\[)")
    # runs of blanks (ending at a line break, so that a header's line start stays visible) and of bare
    # words and numbers are one match each: the loop runs once per token, never once per character
    parts += [r"[ \t\r\n]*\n", r"[ \t\r]+", rf"[^\s\"'\[\]{{}}(),:={re.escape(comment or '')}]+",
              r"(?P<key>[=:])", r"(?P<open>[\[{(](?P<empty>[ \t\r\n]*[\]})])?)", r"(?P<comma>,)",
              r"(?P<close>[\]})](?:[ \t\r\n]*[\]})])*)"]
    return "|".join(parts)


#: file suffix → loader module name (inside this package)
FORMATS = {
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
    ".py": "python",
}


def format_for(path: str) -> str | None:
    """The built-in format of a path, by its suffix; None when no built-in loader reads it."""
    lower = path.lower()
    for suffix, name in FORMATS.items():
        if lower.endswith(suffix):
            return name
    return None


#: top-level keys that make a file a plan (``name`` alone does not: many files have one)
PLAN_KEYS = ("schema_version", "model", "hardware", "parallelism", "workload", "claims", "serving", "training")


def not_a_plan(path: str, text: str, document=None) -> str | None:
    """Why a file no source adapter reads is not a plan (a sentence), or None when it may be one.

    ``document`` is the file loaded as a plan when that worked. A top-level key equal or close to one of
    the plan's (``paralelism``) keeps the file a plan, so a plan with typos still gets its schema findings;
    a file that does not parse is left to the loader's parse error.
    """
    import re

    fmt = format_for(path)
    if fmt is None:
        return f"its name ends in none of {', '.join(FORMATS)}"
    if fmt == "python":
        return None if re.search(r"^PLAN\b", text, re.M) else "it assigns no module-level PLAN"
    if document is not None:
        tops = [document.data]
    elif fmt == "yaml":
        from .yaml_source import load_all

        try:
            tops = [data for data, _, _ in load_all(path, text)]
        except SourceError:
            return None
    else:
        return None
    keys = [k for top in tops if isinstance(top, dict) for k in top if isinstance(k, str)]
    if any(k in PLAN_KEYS for k in keys):
        return None
    if keys:
        import difflib

        if any(difflib.get_close_matches(k.lower(), PLAN_KEYS, n=1, cutoff=0.75) for k in keys):
            return None
        shown = ", ".join(dict.fromkeys(keys[:6])) + (", …" if len(keys) > 6 else "")
        return f"its top level has {shown}, none of the plan's tables"
    return "its top level is no mapping of the plan's tables"


def load(path: str, text: str, fmt: str | None = None):
    """Parse ``text`` (already decoded, BOM removed) as the format of ``path``."""
    import importlib

    fmt = fmt or format_for(path)
    if fmt is None:
        raise SourceError(f"no loader reads {path!r} (known suffixes: {', '.join(FORMATS)})")
    module = importlib.import_module(f"{__name__}.{fmt}_source")
    return module.load(path, text)


def decode(raw: bytes) -> tuple[str, bool]:
    """UTF-8 bytes → (text without BOM, had_bom). Invalid UTF-8 is a SourceError at the bad byte."""
    bom = raw.startswith(b"\xef\xbb\xbf")
    if bom:
        raw = raw[3:]
    try:
        return raw.decode("utf-8"), bom
    except UnicodeDecodeError as exc:
        good = raw[: exc.start].decode("utf-8", errors="replace")
        line = good.count("\n") + 1
        column = len(good) - (good.rfind("\n") + 1) + 1
        raise SourceError(
            f"the file is not valid UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start + (3 if bom else 0)}",
            Range.at(line, column),
        ) from None


def read_regular_file(path: str, limit: int, error: type[Exception], *, what: str) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them; ``error`` says why not.

    A FIFO, a device such as /dev/zero, a socket or a folder is refused
    before anything is read from it (opened without blocking, checked with
    fstat), and a file longer than ``limit`` is refused after reading one byte
    past it, so no path can hang a check or fill its memory.
    """
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise error(f"no such file: {path}") from None
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise error(f"{path} is a folder, not {what}")
        if not stat.S_ISREG(mode):
            raise error(f"{path} is not a regular file (a FIFO, device or socket); only regular files are read")
        chunks, size = [], 0
        while size <= limit and (chunk := os.read(fd, min(1 << 20, limit + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise error(f"{path} is larger than {limit >> 20} MiB, too large to be {what}")
        return b"".join(chunks)
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
