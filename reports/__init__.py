"""podquake.reports: the run record and its renderings.

A campaign's findings are one versioned JSON document, the run record (``report.json``, schema in
``schema/run-record-v1.schema.json``), built with :func:`build_record`, :func:`property_entry` and
:func:`counterexample_entry`; a counterexample's plots come from :func:`timeline_from_trace` of its
shrunk run. Everything else is rendered from the record alone, so ``podquake report report.json``
reproduces it byte for byte: :func:`write_report` writes ``index.html`` (self-contained, with
inline SVG plots), ``junit.xml``, ``summary.md`` and the counterexample files, atomically;
:func:`print_summary` and :class:`CampaignProgress` are the terminal's; :func:`pytest_snippet` is a
counterexample's regression test.
"""

from podquake.reports.html import render_html
from podquake.reports.junit import render_junit
from podquake.reports.markdown import render_markdown
from podquake.reports.record import (
    SCHEMA_NAME,
    SCHEMA_VERSION,
    build_record,
    counterexample_entry,
    dumps_record,
    headline,
    load_record,
    property_entry,
    read_report,
    validate_record,
    verdict_line,
)
from podquake.reports.snippet import pytest_snippet
from podquake.reports.terminal import CampaignProgress, print_summary
from podquake.reports.timeline import timeline_from_trace
from podquake.reports.validate import SCHEMA, load_schema
from podquake.reports.write import REPORT_FILES, render_files, write_report

__all__ = [
    "SCHEMA",
    "SCHEMA_NAME",
    "SCHEMA_VERSION",
    "REPORT_FILES",
    "CampaignProgress",
    "build_record",
    "counterexample_entry",
    "dumps_record",
    "headline",
    "load_record",
    "load_schema",
    "print_summary",
    "property_entry",
    "pytest_snippet",
    "read_report",
    "render_files",
    "render_html",
    "render_junit",
    "render_markdown",
    "timeline_from_trace",
    "validate_record",
    "verdict_line",
    "write_report",
]
