"""A batch at a glance (``evaluate --brief``): one row per record that fits 80 columns, and the progress bar.

Sources are shown relative to the directory they share (named once in the title); below 100
columns the source column is left out (an input that could not be evaluated shows its source in the
patient column). Status words are the glossary's short forms.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from ivig_cds.console.theme import (
    ELIGIBILITY_STYLE,
    OUTCOME_STYLE,
    RESPONSE_STYLE,
    SEVERITY_LABEL,
    SEVERITY_STYLE,
    safe,
    worst,
)
from ivig_cds.glossary import status_word
from ivig_cds.model.format import plural, printable
from ivig_cds.plugins.spec import OutputRecord

__all__ = ["ProgressBar", "progress_bar", "render_brief"]

_WITH_SOURCE = 100  # the source column needs this many columns


def _common_dir(sources: Sequence[str]) -> str:
    """The directory every file source lies in (``""`` when they share none, or for ``<stdin>``)."""
    dirs = [os.path.dirname(s.rsplit(":", 1)[0] if s.rsplit(":", 1)[-1].isdigit() else s) for s in sources]
    if not dirs or any(d == "" for d in dirs) or any(s.startswith("<") for s in sources):
        return ""
    try:
        common = os.path.commonpath(dirs)
    except ValueError:  # absolute and relative paths mixed: no directory in common
        return ""
    return common if common not in ("", ".") else ""


def render_brief(records: Sequence[OutputRecord], console: Console) -> None:
    """One row per record: patient, eligibility, response, outcome, worst alert (and data gaps)."""
    wide = console.width >= _WITH_SOURCE
    base = _common_dir([r.source for r in records])
    title = plural(len(records), "record") + (f" in {printable(base)}{os.sep}" if base else "")
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, expand=False)
    if wide:
        table.add_column("source", overflow="fold")
    table.add_column("patient", overflow="fold")
    for name in ("eligibility", "response", "outcome", "alerts"):
        table.add_column(name, no_wrap=True)
    if wide:
        table.add_column("gaps", no_wrap=True, justify="right")
    incomplete = 0
    for r in records:
        source = r.source[len(base) + 1 :] if base else r.source
        if r.evaluation is None:
            what = Text("failed" if r.failed else "invalid", style="bold red")
            blank = [Text("")] * (4 if wide else 3)
            cells: list[Text] = [safe(source), Text(""), what, *blank] if wide else [safe(source), what, *blank]
            table.add_row(*cells)
            continue
        ev, s = r.evaluation, r.evaluation.status
        sev = worst(f for f in ev.findings if f.rule_id != "DATA-001")
        who = safe(ev.patient_id)
        if ev.mapping and ev.mapping.get("incomplete"):
            who.append(" incomplete", style="bold red")  # the record holds IVIG/steroid doses not evaluated
            incomplete += 1
        row = [
            who,
            Text(status_word("eligibility", s.eligibility, brief=True), style=ELIGIBILITY_STYLE[s.eligibility]),
            Text(status_word("response", s.response, brief=True), style=RESPONSE_STYLE.get(s.response, "")),
            Text(status_word("outcome", s.outcome, brief=True), style=OUTCOME_STYLE.get(s.outcome, "")),
            Text(SEVERITY_LABEL[sev].strip(), style=SEVERITY_STYLE[sev]) if sev else Text("—"),
        ]
        if wide:
            gaps = len(ev.data_gaps)
            table.add_row(safe(source), *row, Text(str(gaps) if gaps else "—", style="yellow" if gaps else ""))
        else:
            table.add_row(*row)
    console.print(table)
    if incomplete:
        console.print(
            Text(
                "incomplete: the FHIR record holds IVIG, glucocorticoid doses or medications that could not be"
                " mapped and are not counted (evaluate the record alone to see them)",
                style="red",
            )
        )


class ProgressBar:
    """A transient progress bar for a batch (``with bar: ... bar.advance()``)."""

    def __init__(self, console: Console, total: int) -> None:
        self._progress = Progress(
            TextColumn("evaluating"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task = self._progress.add_task("evaluating", total=total)

    def advance(self) -> None:
        self._progress.advance(self._task)

    def __enter__(self) -> ProgressBar:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()


def progress_bar(total: int) -> ProgressBar | None:
    """A progress bar on standard error when it is a terminal (``None`` otherwise)."""
    console = Console(stderr=True, highlight=False)
    return ProgressBar(console, total) if console.is_terminal else None
