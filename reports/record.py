"""The run record: everything a campaign found, as one versioned JSON document (``report.json``).

Its schema ships with the package (``schema/run-record-v1.schema.json``, documented key by key) and
every rendering is a pure function of it, so ``podquake report report.json`` reproduces a report
exactly. The campaign builds it with the helpers here, which fill in what is derived (the overall
status, a property's status over all examples, the replay commands, examples per second) so that
every producer agrees on those rules:

- a property ``failed`` if any example failed it; else ``passed`` if some example judged it; else
  ``unknown`` (no example could judge it, e.g. every run ended before a liveness bound);
- the run ``failed`` if any property failed; else ``interrupted`` if the campaign was stopped early;
  else ``passed`` (``interrupted`` is also kept as its own flag, since a failure outranks it).

>>> from podquake.properties import Verdict
>>> entry = property_entry("no-overcommit", "safety", "Requests fit allocatable.",
...                        [Verdict.passed("no-overcommit"), Verdict.failed("no-overcommit", "worker-2 over", time=61.0)])
>>> entry["status"], entry["examples_failed"], entry["first_failed_example"], entry["evidence"]["time"]
('failed', 1, 2, 61.0)
"""

from __future__ import annotations

import json
import math
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

from podquake.model.errors import InputError
from podquake.properties.verdict import Verdict
from podquake.reports.snippet import pytest_snippet
from podquake.reports.validate import SCHEMA, problems

__all__ = [
    "SCHEMA_NAME",
    "SCHEMA_VERSION",
    "build_record",
    "property_entry",
    "counterexample_entry",
    "replay_command",
    "validate_record",
    "dumps_record",
    "load_record",
    "read_report",
    "headline",
    "verdict_line",
    "failed_examples_text",
    "examples_text",
    "fault_list_title",
]

SCHEMA_NAME = "podquake/run-record"
SCHEMA_VERSION = 1
_COUNTEREXAMPLE = re.compile(r"^counterexample-[0-9]+\.yaml$")


# --- building --------------------------------------------------------------------------------------
def _finite(value: Any) -> Any:
    """JSON-safe: non-finite floats become the strings ``inf``, ``-inf``, ``nan``; tuples become lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _verdict_dict(verdict: Verdict | Mapping[str, Any]) -> dict[str, Any]:
    data = verdict.to_dict() if isinstance(verdict, Verdict) else Verdict.from_dict(verdict).to_dict()
    return _finite(data)


def property_entry(
    property_id: str,
    kind: str,
    description: str,
    verdicts: Iterable[Verdict | Mapping[str, Any]],
) -> dict[str, Any]:
    """One property's line of the record, from its verdicts over every example (in example order).

    The evidence is the first failure; else, for an unknown property, the first unknown verdict;
    else the first passed one (``None`` when there were no examples). ``first_failed_example`` is
    the number (from 1) of the first example that failed it, ``None`` if none did.
    """
    judged = [v if isinstance(v, Verdict) else Verdict.from_dict(v) for v in verdicts]
    first_failed = next((number for number, v in enumerate(judged, start=1) if v.status == "failed"), None)
    failed = [v for v in judged if v.status == "failed"]
    unknown = [v for v in judged if v.status == "unknown"]
    passed = [v for v in judged if v.status == "passed"]
    status = "failed" if failed else ("passed" if passed else "unknown")
    evidence = (failed or (unknown if status == "unknown" else passed) or [None])[0]
    return {
        "id": property_id,
        "kind": kind,
        "description": description,
        "status": status,
        "examples_failed": len(failed),
        "examples_unknown": len(unknown),
        "first_failed_example": first_failed,
        "evidence": None if evidence is None else _verdict_dict(evidence),
    }


def counterexample_entry(
    number: int,
    *,
    property: str,
    message: str,
    faults: Sequence[Mapping[str, Any]],
    seed: int,
    verdicts: Iterable[Verdict | Mapping[str, Any]],
    timeline: Mapping[str, Any],
    shrunk: bool = True,
    report_dir: str | Path | None = None,
) -> dict[str, Any]:
    """One counterexample of the record: ``counterexample-<number>``, replayed by the file of that
    name. ``faults`` are dicts with at least ``kind``, ``at``, ``duration`` (None if it never heals)
    and ``repr``, plus the fault's own fields; ``timeline`` is
    :func:`~podquake.reports.timeline.timeline_from_trace` of the shrunk run. ``shrunk`` is False for
    a failure kept as first found (the campaign was stopped, or shrinking was off). ``report_dir``
    is the report folder as the run was told it (``--out``): the replay command names the file
    through it, so that it works from the folder the run was started in, where the scheduler and
    property modules the scenario names can be imported (see :func:`replay_command`)."""
    ident = f"counterexample-{number}"
    entry = {
        "id": ident,
        "property": property,
        "message": message,
        "faults": [_finite(dict(f)) for f in faults],
        "file": f"{ident}.yaml",
        "seed": seed,
        "verdicts": [_verdict_dict(v) for v in verdicts],
        "replay": {"command": replay_command(f"{ident}.yaml", report_dir), "pytest": ""},
        "timeline": _finite(dict(timeline)),
        "shrunk": shrunk,
    }
    entry["replay"]["pytest"] = pytest_snippet(entry)
    return entry


def replay_command(file: str, report_dir: str | Path | None = None) -> str:
    """The shell command that replays the counterexample ``file`` of the report folder ``report_dir``
    (as the run was told it, relative to the folder the run was started in, or absolute), quoted
    for a POSIX shell. Run from that folder, it finds the file, and the modules of one's own that
    the scenario names (``--scheduler mymod:Sched``, ``imports:``) import as they did in the run.

    >>> replay_command("counterexample-1.yaml", "repC/")
    'podquake replay repC/counterexample-1.yaml'
    >>> replay_command("counterexample-2.yaml", "my reports")
    "podquake replay 'my reports/counterexample-2.yaml'"
    >>> replay_command("counterexample-1.yaml")
    'podquake replay counterexample-1.yaml'
    """
    path = PurePosixPath(Path(report_dir).as_posix()) / file if report_dir else PurePosixPath(file)
    return f"podquake replay {shlex.quote(str(path))}"


def build_record(
    *,
    seed: int,
    scheduler: str,
    settings: Mapping[str, Any],
    counts: Mapping[str, Any],
    properties: Sequence[Mapping[str, Any]],
    counterexamples: Sequence[Mapping[str, Any]],
    started: str,
    seconds: float,
    interrupted: bool = False,
    podquake_version: str | None = None,
) -> dict[str, Any]:
    """The whole record, checked against the schema (raises ValueError naming the field if not).

    ``started`` is the campaign's wall-clock start as ISO 8601 text, ``seconds`` how long it took:
    the record's only wall-clock values.
    """
    examples = int(counts.get("examples", 0))
    any_failed = any(p.get("status") == "failed" for p in properties)
    record = {
        "schema": SCHEMA_NAME,
        "version": SCHEMA_VERSION,
        "podquake_version": podquake_version or _installed_version(),
        "status": "failed" if any_failed else ("interrupted" if interrupted else "passed"),
        "interrupted": bool(interrupted),
        "seed": seed,
        "scheduler": scheduler,
        "settings": _finite(dict(settings)),
        "counts": _finite(dict(counts)),
        "properties": [dict(p) for p in properties],
        "counterexamples": [dict(c) for c in counterexamples],
        "timing": {
            "started": started,
            "seconds": round(float(seconds), 3),
            "examples_per_second": round(examples / seconds, 2) if seconds > 0 else 0.0,
        },
    }
    found = problems(SCHEMA, record)
    if found:
        raise ValueError("the run record does not match its schema: " + "; ".join(found))
    return record


def _installed_version() -> str:
    try:
        return metadata.version("podquake")
    except metadata.PackageNotFoundError:
        return "0+unknown"


# --- reading and writing ---------------------------------------------------------------------------
def validate_record(record: Any, *, source: str = "report.json") -> None:
    """Raise :class:`~podquake.model.errors.InputError` naming the first bad field if ``record``
    is not a version-1 run record."""
    if isinstance(record, dict) and record.get("schema") == SCHEMA_NAME and record.get("version") != SCHEMA_VERSION:
        raise InputError(
            f"this is a version {record.get('version')!r} run record; this podquake reads version {SCHEMA_VERSION}",
            source=source,
            field="version",
            fix="render it with the podquake release that wrote it",
        )
    found = problems(SCHEMA, record)
    if found:
        field, _, message = found[0].partition(": ")
        more = f" (and {len(found) - 1} more problems)" if len(found) > 1 else ""
        raise InputError(
            f"{message}{more}",
            source=source,
            field=field,
            fix="give a report.json written by `podquake run` (schema podquake/run-record, version 1)",
        )


def dumps_record(record: Mapping[str, Any]) -> str:
    """The record as ``report.json`` text: indented, keys in the record's order, UTF-8, one final newline."""
    return json.dumps(record, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def load_record(path: str | Path) -> dict[str, Any]:
    """Read and check a ``report.json``; bad input raises :class:`InputError` naming the file and field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such file", source=str(path), fix="give the report.json of a podquake run") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read it: {error}", source=str(path), fix="give a readable UTF-8 report.json") from None
    try:
        record = json.loads(text, parse_constant=_reject_constant)
    except ValueError as error:
        raise InputError(f"not valid JSON: {error}", source=str(path), fix="give the report.json of a podquake run") from None
    validate_record(record, source=str(path))
    return record


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def read_report(path: str | Path) -> tuple[dict[str, Any], dict[str, str]]:
    """A report folder's record and the counterexample files beside it (those present), ready to
    hand back to :func:`~podquake.reports.write.write_report` for rendering again."""
    path = Path(path)
    record = load_record(path)
    files: dict[str, str] = {}
    for counterexample in record["counterexamples"]:
        name = counterexample["file"]
        candidate = path.parent / name
        if _COUNTEREXAMPLE.match(name) and candidate.is_file():
            files[name] = candidate.read_text(encoding="utf-8")
    return record, files


# --- words shared by the renderings -------------------------------------------------------------------
def failed_examples_text(prop: Mapping[str, Any]) -> str:
    """How many examples failed a property, and which one did first: ``"3 (first #37)"``; ``""``
    when none failed (records written before ``first_failed_example`` existed give the count alone).

    >>> failed_examples_text({"examples_failed": 3, "first_failed_example": 37})
    '3 (first #37)'
    """
    failed = prop["examples_failed"]
    if not failed:
        return ""
    first = prop.get("first_failed_example")
    return str(failed) if first is None else f"{failed} (first #{first})"


def fault_list_title(counterexample: Mapping[str, Any]) -> str:
    """``Minimal fault list``, or what it is when the failure was not shrunk (records written before
    the ``shrunk`` field count as shrunk)."""
    if counterexample.get("shrunk", True):
        return "Minimal fault list"
    return "Fault list as first found (not shrunk: the campaign was stopped first, or shrinking was off)"


def examples_text(count: int) -> str:
    """``1 example``, ``25 examples``."""
    return f"{count} example" if count == 1 else f"{count} examples"


def headline(record: Mapping[str, Any]) -> str:
    """The verdict in one line: ``PASSED: all 9 properties held``, ``FAILED: 1 of 9 properties violated``, ..."""
    props = record["properties"]
    failed = sum(1 for p in props if p["status"] == "failed")
    unknown = sum(1 for p in props if p["status"] == "unknown")
    total = len(props)
    interrupted = record["status"] == "interrupted" or bool(record.get("interrupted"))

    def noun(n: int) -> str:
        return "property" if n == 1 else "properties"

    if failed:
        text = f"FAILED: {failed} of {total} {noun(total)} violated"
        if interrupted:
            text += " (campaign interrupted)"
    elif interrupted:
        text = f"INTERRUPTED: no violation in {record['counts']['examples']} of {examples_text(record['settings']['examples'])}"
    elif unknown and unknown == total:
        text = f"UNKNOWN: none of {total} {noun(total)} could be judged"
    elif unknown:
        text = f"PASSED: {total - unknown} {noun(total - unknown)} held, {unknown} could not be judged"
    else:
        text = f"PASSED: all {total} {noun(total)} held"
    return text


def verdict_line(verdict: Mapping[str, Any] | None) -> str:
    """A verdict dict as one line (see :meth:`~podquake.properties.Verdict.line`); empty for None."""
    return "" if verdict is None else Verdict.from_dict(verdict).line()
