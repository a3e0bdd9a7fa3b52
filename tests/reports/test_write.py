"""Writing report folders: what lands there, byte-identical renders from the record alone (in a new
process, as `podquake report` does), and atomicity: an error leaves no folder, or the old one intact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from podquake.model.errors import InputError
from podquake.reports import REPORT_FILES, load_record, write_report
from podquake.reports import write as write_module

from .conftest import COUNTEREXAMPLE_YAML


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _siblings(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir())


@pytest.fixture
def fast_html(monkeypatch):
    """Atomicity does not need the plots: a stand-in page keeps these tests quick."""
    monkeypatch.setattr(write_module, "render_html", lambda record: f"<!DOCTYPE html><title>{record['status']}</title>\n")


def test_the_folder_holds_every_file(report_dir, sample_record):
    assert sorted(os.listdir(report_dir)) == sorted([*REPORT_FILES, "counterexample-1.yaml"])
    assert load_record(report_dir / "report.json") == sample_record
    assert (report_dir / "counterexample-1.yaml").read_text() == COUNTEREXAMPLE_YAML
    page = (report_dir / "index.html").read_text()
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "").replace('xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    assert "https://" not in page and "<script" not in page and "<link" not in page  # self-contained
    assert page.count("<svg ") == 4 and 'id="plot-counterexample-1-timeline"' in page
    assert '<td class="num">1<span class="detail">first #50</span></td>' in page  # failed once, in the 50th example
    assert not [name for name in _siblings(report_dir) if name.startswith(".")]  # no staging folder left


def test_rendering_again_from_the_record_in_a_new_process_is_byte_identical(report_dir, tmp_path):
    again = tmp_path / "again"
    script = (
        "import sys\n"
        "from podquake.reports import read_report, write_report\n"
        "record, files = read_report(sys.argv[1])\n"
        "write_report(record, sys.argv[2], counterexample_files=files)\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", script, str(report_dir / "report.json"), str(again)], check=True, env=env, timeout=120)
    assert _contents(again) == _contents(report_dir)


def test_rerendering_in_place_keeps_the_counterexample_files(tmp_path, sample_record, fast_html):
    from podquake.reports import read_report

    out = tmp_path / "report"
    write_report(sample_record, out, counterexample_files={"counterexample-1.yaml": COUNTEREXAMPLE_YAML})
    before = _contents(out)
    record, files = read_report(out / "report.json")
    write_report(record, out, counterexample_files=files)
    assert _contents(out) == before


def test_an_error_while_rendering_leaves_no_folder(tmp_path, sample_record, monkeypatch):
    def broken(record):
        raise RuntimeError("renderer broke")

    monkeypatch.setattr(write_module, "render_junit", broken)
    out = tmp_path / "report"
    with pytest.raises(RuntimeError, match="renderer broke"):
        write_report(sample_record, out)
    assert _siblings(out) == []


def test_an_error_while_writing_leaves_the_old_report_intact(tmp_path, sample_record, monkeypatch, fast_html):
    out = tmp_path / "report"
    write_report(sample_record, out, counterexample_files={"counterexample-1.yaml": "old\n"})
    old = _contents(out)
    written = []
    real = write_module._write_file

    def flaky(folder, name, text):
        if len(written) == 2:
            raise OSError(28, "No space left on device")
        written.append(name)
        real(folder, name, text)

    monkeypatch.setattr(write_module, "_write_file", flaky)
    newer = {**sample_record, "seed": 99}
    with pytest.raises(OSError, match="No space left"):
        write_report(newer, out, counterexample_files={"counterexample-1.yaml": "new\n"})
    assert written == ["report.json", "junit.xml"]  # it failed half-way
    assert _contents(out) == old
    assert _siblings(out) == ["report"]


def test_a_new_report_replaces_the_old_one_whole(tmp_path, sample_record, fast_html):
    out = tmp_path / "report"
    write_report(sample_record, out, counterexample_files={"counterexample-1.yaml": "a\n", "counterexample-2.yaml": "b\n"})
    passed = {**sample_record, "status": "passed", "counterexamples": [],
              "properties": [{**p, "status": "passed", "examples_failed": 0} for p in sample_record["properties"]]}
    write_report(passed, out)
    assert sorted(os.listdir(out)) == sorted(REPORT_FILES)  # the old counterexample files went with the old report
    assert json.loads((out / "report.json").read_text())["status"] == "passed"
    assert _siblings(out) == ["report"]


def test_a_folder_with_other_files_is_never_replaced(tmp_path, sample_record, fast_html):
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    with pytest.raises(InputError, match="not part of a podquake report") as error:
        write_report(sample_record, home)
    assert str(error.value).startswith(f"{home}: --out:")
    assert os.listdir(home) == ["thesis.tex"]
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        write_report(sample_record, file)
    assert _siblings(file) == ["file", "home"]


def test_bad_input_is_refused_before_anything_is_written(tmp_path, sample_record, fast_html):
    out = tmp_path / "report"
    with pytest.raises(InputError, match="not a counterexample file name"):
        write_report(sample_record, out, counterexample_files={"../escape.yaml": "x"})
    with pytest.raises(InputError, match="status"):
        write_report({**sample_record, "status": "great"}, out)
    assert _siblings(out) == []


def test_an_empty_folder_and_missing_parents_are_fine(tmp_path, sample_record, fast_html):
    empty = tmp_path / "empty"
    empty.mkdir()
    write_report(sample_record, empty)
    nested = write_report(sample_record, tmp_path / "a" / "b" / "report")
    assert sorted(os.listdir(empty)) == sorted(os.listdir(nested)) == sorted(REPORT_FILES)
