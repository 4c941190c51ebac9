"""Inline suppressions: ``# deploylint: ignore[CODE, ...]`` and ``# deploylint: ignore-file[...]``.

A line comment silences the listed codes on its own line; a comment on a line
of its own silences them on the next line that is not a comment. Codes may be
prefixes (``MOE`` silences every MOE rule). JSON has no comments, so a
top-level ``"$deploylint"`` key does the same by JSON pointer::

    "$deploylint": {"ignore": {"/parallelism/ep": ["MOE301"]}, "ignore-file": ["MEM102"]}

A suppression that names a code nobody defines, or that silences nothing, is
itself reported (DL006): stale suppressions hide the next real finding.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from ..records import record, field
from ..document import pointer as jp
from ..diagnostics import Diagnostic, Range
from ..host.core_rules import core_diagnostic

META_KEY = "$deploylint"

_COMMENT_RE = re.compile(r"#\s*deploylint:\s*(?P<kind>ignore-file|ignore)\s*\[(?P<codes>[^\]]*)\]")
_CODE_RE = re.compile(r"^[A-Z]{1,4}[0-9]{0,3}$")


@record
class Suppression:
    codes: list[str]
    kind: str                 # "line", "file" or "pointer"
    range: Range | None       # where the suppression is written
    target_line: int | None = None
    pointer: str | None = None
    meta_path: str = ""       # for JSON: the pointer of the suppression entry itself
    used: set[str] = field(default_factory=set)

    def matches(self, diag: Diagnostic) -> str | None:
        """The code entry that silences ``diag``, or None."""
        if self.kind == "line":
            if diag.range is None or diag.range.start.line != self.target_line:
                return None
        elif self.kind == "pointer":
            if not (diag.path == self.pointer or diag.path.startswith(self.pointer.rstrip("/") + "/")):
                return None
        for code in self.codes:
            if diag.code.startswith(code):
                return code
        return None


def from_comments(text: str, fmt: str) -> list[Suppression]:
    """Suppressions written as comments (TOML, YAML, Python; JSON has no comments)."""
    if fmt == "json" or "deploylint" not in text:
        return []
    lines = text.splitlines()
    out: list[Suppression] = []
    for number, line in enumerate(lines, 1):
        for m in _COMMENT_RE.finditer(line):
            codes = [c.strip().upper() for c in m.group("codes").split(",") if c.strip()]
            where = Range.at(number, m.start() + 1, number, m.end() + 1)
            if m.group("kind") == "ignore-file":
                out.append(Suppression(codes, "file", where))
                continue
            before = line[: m.start()].strip()
            target = number
            if not before:
                # A comment on its own line applies to the next line that is not a comment or blank.
                target = next((n for n in range(number + 1, len(lines) + 1)
                               if lines[n - 1].strip() and not lines[n - 1].lstrip().startswith("#")), number)
            out.append(Suppression(codes, "line", where, target_line=target))
    return out


def from_meta(meta: Any, document) -> tuple[list[Suppression], list[Diagnostic]]:
    """Suppressions from a top-level ``$deploylint`` table, and diagnostics for a malformed one."""
    sups: list[Suppression] = []
    problems: list[Diagnostic] = []
    base = "/" + jp.escape(META_KEY)

    def bad(path: str, message: str) -> None:
        problems.append(core_diagnostic("DL002", message, path, range=document.range_of(path)))

    if not isinstance(meta, dict):
        bad(base, f"{META_KEY} must be a table with 'ignore' and/or 'ignore-file'")
        return sups, problems
    for key in meta:
        if key not in ("ignore", "ignore-file"):
            bad(jp.child(base, key), f"unknown key {key!r} in {META_KEY} (expected 'ignore' or 'ignore-file')")
    ignore = meta.get("ignore", {})
    if not isinstance(ignore, dict):
        bad(jp.child(base, "ignore"), f"{META_KEY}.ignore must map JSON pointers to lists of codes")
        ignore = {}
    for ptr, codes in ignore.items():
        path = jp.child(jp.child(base, "ignore"), ptr)
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes) or not (ptr == "" or ptr.startswith("/")):
            bad(path, f"{META_KEY}.ignore entries map a JSON pointer (like \"/parallelism/ep\") to a list of codes")
            continue
        sups.append(Suppression([c.upper() for c in codes], "pointer", document.range_of(path), pointer=ptr, meta_path=path))
    file_codes = meta.get("ignore-file", [])
    if not isinstance(file_codes, list) or not all(isinstance(c, str) for c in file_codes):
        bad(jp.child(base, "ignore-file"), f"{META_KEY}.ignore-file must be a list of codes")
    elif file_codes:
        path = jp.child(base, "ignore-file")
        sups.append(Suppression([c.upper() for c in file_codes], "file", document.range_of(path), meta_path=path))
    return sups, problems


def apply(diagnostics: Iterable[Diagnostic], suppressions: list[Suppression]) -> list[Diagnostic]:
    """Drop silenced diagnostics, remembering which suppression entries were used."""
    kept: list[Diagnostic] = []
    for d in diagnostics:
        silenced = False
        for s in suppressions:
            code = s.matches(d)
            if code is not None:
                s.used.add(code)
                silenced = True
        if not silenced:
            kept.append(d)
    return kept


#: codes about the repository's own trust, which its files cannot silence (see host/trust.py)
UNSUPPRESSIBLE = frozenset({"DL009"})


def audit(suppressions: list[Suppression], known_codes: set[str], evaluated: set[str]) -> list[Diagnostic]:
    """DL006 for suppressions naming unknown codes, or silencing nothing among the codes that ran."""
    out: list[Diagnostic] = []
    for s in suppressions:
        for code in s.codes:
            path = s.meta_path
            if not _CODE_RE.match(code) or not any(k.startswith(code) for k in known_codes):
                out.append(_dl006(s, path, f"suppression names unknown code {code!r}", {"code": code, "reason": "unknown"}))
            elif code in UNSUPPRESSIBLE:
                out.append(_dl006(s, path, f"{code} cannot be suppressed from the checked repository: it says that "
                                  "the repository's own plugins did not run", {"code": code, "reason": "unsuppressible"}))
            elif code not in s.used and any(k.startswith(code) for k in evaluated):
                out.append(_dl006(s, path, f"unused suppression: no {code} finding here to silence", {"code": code, "reason": "unused"}))
    return out


def _dl006(s: Suppression, path: str, message: str, data: dict) -> Diagnostic:
    return core_diagnostic("DL006", message, path, range=s.range, data=data)
