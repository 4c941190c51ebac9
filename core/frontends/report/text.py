"""The terminal report, shaped like a good compiler's.

    plan.toml:24:6: MOE301 warning 64 experts do not divide evenly over ep=3 …
       |
    24 | ep = 3
       |      ^
       = figures: distribution=[22, 21, 21], imbalance=1.031
       = fix (unsafe): use ep=1 with dp=3

followed by one summary line. Colour only on a terminal (and never with NO_COLOR).
"""

from __future__ import annotations

import json
import os
from typing import Iterable

from ...diagnostics import Applicability, Diagnostic, Severity
from ...host.validation import one_line

_COLOURS = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.INFO: "36", Severity.HINT: "35"}


def use_colour(stream) -> bool:
    return hasattr(stream, "isatty") and stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _c(text: str, code: str, colour: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if colour else text


def render_diagnostic(d: Diagnostic, source_lines, *, colour: bool = False, show_fixes: bool = True) -> str:
    """One diagnostic with its source excerpt; ``source_lines`` is a LineIndex or None."""
    loc = d.file or "<run>"
    if d.range is not None and d.file:
        loc += f":{d.range.start.line}:{d.range.start.column}"
    # One line per message, whatever it holds: a CI log reads a line that starts with "::" as a command.
    head = (f"{_c(one_line(loc), '1', colour)}: {_c(d.code, '1', colour)} {_c(d.severity.value, _COLOURS[d.severity], colour)} "
            f"{one_line(d.message)}")
    out = [head]
    if d.range is not None and source_lines is not None and d.file:
        line_no = d.range.start.line
        text = one_line(source_lines.line_text(line_no).expandtabs(1))
        start = d.range.start.column
        end = d.range.end.column if d.range.end.line == line_no else len(text) + 1
        text, start, end = _window(text, start, min(end, len(text) + 1))
        gutter = " " * len(str(line_no))
        width = max(1, end - start)
        out.append(f"{gutter} |")
        out.append(f"{line_no} | {text}")
        out.append(f"{gutter} | {' ' * (start - 1)}{_c('^' * width, _COLOURS[d.severity], colour)}")
        prefix = f"{gutter} = "
    else:
        prefix = "  = "
    for r in d.related:
        where = r.file or d.file or ""
        if r.range is not None:
            where += f":{r.range.start.line}:{r.range.start.column}"
        out.append(prefix + f"see {where}: {r.message}")
    if d.data:
        out.append(prefix + "figures: " + one_line(", ".join(f"{k}={_fmt(v)}" for k, v in d.data.items())))
    if show_fixes:
        for fix in d.fixes:
            label = {Applicability.SAFE: "fix", Applicability.UNSAFE: "fix (unsafe)", Applicability.DISPLAY: "suggestion"}[fix.applicability]
            out.append(prefix + f"{label}: {one_line(fix.message)}")
    return "\n".join(out)


#: at most this many columns of a source line are shown in a code frame
FRAME_COLUMNS = 100


def _window(text: str, start: int, end: int) -> tuple[str, int, int]:
    """The part of a source line a frame shows, with the 1-based columns ``[start, end)`` moved into it.

    A minified file is one long line: the frame shows a window around the
    span (``…`` where it was cut) instead of the whole line for each finding.
    """
    if len(text) <= FRAME_COLUMNS:
        return text, start, max(end, start + 1)
    lo = max(0, min(start - 1 - FRAME_COLUMNS // 3, len(text) - FRAME_COLUMNS))
    hi = lo + FRAME_COLUMNS
    shown = ("…" if lo else "") + text[lo:hi] + ("…" if hi < len(text) else "")
    shift = lo - (1 if lo else 0)
    return shown, start - shift, max(min(end, hi + 1) - shift, start - shift + 1)

def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        text = json.dumps(value, separators=(", ", ": "))
        return text if len(text) <= 120 else text[:117] + "..."
    return str(value)


def _applies(fix) -> bool:
    """A fix that changes the file: rendered into edits, or value changes still to render (text output skips rendering)."""
    return bool(fix.edits or fix.changes)


def summary_line(diagnostics: Iterable[Diagnostic], files: int, *, fixed: int = 0) -> str:
    diags = list(diagnostics)
    counts = {s: sum(1 for d in diags if d.severity is s) for s in Severity}
    safe = sum(1 for d in diags if any(f.applicability is Applicability.SAFE and _applies(f) for f in d.fixes))
    unsafe = sum(1 for d in diags if any(f.applicability is Applicability.UNSAFE and _applies(f) for f in d.fixes)
                 and not any(f.applicability is Applicability.SAFE and _applies(f) for f in d.fixes))
    noun = "file" if files == 1 else "files"
    if not diags:
        text = f"All clear: {files} {noun} checked, no problems found."
    else:
        parts = ", ".join(f"{counts[s]} {s.value}{'s' if counts[s] != 1 and s is not Severity.INFO else ''}" for s in Severity)
        text = f"Found {len(diags)} problem{'s' if len(diags) != 1 else ''} ({parts}) in {files} {noun}."
        if safe or unsafe:
            text += f" {safe} fixable with --fix"
            text += f", {unsafe} more with --unsafe-fixes." if unsafe else "."
    if fixed:
        text = f"Fixed {fixed} problem{'s' if fixed != 1 else ''}. " + text
    return text
