"""Reading untrusted YAML safely: PyYAML's safe loader, behind a guard against hostile input.

Manifests come from users and from the internet, so :func:`load_documents` reads them with the
safe loader only (what ``yaml.safe_load_all`` does: plain values, no Python tags), and first makes
one pass over the parser's events, before any object is built, that rejects:

- a text or file over :data:`MAX_MANIFEST_BYTES`;
- mappings and lists nested deeper than :data:`MAX_NESTING_DEPTH`;
- aliases that would add more than :data:`MAX_ALIAS_EXPANSION` nodes to one document when expanded
  ("billion laughs"), an alias inside the node it refers to, and an alias before its anchor;
- a key that appears twice in one mapping (kubectl rejects it too; ``<<`` merge keys excepted).

Numbers with an exponent and no dot (``1e3``) are numbers, as kubectl reads them (PyYAML's YAML 1.1
rules would keep them as text).

Each problem is one :class:`~podquake.model.errors.InputError` with the source, the document, line
and column, and the fix; so is a YAML syntax error. The C loader is used when PyYAML has it.
Used by :mod:`podquake.model.manifests`.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from podquake.model.errors import InputError

__all__ = [
    "MAX_ALIAS_EXPANSION",
    "MAX_MANIFEST_BYTES",
    "MAX_NESTING_DEPTH",
    "item_lines",
    "load_documents",
    "too_big_error",
]

MAX_MANIFEST_BYTES = 16 * 2**20
"""Largest file (or text) accepted. The API server takes 3 MiB per request; this leaves room for many objects."""
MAX_NESTING_DEPTH = 128
"""Deepest nesting of mappings and lists. Kubernetes objects nest about 20 deep; CRD schemas more."""
MAX_ALIAS_EXPANSION = 100_000
"""Most nodes that YAML aliases may add to one document when expanded (billion-laughs guard)."""

class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader, reading ``1e3`` and ``2.5e-1`` as numbers. PyYAML follows YAML 1.1, where a
    float needs a dot and a signed exponent (``1.0e+3``), so ``duration: 6e2`` was the text "6e2";
    kubectl's YAML reader (go-yaml), and YAML 1.2, read it as 600."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$"),
    list("-+.0123456789"),
)


def load_documents(text: str, source: str) -> list[tuple[int, Any]]:
    """Every document of a YAML stream as ``(line it starts at, value)``, or an InputError naming ``source``.

    >>> load_documents("a: 1\\n---\\n- x\\n", "t.yaml")
    [(1, {'a': 1}), (3, ['x'])]
    """
    # UTF-8 takes at most 4 bytes a character, so short texts need no encoding to be measured.
    if len(text) > MAX_MANIFEST_BYTES // 4 and len(text.encode("utf-8", "replace")) > MAX_MANIFEST_BYTES:
        raise too_big_error(len(text.encode("utf-8", "replace")), source)
    _check_events(text, source)
    loader = _Loader(text)
    documents: list[tuple[int, Any]] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            documents.append((node.start_mark.line + 1, loader.construct_document(node)))
    except yaml.YAMLError as error:
        raise _yaml_error(error, source) from None
    finally:
        loader.dispose()
    return documents


def item_lines(text: str, key: str) -> list[int]:
    """The line each item of the top-level list ``key`` starts at, in a one-document ``text`` that
    :func:`load_documents` has already accepted ([] if there is no such list).

    >>> item_lines("seed: 1\\nworkload:\\n- a.yaml\\n- {kind: Service}\\n", "workload")
    [3, 4]
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    if not isinstance(node, yaml.MappingNode):
        return []
    for name, value in node.value:
        if isinstance(name, yaml.ScalarNode) and name.value == key and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def too_big_error(size: int, name: str) -> InputError:
    """The error for a text or file of ``size`` bytes, over :data:`MAX_MANIFEST_BYTES`."""
    return InputError(
        f"{size / 2**20:.1f} MiB is more than the {MAX_MANIFEST_BYTES // 2**20} MiB a manifest file may hold",
        source=name,
        fix="split the manifests into several files",
    )


def _check_events(text: str, source: str) -> None:
    """One pass over the parser's events, before any object is built: depth, aliases, duplicate keys.

    An alias adds the whole anchored node again when the document is expanded, so each anchor's
    expanded size is computed as its node closes and every alias adds it to the document's total.
    """
    loader = _Loader(text)
    # Each open collection: [expanded size, anchor, is mapping, children seen, keys seen].
    stack: list[list[Any]] = []
    anchors: dict[str, int] = {}
    open_anchors: dict[str, None] = {}
    added = 0
    document = 0

    def problem(event: Any, message: str, fix: str) -> InputError:
        mark = event.start_mark
        where = f"document {document}, line {mark.line + 1}, column {mark.column + 1}"
        return InputError(message, source=source, location=where, fix=fix)

    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.DocumentStartEvent):
                anchors.clear()  # anchors do not cross documents
                added = 0
                document += 1
                continue
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                if len(stack) >= MAX_NESTING_DEPTH:
                    raise problem(event, f"mappings and lists nest more than {MAX_NESTING_DEPTH} deep", "flatten the document")
                if event.anchor is not None:
                    open_anchors[event.anchor] = None
                stack.append([1, event.anchor, isinstance(event, yaml.MappingStartEvent), 0, {}])
                continue
            if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                size, anchor = stack.pop()[:2]
                if anchor is not None:
                    anchors[anchor] = size
                    open_anchors.pop(anchor, None)
            elif isinstance(event, yaml.ScalarEvent):
                size = 1
                if event.anchor is not None:
                    anchors[event.anchor] = 1
                if stack and stack[-1][2] and stack[-1][3] % 2 == 0:
                    keys = stack[-1][4]
                    if event.value in keys and event.value != "<<":
                        raise problem(event, f"duplicate key {event.value!r} in one mapping", "keep one of the two entries")
                    keys[event.value] = None
            elif isinstance(event, yaml.AliasEvent):
                if event.anchor in open_anchors:
                    raise problem(event, f"alias *{event.anchor} refers to the node that contains it", "remove the recursive alias")
                if event.anchor not in anchors:
                    raise problem(event, f"alias *{event.anchor} has no anchor &{event.anchor} before it", "define the anchor first")
                size = anchors[event.anchor]
                added += size
                if added > MAX_ALIAS_EXPANSION:
                    raise problem(
                        event,
                        f"YAML aliases expand this document by more than {MAX_ALIAS_EXPANSION:,} nodes (an alias bomb?)",
                        "write the repeated parts out, or use fewer aliases",
                    )
            else:
                continue
            if stack:
                stack[-1][0] += size
                stack[-1][3] += 1
    except yaml.YAMLError as error:
        raise _yaml_error(error, source) from None
    finally:
        loader.dispose()


def _yaml_error(error: yaml.YAMLError, source: str) -> InputError:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    location = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    context_mark = getattr(error, "context_mark", None)
    message = f"invalid YAML: {problem}"
    if context and context_mark is not None and context_mark is not mark:
        message += f" ({context} at line {context_mark.line + 1})"
    if "constructor" in problem or "tag" in problem:
        fix = "remove the '!!' tag: only plain YAML values are allowed"
    else:
        fix = "check the indentation (spaces, not tabs) and the quoting on that line"
    return InputError(message, source=source, location=location, fix=fix)
