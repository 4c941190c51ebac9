"""Is a plan valid against the schema? A yes/no answer without importing jsonschema.

Importing jsonschema costs more than the rest of a clean check together
(``bench/bench_startup.py``), and almost every plan that reaches a pre-commit
hook is valid. This module interprets the small subset of JSON Schema that
``plan.schema.json`` uses (type, enum, const, minimum/maximum,
exclusiveMinimum, minLength, min/maxItems, properties, required,
additionalProperties, items, anyOf, allOf, if/not/then) and answers only "valid or
not". When the answer is "not", :mod:`deploylint.core.pipeline.schema` runs the real
validator to explain every violation. A test feeds both the same random plans
and requires the same verdict, and an unknown keyword in the schema makes this
module answer "not valid" — so a schema change can never make it wrong, only
slower.
"""

from __future__ import annotations

from typing import Any

_KNOWN = {"$schema", "$id", "$comment", "title", "description", "default", "type", "enum", "const", "minimum", "maximum",
          "exclusiveMinimum", "minLength", "minItems", "maxItems", "properties", "required", "additionalProperties",
          "items", "anyOf", "allOf", "if", "then", "not"}


class _Unsupported(Exception):
    pass


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "null":
        return value is None
    raise _Unsupported(kind)


def _valid(value: Any, schema: Any) -> bool:
    if schema is True:
        return True
    if schema is False:
        return False
    for key in schema:
        if key not in _KNOWN:
            raise _Unsupported(key)
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_type_ok(value, k) for k in kinds):
            return False
    if "const" in schema and not (value == schema["const"] and type(value) is type(schema["const"])):
        return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return False
        if "maximum" in schema and value > schema["maximum"]:
            return False
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            return False
    if isinstance(value, str) and "minLength" in schema and len(value) < schema["minLength"]:
        return False
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", len(value)):
            return False
        items = schema.get("items")
        if items is not None and not all(_valid(v, items) for v in value):
            return False
    if isinstance(value, dict):
        props = schema.get("properties", {})
        if any(k not in value for k in schema.get("required", ())):
            return False
        if schema.get("additionalProperties", True) is False and any(k not in props for k in value):
            return False
        for k, v in value.items():
            if k in props and not _valid(v, props[k]):
                return False
    if "anyOf" in schema and not any(_valid(value, s) for s in schema["anyOf"]):
        return False
    if "allOf" in schema and not all(_valid(value, s) for s in schema["allOf"]):
        return False
    if "not" in schema and _valid(value, schema["not"]):
        return False
    if "if" in schema and _valid(value, schema["if"]) and not _valid(value, schema.get("then", True)):
        return False
    return True


def is_valid(data: Any, schema: dict) -> bool:
    """True only when ``data`` is certainly valid; False when invalid or when unsure."""
    try:
        return _valid(data, schema)
    except (_Unsupported, RecursionError):
        return False
