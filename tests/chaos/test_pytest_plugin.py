"""The pytest plugin, run in pytester sessions: options, fixtures, the ready-made scheduler suite
(a scheduler that passes, one that ignores memory and fails with its shrunk faults, seeds and a
reproducer that runs), the report option, and the errors a user can make."""

from __future__ import annotations

import warnings
from importlib.metadata import entry_points

import podquake.chaos.campaign
import podquake.chaos.cli
import podquake.chaos.record
import podquake.reports.plots
import pytest
from podquake.chaos.pytest_plugin import (
    DEFAULT_EXAMPLES,
    _scheduler_name,
    scheduler_suite,
)
from podquake.chaos.scenario import load_scenario
from podquake.chaos.scenario_run import run_scenario
from podquake.model.errors import InputError
from podquake.properties import Suite
from podquake.reports.snippet import python_text

from tests.chaos.kit import LIMIT_PROPERTY

pytest_plugins = ["pytester"]

PRELOADED = (podquake.chaos.campaign, podquake.chaos.cli, podquake.chaos.record, podquake.reports.plots)
"""Loaded here, so that the pytester runs, which unload the modules they import, do not import the
campaign, the CLI and the reports (with matplotlib) again each time."""

MEMSCHED = '''
class MemoryBlind:
    """Spreads pods over the nodes with the fewest pods; checks CPU, forgets memory."""

    name = "memory-blind"

    def schedule(self, pod, cluster):
        fits = [n for n in cluster.nodes if n.ready and not n.unschedulable and pod.requests.cpu_millis <= n.free.cpu_millis]
        return min(fits, key=lambda n: n.pod_count).name if fits else None
'''

# Three 3Gi pods on three 4Gi nodes: one per node, until a drain sends one to a node that is full.
SMALL = '''"""
apiVersion: podquake/v1
kind: Scenario
duration: 60
quiet: 60
cluster: {nodes: 3, zones: 1, memory: 4Gi}
workload:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: big}
  spec:
    replicas: 3
    selector: {matchLabels: {app: big}}
    template:
      metadata: {labels: {app: big}}
      spec:
        containers: [{name: app, image: big:1, resources: {requests: {cpu: 100m, memory: 3Gi}}}]
"""'''

HEADER = f"from podquake.chaos.pytest_plugin import scheduler_suite\n\nSCENARIO = {SMALL}\n"


def suite_line(name: str, scheduler: str | None = None) -> str:
    """A suite on SMALL: only drains, three properties (even-load cannot be judged without traffic)."""
    first = f"{scheduler!r}, " if scheduler else ""
    return (
        f"\ntest_{name} = scheduler_suite({first}scenario=SCENARIO, examples=6, kinds=['node-drain'], max_faults=3,\n"
        "    vary_cluster=False, vary_workload=False, properties=['scheduler-contract', 'no-overcommit', 'even-load'])\n"
    )


def small_suite(name: str, scheduler: str | None = None) -> str:
    return HEADER + suite_line(name, scheduler)


@pytest.fixture
def memsched(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(memsched=MEMSCHED)
    pytester.syspathinsert()
    return pytester


def test_the_plugin_is_installed_as_a_pytest11_entry_point():
    found = {e.name: e.value for e in entry_points(group="pytest11")}
    assert found.get("podquake") == "podquake.chaos.pytest_plugin"


def test_help_lists_the_options_in_their_group(pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["podquake chaos testing:", "*--podquake-scheduler=NAME|MODULE:ATTR*"])
    for option in ("--podquake-seed=N", "--podquake-examples=N", "--podquake-report=DIR"):
        assert option in result.stdout.str()


# --- fixtures -------------------------------------------------------------------------------------------
FIXTURES = """
from podquake.model import ClusterSpec

def test_fixtures(podquake_simulation, podquake_cluster, podquake_settings, pytestconfig):
    expect = {expect}
    assert podquake_cluster == ClusterSpec.default()
    assert podquake_simulation.cluster_spec == podquake_cluster and podquake_simulation.now == 0.0
    assert podquake_simulation.seed == expect["seed"] == podquake_settings.seed
    assert podquake_simulation.scheduler.name == expect["name"]
    assert podquake_settings.base.scheduler == expect["scheduler"] and podquake_settings.base.name == "sample-shop"
    assert podquake_settings.examples == expect["examples"]
    assert podquake_settings.database.startswith(str(pytestconfig.cache.mkdir("podquake")))
"""


def test_the_fixtures_follow_the_options(pytester):
    pytester.makepyfile(FIXTURES.replace("{expect}", repr({"seed": 7, "name": "first-fit", "scheduler": "first-fit", "examples": 5})))
    result = pytester.runpytest("--podquake-seed=7", "--podquake-scheduler=first-fit", "--podquake-examples=5")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["podquake: scheduler=first-fit, seed=7, examples=5"])


def test_the_fixtures_defaults(pytester):
    pytester.makepyfile(FIXTURES.replace("{expect}", repr({"seed": 0, "name": "default", "scheduler": None, "examples": DEFAULT_EXAMPLES})))
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert "podquake:" not in result.stdout.str()


def test_an_unknown_scheduler_stops_the_fixtures_naming_it(pytester):
    pytester.makepyfile("def test_sim(podquake_simulation):\n    pass\n\ndef test_settings(podquake_settings):\n    pass\n")
    result = pytester.runpytest("--podquake-scheduler=no-such-scheduler")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["--podquake-scheduler: *unknown scheduler 'no-such-scheduler'*"] * 2)
    assert "During handling" not in result.stdout.str()


@pytest.mark.parametrize("value", ["0", "many"])
def test_a_bad_example_count_is_a_usage_error(pytester, value):
    result = pytester.runpytest(f"--podquake-examples={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--podquake-examples" in result.stderr.str()


# --- the suite --------------------------------------------------------------------------------------------
def test_a_good_scheduler_passes_every_property_on_varied_clusters(pytester):
    pytester.makepyfile(
        "from podquake.chaos.pytest_plugin import scheduler_suite\n\n"
        "test_least_allocated = scheduler_suite('least-allocated', examples=3)\n"
    )
    result = pytester.runpytest("-v")
    outcomes = result.parseoutcomes()
    ids = Suite.default().ids
    assert outcomes.get("failed", 0) == 0 and outcomes.get("passed", 0) + outcomes.get("skipped", 0) == len(ids)
    result.stdout.fnmatch_lines(["*test_least_allocated[[]no-overcommit[]] PASSED*", "*test_least_allocated[[]scheduler-contract[]] PASSED*"])
    skipped = outcomes.get("skipped", 0)
    result.stdout.fnmatch_lines([f"*scheduler least-allocated, seed 0, 3 examples in * s, {len(ids) - skipped} of {len(ids)} properties held*"])


def test_a_scheduler_that_ignores_memory_fails_with_faults_seed_and_a_reproducer(memsched):
    memsched.makepyfile(test_memory=small_suite("memory", "memsched:MemoryBlind"))
    result = memsched.runpytest("--podquake-report=report", "-rs")
    result.assert_outcomes(failed=1, passed=1, skipped=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*podquake: scheduler 'memsched:MemoryBlind' violated scheduler-contract*",
            "FAILED scheduler-contract at t=*lacks memory*",
            "Shrunk fault list (1):",
            "  NodeDrain(node=0, at=*)",
            "Seed: campaign 0 (--podquake-seed=0 --podquake-examples=6); the counterexample's simulation seed *",
            "Or replay the report's file: podquake replay report/counterexample-1.yaml",
        ]
    )
    result.stdout.fnmatch_lines(["SKIPPED * podquake: even-load could not be judged in any of the 6 examples"])  # all 6 ran (the campaign went on after its failure)
    # The reproducer is Python that fails the same way, pasted as it is.
    code = out.split("# " + "-" * 40 + "\n")[1]
    assert "scheduler: memsched:MemoryBlind" in code and "run_scenario(load_scenario(SCENARIO))" in code
    namespace: dict[str, object] = {}
    exec(compile(code, "reproducer", "exec"), namespace)  # noqa: S102 - the plugin's own output, as a user would paste it
    with pytest.raises(AssertionError, match="FAILED scheduler-contract"):
        namespace["test_scheduler_contract_counterexample"]()  # type: ignore[operator]
    # The report holds it too, as a file that replays.
    report = memsched.path / "report"
    assert {"index.html", "report.json", "junit.xml", "summary.md", "counterexample-1.yaml"} <= {p.name for p in report.iterdir()}
    replayed = run_scenario(load_scenario(report / "counterexample-1.yaml"))
    assert [v.property for v in replayed.failed] == ["scheduler-contract"]
    # And pytest's cache keeps it for the next run to try first.
    assert list((memsched.path / ".pytest_cache" / "d" / "podquake").glob("*/*.yaml"))


def test_the_options_override_the_suite(memsched):
    memsched.makepyfile(test_default=small_suite("default"))
    passing = memsched.runpytest("--podquake-seed=7", "--podquake-examples=2")
    passing.assert_outcomes(passed=2, skipped=1)  # the default scheduler respects memory
    passing.stdout.fnmatch_lines(["*test_default.test_default: scheduler default, seed 7, 2 examples in *, 2 of 3 properties held, not judged: even-load"])
    failing = memsched.runpytest("--podquake-scheduler=memsched:MemoryBlind")
    failing.assert_outcomes(failed=1, passed=1, skipped=1)
    failing.stdout.fnmatch_lines(["*scheduler 'memsched:MemoryBlind' violated scheduler-contract*"])


def test_several_suites_write_one_report_folder_each(memsched):
    memsched.makepyfile(test_two=HEADER + suite_line("one") + suite_line("two"))
    result = memsched.runpytest("--podquake-report=out", "--podquake-examples=1")
    assert result.parseoutcomes().get("failed", 0) == 0
    assert sorted(p.name for p in (memsched.path / "out").iterdir()) == ["test_two.test_one", "test_two.test_two"]
    assert (memsched.path / "out" / "test_two.test_one" / "report.json").is_file()


def test_a_report_folder_that_cannot_be_written_fails_the_suite(memsched):
    memsched.makepyfile(test_default=small_suite("default"))
    (memsched.path / "taken").mkdir()
    (memsched.path / "taken" / "notes.txt").write_text("mine")
    result = memsched.runpytest("--podquake-report=taken", "--podquake-examples=1")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["*podquake: cannot write the report: taken*not part of a podquake report*"])
    assert (memsched.path / "taken" / "notes.txt").read_text() == "mine"


def test_a_suite_that_cannot_start_fails_each_item_with_the_reason(pytester):
    pytester.makepyfile(
        "from podquake.chaos.pytest_plugin import scheduler_suite\n\n"
        "test_missing = scheduler_suite('first-fit', properties=['no-overcommit', 'single-binding'])\n"
    )
    result = pytester.runpytest("--podquake-scheduler=nowhere.sched:Gone")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*podquake: cannot run the suite: *nowhere.sched:Gone*"])


UNKNOWN_SCHEDULER_SUITE = (
    "from podquake.chaos.pytest_plugin import scheduler_suite\n\n"
    "test_missing = scheduler_suite('nosuch-scheduler', properties=['no-overcommit', 'single-binding'])\n"
)


def test_an_unknown_scheduler_fails_the_module_at_collection_naming_it_the_known_ones_and_the_fix(pytester):
    pytester.makepyfile(test_unknown=UNKNOWN_SCHEDULER_SUITE)
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting test_unknown.py*",
            "*unknown scheduler 'nosuch-scheduler'; known: default, least-allocated, first-fit*(fix: *MODULE:ATTR*",
        ]
    )
    assert "podquake: cannot run the suite" not in result.stdout.str()


def test_the_scheduler_option_wins_so_the_suites_own_is_not_checked_at_import(pytester):
    pytester.makepyfile(test_unknown=UNKNOWN_SCHEDULER_SUITE)
    result = pytester.runpytest("--podquake-scheduler=first-fit", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*test_missing[[]no-overcommit[]]", "*test_missing[[]single-binding[]]"])


def test_a_module_attr_scheduler_is_imported_and_created_when_the_suite_is_defined(pytester):
    pytester.makepyfile(
        needs="class Weighted:\n    name = 'weighted'\n    def __init__(self, weight):\n        self.weight = weight\n"
        "    def schedule(self, pod, cluster):\n        return None\n",
        test_needs="from podquake.chaos.pytest_plugin import scheduler_suite\n\n"
        "test_weighted = scheduler_suite('needs:Weighted', properties=['no-overcommit'])\n",
    )
    pytester.syspathinsert()
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*scheduler 'needs:Weighted' needs argument 'weight'; podquake can only give it rng*"])


# --- scheduler_suite's arguments ----------------------------------------------------------------------------
class Importable:
    name = "importable"

    def schedule(self, pod, cluster):  # type: ignore[no-untyped-def]
        return None


def test_a_scheduler_class_is_named_module_colon_attr():
    assert _scheduler_name(Importable) == f"{__name__}:Importable"
    assert _scheduler_name("least-allocated") == "least-allocated" and _scheduler_name(None) is None

    class Local:
        pass

    with pytest.raises(InputError, match="cannot name the scheduler"):
        _scheduler_name(Local)
    with pytest.raises(InputError, match="cannot name the scheduler"):
        _scheduler_name(Importable())


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"examples": 0}, "examples"),
        ({"seed": "7"}, "seed"),
        ({"max_faults": -1}, "max_faults"),
        ({"kinds": ["meteor-strike"]}, "kinds"),
        ({"properties": ["no-such-property"]}, "properties"),
        ({"scenario": 42}, "scenario"),
        ({"properties": []}, "properties"),
        ({"vary_cluster": "no"}, "vary_cluster"),
        ({"vary_workload": 0}, "vary_workload"),
        ({}, "scheduler"),  # with scheduler="nosuch-scheduler" below
    ],
)
def test_bad_arguments_fail_when_the_suite_is_defined(kwargs, field):
    with pytest.raises(InputError) as caught:
        scheduler_suite("least-allocated" if kwargs else "nosuch-scheduler", **kwargs)
    assert caught.value.field == field and caught.value.fix
    if field == "properties" and kwargs["properties"] == []:
        assert "properties is empty" in str(caught.value)


def test_the_suite_is_one_test_per_property():
    test = scheduler_suite(properties=["no-overcommit", "single-binding"])
    (mark,) = test.pytestmark  # type: ignore[attr-defined]
    assert mark.name == "parametrize" and mark.args == ("podquake_property", ("no-overcommit", "single-binding"))


@pytest.mark.parametrize(
    ("text", "triple_quoted"),
    [("kind: Scenario\nname: 'plain'\n", True), ("b: back\\slash\n", False), ('ends with a quote"', False), ('three """ quotes\n', False)],
)
def test_the_scenario_text_reads_back_exactly_as_python(text, triple_quoted):
    literal = python_text(text)
    assert eval(literal) == text  # our own literal
    assert literal.startswith('"""') == triple_quoted


# A stand-in simulation (set up by conftest.py) whose first failing run never fails again: what a
# plug-in that keeps state between runs does to a campaign.
FAILS_ONCE = '''
import podquake.chaos.campaign_chunk as chunk
from podquake.properties import FAILED, Verdict


class Run:
    def __init__(self, verdicts):
        self.verdicts = verdicts
        self.failed = [v for v in verdicts if v.status == FAILED]


def pytest_configure(config):
    failed_before = []

    def run_scenario(scenario, **options):
        hit = bool(scenario.faults) and not failed_before
        failed_before.extend([True] if hit else [])
        return Run([Verdict.failed("scheduler-contract", "bad answer") if hit else Verdict.passed("scheduler-contract")])

    chunk.run_scenario = run_scenario
    chunk._steer = lambda run: None
'''


def test_a_scheduler_whose_runs_do_not_repeat_fails_the_suite_with_one_clear_line(pytester, monkeypatch):
    import podquake.chaos.campaign_chunk as chunk

    monkeypatch.setattr(chunk, "run_scenario", chunk.run_scenario)  # restored after the conftest replaces it
    monkeypatch.setattr(chunk, "_steer", chunk._steer)
    pytester.makeconftest(FAILS_ONCE)
    pytester.makepyfile(
        'from podquake.chaos.pytest_plugin import scheduler_suite\n'
        'test_suite = scheduler_suite("first-fit", properties=["scheduler-contract"])\n'
    )
    result = pytester.runpytest("--podquake-scheduler=tests.chaos.test_pytest_plugin:STATEFUL", "--podquake-examples=25")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*cannot run the suite: *scheduler 'tests.chaos.test_pytest_plugin:STATEFUL' made the same example give different results*"])
    assert "Traceback" not in result.stdout.str() and "FlakyFailure(" not in result.stdout.str()


class _Stateful:
    name = "stateful"

    def schedule(self, pod, cluster):
        return None


STATEFUL = _Stateful()


def test_the_suite_warns_of_what_the_model_ignores_in_its_manifests(tmp_path) -> None:
    """A misspelt field in the suite's scenario went unnoticed while the suite passed."""
    from tests.chaos.kit import TINY_SCENARIO

    path = tmp_path / "s.yaml"
    path.write_text(TINY_SCENARIO.replace("    replicas: 2\n", "    replica: 2\n"))
    with pytest.warns(UserWarning, match=r"spec\.replica: unknown field, ignored \(did you mean 'replicas'\?\)"):
        scheduler_suite(scenario=str(path))


# --- a subset of the scenario's properties -----------------------------------------------------------------
@pytest.mark.parametrize("imported_by_the_test_file", [False, True], ids=["scenario-imports-only", "test-file-imports-too"])
def test_a_subset_keeps_the_scenarios_parameters_and_the_scenarios_imports_come_first(pytester, imported_by_the_test_file):
    """`scheduler_suite(scenario=..., properties=[...])` judged each chosen property with its defaults
    (a scenario's `limit: 1` was lost: the failing check passed), and checked the ids before the
    scenario's `imports:` ran (a property of one's own was "unknown" at collection)."""
    n = int(imported_by_the_test_file)
    module, prop = f"teamlimit{n}", f"test-plugin-bind-limit-{n}"
    pytester.makepyfile(**{module: LIMIT_PROPERTY.format(id=prop)})
    pytester.syspathinsert()
    scenario = SMALL[:-3] + f'imports: [{module}]\nproperties: [no-overcommit, {{{prop}: {{limit: 0}}}}]\n"""'
    pytester.makepyfile(
        test_subset=(f"import {module}  # noqa: F401\n" if imported_by_the_test_file else "")
        + f"from podquake.chaos.pytest_plugin import scheduler_suite\n\nSCENARIO = {scenario}\n\n"
        f"test_subset = scheduler_suite(scenario=SCENARIO, properties=[{prop!r}, 'single-binding'], examples=2,\n"
        "    kinds=['node-drain'], max_faults=1, vary_cluster=False, vary_workload=False)\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([f"*violated {prop}*", f"FAILED {prop} at t=*pods bound > 0*"])


def test_an_unknown_property_says_how_to_make_ones_own_known():
    with pytest.raises(InputError) as caught:
        scheduler_suite(properties=["no-overcomit"])
    assert caught.value.field == "properties" and "did you mean 'no-overcommit'?" in caught.value.fix
    assert "import that module at the top of the test file" in caught.value.fix and "imports:" in caught.value.fix


def test_a_relative_scenario_path_is_read_from_the_test_modules_folder(pytester):
    """`scheduler_suite(scenario="s.yaml")` read the file from wherever pytest ran (a suite in
    tests/ failed to collect when run from the project's root), unlike ClusterMachine.scenario."""
    from tests.chaos.kit import TINY_SCENARIO

    folder = pytester.mkdir("suites")
    (folder / "s.yaml").write_text(TINY_SCENARIO)
    (folder / "test_here.py").write_text(
        "from podquake.chaos.pytest_plugin import scheduler_suite\n\n"
        "test_here = scheduler_suite(scenario='s.yaml', properties=['single-binding'], examples=2, kinds=['node-drain'],\n"
        "    max_faults=1, vary_cluster=False, vary_workload=False)\n"
    )
    (folder / "test_missing.py").write_text(
        "from podquake.chaos.pytest_plugin import scheduler_suite\n\ntest_missing = scheduler_suite(scenario='nowhere.yaml')\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--continue-on-collection-errors", "suites")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([f"*no such scenario file: {folder / 'nowhere.yaml'}*relative to the folder of the test module*"])


def test_the_suite_warns_of_a_quiet_period_too_short_for_the_properties_it_judges(tmp_path) -> None:
    """Its liveness properties could never fail; a subset of safety properties has nothing to fear."""
    from tests.chaos.kit import TINY_SCENARIO

    path = tmp_path / "s.yaml"
    path.write_text(TINY_SCENARIO.replace("quiet: 300", "quiet: 60"))
    with pytest.warns(UserWarning, match=r"quiet: 60 s is shorter than the time bound of replicas-converge \(300 s\): it cannot fail"):
        scheduler_suite(scenario=str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scheduler_suite(scenario=str(path), properties=["no-overcommit"])
