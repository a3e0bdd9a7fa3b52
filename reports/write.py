"""Writing a report folder atomically: every file, or nothing.

:func:`write_report` renders every file in memory first, writes them into a hidden temporary
sibling of the target folder, and only then moves it into place; an existing report folder is
swapped out only once the new one is complete, and removed after. Any error on the way removes the
temporary folder and leaves the old report (or no folder) as it was, so a reader never sees a
half-written report. A folder that holds anything but report files is never replaced: that would
delete the user's files.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from podquake.model.errors import InputError
from podquake.reports.html import render_html
from podquake.reports.junit import render_junit
from podquake.reports.markdown import render_markdown
from podquake.reports.record import dumps_record, validate_record

__all__ = ["write_report", "render_files", "check_out_dir", "REPORT_FILES"]

REPORT_FILES = ("index.html", "report.json", "junit.xml", "summary.md")
_COUNTEREXAMPLE = re.compile(r"^counterexample-[0-9]+\.yaml$")


def render_files(record: Mapping[str, Any], counterexample_files: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every file of the report folder, name to text, in a fixed order (nothing is written)."""
    validate_record(record, source="the run record")
    extra = dict(counterexample_files or {})
    for name in extra:
        if not _COUNTEREXAMPLE.match(name):
            raise InputError(
                f"{name!r} is not a counterexample file name",
                field="counterexample_files",
                fix="name them counterexample-<n>.yaml, as the record's counterexamples do",
            )
    files = {
        "report.json": dumps_record(record),
        "junit.xml": render_junit(record),
        "summary.md": render_markdown(record),
        "index.html": render_html(record),
    }
    for name in sorted(extra, key=lambda n: int(n.split("-")[1].split(".")[0])):
        files[name] = extra[name]
    return files


def _is_report_folder(path: Path) -> bool:
    """True when every entry is a file a report folder holds (an empty folder counts)."""
    for entry in path.iterdir():
        if not entry.is_file() or entry.is_symlink():
            return False
        if entry.name not in REPORT_FILES and not _COUNTEREXAMPLE.match(entry.name):
            return False
    return True


def check_out_dir(out_dir: str | Path) -> Path:
    """Check, before anything is run or written, that a report can go to ``out_dir``: it is absent
    or a report folder (which it would replace), and its nearest existing parent is a writable folder.
    Raises :class:`~podquake.model.errors.InputError` (field ``--out``) otherwise; returns the path."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder", source=str(out), field="--out", fix="choose a folder name for the report")
    if out.is_dir() and (out.is_symlink() or not _is_report_folder(out)):
        raise InputError(
            "the folder holds files that are not part of a podquake report; it would be replaced",
            source=str(out),
            field="--out",
            fix="choose a new folder for the report, or empty this one",
        )
    parent = out.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(
            f"cannot create the report folder: {parent} is not a writable folder",
            source=str(out),
            field="--out",
            fix="choose a folder you can write to",
        )
    return out


def _write_file(folder: Path, name: str, text: str) -> None:
    (folder / name).write_bytes(text.encode("utf-8"))


def write_report(
    record: Mapping[str, Any],
    out_dir: str | Path,
    *,
    counterexample_files: Mapping[str, str] | None = None,
) -> Path:
    """Write ``index.html``, ``report.json``, ``junit.xml``, ``summary.md`` and each
    ``counterexample-*.yaml`` (given as text) into ``out_dir``, atomically; returns the folder.

    Raises :class:`~podquake.model.errors.InputError` if ``out_dir`` is a file, or a folder with
    other things in it, and if the record or a file name is not valid.
    """
    out = check_out_dir(out_dir)
    files = render_files(record, counterexample_files)
    parent = out.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=parent))
    try:
        os.chmod(staging, 0o755)
        for name, text in files.items():
            _write_file(staging, name, text)
        if out.exists():
            retired = Path(f"{staging}-old")
            os.rename(out, retired)
            try:
                os.rename(staging, out)
            except BaseException:
                os.rename(retired, out)
                raise
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out
