"""The ``podquake`` command: run a chaos campaign, replay a counterexample, render a report, list things.

Exit status: 0 every property held; 1 a property was violated; 2 bad input or usage (one line on
stderr naming the file and field, no traceback, no report folder left behind).

Built with click (argument parsing, ``--help`` text and usage errors with exit status 2, for free)
and rich (the progress bar and the colored summary, through :mod:`podquake.reports`).
"""

from __future__ import annotations

import dataclasses
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

import click

from podquake.model.errors import InputError

__all__ = ["main", "cli"]

DEFAULT_SCENARIO = "default.yaml"


def _fail(error: Exception) -> NoReturn:
    click.echo(f"podquake: error: {error}", err=True)
    sys.exit(2)


@contextmanager
def _input_errors() -> Iterator[None]:
    """Bad input becomes one line on stderr and exit status 2."""
    try:
        yield
    except InputError as error:
        _fail(error)
    except (OSError, ValueError) as error:
        _fail(error)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a campaign the way Ctrl-C does (a partial report is written)."""

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def default_scenario_text() -> str:
    """The embedded default: a sample shop on a six-node, three-zone cluster (chaos/samples/default.yaml)."""
    return resources.files("podquake.chaos").joinpath("samples", DEFAULT_SCENARIO).read_text()


def _base_scenario(scenario: str | None, manifests: str | None, scheduler: str | None, properties: str | None) -> Any:
    from podquake.chaos.scenario import load_scenario

    if scenario is not None:
        base = load_scenario(Path(scenario))
    else:
        base = load_scenario(default_scenario_text(), source="<embedded default scenario>")
    changes: dict[str, Any] = {}
    if manifests is not None:
        path = Path(manifests)
        if not path.exists():
            raise InputError("no such file or folder", source=manifests, field="--manifests", fix="give a Kubernetes YAML file or a folder of them")
        from podquake.chaos.traffic_default import traffic_for

        changes["workload"] = (str(path.resolve()),)
        changes["traffic"] = ()
    if scheduler is not None:
        from podquake.model.scheduling.registry import resolve_scheduler

        try:
            resolve_scheduler(scheduler)
        except InputError:
            raise
        except Exception as error:  # noqa: BLE001 - a plug-in that fails to load is bad input
            raise InputError(f"cannot load scheduler {scheduler!r}: {error}", field="--scheduler", fix="give a built-in name (podquake list schedulers) or MODULE:ATTR") from None
        changes["scheduler"] = scheduler
    if properties is not None:
        ids = tuple((i.strip(), {}) for i in properties.split(",") if i.strip())
        changes["properties"] = ids
    if changes:
        base = dataclasses.replace(base, **changes)
        base.suite()
        if manifests is not None:
            base.manifests()
            base = dataclasses.replace(base, traffic=traffic_for(base))
    return base


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="podquake", prog_name="podquake")
def cli() -> None:
    """Property-based chaos testing of Kubernetes-style orchestration, on a simulated cluster."""


@cli.command()
@click.option("--manifests", type=str, default=None, help="Kubernetes YAML file or folder to run instead of the sample shop.")
@click.option("--scenario", type=str, default=None, help="A podquake scenario file: cluster, workload, traffic, properties.")
@click.option("--scheduler", type=str, default=None, help="Scheduler: a built-in name, an entry point, or MODULE:ATTR.")
@click.option("--examples", type=click.IntRange(min=1), default=100, show_default=True, help="How many chaos examples to run.")
@click.option("--seed", type=int, default=0, show_default=True, help="Campaign seed: the same seed gives the same verdicts.")
@click.option("--out", type=str, default="podquake-report", show_default=True, help="Report folder.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes (verdicts do not depend on it).")
@click.option("--max-faults", type=click.IntRange(min=0), default=8, show_default=True, help="Most faults per example.")
@click.option("--properties", type=str, default=None, help="Comma-separated property ids (default: the library suite).")
@click.option("--faults", "fault_kinds", type=str, default=None, help="Comma-separated fault kinds to draw (podquake list faults).")
@click.option("--no-database", is_flag=True, help="Do not replay or keep counterexamples in .podquake/.")
def run(
    manifests: str | None,
    scenario: str | None,
    scheduler: str | None,
    examples: int,
    seed: int,
    out: str,
    workers: int,
    max_faults: int,
    properties: str | None,
    fault_kinds: str | None,
    no_database: bool,
) -> None:
    """Run a chaos campaign and write a report.

    \b
    Examples:
      podquake run                                   # the sample shop, default scheduler and suite
      podquake run --manifests app.yaml --examples 200
      podquake run --scheduler mypkg.sched:MyScheduler --workers 2
      podquake run --scenario my-scenario.yaml --seed 7 --out report/
    """
    from rich.console import Console

    from podquake.chaos.campaign import CampaignSettings, run_campaign
    from podquake.chaos.record import campaign_record
    from podquake.chaos.strategies import DEFAULT_FAULT_KINDS
    from podquake.reports import CampaignProgress, print_summary, write_report

    with _input_errors():
        base = _base_scenario(scenario, manifests, scheduler, properties)
        kinds = DEFAULT_FAULT_KINDS if fault_kinds is None else tuple(k.strip() for k in fault_kinds.split(",") if k.strip())
        settings = CampaignSettings(
            base=base,
            examples=examples,
            seed=seed,
            workers=workers,
            max_faults=max_faults,
            kinds=kinds,
            database=None if no_database else ".podquake/counterexamples",
        )
        from podquake.chaos.strategies import fault_schedules

        fault_schedules(kinds)  # checks the kinds now, before anything runs
        _check_out(out)
    console = Console(stderr=True)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with _sigterm_as_interrupt(), CampaignProgress(examples, console=console) as progress:
        result = run_campaign(settings, progress=progress.update)
    record, files = campaign_record(
        result,
        started=started,
        scheduler=base.scheduler or "default",
        extra_settings={"manifests": manifests, "scenario": scenario},
    )
    with _input_errors():
        folder = write_report(record, out, counterexample_files=files)
    print_summary(record, Console(), report_dir=str(folder))
    click.echo(f"{result.examples} examples in {result.seconds:.1f} s ({result.examples_per_second:.1f} examples/s)")
    if result.interrupted:
        click.echo("interrupted: the report holds what was found so far", err=True)
    sys.exit(1 if record["status"] == "failed" else 0)


def _check_out(out: str) -> None:
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise InputError("exists and is not a folder", source=out, field="--out", fix="choose a folder name for the report")


@cli.command()
@click.argument("file", type=str)
@click.option("--trace", "trace_out", type=str, default=None, help="Also write the run's trace as JSON lines.")
def replay(file: str, trace_out: str | None) -> None:
    """Re-run a scenario or counterexample file exactly; print its timeline and verdicts.

    \b
    Example:
      podquake replay podquake-report/counterexample-1.yaml
    """
    from podquake.chaos.scenario import load_scenario
    from podquake.chaos.scenario_run import run_scenario
    from podquake.chaos.timeline_text import timeline_lines

    with _input_errors():
        scenario = load_scenario(Path(file))
        result = run_scenario(scenario)
    for line in timeline_lines(result.trace.events):
        click.echo(line)
    click.echo("")
    for verdict in result.verdicts:
        click.echo(verdict.line())
    if trace_out is not None:
        Path(trace_out).write_text(result.trace.to_jsonl())
    sys.exit(0 if result.ok else 1)


@cli.command()
@click.argument("record_file", metavar="RUN.json", type=str)
@click.option("--out", type=str, default=None, help="Folder to write (default: the record's own folder).")
def report(record_file: str, out: str | None) -> None:
    """Render a report again from its run record.

    \b
    Example:
      podquake report podquake-report/report.json --out again/
    """
    from rich.console import Console

    from podquake.reports import print_summary, read_report, write_report

    with _input_errors():
        record, files = read_report(Path(record_file))
        folder = write_report(record, out or Path(record_file).parent, counterexample_files=files)
    print_summary(record, Console(), report_dir=str(folder))
    sys.exit(1 if record["status"] == "failed" else 0)


@cli.command(name="list")
@click.argument("what", type=click.Choice(["schedulers", "faults", "properties"]))
def list_things(what: str) -> None:
    """List the schedulers, fault kinds or properties podquake knows.

    \b
    Example:
      podquake list properties
    """
    if what == "schedulers":
        from podquake.model.scheduling.registry import list_schedulers

        for name in list_schedulers():
            click.echo(name)
    elif what == "faults":
        from podquake.chaos.faults import describe_fault_kinds

        for kind, _cls, summary in describe_fault_kinds():
            click.echo(f"{kind:24} {summary}")
    else:
        from podquake.properties import registered

        for property_id, cls in registered().items():
            click.echo(f"{property_id:30} {cls.kind:12} {cls.description}")


def main() -> None:
    """The console-script entry point."""
    cli(prog_name="podquake")


if __name__ == "__main__":
    main()
