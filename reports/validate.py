"""Checking a run record against its JSON Schema, with messages that name the field.

The schema ships in the package (``schema/run-record-v1.schema.json``) so users and other tools can
validate ``report.json`` themselves. podquake checks it with this small validator for the subset of
JSON Schema (draft 2020-12) the schema uses: ``type``, ``const``, ``enum``, ``minimum``,
``pattern``, ``required``, ``properties``, ``additionalProperties``, ``items``, ``oneOf`` and local
``$ref`` (``#/$defs/...``); ``title``, ``description`` and the ``$``-keywords are annotations. A
keyword outside that subset raises, so the schema cannot silently outgrow the checker. Keeping it
here avoids a run-time dependency for a hundred lines; the tests cross-check it against the
``jsonschema`` library.

>>> problems(SCHEMA, {"schema": "podquake/run-record"})[:2]
['version: required but missing', 'podquake_version: required but missing']
"""

from __future__ import annotations

import json
import math
import re
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["SCHEMA", "SCHEMA_FILE", "load_schema", "problems"]

SCHEMA_FILE = "run-record-v1.schema.json"

_ANNOTATIONS = frozenset({"$schema", "$id", "title", "description", "$defs"})
_CHECKED = frozenset(
    {"type", "const", "enum", "minimum", "pattern", "required", "properties", "additionalProperties", "items", "oneOf", "$ref"}
)
_MAX_PROBLEMS = 20
_JSON_TYPES = (dict, list, str, int, float, bool, type(None))


@cache
def load_schema() -> dict[str, Any]:
    """The run-record schema shipped with the package."""
    text = resources.files("podquake.reports").joinpath("schema", SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


SCHEMA = load_schema()


def problems(schema: dict[str, Any], value: Any) -> list[str]:
    """Every way ``value`` breaks ``schema`` (at most twenty), each as ``path: what is wrong``; empty when valid."""
    found: list[str] = []
    _check(schema, value, "", schema, found)
    return found[:_MAX_PROBLEMS]


def _type_ok(name: str, value: Any) -> bool:
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "string":
        return isinstance(value, str)
    if name == "array":
        return isinstance(value, list)
    if name == "object":
        return isinstance(value, dict)
    raise ValueError(f"the schema names an unknown type {name!r}")


def _where(path: str) -> str:
    return path or "(the record)"


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    if not ref.startswith("#/"):
        raise ValueError(f"only local $ref are supported, not {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _check(schema: dict[str, Any], value: Any, path: str, root: dict[str, Any], found: list[str]) -> None:
    unknown = set(schema) - _ANNOTATIONS - _CHECKED
    if unknown:
        raise ValueError(f"the schema uses keywords this validator does not check: {sorted(unknown)}")
    if len(found) >= _MAX_PROBLEMS:
        return
    if not isinstance(value, _JSON_TYPES):
        found.append(f"{_where(path)}: {type(value).__name__} is not a JSON value")
        return
    if "$ref" in schema:
        _check(_resolve(root, schema["$ref"]), value, path, root, found)
        return  # the schema puts nothing beside a $ref
    if "oneOf" in schema:
        matches = sum(1 for option in schema["oneOf"] if not _sub(option, value, path, root))
        if matches != 1:
            found.append(f"{_where(path)}: matches {matches} of the allowed forms, not exactly one")
        return  # nor beside a oneOf
    if "const" in schema and (value != schema["const"] or type(value) is not type(schema["const"])):
        found.append(f"{_where(path)}: must be {schema['const']!r}, not {value!r}")
        return
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(repr(v) for v in schema["enum"])
        found.append(f"{_where(path)}: must be one of {allowed}, not {value!r}")
        return
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_type_ok(name, value) for name in names):
            found.append(f"{_where(path)}: expected {' or '.join(names)}, not {type(value).__name__} {_short(value)}")
            return
    if isinstance(value, float) and not math.isfinite(value):
        found.append(f"{_where(path)}: {value!r} is not a JSON number (write it as a string)")
        return
    if "minimum" in schema and _type_ok("number", value) and value < schema["minimum"]:
        found.append(f"{_where(path)}: must be at least {schema['minimum']}, not {value!r}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        found.append(f"{_where(path)}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, dict):
        _check_object(schema, value, path, root, found)
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check(schema.get("items", {}), item, f"{path}[{index}]", root, found)


def _check_object(schema: dict[str, Any], value: dict[str, Any], path: str, root: dict[str, Any], found: list[str]) -> None:
    prefix = f"{path}." if path else ""
    for name in schema.get("required", ()):
        if name not in value:
            found.append(f"{prefix}{name}: required but missing")
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if not isinstance(name, str):
            found.append(f"{prefix}{name!r}: keys must be strings")
        elif name in properties:
            _check(properties[name], item, f"{prefix}{name}", root, found)
        elif extra is False:
            found.append(f"{prefix}{name}: not allowed here")
        else:
            _check(extra if isinstance(extra, dict) else {}, item, f"{prefix}{name}", root, found)


def _sub(schema: dict[str, Any], value: Any, path: str, root: dict[str, Any]) -> list[str]:
    inner: list[str] = []
    _check(schema, value, path, root, inner)
    return inner


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
