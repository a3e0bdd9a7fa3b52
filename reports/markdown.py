"""``summary.md``: the run record as a short Markdown summary for a pull-request comment.

The headline, one line of facts, a table of properties, and for each counterexample its minimal
fault list and the command that replays it. User-provided text is escaped so it cannot break the
table or inject markup (``|``, backticks, ``<``, newlines).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podquake.reports.record import examples_text, fault_list_title, headline

__all__ = ["render_markdown"]

_ICONS = {"passed": "✅", "failed": "❌", "unknown": "❔", "interrupted": "⏸️"}
_MAX_COUNTEREXAMPLES = 10


def _cell(text: Any) -> str:
    """Markdown-safe inline text: one line, no table breaks, no HTML, no emphasis."""
    flat = " ".join(str(text).split())
    for char in "\\`*_[]<>|#~":
        flat = flat.replace(char, "\\" + char)
    return flat


def _code(text: Any) -> str:
    """Inline code that holds any backticks in it."""
    flat = " ".join(str(text).split())
    fence = "`"
    while fence in flat:
        fence += "`"
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def _evidence(verdict: Mapping[str, Any] | None) -> str:
    if verdict is None:
        return ""
    text = verdict["message"]
    if verdict.get("time") is not None:
        text = f"t={verdict['time']:g}s: {text}"
    return text


def render_markdown(record: Mapping[str, Any]) -> str:
    """The record as Markdown text."""
    icon = "❌" if any(p["status"] == "failed" for p in record["properties"]) else _ICONS.get(record["status"], "")
    counts, timing = record["counts"], record["timing"]
    lines = [
        f"## {icon} podquake: {_cell(headline(record))}",
        "",
        f"Seed {record['seed']} · scheduler {_code(record['scheduler'])} · {examples_text(counts['examples'])} "
        f"({timing['examples_per_second']:g}/s) · {counts['steps']} steps · {counts['faults']} faults injected",
        "",
        "| property | kind | status | evidence |",
        "|---|---|---|---|",
    ]
    for prop in record["properties"]:
        status = f"{_ICONS.get(prop['status'], '')} {prop['status']}"
        if prop["examples_failed"]:
            status += f" ({prop['examples_failed']} example{'' if prop['examples_failed'] == 1 else 's'}"
            if prop.get("first_failed_example") is not None:
                status += f", the first #{prop['first_failed_example']}"
            status += ")"
        lines.append(f"| {_code(prop['id'])} | {prop['kind']} | {status} | {_cell(_evidence(prop['evidence']))} |")
    counterexamples = record["counterexamples"]
    for counterexample in counterexamples[:_MAX_COUNTEREXAMPLES]:
        lines += [
            "",
            f"### {counterexample['id']}: {_code(counterexample['property'])}",
            "",
            _cell(counterexample["message"]),
            "",
            f"{fault_list_title(counterexample)} ({len(counterexample['faults'])}):",
        ]
        lines += [f"- {_code(fault['repr'])}" for fault in counterexample["faults"]] or ["- (no fault needed)"]
        lines += ["", f"Replay (from the folder the run was started in): {_code(counterexample['replay']['command'])}"]
    if len(counterexamples) > _MAX_COUNTEREXAMPLES:
        lines += ["", f"… and {len(counterexamples) - _MAX_COUNTEREXAMPLES} more counterexamples in `index.html`."]
    lines += ["", "Full report: `index.html` (plots, timelines, replay snippets); record: `report.json`."]
    return "\n".join(lines) + "\n"
