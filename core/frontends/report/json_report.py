"""The JSON report: the machine-readable contract of ARCHITECTURE.md (version 1)."""

from __future__ import annotations

import json
from json.encoder import encode_basestring as _quote
from typing import Any, Iterable

from ...diagnostics import Diagnostic, Severity
from ...records import record

VERSION = 1

#: the line start of an item of the report's "diagnostics" list (two levels in)
_ITEM = "\n    "


@record(frozen=True, slots=True)
class Written:
    """A finding already written as its text in the report (:func:`written`): what the run still reads of it.

    The worker processes of a JSON run send their files' findings back so, which is cheaper to send than the
    finding and moves the writing out of the run's own (serial) work."""

    code: str
    severity: Severity
    text: str


def written(d: Diagnostic) -> Written:
    """``d`` written as it stands in the report's ``"diagnostics"`` list (:func:`render` joins the texts)."""
    return Written(d.code, d.severity, _nested(d.to_json(), _ITEM))


def _nested(value: Any, nl: str) -> str:
    """``dumps(value)`` as it stands inside a container whose items start with ``nl``."""
    out: list[str] = []
    try:
        _write(value, out, nl)
    except (_Other, RecursionError):
        # json.dumps's text, moved in: a JSON string holds no raw line break, so every line break of the text is
        # one of the indentation's
        return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", nl)
    return "".join(out)


def render(diagnostics: Iterable[Diagnostic | Written], files: int, *, fixed: int = 0) -> str:
    """The report: ``dumps`` of ``{"version", "diagnostics", "summary"}``, with each finding's text written once
    (a :class:`Written` one is already)."""
    diags = list(diagnostics)
    summary = {"files": files, **{s.value: sum(1 for d in diags if d.severity is s) for s in Severity}}
    if fixed:
        summary["fixed"] = fixed
    items = [d.text if isinstance(d, Written) else _nested(d.to_json(), _ITEM) for d in diags]
    listed = "[" + _ITEM + ("," + _ITEM).join(items) + "\n  ]" if items else "[]"
    return ('{\n  "version": ' + int.__repr__(VERSION) + ',\n  "diagnostics": ' + listed + ',\n  "summary": '
            + _nested(summary, "\n  ") + "\n}")


def dumps(value: Any) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False)``, character for character, in a fraction of its time.

    The standard library's C encoder does not indent, and its Python one spends most of a large report in
    generators; this one writes the same text directly (anything it does not know goes to ``json.dumps``).
    """
    return _nested(value, "\n")


class _Other(Exception):
    """A value of a kind left to json.dumps (which says what is wrong with it, if anything)."""


def _float(o: float) -> str:
    if o != o:
        return "NaN"
    if o == float("inf"):
        return "Infinity"
    if o == -float("inf"):
        return "-Infinity"
    return float.__repr__(o)


def _write(o: Any, out: list[str], nl: str) -> None:
    # the order of the standard encoder's checks: str, None, True, False, int, float, list/tuple, dict
    if isinstance(o, str):
        out.append(_quote(o))
    elif o is None:
        out.append("null")
    elif o is True:
        out.append("true")
    elif o is False:
        out.append("false")
    elif isinstance(o, int):
        out.append(int.__repr__(o))
    elif isinstance(o, float):
        out.append(_float(o))
    elif isinstance(o, (list, tuple)):
        if not o:
            out.append("[]")
            return
        inner = nl + "  "
        if all(type(v) is int for v in o):
            out.append("[" + inner + ("," + inner).join(map(int.__repr__, o)) + nl + "]")
            return
        out.append("[")
        separator = inner
        for v in o:
            out.append(separator)
            separator = "," + inner
            _write(v, out, inner)
        out.append(nl + "]")
    elif isinstance(o, dict):
        if not o:
            out.append("{}")
            return
        inner = nl + "  "
        out.append("{")
        separator = inner
        for k, v in o.items():
            if isinstance(k, str):
                key = k
            elif isinstance(k, float):
                key = _float(k)
            elif k is True:
                key = "true"
            elif k is False:
                key = "false"
            elif k is None:
                key = "null"
            elif isinstance(k, int):
                key = int.__repr__(k)
            else:
                raise _Other
            out.append(separator)
            separator = "," + inner
            out.append(_quote(key) + ": ")
            _write(v, out, inner)
        out.append(nl + "}")
    else:
        raise _Other
