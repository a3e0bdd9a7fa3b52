"""From a finished campaign to its run record (``report.json``) and counterexample files.

Each counterexample is replayed once more to draw its timeline (the record keeps the plot series,
so the report can be rendered again from the record alone).
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from podquake.chaos.campaign import CampaignResult, Counterexample
from podquake.chaos.scenario import dump_scenario
from podquake.chaos.scenario_run import run_scenario
from podquake.properties import FAILED, Verdict, property_class
from podquake.model.errors import InputError
from podquake.reports import build_record, counterexample_entry, timeline_from_trace

__all__ = ["campaign_record"]

#: The note on a property that no drawn example failed, only a run made while shrinking another's.
FOUND_WHILE_SHRINKING = "no drawn example failed it; a run made while shrinking another property's failure did"


def _fault_entry(fault: Any) -> dict[str, Any]:
    data = fault.to_dict()
    entry: dict[str, Any] = {"kind": fault.kind, "at": fault.at, "duration": getattr(fault, "duration", None), "repr": repr(fault)}
    for key, value in data.items():
        entry.setdefault(key, value)
    return entry


def _why(result: CampaignResult, property_id: str) -> str:
    """Why the property could not be judged, from the first example where it could not: `` (the first: ...)``."""
    first = result.first_unknown.get(property_id)
    return f" (the first: {first.message})" if first is not None else ""


def _property_entry(result: CampaignResult, property_id: str) -> dict[str, Any]:
    cls = property_class(property_id)
    failed = result.failed.get(property_id, 0)
    unknown = result.unknown.get(property_id, 0)
    found = result.counterexample(property_id)
    if failed:
        status, evidence = "failed", result.first[property_id]
    elif found is not None:  # it failed only in a run of another property's shrink
        verdict = next(v for v in found.verdicts if v.property == property_id)
        note = "; ".join(filter(None, (verdict.note, FOUND_WHILE_SHRINKING)))
        status, evidence = "failed", replace(verdict, note=note)
    elif not result.examples:
        status, evidence = "unknown", Verdict.unknown(property_id, "no example finished (the campaign was interrupted)")
    elif unknown == result.examples:
        status, evidence = "unknown", Verdict.unknown(property_id, f"unknown in {'the only example' if unknown == 1 else f'all {unknown} examples'}{_why(result, property_id)}")
    else:
        held = f"held in {result.examples - unknown} of {result.examples} example{'' if result.examples == 1 else 's'}"
        if unknown:
            held += f"; could not judge {unknown}{_why(result, property_id)}"
        status, evidence = "passed", Verdict.passed(property_id, held)
    return {
        "id": property_id,
        "kind": cls.kind,
        "description": cls.description,
        "status": status,
        "examples_failed": failed,
        "examples_unknown": unknown,
        "first_failed_example": result.first_failed_at.get(property_id),
        "evidence": evidence.to_dict(),
    }


def _counterexample(number: int, item: Counterexample, report_dir: str | Path | None) -> tuple[dict[str, Any], str]:
    run = run_scenario(item.scenario)
    failing = next((v for v in run.verdicts if v.property == item.property and v.status == FAILED), None)
    timeline = timeline_from_trace(run.trace.events, failure_time=failing.time if failing is not None else None)
    entry = counterexample_entry(
        number,
        property=item.property,
        message=item.message,
        faults=[_fault_entry(f) for f in item.scenario.faults],
        seed=item.scenario.seed,
        verdicts=run.verdicts,
        timeline=timeline,
        shrunk=item.shrunk,
        report_dir=report_dir,
    )
    return entry, dump_scenario(item.scenario)


def campaign_record(
    result: CampaignResult,
    *,
    started: str,
    scheduler: str,
    extra_settings: dict[str, Any] | None = None,
    report_dir: str | Path | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The run record of ``result`` and the text of each ``counterexample-N.yaml``, by file name.
    ``report_dir`` is the folder the report is written to, as the user named it (``--out``): each
    replay command names its file through it, so that it works from where the run was started."""
    settings = result.settings
    entries = []
    files: dict[str, str] = {}
    for number, item in enumerate(result.counterexamples, start=1):
        entry, text = _counterexample(number, item, report_dir)
        entries.append(entry)
        files[entry["file"]] = text
    record = build_record(
        seed=settings.seed,
        scheduler=scheduler,
        settings={
            "examples": settings.examples,
            "workers": settings.workers,
            "manifests": None,
            "scenario": None,
            "properties": list(result.property_ids),
            "max_faults": settings.max_faults,
            "duration": settings.base.duration,
            "quiet": settings.base.quiet,
            "fault_kinds": list(settings.kinds),
            "chunk": settings.chunk,
            **(extra_settings or {}),
        },
        counts={
            "examples": result.examples,
            "steps": result.steps,
            "faults": result.faults,
            "faults_by_kind": dict(result.faults_by_kind),
        },
        properties=[_property_entry(result, i) for i in result.property_ids],
        counterexamples=entries,
        **_wall_clock(started, result.seconds),
        interrupted=result.interrupted,
    )
    return record, files


def _wall_clock(started: str, seconds: float) -> dict[str, Any]:
    """The record's only wall-clock fields, ``started`` and ``seconds``; with ``SOURCE_DATE_EPOCH``
    set, that time and 0 (see :func:`source_date`)."""
    fixed = source_date()
    return {"started": started, "seconds": seconds} if fixed is None else {"started": fixed, "seconds": 0.0}


def source_date() -> str | None:
    """``SOURCE_DATE_EPOCH`` (the reproducible-builds convention,
    https://reproducible-builds.org/specs/source-date-epoch/) as ISO 8601 text, or None when unset.
    With it, a report's start is that time and its duration 0, so that the same seed and inputs give
    a byte-identical report. Raises :class:`InputError` for a value that is not a whole number."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not epoch:
        return None
    try:
        return datetime.fromtimestamp(int(epoch), timezone.utc).isoformat(timespec="seconds")
    except (ValueError, OverflowError, OSError):
        raise InputError(
            f"SOURCE_DATE_EPOCH must be a whole number of seconds since 1970, not {epoch!r}",
            field="SOURCE_DATE_EPOCH",
            fix="e.g. SOURCE_DATE_EPOCH=0, or unset it",
        ) from None
