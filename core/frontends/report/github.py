"""GitHub Actions workflow commands: one annotation per diagnostic on the pull request's diff."""

from __future__ import annotations

from typing import Iterable

from ...diagnostics import Diagnostic, Severity

COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice", Severity.HINT: "notice"}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(d: Diagnostic) -> str:
    props = []
    if d.file:
        props.append(f"file={_escape_property(d.file)}")
        if d.range:
            r = d.range
            props += [f"line={r.start.line}", f"col={r.start.column}", f"endLine={r.end.line}", f"endColumn={r.end.column}"]
    props.append(f"title={_escape_property(d.code)}")
    # an annotation has one place: the related ones are lines of its message, as the text report shows them
    lines = [d.message] + [f"see {_where(d, r)}: {r.message}" for r in d.related]
    return f"::{COMMAND[d.severity]} {','.join(props)}::{_escape_data(chr(10).join(lines))}"


def _where(d: Diagnostic, r) -> str:
    where = r.file or d.file or ""
    return where + (f":{r.range.start.line}:{r.range.start.column}" if r.range is not None else "")


def render(diagnostics: Iterable[Diagnostic]) -> str:
    return "\n".join(annotation(d) for d in diagnostics)
