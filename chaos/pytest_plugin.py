"""The pytest plugin: podquake inside an ordinary pytest run (entry point ``pytest11``: ``podquake``).

**Verify a scheduler in three lines.** :func:`scheduler_suite` makes a test that runs a chaos
campaign against a scheduler, on generated clusters and workloads (``vary_cluster`` and
``vary_workload``, so it meets CPU-bound and memory-bound placements, small and large clusters), and
judges every property of the library's suite, one test item per property::

    from podquake.chaos.pytest_plugin import scheduler_suite

    test_my_scheduler = scheduler_suite("mypkg.sched:MyScheduler")

``pytest`` then reports ``test_my_scheduler[no-overcommit]``, ``test_my_scheduler[pending-pods-scheduled]``
and so on. The campaign runs once per suite (when its first item runs) and every item reads it.
A property that failed fails its item with the shrunk fault list, the seeds and a paste-and-run
reproducer (the counterexample scenario inline, in a test that calls
``run_scenario(load_scenario(SCENARIO))``); a property that could not be judged in any example
(too little traffic, say) is skipped with the reason.

**Options** (under "podquake chaos testing" in ``pytest --help``); they apply to every suite of the run:

- ``--podquake-scheduler=NAME|MODULE:ATTR``: the scheduler to verify, instead of each suite's own
  (so ``pytest --podquake-scheduler=mypkg.sched:Other`` runs the same suites against another one);
- ``--podquake-seed=N``: the campaign seed (default: each suite's, 0 unless given); the same seed
  gives the same verdicts and counterexamples;
- ``--podquake-examples=N``: examples per campaign (default: each suite's, :data:`DEFAULT_EXAMPLES`
  unless given: small enough for a test run; raise it for a deeper search);
- ``--podquake-report=DIR``: write each campaign's report (``index.html``, ``report.json``,
  ``junit.xml``, ``summary.md``, ``counterexample-*.yaml``) into ``DIR``, or into ``DIR/<module>.<test>``
  when several suites ran; a failure then names the file to give ``podquake replay``.

Found counterexamples are kept in pytest's cache folder (``.pytest_cache/d/podquake``) and replayed
first by the next run with the same settings; ``--cache-clear`` forgets them.

**Fixtures**: ``podquake_cluster`` (the default cluster, a
:class:`~podquake.model.cluster.ClusterSpec`), ``podquake_simulation`` (a fresh
:class:`~podquake.model.simulation.Simulation` of it with the options' scheduler and seed) and
``podquake_settings`` (a :class:`~podquake.chaos.campaign.CampaignSettings` for the sample shop,
from the options, to pass to :func:`~podquake.chaos.campaign.run_campaign`, changed with
:func:`dataclasses.replace` as needed).

The plugin is loaded by every pytest run where podquake is installed, so this module imports only
pytest and the standard library itself: Hypothesis, the campaign runner and the reports load when a
fixture or a suite needs them. (Importing it runs the package's ``podquake/chaos/__init__.py``,
which loads the model: about a second, once per pytest run.)
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from podquake.chaos.campaign import CampaignResult, CampaignSettings, Counterexample
    from podquake.chaos.scenario import Scenario
    from podquake.model.cluster import ClusterSpec
    from podquake.model.simulation import Simulation

__all__ = [
    "DEFAULT_EXAMPLES",
    "DEFAULT_MAX_FAULTS",
    "OPTION_EXAMPLES",
    "OPTION_REPORT",
    "OPTION_SCHEDULER",
    "OPTION_SEED",
    "SchedulerSuite",
    "reproducer",
    "scheduler_suite",
]

OPTION_SCHEDULER = "--podquake-scheduler"
OPTION_SEED = "--podquake-seed"
OPTION_EXAMPLES = "--podquake-examples"
OPTION_REPORT = "--podquake-report"

DEFAULT_EXAMPLES = 20
"""Examples per suite when neither the suite nor ``--podquake-examples`` says: a test-run budget."""

DEFAULT_MAX_FAULTS = 8
"""The most faults one example injects (as ``podquake run``)."""

_PARAMETER = "podquake_property"

IMPORT_IN_A_TEST_FILE = "import that module at the top of the test file (import myteam.props), or name it under the scenario's imports:"
"""How a property of one's own becomes known to a :func:`scheduler_suite` (an unknown id's fix)."""


# === options ========================================================================================
def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} examples: give at least 1")
    return value


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("podquake", "podquake chaos testing")
    group.addoption(
        OPTION_SCHEDULER,
        dest="podquake_scheduler",
        default=None,
        metavar="NAME|MODULE:ATTR",
        help="scheduler the podquake suites verify (overrides each suite's), and the podquake_simulation fixture's",
    )
    group.addoption(OPTION_SEED, dest="podquake_seed", type=int, default=None, metavar="N", help="podquake campaign seed (default: each suite's, 0)")
    group.addoption(
        OPTION_EXAMPLES,
        dest="podquake_examples",
        type=_count,
        default=None,
        metavar="N",
        help=f"chaos examples per podquake suite (default: each suite's, {DEFAULT_EXAMPLES})",
    )
    group.addoption(OPTION_REPORT, dest="podquake_report", default=None, metavar="DIR", help="write each podquake campaign's report into DIR")


_CONFIGS: list[pytest.Config] = []
"""The pytest runs in progress (innermost last; pytester nests them), so that :func:`scheduler_suite`
can tell at import whether ``--podquake-scheduler`` overrides the suite's scheduler."""


def pytest_configure(config: pytest.Config) -> None:
    _CONFIGS.append(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    if config in _CONFIGS:
        _CONFIGS.remove(config)


def _scheduler_overridden() -> bool:
    """Whether the current pytest run gives ``--podquake-scheduler`` (which wins over each suite's)."""
    if not _CONFIGS:
        return False
    try:
        return _CONFIGS[-1].getoption("podquake_scheduler") is not None
    except ValueError:  # the options were not added (not expected when the hooks ran)
        return False


@dataclass(frozen=True)
class _Options:
    scheduler: str | None
    seed: int | None
    examples: int | None
    report: Path | None


def _options(config: pytest.Config) -> _Options:
    report = config.getoption("podquake_report")
    return _Options(
        scheduler=config.getoption("podquake_scheduler"),
        seed=config.getoption("podquake_seed"),
        examples=config.getoption("podquake_examples"),
        report=Path(report) if report else None,
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    options = _options(config)
    given = [
        f"{name}={value}"
        for name, value in (("scheduler", options.scheduler), ("seed", options.seed), ("examples", options.examples), ("report", options.report))
        if value is not None
    ]
    return f"podquake: {', '.join(given)}" if given else None


# === fixtures =======================================================================================
@pytest.fixture
def podquake_cluster() -> ClusterSpec:
    """The default cluster: six 4-CPU, 16 GiB workers across three zones."""
    from podquake.model.cluster import ClusterSpec

    return ClusterSpec.default()


@pytest.fixture
def podquake_simulation(request: pytest.FixtureRequest, podquake_cluster: ClusterSpec) -> Simulation:
    """A fresh simulation of ``podquake_cluster`` with ``--podquake-scheduler`` and ``--podquake-seed``."""
    from podquake.model.errors import InputError
    from podquake.model.simulation import Simulation

    options = _options(request.config)
    try:
        return Simulation(podquake_cluster, seed=options.seed or 0, scheduler=options.scheduler)
    except InputError as error:
        problem = f"{OPTION_SCHEDULER}: {error}"
    pytest.fail(problem, pytrace=False)


@pytest.fixture
def podquake_settings(request: pytest.FixtureRequest) -> CampaignSettings:
    """Campaign settings for the sample shop, from the options (scheduler, seed, examples); the
    counterexample database is pytest's cache. Swap the base or vary it with ``dataclasses.replace``."""
    from podquake.chaos.campaign import CampaignSettings
    from podquake.model.errors import InputError

    options = _options(request.config)
    try:
        base = _base_scenario(None, options.scheduler)
    except InputError as error:
        problem = f"{OPTION_SCHEDULER}: {error}"
    else:
        return CampaignSettings(
            base=base,
            examples=options.examples or DEFAULT_EXAMPLES,
            seed=options.seed or 0,
            max_faults=DEFAULT_MAX_FAULTS,
            database=_database(request.config),
        )
    pytest.fail(problem, pytrace=False)


def _database(config: pytest.Config) -> str | None:
    """Where counterexamples are kept: pytest's cache (None when the cache plugin is off)."""
    cache = getattr(config, "cache", None)
    return str(cache.mkdir("podquake")) if cache is not None else None


def _base_scenario(scenario: Scenario | str | Path | None, scheduler: str | None, *, warn: bool = True) -> Scenario:
    from dataclasses import replace

    from podquake.chaos.scenario import Scenario, load_scenario

    if scenario is None:
        from podquake.chaos.cli import default_scenario_text

        base = load_scenario(default_scenario_text(), source="<embedded default scenario>")
    elif isinstance(scenario, Scenario):
        base = scenario
    else:
        base = load_scenario(scenario)
    if scheduler is not None:
        _check_scheduler(scheduler)
        base = replace(base, scheduler=scheduler)
    if warn:
        _warn_notes(base)
    return base


def _warn_notes(base: Scenario) -> None:
    """A warning (in pytest's summary) for each of the scenario's notes
    (:func:`~podquake.chaos.scenario.scenario_notes`): a misspelt field, or a quiet period too short
    for a property to fail, would otherwise go unnoticed while the suite passes."""
    import warnings

    from podquake.chaos.scenario import scenario_notes

    for note in scenario_notes(base):
        warnings.warn(f"podquake: {note}", UserWarning, stacklevel=2)


def _check_scheduler(name: str) -> None:
    """Load the scheduler once now, so a bad name fails before anything runs (InputError naming it)."""
    import random

    from podquake.model.scheduling.registry import resolve_scheduler

    resolve_scheduler(name, rng=random.Random(0))


# === the ready-made suite ===========================================================================
@dataclass(frozen=True, eq=False)
class SchedulerSuite:
    """What :func:`scheduler_suite` runs (see there); one object per suite, which keys its campaign."""

    scheduler: str | None = None
    examples: int | None = None
    seed: int = 0
    scenario: Scenario | str | Path | None = None
    properties: tuple[str, ...] | None = None
    kinds: tuple[str, ...] | None = None
    max_faults: int = DEFAULT_MAX_FAULTS
    vary_cluster: bool = True
    vary_workload: bool = True
    property_ids: tuple[str, ...] = field(default=(), init=False)

    def settings(self, options: _Options, database: str | None) -> CampaignSettings:
        """The campaign these options ask for (the options win over the suite's own values)."""
        from podquake.chaos.campaign import CampaignSettings

        base = _base_scenario(self.scenario, options.scheduler or self.scheduler, warn=False)  # warned when defined
        if self.properties is not None:  # a subset keeps the parameters the scenario gave each kept property
            base = base.with_properties(self.properties)
        extra: dict[str, Any] = {} if self.kinds is None else {"kinds": self.kinds}
        return CampaignSettings(
            base=base,
            examples=options.examples or self.examples or DEFAULT_EXAMPLES,
            seed=self.seed if options.seed is None else options.seed,
            max_faults=self.max_faults,
            database=database,
            vary_cluster=self.vary_cluster,
            vary_workload=self.vary_workload,
            **extra,
        )


def scheduler_suite(
    scheduler: str | type | Callable[..., Any] | None = None,
    *,
    examples: int | None = None,
    seed: int = 0,
    scenario: Scenario | str | Path | None = None,
    properties: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    max_faults: int = DEFAULT_MAX_FAULTS,
    vary_cluster: bool = True,
    vary_workload: bool = True,
) -> Callable[..., None]:
    """A test that verifies ``scheduler`` against every property, under chaos; assign it to a
    ``test_*`` name in a test module (see the module docstring).

    ``scheduler``: a built-in name, an entry point, ``MODULE:ATTR``, or an importable class or
    factory (written down as ``MODULE:ATTR``, so counterexample files can name it); None: the
    default scheduler. ``--podquake-scheduler`` overrides it.
    ``examples`` (default :data:`DEFAULT_EXAMPLES`) and ``seed``: the campaign's, overridden by
    ``--podquake-examples`` and ``--podquake-seed``.
    ``scenario``: the base scenario (a :class:`~podquake.chaos.scenario.Scenario`, YAML text or a
    path, relative to the folder of the test module calling this, as ``ClusterMachine.scenario``): its durations, traffic and properties, and its cluster and workload unless varied;
    default: the sample shop. ``properties``: property ids to judge instead of the scenario's (the
    library's suite); each keeps the parameters the scenario gives it (others get their defaults),
    and the scenario's ``imports:`` are imported before the ids are checked. ``kinds``: the fault
    kinds to draw (default: the campaign's), ``max_faults`` per example. ``vary_cluster`` / ``vary_workload``: draw clusters and workloads rather than take
    the scenario's (both by default: a scheduler should work on any).

    Bad arguments raise :class:`~podquake.model.errors.InputError` here, when the test module is
    imported (a collection error), not when the test runs: so does a scheduler that cannot be found
    or created, unless ``--podquake-scheduler`` replaces it in this run (then that one is checked
    when the suite runs).
    """
    from podquake.chaos.scenario import Scenario
    from podquake.model.errors import InputError
    from podquake.properties.registry import UnknownPropertyError

    name = _scheduler_name(scheduler)
    for flag, value in (("vary_cluster", vary_cluster), ("vary_workload", vary_workload)):
        if not isinstance(value, bool):
            raise InputError(f"{flag} must be True or False, not {value!r}", field=flag, fix=f"e.g. {flag}=False")
    if examples is not None and (isinstance(examples, bool) or not isinstance(examples, int) or examples < 1):
        raise InputError(f"examples must be a whole number >= 1, not {examples!r}", field="examples", fix="e.g. examples=20")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InputError(f"seed must be a whole number, not {seed!r}", field="seed", fix="e.g. seed=0")
    if isinstance(max_faults, bool) or not isinstance(max_faults, int) or max_faults < 0:
        raise InputError(f"max_faults must be a whole number >= 0, not {max_faults!r}", field="max_faults", fix="e.g. max_faults=8")
    if scenario is not None and not isinstance(scenario, (Scenario, str, Path)):
        raise InputError(f"scenario must be a Scenario, YAML text or a path, not {type(scenario).__name__}", field="scenario", fix="e.g. scenario='my-scenario.yaml'")
    if kinds is not None:
        from podquake.chaos.strategies import faults

        kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
        faults(kinds)  # refuses unknown kinds now
    if properties is not None:
        properties = (properties,) if isinstance(properties, str) else tuple(properties)
        if not properties:
            raise InputError(
                "properties is empty: the suite would judge nothing",
                field="properties",
                fix="list property ids, e.g. properties=['no-overcommit'], or leave properties out to judge the scenario's (the library's suite)",
            )
    if isinstance(scenario, (str, Path)):
        scenario = _from_callers_folder(scenario, sys._getframe(1))
    base = _base_scenario(scenario, None, warn=False)  # first: its imports: register properties that properties= may name
    if properties is not None:
        try:
            base = base.with_properties(properties)
        except UnknownPropertyError as error:
            raise error.told(IMPORT_IN_A_TEST_FILE, source="", field="properties") from None
        except InputError as error:
            raise InputError(error.message, field=error.field, fix=error.fix) from None
    _warn_notes(base)  # of the properties it judges
    ids = base.suite().ids
    if name is not None and not _scheduler_overridden():
        _check_scheduler(name)  # a bad name fails the module's collection, naming it and the known ones
    spec = SchedulerSuite(
        scheduler=name,
        examples=examples,
        seed=seed,
        scenario=scenario,
        properties=properties,  # type: ignore[arg-type]
        kinds=kinds,  # type: ignore[arg-type]
        max_faults=max_faults,
        vary_cluster=vary_cluster,
        vary_workload=vary_workload,
    )
    object.__setattr__(spec, "property_ids", ids)

    def test(request: pytest.FixtureRequest, podquake_property: str) -> None:
        run = _campaign(request, spec)
        _judge(run, podquake_property)

    test.__doc__ = f"podquake: scheduler {name or 'default'} against every property, under generated chaos."
    test._podquake_suite = spec  # type: ignore[attr-defined]
    return pytest.mark.parametrize(_PARAMETER, ids, ids=list(ids))(test)


def _from_callers_folder(scenario: str | Path, caller: FrameType) -> str | Path:
    """``scenario`` as the module calling :func:`scheduler_suite` means it: a relative path is
    relative to that module's folder (as ``ClusterMachine.scenario`` and a scenario's own workload
    paths are), whatever folder pytest runs from; YAML text and absolute paths as they are."""
    from podquake.chaos.scenario import names_a_file
    from podquake.model.errors import InputError

    if not names_a_file(scenario) or Path(scenario).is_absolute():
        return scenario
    file = caller.f_globals.get("__file__")
    path = Path(file).resolve().parent / scenario if file else Path(scenario)
    if not path.is_file():
        raise InputError(
            f"no such scenario file: {path}",
            field="scenario",
            fix="give a path relative to the folder of the test module that calls scheduler_suite (or an absolute one), YAML text or a Scenario",
        )
    return path


def _scheduler_name(scheduler: Any) -> str | None:
    """A scheduler as a scenario names it: a string as it is; an importable class or function as ``MODULE:ATTR``."""
    from podquake.model.errors import InputError

    if scheduler is None:
        return None
    if isinstance(scheduler, str):
        if not scheduler.strip():
            raise InputError("the scheduler name is empty", field="scheduler", fix="give a name such as 'default', or MODULE:ATTR")
        return scheduler
    module = getattr(scheduler, "__module__", None)
    qualname = getattr(scheduler, "__qualname__", None)
    if callable(scheduler) and module and qualname and "<locals>" not in qualname and module != "__main__":
        return f"{module}:{qualname}"
    raise InputError(
        f"cannot name the scheduler {scheduler!r} in a scenario file",
        field="scheduler",
        fix="give a built-in name, 'MODULE:ATTR', or a class or function defined at the top level of an importable module",
    )


# === running the campaign once per suite ============================================================
@dataclass
class _Run:
    """One suite's campaign in this pytest session (or the error that stopped it)."""

    label: str
    settings: CampaignSettings | None = None
    result: CampaignResult | None = None
    error: str = ""  # bad input: every item fails with it
    crash: BaseException | None = None  # podquake itself broke: every item raises it
    report: Path | None = None
    files: dict[str, str] = field(default_factory=dict)  # property id -> counterexample file written


_RUNS = pytest.StashKey[dict[tuple[int, _Options], _Run]]()
_SUITES = pytest.StashKey[list[str]]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Note which suites were collected, so a lone suite writes its report straight into ``DIR``."""
    labels: dict[str, None] = {}
    for item in items:
        function = getattr(item, "function", None)
        if getattr(function, "_podquake_suite", None) is not None:
            labels[_label(item)] = None
    config.stash[_SUITES] = list(labels)


def _label(item: Any) -> str:
    module = getattr(getattr(item, "module", None), "__name__", "tests")
    name = getattr(item, "originalname", None) or item.name
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{module}.{name}")


def _campaign(request: pytest.FixtureRequest, spec: SchedulerSuite) -> _Run:
    config = request.config
    options = _options(config)
    runs = config.stash.setdefault(_RUNS, {})
    key = (id(spec), options)
    run = runs.get(key)
    if run is None:
        run = runs[key] = _run_campaign(config, spec, options, _label(request.node))
    return run


def _run_campaign(config: pytest.Config, spec: SchedulerSuite, options: _Options, label: str) -> _Run:
    from podquake.chaos.campaign import run_campaign
    from podquake.model.errors import InputError

    run = _Run(label)
    try:
        run.settings = spec.settings(options, _database(config))
    except InputError as error:
        run.error = f"cannot run the suite: {error}"
        return run
    try:
        run.result = run_campaign(run.settings)
    except InputError as error:  # e.g. a plug-in whose runs do not repeat
        run.error = f"cannot run the suite: {error}"
        return run
    except Exception as error:  # noqa: BLE001 - kept, and raised by each item of the suite
        run.crash = error
        return run
    if run.result.interrupted:
        raise KeyboardInterrupt
    if options.report is not None:
        suites = config.stash.get(_SUITES, [])
        run.report = options.report if len(suites) <= 1 else options.report / label
        try:
            _write_report(run)
        except InputError as error:
            run.error = f"cannot write the report: {error}"
    return run


def _write_report(run: _Run) -> None:
    from datetime import UTC, datetime

    from podquake.chaos.record import campaign_record
    from podquake.reports import write_report

    assert run.result is not None and run.report is not None
    started = datetime.now(UTC).isoformat(timespec="seconds")  # the record's one wall-clock field
    settings = run.result.settings
    record, files = campaign_record(
        run.result,
        started=started,
        scheduler=settings.base.scheduler or "default",
        extra_settings={"source": "pytest", "test": run.label, "vary_cluster": settings.vary_cluster, "vary_workload": settings.vary_workload},
        report_dir=run.report,
    )
    write_report(record, run.report, counterexample_files=files)
    run.files = {entry["property"]: entry["file"] for entry in record["counterexamples"]}


def _judge(run: _Run, property_id: str) -> None:
    if run.crash is not None:
        raise run.crash
    if run.error:
        pytest.fail(f"podquake: {run.error}", pytrace=False)
    result = run.result
    assert result is not None
    found = result.counterexample(property_id)
    if found is not None:
        pytest.fail(_failure_text(run, found), pytrace=False)
    if result.failed.get(property_id):
        pytest.fail(result.first[property_id].line(), pytrace=False)
    unknown = result.unknown.get(property_id, 0)
    if result.examples and unknown == result.examples:
        pytest.skip(f"podquake: {property_id} could not be judged in any of the {result.examples} examples")


# === what a failure prints ==========================================================================
def _failure_text(run: _Run, counterexample: Counterexample) -> str:
    """The failure of one property: verdict, shrunk faults, seeds, reproducer, replay command."""
    from podquake.reports.record import examples_text

    result = run.result
    assert result is not None
    settings = result.settings
    scenario = counterexample.scenario
    scheduler = scenario.scheduler or "default"
    verdict = next((v for v in counterexample.verdicts if v.property == counterexample.property), None)
    count = result.failed.get(counterexample.property, 0)
    first = result.first_failed_at.get(counterexample.property)
    found = f"; the first was example {first}" if first is not None else ""
    where = f"in {count} of {examples_text(result.examples)}{found}" if count else "in a run made while shrinking another property's failure"
    lines = [
        f"podquake: scheduler {scheduler!r} violated {counterexample.property} ({where})",
        verdict.line() if verdict is not None else counterexample.message,
        "",
        f"{'Shrunk' if counterexample.shrunk else 'First failing (not shrunk)'} fault list ({len(counterexample.faults)}):",
    ]
    lines += [f"  {fault!r}" for fault in counterexample.faults] or ["  (none: it fails without any fault)"]
    lines += [
        "",
        (
            f"Seed: campaign {settings.seed} ({OPTION_SEED}={settings.seed} {OPTION_EXAMPLES}={settings.examples}); "
            f"the counterexample's simulation seed {scenario.seed} (in the scenario below)"
        ),
        "",
        "Reproduce: paste into a test file (or run it with python):",
        "# " + "-" * 40,
        reproducer(counterexample),
        "# " + "-" * 40,
    ]
    file = run.files.get(counterexample.property)
    if file is not None and run.report is not None:
        from podquake.reports.record import replay_command

        lines += ["", f"Or replay the report's file: {replay_command(file, run.report)}"]
    return "\n".join(lines)


def reproducer(counterexample: Counterexample) -> str:
    """Python that re-runs ``counterexample``'s scenario (inline as YAML) and fails while the bug is there."""
    from podquake.chaos.campaign import absolute_paths
    from podquake.chaos.scenario import dump_scenario
    from podquake.reports.snippet import inline_reproducer

    return inline_reproducer(dump_scenario(absolute_paths(counterexample.scenario)), counterexample.property)


# === the terminal summary ===========================================================================
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    from podquake.reports.record import examples_text

    runs = config.stash.get(_RUNS, {})
    if not runs:
        return
    terminalreporter.section("podquake")
    for run in runs.values():
        if run.result is None:
            terminalreporter.write_line(f"{run.label}: not run: {run.error or repr(run.crash)}")
            continue
        result = run.result
        ids = result.property_ids
        failed = result.failed_properties()
        unjudged = [i for i in ids if i not in failed and result.examples and result.unknown.get(i, 0) == result.examples]
        line = (
            f"{run.label}: scheduler {result.settings.base.scheduler or 'default'}, seed {result.settings.seed}, "
            f"{examples_text(result.examples)} in {result.seconds:.1f} s, "
            f"{len(ids) - len(failed) - len(unjudged)} of {len(ids)} properties held"
        )
        if failed:
            line += f", failed: {', '.join(failed)}"
        if unjudged:
            line += f", not judged: {', '.join(unjudged)}"
        if run.error:
            line += f"; {run.error}"
        elif run.report is not None:
            line += f"; report {run.report / 'index.html'}"
        terminalreporter.write_line(line)
