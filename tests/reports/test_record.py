"""The run record: its shipped schema accepts a real record and rejects broken ones (our validator and
the jsonschema library agree), the builders' rules for statuses, and loading report.json as input."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import jsonschema
import pytest
from podquake.model.errors import InputError
from podquake.properties import Verdict
from podquake.reports import SCHEMA, build_record, headline, load_record, property_entry, read_report, validate_record
from podquake.reports.validate import problems


def _library_errors(record: Any) -> list[str]:
    return [error.message for error in jsonschema.Draft202012Validator(SCHEMA).iter_errors(record)]


def test_the_shipped_schema_is_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["properties"]["schema"]["const"] == "podquake/run-record"
    assert SCHEMA["properties"]["version"]["const"] == 1


def test_a_real_record_is_valid(sample_record):
    assert problems(SCHEMA, sample_record) == []
    assert _library_errors(sample_record) == []
    validate_record(sample_record)
    assert sample_record["status"] == "failed"
    assert sample_record["timing"]["examples_per_second"] == 12.5
    # a non-finite number in a verdict is written as text, so the record stays JSON
    assert sample_record["counterexamples"][0]["verdicts"][1]["numbers"]["ratio"] == "inf"
    json.dumps(sample_record, allow_nan=False)


def _broken(record: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    copied = copy.deepcopy(record)
    node = copied
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return copied


BROKEN = [
    (("status",), "ok", "status: must be one of"),
    (("version",), 2, "version: must be 1"),
    (("seed",), "7", "seed: expected integer"),
    (("seed",), True, "seed: expected integer"),
    (("settings", "workers"), 0, "settings.workers: must be at least 1"),
    (("settings", "manifests"), KeyError, "settings.manifests: required but missing"),
    (("counts", "faults_by_kind", "NodeFailure"), -1, "counts.faults_by_kind.NodeFailure: must be at least 0"),
    (("properties", 0, "kind"), "eventual", "properties[0].kind: must be one of"),
    (("properties", 0, "evidence", "status"), "maybe", "properties[0].evidence: matches 0 of the allowed forms"),
    (("counterexamples", 0, "file"), "../../etc/passwd", "counterexamples[0].file: '../../etc/passwd' does not match"),
    (("counterexamples", 0, "faults", 1, "at"), "soon", "counterexamples[0].faults[1].at: expected number"),
    (("counterexamples", 0, "timeline", "topology", "zones", 0, "nodes", 0, "up"), "yes", "expected boolean"),
    (("timing", "seconds"), float("nan"), "timing.seconds: nan is not a JSON number"),
]


@pytest.mark.parametrize(("path", "value", "expected"), BROKEN, ids=[".".join(map(str, b[0])) for b in BROKEN])
def test_a_broken_record_is_rejected_naming_the_field(sample_record, path, value, expected):
    broken = _broken(sample_record, path, value)
    found = problems(SCHEMA, broken)
    assert found and expected in found[0], found
    if not (isinstance(value, float) and math.isnan(value)):  # jsonschema accepts NaN as a number
        assert _library_errors(broken)
    with pytest.raises(InputError) as error:
        validate_record(broken, source="run/report.json")
    assert str(error.value).startswith("run/report.json: ")


def test_property_entry_rules():
    fail = Verdict.failed("p", "broke", time=5.0)
    unknown = Verdict.unknown("p", "run too short")
    ok = Verdict.passed("p")
    entry = property_entry("p", "liveness", "d", [ok, unknown, fail, fail])
    assert (entry["status"], entry["examples_failed"], entry["examples_unknown"]) == ("failed", 2, 1)
    assert entry["first_failed_example"] == 3  # counted from 1, in example order
    assert entry["evidence"]["message"] == "broke"
    assert property_entry("p", "liveness", "d", [unknown, ok])["status"] == "passed"
    only_unknown = property_entry("p", "liveness", "d", [unknown, unknown])
    assert (only_unknown["status"], only_unknown["evidence"]["message"]) == ("unknown", "run too short")
    assert only_unknown["first_failed_example"] is None
    assert property_entry("p", "safety", "d", [])["evidence"] is None


def _record(statuses: list[str], interrupted: bool) -> dict[str, Any]:
    props = [
        property_entry(f"p{i}", "safety", "d", [{"passed": Verdict.passed(f"p{i}"), "failed": Verdict.failed(f"p{i}", "x"),
                                                   "unknown": Verdict.unknown(f"p{i}", "y")}[s]])
        for i, s in enumerate(statuses)
    ]
    settings = {"examples": 10, "workers": 1, "manifests": None, "scenario": None, "properties": [], "max_faults": 3, "duration": 60.0}
    counts = {"examples": 4 if interrupted else 10, "steps": 0, "faults": 0, "faults_by_kind": {}}
    return build_record(seed=1, scheduler="default", settings=settings, counts=counts, properties=props, counterexamples=[],
                        started="2026-01-01T00:00:00+00:00", seconds=0.0, interrupted=interrupted, podquake_version="0.1.0")


def test_run_status_and_headline():
    assert headline(_record(["passed", "passed"], False)) == "PASSED: all 2 properties held"
    assert headline(_record(["passed", "unknown"], False)) == "PASSED: 1 property held, 1 could not be judged"
    assert headline(_record(["unknown"], False)) == "UNKNOWN: none of 1 property could be judged"
    failed = _record(["failed", "passed"], True)
    assert (failed["status"], failed["interrupted"]) == ("failed", True)  # a violation outranks the interruption
    assert headline(failed) == "FAILED: 1 of 2 properties violated (campaign interrupted)"
    stopped = _record(["passed"], True)
    assert stopped["status"] == "interrupted"
    assert headline(stopped) == "INTERRUPTED: no violation in 4 of 10 examples"
    assert stopped["timing"]["examples_per_second"] == 0.0


def test_build_record_refuses_a_record_its_schema_rejects():
    with pytest.raises(ValueError, match="settings.workers"):
        build_record(seed=1, scheduler="default", settings={"examples": 1, "workers": 0, "manifests": None, "scenario": None,
                     "properties": [], "max_faults": 1, "duration": 1.0}, counts={"examples": 1, "steps": 1, "faults": 0,
                     "faults_by_kind": {}}, properties=[], counterexamples=[], started="x", seconds=1.0)


def test_load_record_reads_what_was_written_and_names_bad_input(tmp_path, sample_record):
    good = tmp_path / "report.json"
    good.write_text(json.dumps(sample_record))
    assert load_record(good) == sample_record
    (tmp_path / "counterexample-1.yaml").write_text("kind: Scenario\n")
    record, files = read_report(good)
    assert record == sample_record and files == {"counterexample-1.yaml": "kind: Scenario\n"}

    cases = {
        "missing.json": (None, "no such file"),
        "garbage.json": ("{not json", "not valid JSON"),
        "nan.json": ('{"seed": NaN}', "NaN is not a JSON number"),
        "list.json": ("[]", "expected object"),
        "v2.json": (json.dumps({**sample_record, "version": 2}), "version 2 run record"),
    }
    for name, (text, expected) in cases.items():
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        with pytest.raises(InputError, match=expected) as error:
            load_record(path)
        assert str(error.value).startswith(str(path))


def test_a_value_json_cannot_hold_is_rejected(sample_record):
    broken = _broken(sample_record, ("counterexamples", 0, "faults", 0, "node"), ("worker-1",))
    assert problems(SCHEMA, broken) == ["counterexamples[0].faults[0].node: tuple is not a JSON value"]
