"""Request-body JSON schemas: ONE definition used by validation and by /openapi.json.

``validate`` implements just the JSON Schema subset these schemas use (type,
required, properties, items, min/max length and items), returning the first
problem as text or None.
"""

from __future__ import annotations

from typing import Any

IDEA_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["idea"],
    "properties": {
        "idea": {"type": "string", "minLength": 1, "maxLength": 2000},
        "constraints": {"type": "array", "maxItems": 50, "items": {"type": "string", "maxLength": 500}},
    },
}

ANALYZE_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["tools"],
    "properties": {
        "tools": {
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "items": {"type": "string", "minLength": 1, "maxLength": 100},
        },
    },
}

TOOL_IMPORT_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["tools"],
    "properties": {
        "tools": {
            "type": "array",
            "minItems": 1,
            "maxItems": 500,
            "items": {
                "type": "object",
                "required": ["id", "name"],
                "properties": {
                    "id": {"type": "string", "minLength": 1, "maxLength": 100},
                    "name": {"type": "string", "minLength": 1, "maxLength": 200},
                },
            },
        },
    },
}

ENRICH_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["toolId"],
    "properties": {"toolId": {"type": "string", "minLength": 1, "maxLength": 100}},
}

SOCIAL_SIGN_IN_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["provider"],
    "properties": {
        "provider": {"type": "string", "enum": ["github"]},
        "callbackURL": {"type": "string", "maxLength": 2000},
    },
}

_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "boolean": bool,
}


def validate(value: Any, schema: dict[str, Any], where: str = "body") -> str | None:
    expected = schema.get("type")
    if expected:
        ok = isinstance(value, _TYPES[expected]) and not (expected == "integer" and isinstance(value, bool))
        if not ok:
            return f"{where}: expected {expected}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{where}: must be one of {schema['enum']}"
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            return f"{where}: shorter than {schema['minLength']}"
        if len(value) > schema.get("maxLength", len(value)):
            return f"{where}: longer than {schema['maxLength']}"
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            return f"{where}: fewer than {schema['minItems']} items"
        if len(value) > schema.get("maxItems", len(value)):
            return f"{where}: more than {schema['maxItems']} items"
        for index, item in enumerate(value):
            problem = validate(item, schema.get("items", {}), f"{where}[{index}]")
            if problem:
                return problem
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                return f"{where}.{name}: required"
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                problem = validate(value[name], sub, f"{where}.{name}")
                if problem:
                    return problem
    return None
