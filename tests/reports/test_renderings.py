"""The renderings of a record: JUnit XML that parses, Markdown for a pull request, the terminal summary
and progress bar, the pytest snippet (it runs), and HTML that escapes what users wrote."""

from __future__ import annotations

import ast
import copy
import io
import xml.etree.ElementTree as ET

import podquake.chaos
import pytest
from podquake.properties import Verdict
from podquake.reports import (
    CampaignProgress,
    print_summary,
    pytest_snippet,
    render_html,
    render_junit,
    render_markdown,
)
from podquake.reports.plots import timeline_svg, topology_svg
from rich.console import Console

from .conftest import CUT_FAULT, NODE_FAULT


def test_junit_has_one_testcase_per_property_with_the_evidence(report_dir, sample_record):
    root = ET.parse(report_dir / "junit.xml").getroot()
    assert root.tag == "testsuites" and root.get("tests") == "2" and root.get("failures") == "1"
    (suite,) = root.findall("testsuite")
    facts = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert facts["seed"] == "1234" and facts["scheduler"] == "round-robin" and facts["status"] == "failed"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == ["no-overcommit", "replicas-converge"]
    assert all(c.get("classname") == "podquake" for c in cases.values())
    assert cases["no-overcommit"].find("failure") is None
    failure = cases["replicas-converge"].find("failure")
    assert failure.get("type") == "liveness"
    assert failure.get("message").startswith("FAILED replicas-converge at t=100s: Deployment/default/web has 1 of 3 ready replicas <after> 60s")
    assert NODE_FAULT in failure.text and CUT_FAULT in failure.text
    assert "replay: podquake replay counterexample-1.yaml" in failure.text


def test_junit_marks_unknown_as_skipped_and_drops_control_characters(sample_record):
    record = copy.deepcopy(sample_record)
    record["properties"][0].update(status="unknown", evidence=Verdict.unknown("no-overcommit", "run too short\x00\x1b").to_dict())
    root = ET.fromstring(render_junit(record).encode())
    case = root.find("testsuite").findall("testcase")[0]
    assert case.find("skipped").get("message") == "UNKNOWN no-overcommit: run too short"
    assert root.find("testsuite").get("skipped") == "1"
    assert root.get("skipped") is None  # the Jenkins xunit schema refuses it on <testsuites>


def test_junit_shows_an_interrupted_campaign_as_an_error_not_all_green(sample_record):
    record = copy.deepcopy(sample_record)
    record.update(status="interrupted", interrupted=True)
    record["settings"]["examples"] = 3000
    suite = ET.fromstring(render_junit(record).encode()).find("testsuite")
    (campaign,) = [c for c in suite.findall("testcase") if c.get("name") == "campaign"]
    assert campaign.find("error").get("type") == "interrupted"
    assert f"after {record['counts']['examples']} of 3000 examples" in campaign.find("error").get("message")
    assert suite.get("errors") == "1" and suite.get("tests") == str(len(record["properties"]) + 1)


def test_an_unshrunk_counterexample_is_not_called_minimal(sample_record, tmp_path):
    """An interrupted campaign keeps failures as first found; the report called them minimal."""
    from podquake.reports import write_report

    record = copy.deepcopy(sample_record)
    record["counterexamples"][0]["shrunk"] = False
    folder = write_report(record, tmp_path / "out")
    for name in ("index.html", "summary.md"):
        text = (folder / name).read_text()
        assert "Fault list as first found (not shrunk" in text and "Minimal fault list" not in text, name


def test_large_request_counts_are_written_in_full_in_html():
    from podquake.reports.html import _number

    assert (_number(23840.0), _number(0.98712), _number(1_234_567.0), _number(7)) == ("23,840", "0.9871", "1,234,567", "7")


def test_markdown_summary(report_dir):
    text = (report_dir / "summary.md").read_text()
    lines = text.splitlines()
    assert lines[0] == "## ❌ podquake: FAILED: 1 of 2 properties violated"
    assert "| `replicas-converge` | liveness | ❌ failed (1 example, the first #50) | t=100s: Deployment/default/web has 1 of 3 ready replicas \\<after\\> 60s |" in lines
    assert f"- `{NODE_FAULT}`" in lines and f"- `{CUT_FAULT}`" in lines
    assert "Replay (from the folder the run was started in): `podquake replay counterexample-1.yaml`" in lines


def test_markdown_escapes_table_breakers(sample_record):
    record = copy.deepcopy(sample_record)
    record["properties"][1]["evidence"]["message"] = "a | b\n## c `d`"
    row = [line for line in render_markdown(record).splitlines() if line.startswith("| `replicas-converge`")][0]
    assert row.endswith("a \\| b \\#\\# c \\`d\\` |") and row.count(" | ") == 3


def test_pytest_snippet_replays_the_file_and_asserts_every_verdict(sample_record, monkeypatch, tmp_path):
    counterexample = sample_record["counterexamples"][0]
    source = counterexample["replay"]["pytest"]
    assert source == pytest_snippet(counterexample)
    calls = []
    answer: list[Verdict] = []

    def replay(path):
        calls.append(path)
        return answer

    monkeypatch.setattr(podquake.chaos, "replay", replay, raising=False)
    namespace = {"__file__": str(tmp_path / "test_regression.py")}
    exec(compile(source, "test_regression.py", "exec"), namespace)
    test = namespace["test_counterexample_1_replicas_converge"]
    answer[:] = [Verdict.passed("replicas-converge"), Verdict.unknown("x", "short")]
    test()  # fixed: passes
    assert calls == [tmp_path / "counterexample-1.yaml"]
    answer[:] = [Verdict.failed("replicas-converge", "still broken", time=3.0)]
    with pytest.raises(AssertionError, match="FAILED replicas-converge at t=3s: still broken"):
        test()


def test_pytest_snippet_survives_hostile_messages():
    source = pytest_snippet({"id": "counterexample-12", "property": "my prop!", "message": 'a """ b \\ c\nd', "file": "counterexample-12.yaml", "seed": 3})
    tree = ast.parse(source)
    assert [node.name for node in tree.body if isinstance(node, ast.FunctionDef)] == ["test_counterexample_12_my_prop"]
    assert ast.get_docstring(tree).splitlines()[-1] == 'It failed with: a """ b \\ c d'
    assert 'a \\"\\"\\" b \\\\ c d' in source


def test_terminal_summary(sample_record):
    out = io.StringIO()
    record = copy.deepcopy(sample_record)
    record["properties"][1]["evidence"]["message"] = "[bold]literal[/bold] brackets"
    print_summary(record, Console(file=out, width=160, color_system=None), report_dir="podquake-report")
    text = out.getvalue()
    assert text.splitlines()[0] == "FAILED: 1 of 2 properties violated"
    assert "no-overcommit" in text and "passed" in text
    assert "t=100s: [bold]literal[/bold] brackets" in text  # printed as written, not as markup
    assert "1 (first #50)" in text  # failed in one example, the 50th
    # named through the folder just written, so that it works from where the user ran the command
    assert NODE_FAULT in text and "replay: podquake replay podquake-report/counterexample-1.yaml" in text
    assert "50 examples in 4.0s (12.5 examples/s)" in text
    assert "report: podquake-report/index.html" in text


def test_the_replay_command_names_the_file_through_the_report_folder(sample_record):
    """The record's command (and so the terminal, summary.md, junit.xml and the page) said `podquake
    replay counterexample-1.yaml`, which works from no folder where the user's modules import."""
    from podquake.reports.record import counterexample_entry, replay_command

    made = {k: sample_record["counterexamples"][0][k] for k in ("property", "message", "faults", "seed", "verdicts", "timeline")}
    entry = counterexample_entry(1, **made, report_dir="repC/")
    assert entry["replay"]["command"] == "podquake replay repC/counterexample-1.yaml" and entry["file"] == "counterexample-1.yaml"
    assert replay_command("counterexample-2.yaml", "my reports") == "podquake replay 'my reports/counterexample-2.yaml'"
    record = copy.deepcopy(sample_record)
    record["counterexamples"][0] = entry
    assert "Replay (from the folder the run was started in): `podquake replay repC/counterexample-1.yaml`" in render_markdown(record).splitlines()
    assert "replay: podquake replay repC/counterexample-1.yaml" in render_junit(record)


def test_the_regression_test_says_where_it_runs(sample_record):
    """The page said "Save beside counterexample-1.yaml as a test file", and the test then failed under
    plain pytest: the scenario's scheduler module did not import."""
    snippet = sample_record["counterexamples"][0]["replay"]["pytest"]
    assert "Keep this file beside counterexample-1.yaml; run pytest where the modules that the scenario" in snippet
    record = copy.deepcopy(sample_record)
    html = render_html(record)
    assert "Save beside" not in html and "from the folder the run was started in" in html


def test_the_page_says_how_long_an_example_runs_quiet_period_included(sample_record):
    """It said "each example 300s simulated" of examples that ran 720 s: 300 s of faults, 420 s quiet."""
    record = copy.deepcopy(sample_record)
    record["settings"].update(duration=300.0, quiet=420.0)
    record["counterexamples"] = []
    html = render_html(record)
    assert "<dt>each example</dt><dd>720s simulated: faults in the first 300s (at most 4; every one healed by then), then 420s quiet" in html
    assert "<dt>quiet</dt>" not in html  # said once, in that line
    del record["settings"]["quiet"]  # a record from before quiet was kept: no length is claimed
    assert "<dt>each example</dt><dd>a fault phase of 300s simulated" in render_html(record)


def test_terminal_summary_keeps_whole_property_ids_on_80_columns(sample_record):
    out = io.StringIO()
    record = copy.deepcopy(sample_record)
    record["properties"][1]["id"] = "crashed-containers-restarted"
    record["properties"][1]["evidence"]["message"] = "held in 87 of 100 examples; could not judge 13 " * 2
    print_summary(record, Console(file=out, width=80, color_system=None))
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any("crashed-containers-restarted" in line for line in lines)  # folded evidence, whole id
    assert any("replicas-converge" in line for line in lines)


def test_progress_is_quiet_off_a_terminal_and_shows_the_rate_on_one():
    quiet = io.StringIO()
    with CampaignProgress(4, console=Console(file=quiet)) as progress:
        progress.update(3, failures=1)
    assert quiet.getvalue() == "" and not progress.enabled and progress.completed == 3

    loud = io.StringIO()
    with CampaignProgress(4, console=Console(file=loud, force_terminal=True, width=140, color_system=None)) as progress:
        progress.update(2)
        progress.update(2, failures=1)
        progress.update(0, failures=1, shrink_runs=12)  # shrinking: the count moves, the bar does not
    text = loud.getvalue()
    assert progress.enabled and "4/4" in text and "examples/s" in text and "1 failing" in text and "ETA" in text
    assert "1 failing, 12 shrink runs" in text

    stopped = io.StringIO()
    with CampaignProgress(10, console=Console(file=stopped, force_terminal=True, width=140, color_system=None)) as progress:
        progress.update(3, failures=1)
        progress.update(0, failures=1, shrink_runs=4, unneeded=7)  # the only chunk stopped at its failure
    assert "3/3" in stopped.getvalue()


def test_html_escapes_user_text(sample_record, monkeypatch):
    record = copy.deepcopy(sample_record)
    record["counterexamples"][0]["message"] = "<script>alert('x')</script>"
    record["properties"][0]["description"] = "<img src=x onerror=alert(1)>"
    record["settings"]["note"] = "</dl><h1>injected</h1>"
    monkeypatch.setattr("podquake.reports.plots.plots_for", lambda c: {"timeline": "<svg></svg>", "load": None, "utilization": None, "topology": None})
    page = render_html(record)
    assert "<script>" not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "<img" not in page and "&lt;h1&gt;injected" in page
    assert "No traffic was offered in this run." in page and "No node in this run." in page


def test_plots_keep_hostile_names_literal():
    timeline = {
        "start": 0.0, "end": 10.0, "failure_time": 5.0,
        "faults": [{"repr": "Weird(name='$\\alpha$ <script>')", "start": 1.0, "end": 10.0, "healed": False}],
        "marks": [], "workloads": [{"workload": "_hidden", "points": [[0.0, 1, 2]]}], "workloads_omitted": 0,
        "nodes": [{"node": "n<1>", "zone": "z&1", "points": [[0.0, "True", True], [4.0, "False", False]]}],
        "utilization": [], "nodes_omitted": 0, "load": [], "services_omitted": 0,
        "topology": {"time": 5.0, "zones": [{"zone": "z&1", "isolated": True, "nodes_omitted": 0, "nodes": [
            {"node": "n<1>", "ready": "False", "up": False, "unschedulable": True, "cut_off": True, "pods": 0, "cpu": 0.0, "memory": 0.0}]}],
            "partitions": [{"partition": 1, "kind": "zone-isolation", "description": "zone z&1 isolated", "nodes": [], "zones": ["z&1"]}]},
    }
    svg = timeline_svg(timeline, "t1") + topology_svg(timeline, "t2")
    ET.fromstring(f"<root>{svg}</root>")  # well-formed: everything escaped
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "$\\alpha$" in svg  # shown as typed, not as math
    assert "_hidden" in svg and "n&lt;1&gt;" in svg and "z&amp;1" in svg
    assert "cordoned (unschedulable)" in svg and "#ef6c00" in svg  # a cordoned node stands out, and the legend says so


def test_a_fault_the_final_heal_cut_short_says_when_it_was_healed(sample_record):
    """The 'lasts' column gave the duration asked for (107 s) while the fault ran 65 s, to the heal."""
    record = copy.deepcopy(sample_record)
    fault = record["counterexamples"][0]["faults"][0]
    played = next(f for f in record["counterexamples"][0]["timeline"]["faults"] if f["repr"] == fault["repr"])
    assert fault["duration"] is not None
    played["end"] = fault["at"] + fault["duration"] / 2
    page = render_html(record)
    assert f"(healed at {played['end']:g}s, the end of the fault phase)" in page
    assert "the end of the fault phase)" not in render_html(sample_record)
