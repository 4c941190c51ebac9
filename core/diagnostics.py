"""The records every part of deploylint exchanges: diagnostics, fixes and positions.

These are the public data types of the plugin API. They are frozen so that a
diagnostic can be shared between reporters, the fixer and the language server
without anyone changing it underneath the others.

Positions are 1-based lines and 1-based columns counted in Unicode code points
(the LSP layer converts to 0-based UTF-16). Ranges are half-open: ``end`` is the
first position after the span.
"""

from __future__ import annotations

import enum
from typing import Any, Iterable, Mapping

from .records import record, field, replace


class Severity(str, enum.Enum):
    """How bad a finding is; ordered from the most to the least severe."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    HINT = "hint"

    @property
    def rank(self) -> int:
        """0 for error … 3 for hint: smaller is more severe."""
        return _SEVERITY_RANK[self]

    def at_least(self, other: "Severity") -> bool:
        """True when this severity is as bad as ``other`` or worse."""
        return self.rank <= other.rank

    @classmethod
    def parse(cls, value: "str | Severity") -> "Severity":
        if isinstance(value, Severity):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            choices = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity {value!r} (expected one of {choices})") from None


_SEVERITY_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2, Severity.HINT: 3}


class Applicability(str, enum.Enum):
    """When a fix may be applied without asking (ruff's three levels).

    ``safe`` fixes keep what is deployed and are applied by ``--fix``;
    ``unsafe`` ones change what is deployed and need ``--unsafe-fixes``;
    ``display`` ones are advice only and are never applied.
    """

    SAFE = "safe"
    UNSAFE = "unsafe"
    DISPLAY = "display"

    @classmethod
    def parse(cls, value: "str | Applicability") -> "Applicability":
        if isinstance(value, Applicability):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            raise ValueError(
                f"unknown applicability {value!r} (expected safe, unsafe or display)"
            ) from None


@record(frozen=True, slots=True, order=True)
class Position:
    """A place in a text file: 1-based line, 1-based column in code points."""

    line: int
    column: int

    def to_json(self) -> dict[str, int]:
        return {"line": self.line, "column": self.column}


@record(frozen=True, slots=True)
class Range:
    """A half-open stretch of text between two positions."""

    start: Position
    end: Position

    @classmethod
    def at(cls, line: int, column: int, end_line: int | None = None, end_column: int | None = None) -> "Range":
        return cls(
            Position(line, column),
            Position(end_line if end_line is not None else line, end_column if end_column is not None else column + 1),
        )

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start.to_json(), "end": self.end.to_json()}


@record(frozen=True, slots=True)
class Edit:
    """Replace the text in ``range`` by ``new_text`` (an insertion has an empty range).

    The range is what an edit means: build one as ``Edit(range, new_text)``.
    ``start`` and ``end`` are the same span as code-point offsets into the
    document text; the engine derives them from ``range`` before a diagnostic
    leaves it (a plugin that passes offsets too must pass the ones its range
    names, or its fix is refused), and the fixer applies edits by offset.
    """

    range: Range
    new_text: str
    start: int | None = None
    end: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.range, Range):
            raise TypeError(f"Edit needs a Range saying which text it replaces, got {self.range!r:.80}")
        if not isinstance(self.new_text, str):
            raise TypeError(f"Edit.new_text must be a str, got {type(self.new_text).__name__}")
        if (self.start is None) != (self.end is None):
            raise ValueError("Edit offsets come in pairs: give both start and end, or neither (they follow from the range)")
        if self.start is not None:
            if not all(isinstance(o, int) and not isinstance(o, bool) for o in (self.start, self.end)):
                raise TypeError("Edit offsets must be integers")
            if not 0 <= self.start <= self.end:
                raise ValueError(f"Edit offsets must satisfy 0 <= start <= end, got {self.start}, {self.end}")
        if self.range.end < self.range.start:
            raise ValueError("Edit range ends before it starts")

    def to_json(self) -> dict[str, Any]:
        return {"range": self.range.to_json(), "new_text": self.new_text}


@record(frozen=True, slots=True)
class ValueChange:
    """A value-level edit of the plan, independent of the file format.

    ``op`` is ``set`` (replace an existing value, or add it when missing),
    ``remove`` (delete the key or list item), ``insert`` (add a key that is
    not there yet) or ``rename`` (give the key at ``path`` the name ``value``,
    keeping its value and comments: the did-you-mean fix). Each source format has a writer that renders a change as
    the smallest text edit.
    """

    op: str
    path: str
    value: Any = None


@record(frozen=True, slots=True)
class Fix:
    """One way to resolve a diagnostic: value changes, rendered into text edits.

    Rules build fixes with :meth:`set`, :meth:`remove` and :meth:`insert`; they
    never compute text positions. The engine fills ``edits`` from ``changes``
    through the source's writer before the diagnostic leaves the engine.
    """

    message: str
    changes: tuple[ValueChange, ...] = ()
    applicability: Applicability = Applicability.SAFE
    edits: tuple[Edit, ...] = ()

    @classmethod
    def set(cls, path: str, value: Any, message: str = "", *, applicability: "str | Applicability" = "safe") -> "Fix":
        return cls(message or f"set {path} to {value!r}", (ValueChange("set", path, value),), Applicability.parse(applicability))

    @classmethod
    def remove(cls, path: str, message: str = "", *, applicability: "str | Applicability" = "safe") -> "Fix":
        return cls(message or f"remove {path}", (ValueChange("remove", path),), Applicability.parse(applicability))

    @classmethod
    def insert(cls, path: str, value: Any, message: str = "", *, applicability: "str | Applicability" = "safe") -> "Fix":
        return cls(message or f"add {path} = {value!r}", (ValueChange("insert", path, value),), Applicability.parse(applicability))

    @classmethod
    def rename(cls, path: str, new_key: str, message: str = "", *, applicability: "str | Applicability" = "safe") -> "Fix":
        return cls(message or f"rename {path} to {new_key!r}", (ValueChange("rename", path, new_key),), Applicability.parse(applicability))

    @classmethod
    def combine(cls, fixes: Iterable["Fix"], message: str, *, applicability: "str | Applicability | None" = None) -> "Fix":
        """One fix made of several value changes, applied together or not at all."""
        fixes = list(fixes)
        changes = tuple(c for f in fixes for c in f.changes)
        if applicability is None:
            # The combination is only as safe as its least safe part.
            levels = [f.applicability for f in fixes] or [Applicability.SAFE]
            order = [Applicability.DISPLAY, Applicability.UNSAFE, Applicability.SAFE]
            applicability = min(levels, key=order.index)
        return cls(message, changes, Applicability.parse(applicability))

    def with_edits(self, edits: Iterable[Edit]) -> "Fix":
        return replace(self, edits=tuple(edits))

    def to_json(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "applicability": self.applicability.value,
            "edits": [e.to_json() for e in self.edits],
        }


@record(frozen=True, slots=True)
class Related:
    """Another place that explains a finding: where a variable the value comes from is set, the other
    end of a mismatch. Shown as SARIF ``relatedLocations`` and LSP ``relatedInformation``.

    ``file`` is None for the diagnostic's own file; ``range`` is filled in by the engine from
    ``start``/``end`` (code-point offsets into the same text) when a source adapter supplies it.
    """

    message: str
    range: Range | None = None
    file: str | None = None
    start: int = -1
    end: int = -1

    def to_json(self) -> dict[str, Any]:
        return {"message": self.message, "file": self.file, "range": self.range.to_json() if self.range else None}


_NO_FIELD = object()


@record(frozen=True, slots=True)
class Diagnostic:
    """One finding about one place in a plan.

    ``path`` is the JSON pointer of the plan value the finding is about;
    ``range`` the span of that value in the file (filled in by the engine);
    ``data`` the figures behind the message as plain JSON values;
    ``related`` other places that explain it (:class:`Related`), e.g. where
    the environment variable a flag's value comes from is set;
    ``refusal`` why the finding offers no fix although one was proposed (the
    file holds no token the fix could edit, or the value is set elsewhere):
    deploylint sets it where it drops the fixes and ends the message with
    "; no fix offered: <refusal>"; a rule may set it too, and its message then
    gets the same ending unless it already says "no fix offered". The
    language server shows it as the reason of a disabled quick fix.
    """

    code: str
    severity: Severity
    message: str
    path: str = ""
    range: Range | None = None
    fixes: tuple[Fix, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)
    rule: str = ""
    plugin: str = ""
    file: str | None = None
    related: tuple[Related, ...] = ()
    refusal: str = ""

    def with_(self, **changes: Any) -> "Diagnostic":
        for name, value in changes.items():
            if getattr(self, name, _NO_FIELD) is not value:     # (a name that is no field: replace says so)
                return replace(self, **changes)
        return self     # nothing changes (the configured severity is the rule's, say): a frozen record is shared

    def to_json(self) -> dict[str, Any]:
        out = {
            "code": self.code,
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "file": self.file,
            "path": self.path,
            "range": self.range.to_json() if self.range else None,
            "data": dict(self.data),
            "fixes": [f.to_json() for f in self.fixes],
            "plugin": self.plugin,
        }
        if self.related:
            out["related"] = [r.to_json() for r in self.related]
        return out


def sort_key(d: Diagnostic) -> tuple:
    """Order diagnostics by file, position, then code: what a reader expects."""
    pos = (d.range.start.line, d.range.start.column) if d.range else (0, 0)
    return (d.file or "", pos, d.code)
