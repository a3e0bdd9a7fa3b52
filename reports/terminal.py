"""The terminal: a live progress bar during a campaign, then a colored summary of the record.

:class:`CampaignProgress` wraps a rich progress bar with the examples done, examples per second,
the failures found so far and the time left. It draws only on a terminal (``console.is_terminal``),
so logs and CI output stay clean; the campaign calls :meth:`CampaignProgress.update` as examples
finish. :func:`print_summary` prints the headline and a table of properties after the run.

User-provided text goes into :class:`rich.text.Text` objects, never into markup, so a property
message with ``[brackets]`` prints as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from podquake.reports.record import examples_text, failed_examples_text, fault_list_title, headline, replay_command

__all__ = ["CampaignProgress", "print_summary", "STATUS_STYLES"]

STATUS_STYLES = {"passed": "bold green", "failed": "bold red", "unknown": "bold yellow", "interrupted": "bold yellow"}


class _RateColumn(ProgressColumn):
    """Examples per second, as rich estimates it over the last half minute, else (its estimate starts
    again when the total changes) the mean since the start."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None and task.completed and task.elapsed:
            speed = task.completed / task.elapsed
        return Text("-- examples/s" if speed is None else f"{speed:,.1f} examples/s", style="cyan")


class _FailuresColumn(ProgressColumn):
    """Failing examples so far, and the runs spent shrinking them (the bar stands still meanwhile)."""

    def render(self, task: Task) -> Text:
        found = int(task.fields.get("failures", 0))
        shrink_runs = int(task.fields.get("shrink_runs", 0))
        text = f"{found} failing" if found else "no failure yet"
        if shrink_runs:
            text += f", {shrink_runs} shrink run{'' if shrink_runs == 1 else 's'}"
        return Text(text, style="red" if found else "green")


class CampaignProgress:
    """A progress bar for ``total`` examples, as a context manager; quiet when not on a terminal.

    >>> import io
    >>> from rich.console import Console
    >>> with CampaignProgress(3, console=Console(file=io.StringIO())) as progress:
    ...     progress.update(2, failures=1, shrink_runs=5)
    >>> progress.completed, progress.failures, progress.shrink_runs
    (2, 1, 5)
    """

    def __init__(self, total: int, *, console: Console | None = None, description: str = "chaos examples") -> None:
        self.console = console or Console(stderr=True)
        self.total = total
        self.completed = 0
        self.failures = 0
        self.shrink_runs = 0
        self.unneeded = 0
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            _FailuresColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            disable=not self.console.is_terminal,
            transient=False,
        )
        self._task = self._progress.add_task(description, total=total, failures=0, shrink_runs=0)

    @property
    def enabled(self) -> bool:
        return not self._progress.disable

    def __enter__(self) -> CampaignProgress:
        self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._progress.stop()

    def update(self, n: int = 1, *, failures: int | None = None, shrink_runs: int | None = None, unneeded: int | None = None) -> None:
        """``n`` more examples are done; ``failures`` is the number of failing examples so far and
        ``shrink_runs`` the runs spent shrinking them, if known; ``unneeded`` examples will not run
        (their chunk's Hypothesis ran out of new examples to draw), so the bar's total is that many fewer."""
        self.completed += n
        if failures is not None:
            self.failures = failures
        if shrink_runs is not None:
            self.shrink_runs = shrink_runs
        if unneeded is not None:
            self.unneeded = unneeded
        self._progress.update(self._task, advance=n, failures=self.failures, shrink_runs=self.shrink_runs)
        if unneeded:
            self._progress.update(self._task, total=self.total - self.unneeded)


def print_summary(record: Mapping[str, Any], console: Console, *, report_dir: str | None = None) -> None:
    """Print the headline, the properties table, the counterexamples and the timing of ``record``.
    ``report_dir`` is the folder the report was written to, as the user named it: each replay
    command names its file there, so that it works from where the user is."""
    statuses = [p["status"] for p in record["properties"]]
    if "failed" in statuses:
        style = STATUS_STYLES["failed"]
    elif record["status"] == "interrupted" or (statuses and all(s == "unknown" for s in statuses)):
        style = STATUS_STYLES["unknown"]
    else:
        style = STATUS_STYLES["passed"]
    console.print(Text(headline(record), style=style))
    table = Table(show_header=True, header_style="bold", expand=False)
    longest = max((len(p["id"]) for p in record["properties"]), default=8)
    table.add_column("property", no_wrap=True, min_width=longest)  # whole ids, even on 80 columns
    table.add_column("kind", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("failed", justify="right")
    table.add_column("evidence", overflow="fold")
    for prop in record["properties"]:
        evidence = prop["evidence"] or {}
        message = evidence.get("message", "")
        if prop["status"] == "passed":
            message = "; ".join(part for part in (message if message != "held" else "", evidence.get("note", "")) if part)
        elif evidence.get("time") is not None:
            message = f"t={evidence['time']:g}s: {message}"
        table.add_row(
            Text(prop["id"]),
            Text(prop["kind"]),
            Text(prop["status"], style=STATUS_STYLES.get(prop["status"], "")),
            Text(failed_examples_text(prop)),
            Text(message),
        )
    console.print(table)
    for counterexample in record["counterexamples"]:
        line = Text()
        line.append(f"{counterexample['id']}", style="bold red")
        line.append(f" {counterexample['property']}: {counterexample['message']}")
        console.print(line)
        if not counterexample.get("shrunk", True):
            console.print(Text(f"    {fault_list_title(counterexample).lower()}:", style="yellow"))
        for fault in counterexample["faults"]:
            console.print(Text(f"    {fault['repr']}", style="magenta"))
        # The folder just written, as the user named it: the command works from where they are now.
        command = replay_command(counterexample["file"], report_dir) if report_dir is not None else counterexample["replay"]["command"]
        console.print(Text(f"    replay: {command}", style="cyan"))
    counts, timing = record["counts"], record["timing"]
    facts = (
        f"seed {record['seed']} · scheduler {record['scheduler']} · {examples_text(counts['examples'])} in "
        f"{timing['seconds']:.1f}s ({timing['examples_per_second']:g} examples/s) · {counts['faults']} faults"
    )
    console.print(Text(facts, style="dim"))
    if report_dir is not None:
        console.print(Text(f"report: {report_dir}/index.html", style="bold"))
