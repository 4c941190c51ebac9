"""The JSON report: the machine-readable contract of ARCHITECTURE.md (version 1)."""

from __future__ import annotations

import json
from typing import Iterable

from ...diagnostics import Diagnostic, Severity

VERSION = 1


def render(diagnostics: Iterable[Diagnostic], files: int, *, fixed: int = 0) -> str:
    diags = list(diagnostics)
    summary = {"files": files, **{s.value: sum(1 for d in diags if d.severity is s) for s in Severity}}
    if fixed:
        summary["fixed"] = fixed
    return json.dumps({"version": VERSION, "diagnostics": [d.to_json() for d in diags], "summary": summary}, indent=2, ensure_ascii=False)
