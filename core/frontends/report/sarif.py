"""SARIF 2.1.0 for code-scanning services (GitHub, Azure DevOps, …).

Only stdlib json: the report is built as plain dicts. Columns are counted in
Unicode code points, which the run states in ``columnKind`` (the schema gives
no default). Fixes become ``fixes[].artifactChanges`` with replacements.
"""

from __future__ import annotations

import os
from typing import Iterable
from urllib.parse import quote

from ...diagnostics import Diagnostic, Range, Severity

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note", Severity.HINT: "note"}
INFO_URI = "https://github.com/deploylint/deploylint"


def _uri(path: str) -> str:
    rel = os.path.relpath(path) if os.path.isabs(path) else path
    return quote(rel.replace(os.sep, "/"))


def _region(r: Range) -> dict:
    return {"startLine": r.start.line, "startColumn": r.start.column, "endLine": r.end.line, "endColumn": r.end.column}


def rule_descriptors(rules) -> list[dict]:
    """Every rule the run knows (each code once, in the order given), as SARIF reportingDescriptors."""
    from ...rule import describe

    out = []
    seen: set[str] = set()
    for rule in rules:
        if rule.code in seen:
            continue
        seen.add(rule.code)
        text = describe(rule)
        out.append({"id": rule.code, "name": rule.name, "shortDescription": {"text": rule.summary or rule.name},
                    "fullDescription": {"text": (rule.explanation or rule.summary or rule.name).strip()},
                    "help": {"text": text, "markdown": "```\n" + text + "```"},
                    "defaultConfiguration": {"level": LEVEL[Severity.parse(rule.severity)]},
                    "properties": {"plugin": rule.plugin}})
    return out


def _result(d: Diagnostic, index: dict[str, int]) -> dict:
    result: dict = {"ruleId": d.code, "level": LEVEL[d.severity], "message": {"text": d.message},
                    "properties": {"path": d.path, "data": dict(d.data), "plugin": d.plugin}}
    if d.code in index:
        result["ruleIndex"] = index[d.code]
    if d.file:
        location: dict = {"physicalLocation": {"artifactLocation": {"uri": _uri(d.file)}}}
        if d.range:
            location["physicalLocation"]["region"] = _region(d.range)
        result["locations"] = [location]
        related = []
        for i, r in enumerate(d.related):
            place: dict = {"artifactLocation": {"uri": _uri(r.file or d.file)}}
            if r.range is not None:
                place["region"] = _region(r.range)
            related.append({"id": i, "physicalLocation": place, "message": {"text": r.message}})
        if related:
            result["relatedLocations"] = related
    fixes = []
    for fix in d.fixes:
        if not fix.edits or not d.file:
            continue
        fixes.append({
            "description": {"text": f"{fix.message} ({fix.applicability.value})"},
            "artifactChanges": [{
                "artifactLocation": {"uri": _uri(d.file)},
                "replacements": [{"deletedRegion": _region(e.range), "insertedContent": {"text": e.new_text}} for e in fix.edits],
            }],
        })
    if fixes:
        result["fixes"] = fixes
    return result


def render(diagnostics: Iterable[Diagnostic], rules) -> str:
    """The SARIF log of ``diagnostics``; ``rules`` are the Rule objects of the run (from one or more registries)."""
    from ... import __version__

    rules = rule_descriptors(rules)
    index = {r["id"]: i for i, r in enumerate(rules)}
    log = {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "deploylint", "version": __version__, "informationUri": INFO_URI, "rules": rules}},
            "columnKind": "unicodeCodePoints",
            "results": [_result(d, index) for d in diagnostics],
        }],
    }
    from .json_report import dumps

    return dumps(log)
