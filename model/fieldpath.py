"""Reading a parsed manifest field by field, each value with its JSON path, for error messages.

:class:`Field` is a value read together with its path (``spec.template.spec.containers[0]``) and
its :class:`Doc` (file and document), so that every problem becomes one
:class:`~podquake.model.errors.InputError` naming the file, the document, the field and the fix,
and every ignored field one note on the document. Its readers (``string``, ``integer``,
``int_or_percent``, ``string_map``, ``quantity``...) check the type the Kubernetes API declares for
the field (k8s.io/api, v1.35) and phrase the fix the way a person would write it in YAML.
Used by :mod:`podquake.model.manifests`, :mod:`podquake.model.manifest_pods` and
:mod:`podquake.model.resources_api`.

>>> doc = Doc("app.yaml", "document 1")
>>> Field({"spec": {"replicas": "3"}}, "", doc)["spec"]["replicas"].integer(1)
Traceback (most recent call last):
    ...
podquake.model.errors.InputError: app.yaml: document 1: spec.replicas: expected a whole number, got a string ('3') (fix: remove the quotes)
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from podquake.model.errors import InputError
from podquake.model.quantity import QuantityError, parse_quantity

__all__ = ["INT32_MAX", "INT64_MAX", "Doc", "Field", "as_written", "describe"]

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PERCENT = re.compile(r"^(\d+)%$")


class Doc:
    """One document being parsed: where it came from, and the notes collected while reading it."""

    __slots__ = ("source", "location", "notes")

    def __init__(self, source: str, location: str) -> None:
        self.source = source
        self.location = location
        self.notes: list[str] = []

    def error(self, message: str, field_path: str = "", fix: str = "") -> InputError:
        return InputError(message, source=self.source, location=self.location, field=field_path, fix=fix)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def describe(value: Any) -> str:
    """How a person would name a YAML value's type: ``a string ('web')``, ``a list``, ..."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def as_written(value: Any) -> str:
    """A plain YAML value as it was written: ``true``, not Python's ``True``."""
    return str(value).lower() if isinstance(value, bool) else str(value)


class Field:
    """A value from a manifest with its JSON path. Missing and ``null`` both read as absent."""

    __slots__ = ("value", "path", "doc")

    def __init__(self, value: Any, path: str, doc: Doc) -> None:
        self.value = value
        self.path = path
        self.doc = doc

    def __getitem__(self, key: str) -> Field:
        child = f"{self.path}.{key}" if _PLAIN_KEY.match(key) else f"{self.path}[{key}]"
        if not self.path:
            child = key
        return Field(self.mapping().get(key), child, self.doc)

    def present(self) -> bool:
        return self.value is not None

    def error(self, message: str, fix: str = "") -> InputError:
        return self.doc.error(message, self.path, fix)

    def note(self, text: str) -> None:
        self.doc.note(f"{self.path}: {text}")

    def _required(self, what: str) -> InputError:
        return self.error(f"required field is missing (expected {what})", fix=f"add {self.path.rsplit('.', 1)[-1]}")

    def mapping(self, *, required: bool = False) -> dict[str, Any]:
        if self.value is None:
            if required:
                raise self._required("a mapping")
            return {}
        if not isinstance(self.value, Mapping):
            raise self.error(f"expected a mapping (key: value lines), got {describe(self.value)}")
        for key in self.value:
            if not isinstance(key, str):
                raise self.error(f"keys must be strings, got {describe(key)}", fix="quote the key")
        return self.value  # type: ignore[return-value]

    def check_keys(self, known: frozenset[str]) -> None:
        """Note every key the API does not define here (kubectl's strict field validation would refuse
        it; the model notes and ignores it, so that a field newer than these tables never blocks a load)."""
        for key in self.mapping():
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self[key].note(f"unknown field, ignored{hint}")

    def entries(self) -> list[tuple[str, Field]]:
        return [(key, self[key]) for key in self.mapping()]

    def items(self, *, required: bool = False, non_empty: bool = False) -> list[Field]:
        if self.value is None:
            if required or non_empty:
                raise self._required("a list")
            return []
        if not isinstance(self.value, list):
            raise self.error(
                f"expected a list, got {describe(self.value)}", fix="write the entries as a YAML list, one '- ' per entry"
            )
        if non_empty and not self.value:
            raise self.error("must have at least one entry")
        return [Field(item, f"{self.path}[{i}]", self.doc) for i, item in enumerate(self.value)]

    def string(self, default: str | None = None, *, required: bool = False, choices: tuple[str, ...] = ()) -> Any:
        if self.value is None or (required and self.value == ""):
            if required:
                raise self._required("a string")
            return default
        if not isinstance(self.value, str):
            raise self.error(f"expected a string, got {describe(self.value)}", fix=f"quote it: '{as_written(self.value)}'")
        if choices and self.value not in choices:
            raise self.error(f"unsupported value {self.value!r}", fix=f"use one of {', '.join(choices)}")
        return self.value

    def integer(
        self,
        default: int | None = None,
        *,
        required: bool = False,
        minimum: int | None = None,
        maximum: int | None = INT32_MAX,
    ) -> Any:
        """The whole number here (``default`` if absent). Most integer fields of the Kubernetes API
        are int32, hence the default ``maximum``; an int64 field passes :data:`INT64_MAX`."""
        if self.value is None:
            if required:
                raise self._required("a whole number")
            return default
        value = self.value
        if isinstance(value, bool) or not isinstance(value, int):
            fix = "remove the quotes" if isinstance(value, str) and value.strip().lstrip("-").isdigit() else "write a whole number"
            raise self.error(f"expected a whole number, got {describe(value)}", fix=fix)
        if minimum is not None and value < minimum:
            words = "must not be negative" if minimum == 0 else f"must be at least {minimum}"
            raise self.error(f"{value} {words}", fix=f"use a value >= {minimum}")
        if maximum is not None and value > maximum:
            what = {INT32_MAX: " (the field is an int32)", INT64_MAX: " (the field is an int64)"}.get(maximum, "")
            raise self.error(f"{value} must be at most {maximum}{what}", fix=f"use a value <= {maximum}")
        return value

    def boolean(self, default: bool = False) -> bool:
        if self.value is None:
            return default
        if not isinstance(self.value, bool):
            raise self.error(f"expected true or false, got {describe(self.value)}", fix="write true or false without quotes")
        return self.value

    def int_or_percent(self, default: int | str | None = None, *, max_percent: int | None = None) -> Any:
        """An IntOrString that counts something: a non-negative integer or a percentage like ``"25%"``."""
        if self.value is None:
            return default
        value = self.value
        if isinstance(value, str):
            match = _PERCENT.match(value)
            if match is None:
                raise self.error(f"{value!r} is neither a whole number nor a percentage", fix="write e.g. 1 or '25%'")
            if max_percent is not None and int(match[1]) > max_percent:
                raise self.error(f"{value} must not be more than {max_percent}%", fix=f"use at most {max_percent}%")
            return value
        return self.integer(minimum=0)

    def string_map(self) -> dict[str, str]:
        """A map[string]string (labels, annotations, nodeSelector): values must be strings, as the API demands."""
        result = {}
        for key, child in self.entries():
            if not isinstance(child.value, str):
                raise child.error(
                    f"expected a string value, got {describe(child.value)}",
                    fix=f"quote it: {key}: \"{as_written(child.value)}\"",
                )
            result[key] = child.value
        return result

    def quantity(self) -> Fraction:
        try:
            return parse_quantity(self.value)
        except QuantityError as error:
            raise self.error(str(error), fix="write a Kubernetes quantity such as '250m', '1', '64Mi' or '1Gi'") from None
