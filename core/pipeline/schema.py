"""Schema validation: every violation becomes one diagnostic at the offending key or value.

``schemas/plan.schema.json`` (JSON Schema 2020-12) is the machine form of
PLAN_FORMAT.md. A valid plan is recognised by :mod:`.fastcheck` without
importing jsonschema; only an invalid one pays for the real validator, whose
errors are rewritten here into sentences that say what was expected and what
was given (DL002), and unknown keys into DL003 with a did-you-mean rename.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any

from ..document import pointer as jp
from ..diagnostics import Diagnostic, Fix
from ..host.core_rules import core_diagnostic
from ..document import Document


#: unknown keys reported one by one (with a did-you-mean) in one table; the rest share one diagnostic
MAX_UNKNOWN_KEYS_PER_TABLE = 50
#: schema diagnostics reported for one file; a plan with more is cut short with one last diagnostic
MAX_SCHEMA_DIAGNOSTICS = 200


@lru_cache(maxsize=1)
def load_schema() -> dict:
    """The plan schema as a dict."""
    return json.loads(schema_text())


def schema_text() -> str:
    """The schema file, read beside the installed ``deploylint.schemas`` package (package data; no
    importlib.resources, which would import zipfile and tempfile on every check)."""
    import deploylint.schemas

    with open(os.path.join(os.path.dirname(deploylint.schemas.__file__), "plan.schema.json"), encoding="utf-8") as fh:
        return fh.read()


def property_schema(pointer: str) -> dict | None:
    """The subschema that describes the plan value at ``pointer`` (list indices allowed), or None."""
    node: Any = load_schema()
    for token in jp.split(pointer):
        if not isinstance(node, dict):
            return None
        if token in node.get("properties", {}):
            node = node["properties"][token]
        elif token.isdigit() and "items" in node:
            node = node["items"]
        elif token.isdigit() and "anyOf" in node:
            arrays = [s for s in node["anyOf"] if s.get("type") == "array"]
            if not arrays:
                return None
            node = arrays[0].get("items", {})
        else:
            return None
    return node if isinstance(node, dict) else None


def property_description(pointer: str) -> str | None:
    """The schema's description of ``pointer``: what editors show on hover."""
    node = property_schema(pointer)
    return node.get("description") if node else None


def validate(document: Document) -> list[Diagnostic]:
    """DL002/DL003 diagnostics for ``document.data`` (empty when the plan is valid)."""
    from .fastcheck import is_valid

    schema = load_schema()
    data = document.data
    if is_valid(data, schema):
        return []
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    diags: list[Diagnostic] = []
    seen: set[tuple[str, str, str]] = set()
    for error in validator.iter_errors(data):
        if len(diags) >= MAX_SCHEMA_DIAGNOSTICS:
            # Each violation costs a diagnostic, a position and its fixes: a file with thousands stops here.
            del diags[MAX_SCHEMA_DIAGNOSTICS:]
            more = _dl002("", f"more schema violations follow; only the first {MAX_SCHEMA_DIAGNOSTICS} are "
                              "reported (fix these and check again)", data={"limit": MAX_SCHEMA_DIAGNOSTICS})
            diags.append(more.with_(range=_range(document, more)))
            break
        for d in _explain(error, schema):
            key = (d.code, d.path, d.message)
            if key not in seen:
                seen.add(key)
                diags.append(d.with_(range=_range(document, d)))
    return diags


def _range(document: Document, d: Diagnostic):
    """Unknown keys and missing keys are about a key, not a value: point at the key's name."""
    from ..diagnostics import Range

    if d.code == "DL003" or "missing" in d.data:
        if d.path == "":
            return Range.at(1, 1)
        return document.range_of(d.path, "key")
    return document.range_of(d.path)


# -- explaining one error ----------------------------------------------------------------
def _pointer(path) -> str:
    return jp.join(*path)


def _dl002(path: str, message: str, *, fixes=(), data=None, part: str = "value") -> Diagnostic:
    data = dict(data or {})
    return core_diagnostic("DL002", message, path, fixes=fixes, data=data)


def _shown(value: Any) -> str:
    """A value as the user wrote it, in a neutral notation, kept short."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, dict):
        return "a table"
    elif isinstance(value, list):
        return "a list" if value else "an empty list"
    elif value is None:
        return "null"
    else:
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_KIND = {"integer": "an integer", "number": "a number", "string": "a string", "boolean": "true or false",
         "object": "a table", "array": "a list", "null": "null"}


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return "null" if value is None else type(value).__name__


def _expected(schema: dict) -> str:
    """A short English phrase for what a subschema accepts."""
    if "anyOf" in schema:
        return " or ".join(_expected(s) for s in schema["anyOf"])
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    kind = schema.get("type")
    phrase = _KIND.get(kind, "a value") if isinstance(kind, str) else "a value"
    if kind == "array" and isinstance(schema.get("items"), dict):
        items = schema["items"]
        if isinstance(items.get("type"), str) and "anyOf" not in items and "enum" not in items:
            plural = {"integer": "integers", "number": "numbers", "string": "strings", "boolean": "booleans",
                      "object": "tables", "array": "lists"}.get(items["type"], "values")
            phrase = "a list of " + plural + _bounds(items)
        else:
            phrase = f"a list whose items are {_expected(items)}"
        return phrase
    return phrase + (_bounds(schema) if kind in ("integer", "number") else "")


def _bounds(schema: dict) -> str:
    bounds = []
    if "minimum" in schema:
        bounds.append(f"≥ {schema['minimum']:g}" if isinstance(schema["minimum"], float) else f"≥ {schema['minimum']}")
    if "exclusiveMinimum" in schema:
        bounds.append(f"> {schema['exclusiveMinimum']:g}")
    if "maximum" in schema:
        m = schema["maximum"]
        bounds.append(f"≤ {m:g}" if isinstance(m, float) else f"≤ {m:,}".replace(",", "_"))
    return (" " + " and ".join(bounds)) if bounds else ""


def _section(path: str) -> str:
    return f"[{'.'.join(jp.split(path))}]" if path else "the plan"


def _explain(error, root: dict) -> list[Diagnostic]:
    path = _pointer(error.absolute_path)
    value = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}
    kind = error.validator
    name = _dotted(path)

    if kind == "additionalProperties":
        props = list(schema.get("properties", {}))
        out = []
        unknown = [key for key in value if key not in props]
        if len(unknown) > MAX_UNKNOWN_KEYS_PER_TABLE:
            rest = unknown[MAX_UNKNOWN_KEYS_PER_TABLE:]
            unknown = unknown[:MAX_UNKNOWN_KEYS_PER_TABLE]
            out.append(core_diagnostic("DL003", f"{len(rest):,} more unknown keys in {_section(path)} after the first "
                                       f"{MAX_UNKNOWN_KEYS_PER_TABLE}, from {rest[0]!r} on (known keys: {', '.join(props)})",
                                       jp.child(path, rest[0]), data={"more_unknown_keys": len(rest), "first": rest[0],
                                                                       "known": props}))
        for key in unknown:
            # suggest only names not already used next to it: renaming onto an existing key would lose a value
            import difflib  # only when a suggestion or a diff is needed

            close = difflib.get_close_matches(key, [p for p in props if p not in value], n=3, cutoff=0.6)
            key_path = jp.child(path, key)
            fixes = [Fix.rename(key_path, c, f"rename {key!r} to {c!r}") for c in close[:1]]
            fixes += [Fix.rename(key_path, c, f"rename {key!r} to {c!r}", applicability="unsafe") for c in close[1:]]
            hint = f"; did you mean {close[0]!r}?" if close else f" (known keys: {', '.join(props)})"
            out.append(core_diagnostic("DL003", f"unknown key {key!r} in {_section(path)}{hint}", key_path,
                                       fixes=fixes, data={"key": key, "suggestions": close, "known": props}))
        return out
    if kind == "required":
        missing = [k for k in error.validator_value if not (isinstance(value, dict) and k in value)]
        out = []
        for key in missing:
            sub = schema.get("properties", {}).get(key) or _parent_props(root, path).get(key, {})
            desc = sub.get("description", "")
            why = ""
            if path == "/model" and key != "from":
                why = " (or name a Hugging Face config.json with `from`)"
            if path == "/hardware" and key != "num_devices":
                why = " (or name a catalog `accelerator`)"
            out.append(_dl002(path, f"{_section(path)} is missing the required key {key!r}{why}"
                                    + (f": {desc[0].lower()}{desc[1:]}" if desc else ""),
                              data={"missing": key, "expected": _expected(sub) if sub else None}))
        return out
    if kind == "type":
        expected = _expected(schema)
        fixes = []
        if isinstance(value, str) and schema.get("type") in ("integer", "number"):
            number = _parse_number(value, schema.get("type"))
            if number is not None:
                fixes.append(Fix.set(path, number, f"write {number} as a number, not a string"))
        given = "null" if value is None else f"{_kind_of(value)} {_shown(value)}"
        return [_dl002(path, f"{name} must be {expected}, got {given}", fixes=fixes,
                       data={"expected": expected, "given": value if _jsonable(value) else _shown(value)})]
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        only = {k: v for k, v in schema.items() if k not in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")}
        expected = _expected({**only, kind: error.validator_value, "type": schema.get("type", "number")})
        # a count's reason explains its maximum (why no deployment is that large): a count below its least needs
        # none; a figure's reason (an accelerator's memory, its peak) explains both sides
        counted = schema.get("type") == "integer" and "inimum" in kind
        why = f": {schema['$comment']}" if schema.get("$comment") and not counted else ""
        return [_dl002(path, f"{name} must be {expected}, got {_shown(value)}{why}",
                       data={"expected": expected, "given": _finite(value), kind: error.validator_value})]
    if kind == "enum":
        options = [str(v) for v in error.validator_value]
        import difflib  # only when a suggestion or a diff is needed

        close = difflib.get_close_matches(str(value).lower(), options, n=1, cutoff=0.5) if isinstance(value, str) else []
        fixes = [Fix.set(path, close[0], f"use {close[0]!r}")] if close else []
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return [_dl002(path, f"{name} must be one of {', '.join(json.dumps(o) for o in options)}, got {_shown(value)}{hint}",
                       fixes=fixes, data={"expected": options, "given": value if _jsonable(value) else _shown(value)})]
    if kind == "const":
        return [_dl002(path, f"{name} must be {json.dumps(error.validator_value)}, got {_shown(value)}",
                       fixes=[Fix.set(path, error.validator_value, f"set {name} to {error.validator_value}")]
                       if path == "/schema_version" and isinstance(value, (str, float)) and str(value).strip() in ("1", "1.0") else [],
                       data={"expected": error.validator_value, "given": value if _jsonable(value) else _shown(value)})]
    if kind == "minLength":
        return [_dl002(path, f"{name} must not be empty", data={"given": value})]
    if kind in ("minItems", "maxItems"):
        bound = error.validator_value
        word = "at least" if kind == "minItems" else "at most"
        return [_dl002(path, f"{name} must have {word} {bound} item{'s' if bound != 1 else ''}, got {len(value)}",
                       data={kind: bound, "given_items": len(value)})]
    if kind == "anyOf":
        # Explain with the closest alternative: the one whose own errors are deepest and fewest.
        return [_dl002(path, f"{name} must be {_expected(schema)}, got {_kind_of(value)} {_shown(value)}",
                       data={"expected": _expected(schema), "given": value if _jsonable(value) else _shown(value)})]
    if kind in ("if", "then", "not"):
        return []  # their consequences arrive as separate 'required' errors
    return [_dl002(path, f"{name} is not valid here: {error.message}", data={"validator": kind})]


def _dotted(path: str) -> str:
    """``/parallelism/expert_placement/0`` → ``parallelism.expert_placement[0]``: how users name keys."""
    if not path:
        return "the plan"
    out = ""
    for token in jp.split(path):
        out += f"[{token}]" if token.isdigit() else (f".{token}" if out else token)
    return out


def _parent_props(root: dict, path: str) -> dict:
    node = property_schema(path) if path else root
    return (node or {}).get("properties", {})


def _parse_number(text: str, kind: str):
    try:
        number = float(text.strip().replace("_", ""))
    except ValueError:
        return None
    if kind == "integer":
        return int(number) if number.is_integer() else None
    return int(number) if number.is_integer() else number


def _finite(value: Any) -> Any:
    """A number as JSON can carry it: integers longer than a float's range are given as their digit count."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2 ** 53:
        return float(value) if abs(value) < 1e300 else f"an integer of {len(str(abs(value)))} digits"
    return value


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
        return True
    except (TypeError, ValueError):
        return False
