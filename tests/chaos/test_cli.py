"""The ``podquake`` command, end to end: exit status, one-line errors, report folders, replay,
re-rendering, workers, the shared real-world manifests, and interruption.

Most tests call the click command in-process (``CliRunner``) on a tiny scenario (three nodes, one
Deployment, two minutes of faults) whose examples cost a few milliseconds; a few run the installed
command in a subprocess, as a user would, to check signals and the absence of tracebacks for real.
"""

from __future__ import annotations

import doctest
import json
import os
import signal
import subprocess
import time
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from podquake.chaos import campaign as campaign_module
from podquake.chaos import timeline_text, traffic_default
from podquake.chaos.cli import campaign_base, cli
from podquake.chaos.scenario_run import run_scenario
from podquake.chaos.traffic_default import traffic_for
from podquake.model.errors import InputError
from podquake.model.trace import Trace
from podquake.model.traffic import External, Internal

from tests.chaos.kit import LIMIT_PROPERTY
from tests.chaos.kit import TINY_SCENARIO as TINY

SHARED = Path(__file__).resolve().parents[3] / "shared" / "manifests"
SHARED_APPS = sorted(p.name for p in SHARED.glob("*.yaml")) if SHARED.is_dir() else []
needs_shared = pytest.mark.skipif(not SHARED_APPS, reason=f"the shared manifests are not at {SHARED}")


ALIAS_BOMB = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\n" for p, n in zip("abcde", "bcdef")
)


# === seeded scheduler bugs (MODULE:ATTR plug-ins) ===================================================
class NoSuchNode:
    """Answers a node that does not exist: every example breaks the scheduler contract."""

    name = "no-such-node"

    def schedule(self, pod: Any, cluster: Any) -> str | None:
        return "nowhere"


class IgnoresReadiness:
    """Most free CPU, but NotReady and cordoned nodes too: fails only when a fault takes a node down."""

    name = "ignores-readiness"

    def schedule(self, pod: Any, cluster: Any) -> str | None:
        best = None
        for node in cluster.nodes:
            free = node.allocatable.cpu_millis - node.requested.cpu_millis
            if free >= pod.requests.cpu_millis and (best is None or free > best[0]):
                best = (free, node.name)
        return best[1] if best else None


# === helpers =======================================================================================
@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working folder holding tiny.yaml (the default --out and .podquake/ land here too)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.yaml").write_text(TINY)
    return tmp_path


def invoke(*args: str) -> Result:
    """The command in-process; an unexpected exception fails the test with its traceback."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def assert_one_line_error(result: Result, *words: str) -> str:
    """Exit 2, nothing on stdout, exactly one ``podquake: error:`` line on stderr holding ``words``."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("podquake: error: ")
    assert "Traceback" not in lines[0]
    for word in words:
        assert word in lines[0]
    return lines[0]


def assert_no_report_left(folder: Path, name: str = "report") -> None:
    assert not (folder / name).exists()
    assert not list(folder.glob(f".{name}.partial-*")), "a staging folder was left behind"


def record_of(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "report.json").read_text())


def without_run_facts(record: dict[str, Any]) -> dict[str, Any]:
    """The record without what depends on how it ran: the timing block and the worker count."""
    data = {k: v for k, v in record.items() if k != "timing"}
    data["settings"] = {k: v for k, v in record["settings"].items() if k != "workers"}
    return data


def verdict_lines(output: str) -> list[tuple[str, str]]:
    """(property, status) of each ``PASSED|FAILED|UNKNOWN property...`` line ``podquake replay`` printed."""
    found = []
    for line in output.splitlines():
        word, _, rest = line.partition(" ")
        if word in ("PASSED", "FAILED", "UNKNOWN"):
            found.append((rest.split(":")[0].split(" ")[0], word.lower()))
    return found


# === help and list ==================================================================================
@pytest.mark.parametrize("command", [[], ["run"], ["replay"], ["report"], ["list"]])
def test_every_command_has_help_with_examples(command: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.stdout
    assert "podquake" in result.stdout


def test_run_help_names_every_documented_option() -> None:
    text = invoke("run", "--help").stdout
    for option in ("--manifests", "--scenario", "--scheduler", "--examples", "--seed", "--out", "--workers"):
        assert option in text


def test_bare_podquake_prints_its_help_and_exits_2() -> None:
    result = invoke()
    assert result.exit_code == 2
    assert "Commands:" in result.stderr and "run" in result.stderr


@pytest.mark.parametrize(("what", "expected"), [("schedulers", "default"), ("faults", "node-failure"), ("properties", "no-overcommit")])
def test_list(what: str, expected: str) -> None:
    result = invoke("list", what)
    assert result.exit_code == 0
    assert expected in result.stdout.split()


# === bad input: exit 2, one line, nothing left behind ================================================
FILES = {
    "bomb.yaml": ALIAS_BOMB,
    "malformed.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: 1\n",
    "tagged.yaml": '!!python/object/apply:os.system ["echo pwned"]\n',
    "negative.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: -1\n"
        "  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n"
        "    spec: {containers: [{name: c, image: x}]}\n"
    ),
    "quantity.yaml": (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
        "spec: {containers: [{name: c, image: x, resources: {requests: {cpu: 12x}}}]}\n"
    ),
    "configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n",
    "dup/a.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: x}]}\n",
    "dup/b.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: y}]}\n",
    "empty/README.txt": "no manifests here\n",
    "s-duration.yaml": "apiVersion: podquake/v1\nkind: Scenario\nduration: -5\n",
    "s-fault.yaml": "apiVersion: podquake/v1\nkind: Scenario\nfaults: [{kind: meteor-strike, at: 10}]\n",
    "s-field.yaml": "apiVersion: podquake/v1\nkind: Scenario\ncolour: red\n",
    "s-cluster.yaml": "apiVersion: podquake/v1\nkind: Scenario\ncluster: {pools: [{name: w, count: 2, cpu: '-4'}]}\n",
    "s-scheduler.yaml": "apiVersion: podquake/v1\nkind: Scenario\nscheduler: no-such-scheduler\n",
    "s-bomb.yaml": "apiVersion: podquake/v1\nkind: Scenario\nmetadata: {name: x}\nworkload:\n- " + ALIAS_BOMB.replace("\n", "\n  "),
}

BAD_RUNS = [
    (["--manifests", "missing.yaml"], ["missing.yaml", "--manifests", "no such file"]),
    (["--manifests", "bomb.yaml"], ["bomb.yaml", "line 5", "alias bomb"]),
    (["--manifests", "malformed.yaml"], ["malformed.yaml", "line 5", "invalid YAML"]),
    (["--manifests", "tagged.yaml"], ["tagged.yaml", "tag"]),
    (["--manifests", "negative.yaml"], ["negative.yaml", "Deployment web", "spec.replicas", "negative"]),
    (["--manifests", "quantity.yaml"], ["quantity.yaml", "resources.requests.cpu", "12x"]),
    (["--manifests", "configmap.yaml"], ["configmap.yaml", "--manifests", "no workload"]),
    (["--manifests", "dup"], ["b.yaml", "metadata.name", "defined twice", "a.yaml"]),
    (["--manifests", "empty"], ["empty", "no .yaml"]),
    (["--scenario", "missing.yaml"], ["missing.yaml", "no such scenario file"]),
    (["--scenario", "s-duration.yaml"], ["s-duration.yaml", "duration", "-5"]),
    (["--scenario", "s-fault.yaml"], ["s-fault.yaml", "faults[0].kind", "meteor-strike"]),
    (["--scenario", "s-field.yaml"], ["s-field.yaml", "colour"]),
    (["--scenario", "s-cluster.yaml"], ["s-cluster.yaml", "cluster.pools[0]", "-4"]),
    (["--scenario", "s-scheduler.yaml"], ["s-scheduler.yaml", "scheduler", "no-such-scheduler"]),
    (["--scenario", "s-bomb.yaml"], ["s-bomb.yaml", "alias bomb"]),
    (["--scheduler", "no-such-scheduler"], ["--scheduler", "unknown scheduler 'no-such-scheduler'"]),
    (["--scheduler", "os:no_such_attr"], ["--scheduler", "no_such_attr"]),
    (["--scheduler", "no_such_module_xyz:Sched"], ["--scheduler", "no_such_module_xyz"]),
    (["--properties", "no-overcommit,no-such-property"], ["--properties", "no-such-property"]),
    (["--properties", ","], ["--properties", "no ids"]),
    (["--faults", "node-failure,meteor-strike"], ["--faults", "meteor-strike"]),
    (["--examples", "0"], ["--examples", "0"]),
    (["--examples", "many"], ["--examples", "many"]),
    (["--workers", "0"], ["--workers"]),
    (["--max-faults", "-1"], ["--max-faults"]),
    (["--seed", "-3"], ["--seed"]),
    (["--no-such-option"], ["--no-such-option"]),
]


@pytest.fixture
def bad_files(here: Path) -> Path:
    for name, text in FILES.items():
        (here / name).parent.mkdir(exist_ok=True)
        (here / name).write_text(text)
    return here


@pytest.mark.parametrize(("args", "words"), BAD_RUNS, ids=[" ".join(a) for a, _ in BAD_RUNS])
def test_bad_input_is_one_line_exit_2_and_no_report(bad_files: Path, args: list[str], words: list[str]) -> None:
    result = invoke("run", *args, "--out", "report")
    assert_one_line_error(result, *words)
    assert_no_report_left(bad_files)
    assert not (bad_files / ".podquake").exists()


def test_an_out_path_that_is_a_file_is_refused_and_kept(here: Path) -> None:
    (here / "taken").write_text("mine\n")
    assert_one_line_error(invoke("run", "--scenario", "tiny.yaml", "--out", "taken"), "taken", "--out", "not a folder")
    assert (here / "taken").read_text() == "mine\n"


def test_an_out_folder_holding_other_files_is_refused_and_kept(here: Path) -> None:
    (here / "mine").mkdir()
    (here / "mine" / "notes.txt").write_text("keep me\n")
    assert_one_line_error(invoke("run", "--scenario", "tiny.yaml", "--out", "mine"), "mine", "--out", "not part of a podquake report")
    assert sorted(p.name for p in (here / "mine").iterdir()) == ["notes.txt"]


def test_an_out_path_under_a_file_is_refused(here: Path) -> None:
    (here / "taken").write_text("mine\n")
    assert_one_line_error(invoke("run", "--scenario", "tiny.yaml", "--out", "taken/report"), "taken/report", "--out", "not a writable folder")


def test_replay_and_report_refuse_bad_input_in_one_line(bad_files: Path) -> None:
    assert_one_line_error(invoke("replay", "missing.yaml"), "missing.yaml", "no such scenario file")
    assert_one_line_error(invoke("replay", "s-bomb.yaml"), "s-bomb.yaml", "alias bomb")
    assert_one_line_error(invoke("report", "missing.json"), "missing.json")
    (bad_files / "broken.json").write_text('{"schema": ')
    assert_one_line_error(invoke("report", "broken.json", "--out", "report"), "broken.json", "JSON")
    assert_no_report_left(bad_files)


def test_bad_input_from_the_installed_command_has_no_traceback(bad_files: Path) -> None:
    """The same, for real: a subprocess running ``python -m podquake.chaos`` on an alias bomb."""
    done = subprocess.run(
        [sys.executable, "-m", "podquake.chaos", "run", "--manifests", "bomb.yaml", "--out", "report"],
        cwd=bad_files, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("podquake: error: bomb.yaml: ")
    assert_no_report_left(bad_files)


# === runs that work: exit 0 and 1, the report folder, replay, report ==================================
def test_a_passing_campaign_exits_0_and_writes_the_report(here: Path) -> None:
    result = invoke("run", "--scenario", "tiny.yaml", "--examples", "6", "--out", "report")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (here / "report").iterdir()) == ["index.html", "junit.xml", "report.json", "summary.md"]
    record = record_of(here / "report")
    assert record["status"] == "passed" and record["counts"]["examples"] == 6
    assert record["settings"]["scenario"] == "tiny.yaml"
    assert "examples/s" in result.stdout
    assert result.stderr.startswith("podquake: 6 examples of tiny.yaml (seed 0, scheduler default, 1 worker) -> report/")
    assert_no_report_left(here, "nothing-else")


def test_a_bug_in_podquake_exits_3_with_its_traceback_not_1(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exit 1 means a property was violated; a crash of podquake's own must not read as one."""

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(campaign_module, "run_campaign", crash)
    result = invoke("run", "--scenario", "tiny.yaml", "--examples", "2", "--out", "report")
    assert result.exit_code == 3, result.output
    assert "Traceback" in result.stderr and "RuntimeError: boom" in result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("podquake: internal error: RuntimeError: boom (a bug in podquake")
    assert_no_report_left(here)


def test_bad_input_found_during_the_campaign_is_one_error_line_and_exit_2(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise InputError("no such pool", source="tiny.yaml", field="cluster.pools[0]", fix="name an existing pool")

    monkeypatch.setattr(campaign_module, "run_campaign", refuse)
    result = invoke("run", "--scenario", "tiny.yaml", "--examples", "2", "--out", "report")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith("podquake: error: tiny.yaml: cluster.pools[0]: no such pool (fix:")
    assert_no_report_left(here)


def test_the_embedded_default_runs_with_no_options(here: Path) -> None:
    result = invoke("run", "--examples", "2")
    assert result.exit_code == 0, result.output
    record = record_of(here / "podquake-report")
    assert record["status"] == "passed"
    assert record["settings"]["manifests"] is None and record["settings"]["scenario"] is None
    assert len(record["properties"]) >= 10


FAILING = ["--scenario", "tiny.yaml", "--scheduler", f"{__name__}:NoSuchNode", "--properties", "no-overcommit,scheduler-contract"]


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A campaign whose scheduler answers a node that does not exist: exit 1, one counterexample.
    Run once for the module (rendering a counterexample's plots takes seconds); tests copy it to change it."""
    folder = tmp_path_factory.mktemp("failing")
    (folder / "tiny.yaml").write_text(TINY)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        result = invoke("run", *FAILING, "--examples", "3", "--shrink-runs", "10", "--out", "report")
    assert result.exit_code == 1, result.output
    return folder / "report"


def test_a_violation_exits_1_with_a_replayable_counterexample(failing_run: Path) -> None:
    record = record_of(failing_run)
    assert record["status"] == "failed"
    assert {p["id"]: p["status"] for p in record["properties"]} == {"no-overcommit": "passed", "scheduler-contract": "failed"}
    assert [c["property"] for c in record["counterexamples"]] == ["scheduler-contract"]
    counterexample = record["counterexamples"][0]
    assert counterexample["faults"] == []  # shrunk: no fault is needed to break this contract
    replayed = invoke("replay", str(failing_run / counterexample["file"]))
    assert replayed.exit_code == 1
    assert verdict_lines(replayed.stdout) == [(v["property"], v["status"]) for v in counterexample["verdicts"]]
    assert "scheduler no-such-node broke its contract" in replayed.stdout  # the timeline


def test_the_found_counterexamples_are_kept_for_the_next_campaign(failing_run: Path) -> None:
    kept = sorted(p.read_text() for p in (failing_run.parent / ".podquake" / "counterexamples").glob("*/*.yaml"))
    assert kept == sorted(p.read_text() for p in failing_run.glob("counterexample-*.yaml"))


def test_replay_prints_the_timeline_and_writes_the_trace_it_judged(here: Path) -> None:
    scenario = TINY + "faults: [{kind: node-failure, node: 0, at: 30, duration: 60}]\n"
    (here / "failure.yaml").write_text(scenario)
    result = invoke("replay", "failure.yaml", "--trace", "run.jsonl")
    assert result.exit_code == 0, result.output
    assert verdict_lines(result.stdout) == [
        (i, "passed") for i in ("no-overcommit", "single-binding", "schedulable-nodes-only", "scheduler-contract", "replicas-converge")
    ]
    assert "+30s  fault   NodeFailure" in result.stdout and "healed" in result.stdout
    events = Trace.from_jsonl((here / "run.jsonl").read_text()).events
    assert events and events == run_scenario(campaign_base("failure.yaml")).trace.events


def test_report_rerenders_the_same_files_byte_for_byte(failing_run: Path, tmp_path: Path) -> None:
    original = {p.name: p.read_bytes() for p in failing_run.iterdir()}
    result = invoke("report", str(failing_run / "report.json"), "--out", str(tmp_path / "again"))
    assert result.exit_code == 1  # the record holds a violation
    assert {p.name: p.read_bytes() for p in (tmp_path / "again").iterdir()} == original


def test_the_report_command_will_not_replace_a_folder_of_other_files(failing_run: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me\n")
    assert_one_line_error(invoke("report", str(failing_run / "report.json"), "--out", str(tmp_path)), "--out")
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_second_run_replaces_an_old_report_whole(here: Path) -> None:
    assert invoke("run", "--scenario", "tiny.yaml", "--examples", "2", "--out", "report", "--seed", "1").exit_code == 0
    assert invoke("run", "--scenario", "tiny.yaml", "--examples", "3", "--out", "report", "--seed", "2").exit_code == 0
    assert record_of(here / "report")["seed"] == 2
    assert sorted(p.name for p in here.iterdir()) == ["report", "tiny.yaml"]


def test_workers_do_not_change_the_report(here: Path) -> None:
    """30 examples are two chunks, so two workers really split them; only timing and the worker count differ."""
    common = ["--scenario", "tiny.yaml", "--examples", "30", "--no-database", "--seed", "3"]
    assert invoke("run", *common, "--workers", "1", "--out", "one").exit_code == 0
    assert invoke("run", *common, "--workers", "2", "--out", "two").exit_code == 0
    one, two = record_of(here / "one"), record_of(here / "two")
    assert (one["settings"]["workers"], two["settings"]["workers"]) == (1, 2)
    assert without_run_facts(one) == without_run_facts(two)


def test_workers_do_not_change_the_failures_found() -> None:
    """The same with failures to shrink: the run records (report.json as the command writes it) agree."""
    from podquake.chaos.campaign import CampaignSettings, run_campaign
    from podquake.chaos.record import campaign_record
    from podquake.chaos.scenario import load_scenario

    base = replace(load_scenario(TINY), scheduler=f"{__name__}:IgnoresReadiness")
    records = []
    for workers in (1, 2):
        settings = CampaignSettings(base=base, examples=12, chunk=4, workers=workers, seed=3, shrink_runs=3, database=None)
        record, files = campaign_record(run_campaign(settings), started="-", scheduler="ignores-readiness")
        records.append((without_run_facts(record), files))
    assert records[0] == records[1]
    assert records[0][0]["status"] == "failed" and records[0][1], "the seed should find the seeded bug"


# === the shared real-world manifests ==========================================================================
ENTRY_TRAFFIC = {
    "bank-of-anthos.yaml": ["default/frontend"],
    "online-boutique.yaml": ["default/frontend-external"],
    "sock-shop.yaml": ["sock-shop/front-end"],
}


@needs_shared
@pytest.mark.parametrize("app", SHARED_APPS)
def test_traffic_for_a_shared_app_enters_where_its_users_would(app: str) -> None:
    generators = traffic_for(campaign_base(manifests=str(SHARED / app)))
    if app in ENTRY_TRAFFIC:  # a LoadBalancer or NodePort Service: external clients
        assert [g.service for g in generators] == ENTRY_TRAFFIC[app]
        assert all(isinstance(g.entry, External) for g in generators)
    else:  # bookinfo has only ClusterIP Services: in-cluster clients call each of them
        assert [g.service for g in generators] == ["default/details", "default/ratings", "default/reviews", "default/productpage"]
        assert all(g.entry == Internal(node="worker-1") for g in generators)
    assert all(g.shape.rate(0.0) > 0 for g in generators)


@needs_shared
@pytest.mark.parametrize("app", SHARED_APPS)
def test_a_shared_app_fits_the_default_cluster_and_becomes_ready(app: str) -> None:
    """No faults, five minutes: every pod bound and every Deployment and StatefulSet fully ready
    (sock-shop's readiness probes wait 180 s before their first check)."""
    scenario = replace(campaign_base(manifests=str(SHARED / app)), duration=60.0, quiet=240.0)
    run = run_scenario(scenario)
    assert not run.sim.state.unbound_pods
    for manifest in scenario.manifests():
        if manifest.kind in ("Deployment", "StatefulSet"):
            status = run.sim.workload_status(manifest.kind, manifest.namespace, manifest.name)
            assert status.converged, (manifest.key, status)
    assert run.ok, [v.line() for v in run.failed]


@needs_shared
@pytest.mark.parametrize("app", SHARED_APPS)
def test_a_tiny_campaign_on_each_shared_app(here: Path, app: str) -> None:
    result = invoke("run", "--manifests", str(SHARED / app), "--examples", "2", "--max-faults", "2", "--out", "report", "--no-database")
    assert result.exit_code == 0, result.output
    record = record_of(here / "report")
    assert record["settings"]["manifests"] == str(SHARED / app)
    assert record["counts"]["examples"] == 2


@needs_shared
def test_the_shared_folder_as_a_whole_is_refused_cleanly(here: Path) -> None:
    """online-boutique and bank-of-anthos both define Deployment default/frontend."""
    line = assert_one_line_error(invoke("run", "--manifests", str(SHARED), "--out", "report"), "defined twice", "metadata.name")
    assert "online-boutique.yaml" in line and "bank-of-anthos.yaml" in line
    assert_no_report_left(here)


# === a closed stdout, output paths checked first, files that are not scenarios ===========================
def _with_stdout_closed(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``podquake ARGS | true``, deterministically: stdout is a pipe whose only reader is closed at once."""
    read_end, write_end = os.pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "podquake.chaos", *args],
            cwd=folder, stdout=write_end, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        )
    finally:
        os.close(write_end)
        os.close(read_end)
    _, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, "", err)


@pytest.mark.parametrize(
    "args",
    [["replay", "tiny.yaml"], ["list", "faults"], ["run", "--scenario", "tiny.yaml", "--examples", "3", "--no-database", "--out", "report"]],
    ids=["replay", "list", "run"],
)
def test_a_closed_stdout_is_quiet_and_keeps_the_status_the_work_earned(here: Path, args: list[str]) -> None:
    done = _with_stdout_closed(here, *args)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Broken pipe" not in done.stderr and "error" not in done.stderr
    if args[0] == "run":
        assert record_of(here / "report")["status"] == "passed"
        assert_no_report_left(here, "nothing-else")


def test_a_closed_stdout_does_not_hide_a_violation(here: Path) -> None:
    (here / "sched.py").write_text("class Nowhere:\n    name = 'nowhere'\n    def schedule(self, pod, cluster):\n        return 'nowhere'\n")
    (here / "bad.yaml").write_text(TINY + "scheduler: sched:Nowhere\n")
    assert _with_stdout_closed(here, "replay", "bad.yaml").returncode == 1


def _must_not_run(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the work ran before its output path was checked")


def test_a_trace_path_under_a_file_is_refused_before_the_replay(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from podquake.chaos import scenario_run

    (here / "afile").write_text("mine\n")
    monkeypatch.setattr(scenario_run, "run_scenario", _must_not_run)
    line = assert_one_line_error(invoke("replay", "tiny.yaml", "--trace", "afile/x.jsonl"), "afile/x.jsonl", "--trace", "not a folder", "(fix: ")
    assert "Not a directory" not in line
    assert (here / "afile").read_text() == "mine\n"


def test_a_trace_in_a_new_folder_is_written_whole(here: Path) -> None:
    result = invoke("replay", "tiny.yaml", "--trace", "traces/run.jsonl")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (here / "traces").iterdir()) == ["run.jsonl"]
    assert Trace.from_jsonl((here / "traces" / "run.jsonl").read_text()).events


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_an_out_folder_that_cannot_be_created_is_refused_before_the_campaign(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """/proc looks writable to root (os.access says yes), yet nothing can be created in it."""
    monkeypatch.setattr(campaign_module, "run_campaign", _must_not_run)
    line = assert_one_line_error(invoke("run", "--scenario", "tiny.yaml", "--examples", "2", "--out", "/proc/podquake-x"), "/proc/podquake-x", "--out", "(fix: ")
    assert ".partial-" not in line


def test_a_folder_given_as_a_scenario_is_said_to_be_a_folder(here: Path) -> None:
    (here / "adir").mkdir()
    for result in (invoke("replay", "adir"), invoke("run", "--scenario", "adir", "--out", "report")):
        line = assert_one_line_error(result, "adir", "is a folder, not a scenario file", "(fix: ")
        assert "no such" not in line
    assert_no_report_left(here)


def test_replaying_a_kubernetes_manifest_or_a_run_record_names_the_right_command(here: Path) -> None:
    (here / "app.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 2}\n")
    assert_one_line_error(invoke("replay", "app.yaml"), "app.yaml", "Kubernetes Deployment", "podquake run --manifests app.yaml")
    (here / "report.json").write_text(json.dumps({"schema": "podquake/run-record", "version": 1, "status": "passed"}))
    assert_one_line_error(invoke("replay", "report.json"), "report.json", "run record", "podquake report report.json")


def test_a_negative_seed_in_a_scenario_is_refused_like_the_option(here: Path) -> None:
    (here / "neg.yaml").write_text(TINY + "seed: -1\n")
    for result in (invoke("replay", "neg.yaml"), invoke("run", "--scenario", "neg.yaml", "--out", "report")):
        assert_one_line_error(result, "neg.yaml", "seed", "-1", "(fix: ")
    assert_no_report_left(here)


def test_one_example_is_not_said_to_be_1_examples(here: Path) -> None:
    result = invoke("run", "--scenario", "tiny.yaml", "--examples", "1", "--no-database", "--out", "report")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("podquake: 1 example of tiny.yaml ")
    messages = [p["evidence"]["message"] for p in record_of(here / "report")["properties"]]
    assert messages and not any("1 examples" in m for m in messages), messages


# === interruption ============================================================================================
def _start(folder: Path, *args: str) -> subprocess.Popen[str]:
    """``podquake run`` in a subprocess, returned once its campaign has started (its first stderr line)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "podquake.chaos", "run", *args],
        cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert process.stderr is not None
    header = process.stderr.readline()
    assert header.startswith("podquake: "), header
    return process


def test_sigterm_writes_a_partial_report(here: Path) -> None:
    process = _start(here, "--scenario", "tiny.yaml", "--examples", "100000", "--out", "report", "--no-database")
    try:
        process.wait(timeout=2)  # let it run a few seconds; it cannot finish 100,000 examples
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, err
    record = record_of(here / "report")
    assert record["interrupted"] is True and record["status"] == "interrupted"
    assert 0 < record["counts"]["examples"] < 100000
    assert "interrupted" in err and "Traceback" not in err
    assert_no_report_left(here, "nothing-else")


def test_sigterm_stops_a_long_example_at_once_and_says_so(here: Path) -> None:
    """The stop request used to be read only between examples: a scenario of a simulated week
    ignored SIGTERM until its example ended, and whatever sent it (timeout, CI, Kubernetes) then
    killed it before any report was written."""
    (here / "week.yaml").write_text(TINY.replace("duration: 120", "duration: 604800"))
    process = _start(here, "--scenario", "week.yaml", "--examples", "3", "--out", "report", "--no-database")
    time.sleep(1.0)  # inside the first example, which takes tens of seconds
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "podquake: stopping; writing the report of what ran" in err
    assert record_of(here / "report")["interrupted"] is True


@pytest.mark.slow
def test_ctrl_c_with_workers_keeps_the_failures_found(here: Path) -> None:
    """SIGINT to a two-worker campaign: the workers stop, and the violation they found is reported."""
    process = _start(
        here, *FAILING, "--examples", "100000", "--workers", "2", "--out", "report", "--no-database",
    )
    try:
        process.wait(timeout=3)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 1, err  # a violation outranks the interruption
    record = record_of(here / "report")
    assert record["interrupted"] is True and record["status"] == "failed"
    assert [c["property"] for c in record["counterexamples"]] == ["scheduler-contract"]
    assert record["counts"]["examples"] > 0
    assert (here / "report" / "counterexample-1.yaml").is_file()
    assert "Traceback" not in err


def test_a_campaign_interrupted_before_any_example_says_unknown(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C at once: the report says nothing was judged (not that everything held), exit 130."""
    from podquake.chaos import campaign_chunk

    def interrupted(*_args: Any, **_kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(campaign_chunk, "run_scenario", interrupted)
    result = invoke("run", "--scenario", "tiny.yaml", "--examples", "5", "--out", "report", "--no-database")
    assert result.exit_code == 128 + signal.SIGINT
    record = record_of(here / "report")
    assert record["status"] == "interrupted" and record["counts"]["examples"] == 0
    assert {p["status"] for p in record["properties"]} == {"unknown"}


def test_a_passing_run_writes_nothing_but_its_report(here: Path) -> None:
    """No .hypothesis/ folder, no staging folder, no .podquake/ (nothing failed, so nothing to keep)."""
    assert invoke("run", "--scenario", "tiny.yaml", "--examples", "2", "--out", "report").exit_code == 0
    assert sorted(p.name for p in here.iterdir()) == ["report", "tiny.yaml"]


def test_stop_campaign_stops_after_the_examples_in_progress_and_resets() -> None:
    """What the command's signal handler calls: the campaign returns what it found, marked interrupted."""
    from podquake.chaos.campaign import CampaignSettings, run_campaign, stop_campaign
    from podquake.chaos.scenario import load_scenario

    settings = CampaignSettings(base=load_scenario(TINY), examples=20, chunk=4, database=None)
    stopped = run_campaign(settings, progress=lambda _n, **_counts: stop_campaign())  # asked to stop after example 1
    assert stopped.interrupted and stopped.examples == 1
    again = run_campaign(replace(settings, examples=6))
    assert not again.interrupted and again.examples == 6


def test_the_timeline_shows_a_repeated_contract_violation_once_per_pod_until_it_changes() -> None:
    """A broken plug-in is asked again after every back-off (10 s at most): a pod it always fails
    would fill a replay's timeline with the same line every ten seconds."""
    from podquake.model import trace as ev

    same = [ev.SchedulerContractViolation(float(t), "broken", "default/web-0", "raised ValueError: x", "<exception>") for t in (0, 1, 3, 7, 17)]
    other = ev.SchedulerContractViolation(20.0, "broken", "default/web-0", "answered unknown node 'w-9'", "w-9")
    again = ev.SchedulerContractViolation(21.0, "broken", "default/web-0", "raised ValueError: x", "<exception>")
    second = ev.SchedulerContractViolation(22.0, "broken", "default/web-1", "raised ValueError: x", "<exception>")
    lines = list(timeline_text.timeline_lines([*same, other, again, second]))
    assert [line.split()[0] for line in lines] == ["+0s", "+20s", "+21s", "+22s"], lines
    assert "broke its contract for default/web-1: raised ValueError: x" in lines[-1]


def test_the_timeline_shows_preemptions_and_nominations() -> None:
    from podquake.model import trace as ev

    events = [
        ev.PodPreempted(10.0, "default/batch-1", "default/checkout-2", "worker-3", 10, 100000),
        ev.PodNominated(10.0, "default/checkout-2", "worker-3"),
        ev.PodNominated(12.0, "default/mid-1", ""),
    ]
    assert list(timeline_text.timeline_lines(events)) == [
        "    +10s  pod default/batch-1 (priority 10) preempted on worker-3 for default/checkout-2 (priority 100000)",
        "    +10s  pod default/checkout-2 nominated to worker-3",
        "    +12s  pod default/mid-1 lost its nominated node",
    ]


@pytest.mark.parametrize("module", [traffic_default, timeline_text], ids=lambda m: m.__name__)
def test_doctests(module: Any) -> None:
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0


# === reproducible reports ====================================================================================
def test_with_source_date_epoch_the_same_seed_gives_byte_identical_report_folders(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DESIGN.md: the same seed and inputs give a byte-identical trace and report. The run's wall-clock
    start and duration were the only differences (report.json, junit.xml, index.html, summary.md)."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    for out in ("first", "second"):
        assert invoke("run", "--scenario", "tiny.yaml", "--examples", "5", "--no-database", "--out", out).exit_code == 0
    files = sorted(p.name for p in (here / "first").iterdir())
    assert "report.json" in files and files == sorted(p.name for p in (here / "second").iterdir())
    for name in files:
        assert (here / "first" / name).read_bytes() == (here / "second" / name).read_bytes(), name
    assert record_of(here / "first")["timing"]["started"] == "2023-11-14T22:13:20+00:00"


def test_a_report_with_counterexamples_is_byte_identical_when_run_again(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its replay commands name the report folder as given (--out), which the same inputs repeat."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    args = ["run", *FAILING, "--examples", "3", "--shrink-runs", "10", "--no-database", "--out", "report"]
    assert invoke(*args).exit_code == 1
    first = {p.name: p.read_bytes() for p in (here / "report").iterdir()}
    assert "counterexample-1.yaml" in first and b"podquake replay report/counterexample-1.yaml" in first["report.json"]
    assert invoke(*args).exit_code == 1
    assert {p.name: p.read_bytes() for p in (here / "report").iterdir()} == first


def test_a_bad_source_date_epoch_is_one_line_and_no_report(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    result = invoke("run", "--scenario", "tiny.yaml", "--examples", "2", "--no-database", "--out", "report")
    assert_one_line_error(result, "SOURCE_DATE_EPOCH")
    assert not (here / "report").exists()


# === properties of one's own =================================================================================
OWN_PROPERTY = '''
from podquake.model import trace as ev
from podquake.properties import invariant


@invariant("test-cli-every-bind", "Every bind is a violation (a property of one's own).", on=[ev.PodBound])
def every_bind(event, ledger):
    return f"{event.pod} bound"
'''


def test_import_registers_ones_own_property_and_its_counterexample_replays(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """README promised that a registered property joins the command line by id; the CLI had no way to
    import the module that registers it, and its counterexamples could not be replayed."""
    (here / "teamprops.py").write_text(OWN_PROPERTY)
    monkeypatch.syspath_prepend(str(here))
    result = invoke(
        "run", "--import", "teamprops", "--scenario", "tiny.yaml", "--properties", "test-cli-every-bind",
        "--examples", "3", "--no-database", "--out", "report",
    )
    assert result.exit_code == 1, result.output
    assert "imports: [teamprops]" in (here / "report" / "counterexample-1.yaml").read_text()
    replayed = invoke("replay", "report/counterexample-1.yaml")
    assert replayed.exit_code == 1 and "FAILED test-cli-every-bind" in replayed.stdout


LIMITED_PROPERTY = LIMIT_PROPERTY.format(id="test-cli-bind-limit")


def test_a_subset_of_properties_keeps_the_parameters_the_scenario_gave_them(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--properties max-pods-per-node,no-overcommit` on a scenario setting `max-pods-per-node: {limit:
    1}` judged it with its default limit: the failing check passed, exit 0."""
    monkeypatch.syspath_prepend(str(here))
    (here / "teamlimit.py").write_text(LIMITED_PROPERTY)
    head, _, tail = TINY.partition("properties:")
    (here / "limited.yaml").write_text(f"{head}imports: [teamlimit]\nproperties: [no-overcommit, {{test-cli-bind-limit: {{limit: 0}}}}]\n")
    base = campaign_base("limited.yaml", properties="test-cli-bind-limit,single-binding")
    assert base.properties == (("test-cli-bind-limit", {"limit": 0}), ("single-binding", {}))
    result = invoke(
        "run", "--scenario", "limited.yaml", "--properties", "test-cli-bind-limit,no-overcommit",
        "--examples", "2", "--shrink-runs", "5", "--no-database", "--out", "report",
    )
    assert result.exit_code == 1, result.output
    assert "test-cli-bind-limit: {limit: 0}" in (here / "report" / "counterexample-1.yaml").read_text()


def test_an_unknown_property_names_the_nearest_and_how_to_import_ones_own(here: Path) -> None:
    line = assert_one_line_error(
        invoke("run", "--scenario", "tiny.yaml", "--properties", "no-overcomit", "--out", "report"), "--properties", "unknown property 'no-overcomit'"
    )
    assert "did you mean 'no-overcommit'?" in line and "--import MODULE" in line and "imports:" in line
    assert "podquake list properties --import" in line
    head, _, _ = TINY.partition("properties:")
    (here / "own.yaml").write_text(f"{head}properties: [test-cli-not-registered]\n")
    line = assert_one_line_error(invoke("replay", "own.yaml"), "own.yaml", "unknown property 'test-cli-not-registered'")
    assert "under the scenario's imports:" in line
    assert_no_report_left(here)


def test_list_properties_imports_modules_to_show_ones_own(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`podquake list properties` had no --import, so a user could not check that their property registered."""
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(here))])
    (here / "teamlisted.py").write_text(OWN_PROPERTY.replace("test-cli-every-bind", "test-cli-listed"))
    result = invoke("list", "properties", "--import", "teamlisted")
    assert result.exit_code == 0, result.output
    assert "test-cli-listed" in result.stdout.split() and "no-overcommit" in result.stdout.split()
    assert_one_line_error(invoke("list", "properties", "--import", "no_such_team_module"), "--import", "no_such_team_module")


NO_SUCH_NODE = '''
class NoSuchNode:
    name = "no-such-node"

    def schedule(self, pod, cluster):
        return "nowhere"
'''


def test_the_replay_commands_work_from_the_folder_the_run_started_in(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`podquake run --out repC` with a scheduler of the user's folder printed `replay: podquake replay
    counterexample-1.yaml`: from that folder there is no such file, and from inside repC the module
    does not import. The report said the same, and its regression test failed under plain pytest."""
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(here))])
    (here / "teamsched.py").write_text(NO_SUCH_NODE)
    result = invoke(
        "run", "--scenario", "tiny.yaml", "--scheduler", "teamsched:NoSuchNode", "--properties", "scheduler-contract",
        "--examples", "2", "--shrink-runs", "5", "--no-database", "--out", "repC",
    )
    assert result.exit_code == 1, result.output
    assert "replay: podquake replay repC/counterexample-1.yaml" in result.stdout
    [counterexample] = record_of(here / "repC")["counterexamples"]
    command = counterexample["replay"]["command"]
    assert command == "podquake replay repC/counterexample-1.yaml"
    assert f"`{command}`" in (here / "repC" / "summary.md").read_text() and command in (here / "repC" / "index.html").read_text()
    replayed = invoke(*command.split()[1:])  # as printed, from the folder the run started in
    assert replayed.exit_code == 1 and "FAILED scheduler-contract" in replayed.stdout
    # The regression test, saved beside a copy of the file, under plain pytest (which, unlike
    # `python -m pytest`, does not put the working folder on the import path), from the same folder.
    (here / "regress").mkdir()
    (here / "regress" / "counterexample-1.yaml").write_bytes((here / "repC" / "counterexample-1.yaml").read_bytes())
    (here / "regress" / "test_counterexample_1.py").write_text(counterexample["replay"]["pytest"])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    ran = subprocess.run(
        [sys.executable, "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider", "regress/test_counterexample_1.py"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "AssertionError: FAILED scheduler-contract" in ran.stdout and "No module named" not in ran.stdout
    # Rendered again elsewhere, the terminal names the new folder.
    again = invoke("report", "repC/report.json", "--out", "again")
    assert "replay: podquake replay again/counterexample-1.yaml" in again.stdout


def test_an_import_that_fails_is_one_line_and_no_report(here: Path) -> None:
    result = invoke("run", "--import", "no_such_team_module", "--examples", "2", "--no-database", "--out", "report")
    assert_one_line_error(result, "--import", "no_such_team_module")
    assert not (here / "report").exists()


def test_a_counterexample_of_a_scenario_with_relative_workload_paths_replays_from_anywhere(here: Path) -> None:
    """Counterexamples kept the scenario's paths, relative to its folder, so the copy written to the
    report folder (and the one kept for the next campaign) could not find the manifests."""
    app = here / "app"
    (app / "manifests").mkdir(parents=True)
    head, _, rest = TINY.partition("workload:\n")
    deployment, _, tail = rest.partition("properties:")
    (app / "manifests" / "web.yaml").write_text("\n".join(line[2:] for line in deployment.splitlines()) + "\n")
    (app / "scenario.yaml").write_text(f"{head}workload: [manifests/web.yaml]\nproperties:{tail}")
    args = ["--scenario", "app/scenario.yaml", "--scheduler", f"{__name__}:NoSuchNode", "--properties", "scheduler-contract"]
    assert invoke("run", *args, "--examples", "2", "--shrink-runs", "5", "--out", "report").exit_code == 1
    replayed = invoke("replay", "report/counterexample-1.yaml")
    assert replayed.exit_code == 1 and "FAILED scheduler-contract" in replayed.stdout
    [kept] = (here / ".podquake" / "counterexamples").glob("*/*.yaml")
    assert str(app / "manifests" / "web.yaml") in kept.read_text()


def test_import_and_a_scenarios_imports_find_the_working_folders_modules(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only --scheduler looked in the working folder: `--import teamprops` failed with
    ModuleNotFoundError from the very folder where `podquake replay` found it."""
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(here))])
    (here / "teamprops2.py").write_text(OWN_PROPERTY.replace("test-cli-every-bind", "test-cli-every-bind-2"))
    result = invoke(
        "run", "--import", "teamprops2", "--scenario", "tiny.yaml", "--properties", "test-cli-every-bind-2",
        "--examples", "2", "--no-database", "--out", "report",
    )
    assert result.exit_code == 1, result.output


def test_bad_input_only_the_replay_can_find_is_one_line_and_exit_2(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An InputError raised while the scenario ran (say, a traffic entry on a node the cluster lacks)
    came out of `podquake replay` as a traceback and exit 3, as if podquake itself had failed."""
    from podquake.chaos import scenario_run

    def run_scenario(scenario: Any, **options: Any) -> Any:
        raise InputError("no node 'worker-9'", source="tiny.yaml", field="traffic[0].entry.node", fix="name a node the cluster has")

    monkeypatch.setattr(scenario_run, "run_scenario", run_scenario)
    assert_one_line_error(invoke("replay", "tiny.yaml"), "tiny.yaml", "traffic[0].entry.node", "worker-9")


MISSPELT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replica: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx, resources: {requests: {cpu: 100m}}}]}
"""


def test_what_the_model_ignores_in_the_manifests_is_said_on_stderr(here: Path) -> None:
    """`replica: 3` ran one replica, and the run passed, without a word: the notes the loader made
    were never shown."""
    (here / "app.yaml").write_text(MISSPELT)
    result = invoke("run", "--manifests", "app.yaml", "--examples", "1", "--no-database", "--out", "report")
    assert "podquake: note: " in result.stderr and "spec.replica: unknown field, ignored (did you mean 'replicas'?)" in result.stderr
    (here / "s.yaml").write_text(TINY.replace("    replicas: 2\n", "    replica: 2\n"))
    replayed = invoke("replay", "s.yaml")
    assert "s.yaml" in replayed.stderr and "did you mean 'replicas'?" in replayed.stderr
    assert "note" not in invoke("replay", "tiny.yaml").stderr


def test_a_quiet_period_too_short_for_a_properties_time_bound_is_said(here: Path) -> None:
    """`quiet: 60` with replicas-converge (300 s) ran and passed: that property could only pass or be
    unknown, never fail. With --properties choosing safety only, there is nothing to say."""
    (here / "s.yaml").write_text(TINY.replace("quiet: 300", "quiet: 60"))
    result = invoke("run", "--scenario", "s.yaml", "--examples", "1", "--no-database", "--out", "report")
    assert result.exit_code == 0
    (line,) = [line for line in result.stderr.splitlines() if "podquake: note:" in line]
    assert "quiet: 60 s is shorter than the time bound of replicas-converge (300 s): it cannot fail" in line
    assert "give at least 300" in line and "quiet: 60" in invoke("replay", "s.yaml").stderr
    safety = invoke("run", "--scenario", "s.yaml", "--properties", "no-overcommit", "--examples", "1", "--no-database", "--out", "report")
    assert "note" not in safety.stderr


def test_a_scenario_with_no_workload_is_refused_like_manifests_with_none(here: Path) -> None:
    """A scenario with no workload passed all 17 properties, having tested nothing (--manifests with
    no workload was already refused)."""
    (here / "empty.yaml").write_text("apiVersion: podquake/v1\nkind: Scenario\ncluster: {nodes: 3}\n")
    for result in (invoke("replay", "empty.yaml"), invoke("run", "--scenario", "empty.yaml", "--out", "report")):
        assert_one_line_error(result, "empty.yaml", "workload", "no workload to run")
    assert_no_report_left(here)


def test_manifests_of_cronjobs_alone_are_refused_as_no_workload(here: Path) -> None:
    """A CronJob-only manifest would run, every property hold and the run exit 0, having tested
    nothing: the model keeps CronJobs as data and runs no pods for them (model/manifests.py _NOT_RUN)."""
    (here / "cron.yaml").write_text(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: pi}\nspec:\n  schedule: '* * * * *'\n  jobTemplate:\n"
        "    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{name: pi, image: perl}]\n"
    )
    result = invoke("run", "--manifests", "cron.yaml", "--examples", "1", "--no-database", "--out", "report")
    assert_one_line_error(result, "cron.yaml", "--manifests", "no workload to run", "CronJobs are kept as data")
    assert_no_report_left(here)


def test_a_manifest_of_jobs_alone_runs_a_campaign_judged_by_jobs_complete(here: Path) -> None:
    """A Job-only manifest was refused as no workload while the model had no Job controller; now its
    Job runs, under faults, and jobs-complete judges it."""
    (here / "job.yaml").write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: pi}\nspec:\n  completions: 3\n  parallelism: 2\n  template:\n    spec:\n"
        "      restartPolicy: Never\n      containers: [{name: pi, image: perl, command: [sleep, '20'], resources: {requests: {cpu: 100m}}}]\n"
    )
    result = invoke("run", "--manifests", "job.yaml", "--examples", "2", "--seed", "3", "--no-database", "--out", "report",
                    "--properties", "jobs-complete,no-overcommit")
    assert result.exit_code == 0, result.output
    report = json.loads((here / "report" / "report.json").read_text())
    assert "jobs-complete" in json.dumps(report)


def test_the_replay_timeline_shows_a_jobs_failed_pods_and_conditions() -> None:
    from podquake.model import trace as ev

    events = [
        ev.JobPodFinished(415.0, "default/train", "default/train-x", "Failed", True, True, "deleted (TaintEviction)"),
        ev.JobConditionChanged(415.0, "default/train", "FailureTarget", True, "BackoffLimitExceeded", "m", 0, 1, 0),
        ev.JobConditionChanged(420.0, "default/other", "Complete", True, "CompletionsReached", "", 3, 0, 6),
    ]
    assert list(timeline_text.timeline_lines(events)) == [
        "   +415s  Job default/train: pod default/train-x failed, counted (deleted (TaintEviction))",
        "   +415s  Job default/train FailureTarget (BackoffLimitExceeded: 1 failed, backoffLimit 0)",
        "   +420s  Job default/other Complete (3 succeeded, 0 failed)",
    ]


def test_the_same_seed_gives_the_same_report_whatever_pythons_hash_seed(tmp_path: Path) -> None:
    """Determinism across processes: str hashes differ with PYTHONHASHSEED, so any order taken from a
    set of names would change the campaign. Two processes, two hash seeds, the sample shop with its
    traffic, load balancer, HPA and volumes: the same report, byte for byte."""
    reports = []
    for hash_seed in ("1", "4242"):
        out = tmp_path / f"report-{hash_seed}"
        done = subprocess.run(
            [sys.executable, "-m", "podquake.chaos", "run", "--examples", "4", "--no-database", "--out", str(out)],
            cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=300,
            env={**os.environ, "PYTHONHASHSEED": hash_seed, "SOURCE_DATE_EPOCH": "1700000000"},
        )
        assert done.returncode == 0, done.stderr
        reports.append((out / "report.json").read_text().replace(str(out), "OUT"))
    assert reports[0] == reports[1]
    assert json.loads(reports[0])["counts"]["faults"] > 0
