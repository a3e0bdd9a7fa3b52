"""``index.html``: the run record as one self-contained page a person can read, share and print.

Everything is inline: the CSS, and each plot as SVG (:mod:`podquake.reports.plots`); the page loads
nothing from the network and runs no script. The template (``templates/report.html.j2``) is rendered
by jinja2 with autoescaping on, so every string from the user's manifests, faults or properties is
escaped; only the SVG made here is marked safe. The same record gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2
from markupsafe import Markup

from podquake.reports.record import SCHEMA_NAME, SCHEMA_VERSION, fault_list_title, headline, verdict_line

__all__ = ["render_html"]

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("podquake.reports", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def _seconds(value: Any) -> str:
    return "" if value is None else f"{value:g}s"


def _number(value: Any) -> str:
    if isinstance(value, float):  # 23,840 requests, not 2.384e+04; 0.9871, not 0.987123456
        return f"{value:,.4g}" if abs(value) < 1e3 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _plain(value: Any) -> str:
    """A free-form setting as a person reads it: lists joined, null as ``none``."""
    if value is None:
        return "none"
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_plain(v)}" for k, v in value.items()) or "none"
    return str(value)


_ENV.filters["plain"] = _plain
_ENV.filters["seconds"] = _seconds
_ENV.filters["number"] = _number
_ENV.filters["verdict_line"] = verdict_line


def _fault_fields(fault: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return [(k, v) for k, v in fault.items() if k not in ("kind", "at", "duration", "repr")]


def _cut_at(fault: Mapping[str, Any], timeline: Mapping[str, Any]) -> float | None:
    """When the final heal ended ``fault`` before its own duration was up (None if it was not cut)."""
    for played in timeline.get("faults", []):
        if played.get("repr") == fault["repr"] and played.get("start") == fault["at"]:
            end, planned = played.get("end"), fault.get("duration")
            if end is not None and planned is not None and end < fault["at"] + planned - 1e-9:
                return float(end)
            return None
    return None


def _counterexample_view(counterexample: Mapping[str, Any]) -> dict[str, Any]:
    from podquake.reports.plots import plots_for  # matplotlib loads only when a page has plots

    svgs = {name: (Markup(svg) if svg else None) for name, svg in plots_for(counterexample).items()}
    verdicts = sorted(counterexample["verdicts"], key=lambda v: {"failed": 0, "unknown": 1}.get(v["status"], 2))
    return {
        "data": counterexample,
        "plots": svgs,
        "faults": [
            {"fault": f, "fields": _fault_fields(f), "cut_at": _cut_at(f, counterexample["timeline"])} for f in counterexample["faults"]
        ],
        "fault_list_title": fault_list_title(counterexample),
        "verdicts": verdicts,
        "timeline": counterexample["timeline"],
    }


def render_html(record: Mapping[str, Any]) -> str:
    """The record as the report page (HTML text)."""
    statuses = [p["status"] for p in record["properties"]]
    if "failed" in statuses:
        tone = "failed"
    elif record["status"] == "interrupted" or (statuses and all(s == "unknown" for s in statuses)):
        tone = "unknown"
    else:
        tone = "passed"
    settings = record["settings"]
    extra = {k: v for k, v in settings.items() if k not in ("examples", "workers", "manifests", "scenario", "properties", "max_faults", "duration", "quiet")}
    return _ENV.get_template("report.html.j2").render(
        record=record,
        headline=headline(record),
        tone=tone,
        counterexamples=[_counterexample_view(c) for c in record["counterexamples"]],
        extra_settings=sorted(extra.items()),
        faults_by_kind=sorted(record["counts"]["faults_by_kind"].items()),
        schema_name=SCHEMA_NAME,
        schema_version=SCHEMA_VERSION,
        counts={s: statuses.count(s) for s in ("passed", "failed", "unknown")},
    )
