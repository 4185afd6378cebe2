"""The ``rich`` format's writer: the console view of a run, record by record, then what closes it.

Each evaluation is drawn as it arrives (a rule naming its source between records of a batch);
``--brief`` collects one row per record instead. :meth:`RichWriter.close` then draws the brief
table, the evidence cited (once for the whole run), the cohort summary, and saves the SVG or HTML
export, each file written whole or not at all. Input errors are said on standard error by the
command line, not here.
"""

from __future__ import annotations

import io
from typing import IO

from rich.console import Console

from ivig_cds.cohort import CohortEntry, summarize
from ivig_cds.console.brief import render_brief
from ivig_cds.console.evaluation import render_evaluation
from ivig_cds.console.findings import citations, evidence_panel
from ivig_cds.console.reports import render_cohort
from ivig_cds.console.theme import console_for, safe
from ivig_cds.outfile import FILE_WIDTH, write_atomic
from ivig_cds.plugins.spec import OutputRecord, WriterOptions

__all__ = ["FILE_WIDTH", "RichWriter"]

"""Width of the view written to a file or an export when no width is given."""


class RichWriter:
    """Writes the console view of each record to a stream (see the module docstring)."""

    def __init__(self, stream: IO[str], options: WriterOptions) -> None:
        self.options = options
        self.needs_patient = options.timeline and not options.brief
        self._out = console_for(stream, options.width, options.color)
        exports = options.export_svg or options.export_html
        self._recorder = (
            Console(record=True, file=io.StringIO(), width=options.width or FILE_WIDTH, highlight=False)
            if exports
            else None
        )
        self._sinks = [c for c in (self._out, self._recorder) if c is not None]
        self._many = options.records > 1
        self._rows: list[CohortEntry] = []
        self._brief: list[OutputRecord] = []
        self._cited: dict[str, None] = {}  # each citation once, in order of first use
        self._count = 0

    def write(self, record: OutputRecord) -> None:
        """Draw one record (or keep its row for ``--brief``)."""
        self._count += 1
        ev = record.evaluation
        if self.options.brief:
            self._brief.append(record)
        if ev is None:
            return
        self._rows.append(CohortEntry.of(ev))
        if self.options.brief:
            return
        self._cited.update(dict.fromkeys(citations(ev.findings)))
        patient = record.patient if self.options.timeline else None
        for console in self._sinks:
            if self._many:
                console.rule(safe(record.source), style="dim", align="left")
            render_evaluation(ev, console, patient, evidence=not self._many)

    def close(self) -> None:
        """The brief table, the evidence cited, the cohort summary; then the exports."""
        many = self._many or self._count > 1
        summary = self.options.summary
        show = summary if summary is not None else (many and not self.options.quiet)
        for console in self._sinks:
            if self.options.brief:
                render_brief(self._brief, console)
            elif many:
                panel = evidence_panel(self._cited)
                if panel is not None:
                    console.print(panel)
            if show and self._rows:
                render_cohort(summarize(self._rows), console)
        if self._recorder is not None:
            if self.options.export_svg:
                write_atomic(self.options.export_svg, self._recorder.export_svg(title="ivig-cds", clear=False))
            if self.options.export_html:
                write_atomic(self.options.export_html, self._recorder.export_html(clear=False))
