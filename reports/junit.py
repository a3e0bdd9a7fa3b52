"""``junit.xml``: the run record as JUnit XML, so CI systems show each property as a test.

One ``<testcase classname="podquake" name="<property id>">`` per property. A failed property carries
a ``<failure>`` whose message is the evidence line and whose text adds the counterexamples that
replay it; a property no example could judge is ``<skipped>`` (neither a pass nor a failure, as
with a Verdict of ``unknown``); an interrupted campaign adds a ``campaign`` test case with an
``<error>``, so that a CI test view is not all green for a run cut short. Campaign facts (seed, scheduler, version, status) are suite
``<properties>``. The layout follows the common JUnit schema that Jenkins, GitLab and GitHub
reporters read (testsuites > testsuite > testcase).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from podquake.reports.record import headline, verdict_line

__all__ = ["render_junit"]


def _text(value: Any) -> str:
    """XML 1.0 forbids most control characters even escaped: drop them."""
    return "".join(ch for ch in str(value) if ch in "\t\n\r" or ord(ch) >= 0x20)


def render_junit(record: Mapping[str, Any]) -> str:
    """The record as JUnit XML text (UTF-8, with an XML declaration)."""
    props = record["properties"]
    interrupted = record["status"] == "interrupted" or bool(record.get("interrupted"))
    failures = sum(1 for p in props if p["status"] == "failed")
    skipped = sum(1 for p in props if p["status"] == "unknown")
    seconds = f"{record['timing']['seconds']:.3f}"
    counts = {"tests": str(len(props) + interrupted), "failures": str(failures), "errors": str(int(interrupted)), "time": seconds}
    root = ET.Element("testsuites", {"name": "podquake", **counts})  # the common schema has no skipped here
    suite = ET.SubElement(
        root, "testsuite", {"name": "podquake", **counts, "skipped": str(skipped), "timestamp": _text(record["timing"]["started"])}
    )
    facts = ET.SubElement(suite, "properties")
    for name, value in (
        ("status", record["status"]),
        ("seed", record["seed"]),
        ("scheduler", record["scheduler"]),
        ("examples", record["counts"]["examples"]),
        ("faults", record["counts"]["faults"]),
        ("podquake_version", record["podquake_version"]),
    ):
        ET.SubElement(facts, "property", {"name": name, "value": _text(value)})
    replays: dict[str, list[Mapping[str, Any]]] = {}
    for counterexample in record["counterexamples"]:
        replays.setdefault(counterexample["property"], []).append(counterexample)
    for prop in props:
        case = ET.SubElement(suite, "testcase", {"classname": "podquake", "name": _text(prop["id"]), "time": "0"})
        evidence = verdict_line(prop["evidence"])
        if prop["status"] == "failed":
            failure = ET.SubElement(case, "failure", {"message": _text(evidence), "type": _text(prop["kind"])})
            lines = [
                evidence,
                f"{prop['examples_failed']} failing example(s). {prop['description']}",
            ]
            for counterexample in replays.get(prop["id"], []):
                lines.append(f"{counterexample['id']}: {counterexample['message']}")
                lines += [f"  fault: {fault['repr']}" for fault in counterexample["faults"]]
                lines.append(f"  replay: {counterexample['replay']['command']}")
            failure.text = _text("\n".join(lines))
        elif prop["status"] == "unknown":
            ET.SubElement(case, "skipped", {"message": _text(evidence or "no example could judge this property")})
        if prop["status"] != "failed" and evidence:
            ET.SubElement(case, "system-out").text = _text(evidence)
    if interrupted:  # so a CI test view is not all green for a campaign cut short
        case = ET.SubElement(suite, "testcase", {"classname": "podquake", "name": "campaign", "time": "0"})
        ran, asked = record["counts"]["examples"], record["settings"]["examples"]
        ET.SubElement(
            case,
            "error",
            {"type": "interrupted", "message": f"the campaign was interrupted after {ran} of {asked} examples: the properties were judged on those only"},
        )
    ET.SubElement(suite, "system-out").text = _text(headline(record))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
