"""The console view of one evaluation, top to bottom (no clinical logic).

Header; status (the verdict first); FHIR mapping; dose plan; timeline; findings by category; data
gaps; evidence cited; footer. Every function draws on a :class:`~rich.console.Console` it is given, so
tests render with ``Console(file=io.StringIO(), width=100, color_system=None)``. Patient text reaches
the terminal only with its control characters made visible.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date

from rich.console import Console, Group
from rich.panel import Panel
from rich.text import Text

from ivig_cds.console.fhir import mapping_panel
from ivig_cds.console.findings import citations, evidence_panel, finding_panels, gap_panel
from ivig_cds.console.status import dose_panel, header_panel, status_panel
from ivig_cds.console.timeline import TimelineView, timeline_data
from ivig_cds.model.evaluation import Evaluation
from ivig_cds.model.format import clean, plural
from ivig_cds.model.patient import Patient

__all__ = ["render_evaluation", "render_text", "safe_evaluation"]


def safe_evaluation(ev: Evaluation) -> Evaluation:
    """A copy of ``ev`` whose every string has its control characters made visible (for display only)."""
    return Evaluation.model_validate(clean(ev.model_dump()))


def render_evaluation(
    ev: Evaluation, console: Console, patient: Patient | None = None, *, evidence: bool = True
) -> None:
    """Print the full console view of one evaluation.

    Args:
        ev: The evaluation.
        console: Where to draw.
        patient: The patient file it came from; when given, the timeline is drawn (up to ``as_of``).
        evidence: Add the panel of full citations (a run of many records prints one at the end instead).
    """
    ev = safe_evaluation(ev)
    console.print(header_panel(ev))
    console.print(status_panel(ev))
    fhir = mapping_panel(ev.mapping)
    if fhir is not None:
        console.print(fhir)
    console.print(dose_panel(ev))
    if patient is not None:
        data = timeline_data(patient, date.fromisoformat(ev.as_of))
        if data is not None:
            console.print(Panel(TimelineView(data), title="Timeline", title_align="left", border_style="dim"))
    panels = finding_panels(ev.findings, console.width)
    for panel in panels:
        console.print(panel)
    if not panels:
        console.print(Text("No findings.", style="dim"))
    if ev.data_gaps:
        console.print(gap_panel(ev.data_gaps, console.width))
    if evidence:
        cited = evidence_panel(citations(ev.findings))
        if cited is not None:
            console.print(cited)
    later = ev.ignored_after_as_of
    tail = f" · {plural(later, 'record')} after as_of ignored" if later else ""
    console.print(
        Group(
            Text(
                f"ruleset {ev.engine.ruleset_hash[:12]} · backend {ev.engine.backend}"
                f" · ivig-cds {ev.engine.version}{tail}",
                style="dim",
            ),
            Text("Decision support only: a clinician must review every recommendation.", style="dim italic"),
        )
    )


def render_text(evaluations: Sequence[Evaluation], *, width: int = 100) -> str:
    """The console view of each evaluation as plain text (the ``rich`` format's ``render``)."""
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, force_terminal=False, soft_wrap=False)
    for ev in evaluations:
        render_evaluation(ev, console)
    return buf.getvalue()
