"""The plugin worker's JSON encoding of what a plugin returns: ranges, related places and diagnostics.

The worker (:mod:`.worker`) encodes, the host (:mod:`.isolation`) decodes, both with these functions, so
the two ends cannot drift apart. Decoding trusts nothing: anything out of shape raises ``KeyError``,
``TypeError``, ``ValueError`` or ``IndexError`` (the host turns that into a plugin fault, and the engine
checks the rest of a diagnostic again). A range travels as ``[line, column, end line, end column]``, a
related place as ``[message, range, file, start, end]``.
"""

from __future__ import annotations

from ..diagnostics import Applicability, Diagnostic, Edit, Fix, Position, Range, Related, Severity, ValueChange


def range_to_wire(r: Range | None) -> list | None:
    return None if r is None else [r.start.line, r.start.column, r.end.line, r.end.column]


def range_from_wire(r) -> Range | None:
    """A range from ``[line, column, end line, end column]``, or None; anything else raises."""
    if r is None:
        return None
    if len(r) != 4 or not all(type(v) is int for v in r):
        raise ValueError("range")
    return Range(Position(r[0], r[1]), Position(r[2], r[3]))


def related_to_wire(r: Related) -> list:
    return [r.message, range_to_wire(r.range), r.file, r.start, r.end]


def related_from_wire(item) -> Related:
    message, r, file, start, end = item
    return Related(str(message), range_from_wire(r), None if file is None else str(file), int(start), int(end))


def diagnostic_to_wire(d: Diagnostic) -> dict:
    """A checked diagnostic as plain JSON values."""
    return {
        "code": d.code, "severity": d.severity.value, "message": d.message, "path": d.path,
        "range": range_to_wire(d.range), "data": dict(d.data),
        "fixes": [{"message": f.message, "applicability": f.applicability.value,
                   "changes": [[c.op, c.path, c.value] for c in f.changes],
                   "edits": [[range_to_wire(e.range), e.new_text, e.start, e.end] for e in f.edits]} for f in d.fixes],
        "related": [related_to_wire(r) for r in d.related], "refusal": d.refusal,
    }


def diagnostic_from_wire(item: dict) -> Diagnostic:
    """A diagnostic from the worker's JSON; anything out of shape raises."""
    fixes = []
    for f in item["fixes"]:
        changes = tuple(ValueChange(str(op), str(path), value) for op, path, value in f["changes"])
        edits = tuple(Edit(range_from_wire(r), str(text), *(() if start is None else (int(start), int(end))))
                      for r, text, start, end in f["edits"])
        fixes.append(Fix(str(f["message"]), changes, Applicability.parse(f["applicability"]), edits))
    data = item["data"]
    if not isinstance(data, dict):
        raise TypeError("data")
    return Diagnostic(code=str(item["code"]), severity=Severity.parse(item["severity"]), message=str(item["message"]),
                      path=str(item["path"]), range=range_from_wire(item["range"]), fixes=tuple(fixes), data=data,
                      related=tuple(related_from_wire(r) for r in item.get("related") or ()),
                      refusal=str(item.get("refusal") or ""))
