"""The ``podquake`` command: run a chaos campaign, replay a counterexample, render a report, list things.

Exit status: 0 every property held; 1 a property was violated; 2 bad input or usage; 3 podquake
itself failed (a bug: the traceback, then one line saying so); 130 (143 for SIGTERM) a campaign
interrupted before any violation was found, after writing the partial report. Without 3, a crash
would exit 1, which a CI job would read as a violated property.

A closed stdout (``podquake replay x.yaml | head -1``) is not an error: the command finishes its work
(the report is still written) and exits with the status that work earned.

Bad input of any kind (a malformed or hostile YAML file, an impossible value, an unknown scheduler,
property or fault kind, a missing file, a report folder that cannot be written) is one line on
stderr, ``podquake: error: <file>: <where>: <field>: <what> (fix: <how>)``, with no traceback, and
it is found before anything runs, so no report folder is left behind. Click's own usage errors
(a bad option, a value out of range) are folded into the same one-line form.

Interrupting a campaign (Ctrl-C or SIGTERM) stops the search after the examples in progress and
still writes the report of what was found, marked ``interrupted`` (a second Ctrl-C stops at once);
signals that arrive while the report is being written wait for it to be complete
(:func:`podquake.reports.write_report` is atomic anyway).

Built with click (arguments, ``--help``) and rich (the progress bar and the colored summary,
through :mod:`podquake.reports`).
"""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

import click
from podquake.model.errors import InputError

__all__ = ["main", "cli", "default_scenario_text", "campaign_base"]

DEFAULT_SCENARIO = "default.yaml"
IMPORT_AT_THE_COMMAND_LINE = (
    "give --import MODULE (--import myteam.props) or name the module under the scenario's imports:; "
    "podquake list properties --import MODULE shows whether it registered"
)
"""How a property of one's own becomes known to ``podquake run --properties`` (an unknown id's fix)."""
EXIT_OK, EXIT_VIOLATED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


# === errors: one line, exit status 2 =================================================================
def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def _fail(error: Exception | str) -> NoReturn:
    click.echo(f"podquake: error: {_one_line(str(error))}", err=True)
    sys.exit(EXIT_USAGE)


@contextmanager
def _input_errors() -> Iterator[None]:
    """Bad input (an :class:`InputError`, an unreadable file) becomes one line on stderr and exit 2."""
    try:
        yield
    except InputError as error:
        _fail(error)
    except OSError as error:
        name = f"{error.filename}: " if getattr(error, "filename", None) else ""
        _fail(f"{name}{error.strerror or error}")


def _as_option(error: InputError, option: str, source: str = "") -> InputError:
    """The same problem, said of a command-line option (``--scheduler``...) rather than a scenario field."""
    return InputError(error.message, source=source, field=option, fix=error.fix)


class _Group(click.Group):
    """A click group whose usage errors are one line too (``podquake: error: ...``, exit 2)."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:  # type: ignore[override]
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.NoArgsIsHelpError as error:
            click.echo(error.ctx.get_help() if error.ctx else str(error), err=True)
            sys.exit(EXIT_USAGE)
        except click.UsageError as error:
            where = f"{error.ctx.command_path}: " if error.ctx else ""
            hint = f" (see '{error.ctx.command_path} --help')" if error.ctx else ""
            _fail(f"{where}{error.format_message()}{hint}")
        except click.ClickException as error:
            _fail(error.format_message())
        except click.Abort:
            click.echo("podquake: interrupted", err=True)
            sys.exit(128 + signal.SIGINT)
        except Exception as error:  # noqa: BLE001 - anything else is a bug in podquake: say so
            traceback.print_exc()
            click.echo(
                f"podquake: internal error: {_one_line(f'{type(error).__name__}: {error}')} "
                "(a bug in podquake, not in what it tested: please report it with the traceback above)",
                err=True,
            )
            sys.exit(EXIT_INTERNAL)
        sys.exit(code if isinstance(code, int) else EXIT_OK)


# === a closed stdout (``podquake ... | head -1``) =====================================================
@contextmanager
def _output_may_close(stream: str = "stdout") -> Iterator[None]:
    """Printing to ``stream`` ("stdout" or "stderr") when the reader may have gone away (``| head -1``):
    a closed pipe is not an error of the work, so it is ignored quietly, the stream is pointed at
    os.devnull (Python's documented recipe, so later writes and the interpreter's last flush do
    not fail) and the command goes on, exiting with the status its work earned."""
    try:
        yield
    except BrokenPipeError:
        _silence(stream)


def _silence(stream: str) -> None:
    target = getattr(sys, stream)
    try:
        fd = target.fileno()
    except (AttributeError, OSError, ValueError):
        setattr(sys, stream, open(os.devnull, "w"))  # noqa: SIM115 - an in-process stream (tests): drop it
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
    try:
        target.flush()  # what was buffered for the closed pipe now goes to os.devnull
    except OSError:
        pass


def _console(stderr: bool = False) -> Any:
    """A rich Console whose closed pipe is handled as :func:`_output_may_close` does (rich's own
    default exits with status 1, which would read as a violated property)."""
    from rich.console import Console

    class _QuietConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            _silence("stderr" if self.stderr else "stdout")

    return _QuietConsole(stderr=stderr)


# === output paths, checked before anything runs =====================================================
def _check_output_parent(path: str, option: str, what: str) -> None:
    """Raise :class:`InputError` (field ``option``) unless ``path``'s folder exists as a folder podquake
    can write in, or can be created: its nearest existing ancestor must be a folder where a file
    can really be made (tried, then removed: permission bits lie for root and for /proc)."""
    parent = Path(path).absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(
            f"cannot write the {what} there: {parent} is not a folder", source=path, field=option, fix=f"give a {what} path inside a folder"
        )
    import tempfile

    try:
        fd, probe = tempfile.mkstemp(prefix=".podquake-probe-", dir=parent)
    except OSError as error:
        raise InputError(
            f"cannot write the {what} there: {parent} is not a writable folder ({error.strerror or error})",
            source=path,
            field=option,
            fix="choose a folder you can write to",
        ) from None
    os.close(fd)
    os.unlink(probe)


def _write_trace(path: str, text: str) -> None:
    """Write the trace whole or not at all: into a temporary file beside it, then renamed."""
    import tempfile

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(prefix=f".{target.name}.partial-", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(staging, target)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


# === signals =========================================================================================
class _Signals:
    """Ctrl-C and SIGTERM during a campaign: the first asks it to stop after the examples in progress
    (:func:`~podquake.chaos.campaign.stop_campaign`), so it returns what it found; a second one stops
    at once. While the report is written they are only noted, so it is written whole."""

    def __init__(self) -> None:
        self.received: int | None = None

    def _stop(self, signum: int, _frame: Any) -> None:
        from podquake.chaos.stopping import stop_campaign

        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signum
        stop_campaign()
        try:  # os.write: no buffered stream to re-enter from a signal handler
            os.write(2, b"\npodquake: stopping; writing the report of what ran (signal again to stop at once)\n")
        except OSError:
            pass

    def _note(self, signum: int, _frame: Any) -> None:
        self.received = self.received or signum

    @contextmanager
    def stopping(self) -> Iterator[None]:
        with self._handling(self._stop):
            yield

    @contextmanager
    def deferred(self) -> Iterator[None]:
        with self._handling(self._note):
            yield

    @contextmanager
    def _handling(self, handler: Any) -> Iterator[None]:
        # A signal the shell set to be ignored (SIGINT for a background job) stays ignored.
        signums = [s for s in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(s) is not signal.SIG_IGN]
        previous = {s: signal.signal(s, handler) for s in signums}
        try:
            yield
        finally:
            for s, old in previous.items():
                signal.signal(s, old)

    @property
    def exit_code(self) -> int:
        return 128 + int(self.received or signal.SIGINT)


# === the campaign's base scenario ====================================================================
def default_scenario_text() -> str:
    """The embedded default: a sample shop on a six-node, three-zone cluster (chaos/samples/default.yaml)."""
    return resources.files("podquake.chaos").joinpath("samples", DEFAULT_SCENARIO).read_text()


def _import_from_cwd() -> None:
    """``--scheduler mymodule:MyScheduler``, ``--import mymodule`` and a scenario's ``imports:`` find
    modules in the working folder, as ``python -m`` does."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


def _check_workload(manifests: Any, source: str, field: str, fix: str) -> None:
    """An InputError unless ``manifests`` hold something that runs pods: with none, every property
    would hold, and the run pass, having tested nothing. A Job runs pods (model/controllers/job.py);
    a CronJob is no workload here: the model keeps it as data and runs no pods for it
    (model/manifests.py), so a manifest of CronJobs alone would pass the same way."""
    if not any(m.kind in _WORKLOAD_KINDS for m in manifests):
        raise InputError(
            "no workload to run: no Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or Pod"
            + (" (CronJobs are kept as data; the model does not run them: apply the Job of their jobTemplate)" if any(m.kind == "CronJob" for m in manifests) else ""),
            source=source,
            field=field,
            fix=fix,
        )


def _print_notes(scenario: Any) -> None:
    """Say on stderr, one line each, what the user should know though the scenario runs
    (:func:`~podquake.chaos.scenario.scenario_notes`: what the model ignores in the manifests, a
    quiet period too short for a property's time bound)."""
    from podquake.chaos.scenario import scenario_notes

    for note in scenario_notes(scenario):
        click.echo(f"podquake: note: {note}", err=True)


def _split_ids(text: str, option: str, example: str) -> list[str]:
    ids = [i.strip() for i in text.split(",") if i.strip()]
    if not ids:
        raise InputError(f"no ids in {text!r}", field=option, fix=f"write e.g. {option} {example}")
    return ids


def campaign_base(
    scenario: str | None = None,
    manifests: str | None = None,
    scheduler: str | None = None,
    properties: str | None = None,
) -> Any:
    """The scenario a campaign varies: ``scenario`` (a file) or the embedded default, with the
    workload replaced by ``manifests`` (traffic from :func:`~podquake.chaos.traffic_default.traffic_for`),
    and ``scheduler`` and ``properties`` (comma-separated ids) overridden. Every input is read and
    checked here; a problem is an :class:`InputError` naming the file or option and the field."""
    from podquake.chaos.scenario import load_scenario
    from podquake.chaos.traffic_default import traffic_for
    from podquake.model.manifests import load_manifests
    from podquake.model.scheduling.registry import resolve_scheduler
    from podquake.properties.registry import UnknownPropertyError

    if scenario is not None:
        base = load_scenario(Path(scenario))
        if manifests is None:
            _check_workload(base.manifests(), scenario, "workload", "list the application's manifests under workload:")
    else:
        base = load_scenario(default_scenario_text(), source="<embedded default scenario>")
    changes: dict[str, Any] = {}
    if manifests is not None:
        path = Path(manifests)
        if not path.exists():
            raise InputError("no such file or folder", source=manifests, field="--manifests", fix="give a Kubernetes YAML file or a folder of them")
        loaded = load_manifests(path)  # errors name the file as given, document, line and field
        _check_workload(loaded, manifests, "--manifests", "point at the application's manifests")
        changes["workload"] = (str(path.resolve()),)
        changes["traffic"] = ()
    if scheduler is not None:
        try:
            resolve_scheduler(scheduler, rng=random.Random(0))
        except InputError as error:
            raise _as_option(error, "--scheduler") from None
        changes["scheduler"] = scheduler
    if properties is not None:  # a subset keeps the parameters the scenario gave each kept property
        ids = _split_ids(properties, "--properties", "no-overcommit,replicas-converge")
        try:
            base = base.with_properties(ids)
        except UnknownPropertyError as error:
            raise error.told(IMPORT_AT_THE_COMMAND_LINE, source="", field="--properties") from None
        except InputError as error:
            raise _as_option(error, "--properties") from None
    if changes:
        base = dataclasses.replace(base, **changes)
        if manifests is not None:  # the new workload's traffic, then the faults checked against it
            base = dataclasses.replace(base, traffic=traffic_for(dataclasses.replace(base, faults=())))
            base.manifests()
    return base


_WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "Pod")


def _fault_kinds(text: str | None) -> tuple[str, ...]:
    from podquake.chaos.faults import FAULT_KINDS
    from podquake.chaos.strategies import DEFAULT_FAULT_KINDS

    if text is None:
        return DEFAULT_FAULT_KINDS
    kinds = _split_ids(text, "--faults", "node-failure,container-crash")
    for kind in kinds:
        if kind not in FAULT_KINDS:
            raise InputError(f"unknown fault kind {kind!r}", field="--faults", fix=f"use some of {', '.join(FAULT_KINDS)} (podquake list faults)")
    return tuple(dict.fromkeys(kinds))


# === commands ========================================================================================
@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="podquake", prog_name="podquake")
def cli() -> None:
    """Property-based chaos testing of Kubernetes-style orchestration, on a simulated cluster.

    \b
    Examples:
      podquake run                          # the embedded sample shop, in under a minute
      podquake run --manifests app.yaml     # your own Kubernetes YAML
      podquake replay podquake-report/counterexample-1.yaml
      podquake list properties

    Exit status: 0 every property held, 1 a property was violated, 2 bad input or usage, 3 a bug in
    podquake.
    """


@cli.command()
@click.option("--manifests", type=str, default=None, metavar="PATH", help="Kubernetes YAML file or folder to run instead of the sample shop.")
@click.option("--scenario", type=str, default=None, metavar="FILE", help="A podquake scenario file: cluster, workload, traffic, properties.")
@click.option("--scheduler", type=str, default=None, metavar="NAME|MODULE:ATTR", help="Scheduler: a built-in name (podquake list schedulers), an entry point, or MODULE:ATTR.")
@click.option("--examples", type=click.IntRange(min=1, max=1_000_000), default=100, show_default=True, help="How many chaos examples to run.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Campaign seed: the same seed gives the same verdicts.")
@click.option("--out", type=str, default="podquake-report", show_default=True, metavar="DIR", help="Report folder (created, or replaced if it holds an old report).")
@click.option("--workers", type=click.IntRange(min=1, max=256), default=1, show_default=True, help="Worker processes (the verdicts do not depend on it).")
@click.option("--max-faults", type=click.IntRange(min=0, max=100), default=8, show_default=True, help="Most faults per example.")
@click.option("--properties", type=str, default=None, metavar="IDS", help="Comma-separated property ids (default: the scenario's, or the library's default suite); each keeps the parameters the scenario gives it.")
@click.option("--faults", "fault_kinds", type=str, default=None, metavar="KINDS", help="Comma-separated fault kinds to draw (podquake list faults).")
@click.option("--shrink-runs", type=click.IntRange(min=0, max=100_000), default=100, show_default=True, help="Most runs spent shrinking each failure to a minimal fault list.")
@click.option("--no-database", is_flag=True, help="Do not replay or keep counterexamples in .podquake/.")
@click.option(
    "--import", "imports", type=str, multiple=True, metavar="MODULE",
    help="Import MODULE first (repeatable): where properties of your own are registered.",
)
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
    shrink_runs: int,
    no_database: bool,
    imports: tuple[str, ...],
) -> None:
    """Run a chaos campaign and write a report folder.

    With no options: the embedded sample shop (six 4-CPU nodes in three zones), the default
    scheduler and property suite, 100 examples. The report folder holds index.html, report.json,
    junit.xml, summary.md and a counterexample-N.yaml for each property that failed.

    \b
    Examples:
      podquake run                                   # the sample shop, default scheduler and suite
      podquake run --manifests app.yaml --examples 200
      podquake run --manifests k8s/ --faults node-failure,zone-outage
      podquake run --scheduler mypkg.sched:MyScheduler --workers 2
      podquake run --scenario my-scenario.yaml --seed 7 --out report/
      podquake run --import myteam.props --properties no-pods-in-zone-c,no-overcommit
    """
    from podquake.chaos.campaign import CampaignSettings, run_campaign
    from podquake.chaos.record import campaign_record, source_date
    from podquake.chaos.scenario import import_modules
    from podquake.reports import CampaignProgress, print_summary, write_report
    from podquake.reports.record import examples_text
    from podquake.reports.write import check_out_dir

    with _input_errors():
        check_out_dir(out)
        _check_output_parent(out, "--out", "report folder")
        source_date()  # a bad SOURCE_DATE_EPOCH fails now, not after the campaign
        _import_from_cwd()  # --import, a scenario's imports: and --scheduler find the working folder's modules
        try:
            import_modules(imports)
        except InputError as error:
            raise _as_option(error, "--import") from None
        base = campaign_base(scenario, manifests, scheduler, properties)
        _print_notes(base)
        settings = CampaignSettings(
            base=base,
            examples=examples,
            seed=seed,
            workers=workers,
            max_faults=max_faults,
            kinds=_fault_kinds(fault_kinds),
            database=None if no_database else ".podquake/counterexamples",
            shrink_runs=shrink_runs,
        )
    what = manifests or scenario or base.name or "the embedded default"
    signals = _Signals()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with signals.stopping():
        click.echo(
            f"podquake: {examples_text(examples)} of {what} (seed {seed}, scheduler {base.scheduler or 'default'}, "
            f"{workers} worker{'s' if workers > 1 else ''}) -> {out}/",
            err=True,
        )
        with _input_errors(), CampaignProgress(examples, console=_console(stderr=True)) as progress:
            result = run_campaign(settings, progress=progress.update)
    with signals.deferred():
        record, files = campaign_record(
            result,
            started=started,
            scheduler=base.scheduler or "default",
            extra_settings={"manifests": manifests, "scenario": scenario},
            report_dir=out,  # so its replay commands work from here, where --scheduler's module imports
        )
        with _input_errors():
            folder = write_report(record, out, counterexample_files=files)
    with _output_may_close():
        print_summary(record, _console(), report_dir=str(folder))
    if record["status"] == "failed":
        sys.exit(EXIT_VIOLATED)
    if result.interrupted or signals.received:
        click.echo("podquake: interrupted: the report holds what was found so far", err=True)
        sys.exit(signals.exit_code)
    sys.exit(EXIT_OK)


@cli.command()
@click.argument("file", type=str)
@click.option("--trace", "trace_out", type=str, default=None, metavar="FILE", help="Also write the run's trace as JSON lines.")
def replay(file: str, trace_out: str | None) -> None:
    """Re-run a scenario or counterexample file exactly; print its timeline and verdicts.

    The same file gives the same trace and verdicts on every machine: a counterexample fails
    here exactly as it did in the campaign. Exit 1 if a property failed, else 0.

    \b
    Examples:
      podquake replay podquake-report/counterexample-1.yaml
      podquake replay my-scenario.yaml --trace run.jsonl
    """
    from podquake.chaos.scenario import load_scenario
    from podquake.chaos.scenario_run import run_scenario
    from podquake.chaos.timeline_text import timeline_lines

    _import_from_cwd()
    with _input_errors():
        scenario = load_scenario(Path(file))
        _check_workload(scenario.manifests(), file, "workload", "list the application's manifests under workload:")
        _print_notes(scenario)
        if trace_out is not None and Path(trace_out).is_dir():
            raise InputError("is a folder", source=trace_out, field="--trace", fix="give a file name for the trace")
        if trace_out is not None:
            _check_output_parent(trace_out, "--trace", "trace")
    with _input_errors():  # what only the run can find (a traffic entry, a plug-in's answer) is bad input too
        result = run_scenario(scenario)
    with _output_may_close():
        for line in timeline_lines(result.trace.events):
            click.echo(line)
        click.echo("")
        for verdict in result.verdicts:
            click.echo(verdict.line())
    if trace_out is not None:
        with _input_errors():
            _write_trace(trace_out, result.trace.to_jsonl())
    sys.exit(EXIT_OK if result.ok else EXIT_VIOLATED)


@cli.command()
@click.argument("record_file", metavar="RUN.json", type=str)
@click.option("--out", type=str, default=None, metavar="DIR", help="Folder to write (default: the record's own folder).")
def report(record_file: str, out: str | None) -> None:
    """Render a report again from its run record (report.json), byte for byte.

    The counterexample-N.yaml files beside the record are copied along.

    \b
    Examples:
      podquake report podquake-report/report.json
      podquake report podquake-report/report.json --out again/
    """
    from podquake.reports import print_summary, read_report, write_report
    from podquake.reports.write import check_out_dir

    with _input_errors():
        record, files = read_report(Path(record_file))
        target = out or Path(record_file).parent
        check_out_dir(target)
        _check_output_parent(str(target), "--out", "report folder")
        folder = write_report(record, target, counterexample_files=files)
    with _output_may_close():
        print_summary(record, _console(), report_dir=str(folder))
    sys.exit(EXIT_VIOLATED if record["status"] == "failed" else EXIT_OK)


@cli.command(name="list")
@click.argument("what", type=click.Choice(["schedulers", "faults", "properties"]))
@click.option(
    "--import", "imports", type=str, multiple=True, metavar="MODULE",
    help="Import MODULE first (repeatable), as podquake run does: the properties it registers are listed too.",
)
def list_things(what: str, imports: tuple[str, ...]) -> None:
    """List the schedulers, fault kinds or properties podquake knows.

    With --import, the modules are imported first (from the working folder too, as for podquake
    run), so a property of your own shows whether it registered.

    \b
    Examples:
      podquake list schedulers
      podquake list faults
      podquake list properties
      podquake list properties --import myteam.props
    """
    from podquake.chaos.scenario import import_modules

    with _input_errors():
        _import_from_cwd()
        try:
            import_modules(imports)
        except InputError as error:
            raise _as_option(error, "--import") from None
    with _output_may_close():
        _list(what)


def _list(what: str) -> None:
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
