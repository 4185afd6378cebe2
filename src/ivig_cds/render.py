"""Rich rendering of an evaluation for a person at a terminal (no clinical logic here)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .evaluation import Evaluation, Finding

__all__ = ["SEVERITY_STYLE", "render_evaluation", "status_lines"]

SEVERITY_STYLE = {"stop": "bold white on red", "warning": "bold red", "advisory": "yellow", "info": "cyan"}
_GOOD, _BAD, _WARN, _NEUTRAL = "green", "bold red", "yellow", "default"

_ELIGIBILITY_STYLE = {
    "eligible": _GOOD,
    "eligible_with_precautions": _WARN,
    "not_eligible": _BAD,
    "contraindicated": "bold white on red",
}
_OUTCOME_STYLE = {
    "relapse": _BAD,
    "non_responder": _BAD,
    "ivig_dependent": _WARN,
    "remission_off_therapy": _GOOD,
    "remission_low_dose_steroid": _GOOD,
    "sustained_response_on_therapy": _GOOD,
}
_CATEGORY_ORDER = (
    "safety", "eligibility", "diagnosis", "refractory", "dosing", "response", "steroid", "outcome", "relapse",
)  # fmt: skip


def _v(value: object, *, words: bool = True) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace("_", " ") if words else str(value)


def status_lines(ev: Evaluation) -> list[tuple[str, str, str]]:
    """(label, value, style) rows of the status panel."""
    s = ev.status
    elig = _v(s.eligibility)
    if s.eligibility_reasons:
        elig += f"  ({', '.join(s.eligibility_reasons)})"
    response = _v(s.response)
    if s.response_level:
        response += f" · {s.response_level}"
    if s.total_improvement_score is not None:
        response += f" · TIS {_v(s.total_improvement_score)}"
    taper = "—" if s.steroid_reduction_pct is None else f"{_v(s.steroid_reduction_pct)}% reduction"
    if s.steroid_taper_beyond_50 is not None:
        taper += " (beyond 50%)" if s.steroid_taper_beyond_50 else " (not beyond 50%)"
    relapse = "ALERT" if s.relapse_alert else "no"
    if s.months_to_relapse is not None:
        relapse += f" · {_v(s.months_to_relapse)} months after stopping"
    refr_style = _NEUTRAL if s.refractory is None else (_GOOD if s.refractory else _BAD)
    resp_style = {"responder": _GOOD, "non_responder": _BAD, "insufficient_data": _WARN}.get(s.response, _NEUTRAL)
    return [
        (
            "Refractory",
            _v(s.refractory) if s.refractory is not None else "unknown (no therapy history)",
            refr_style,
        ),
        ("Eligibility", elig, _ELIGIBILITY_STYLE[s.eligibility]),
        ("Response", response, resp_style),
        ("Steroid taper", taper, _GOOD if s.steroid_taper_beyond_50 else _NEUTRAL),
        ("Outcome", _v(s.outcome), _OUTCOME_STYLE.get(s.outcome, _NEUTRAL)),
        ("Relapse alert", relapse, _BAD if s.relapse_alert else _NEUTRAL),
    ]


def _header(ev: Evaluation) -> Text:
    p = ev.patient
    text = Text()
    text.append(f"Patient {ev.patient_id}", style="bold")
    text.append(f"   as of {ev.as_of}   ")
    text.append(f"{p.age_years} y {p.sex or ''}".rstrip())
    text.append(f"   {_v(p.condition)} ({p.classification})")
    courses = f"{p.courses_given} IVIG course{'s' if p.courses_given != 1 else ''}"
    if p.first_course:
        courses += f" since {p.first_course}"
    if p.discontinued_on:
        courses += f", stopped {p.discontinued_on}"
    text.append(f"\n{courses}", style="dim")
    return text


def _status_table(ev: Evaluation) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for label, value, style in status_lines(ev):
        table.add_row(label, Text(value, style=style))
    return table


def _dose(ev: Evaluation) -> RenderableType:
    d = ev.dose_plan
    if d is None:
        return Text("No dose plan: weight not recorded.", style=_WARN)
    basis = f"{d.weight_basis} weight {_v(d.dosing_weight_kg)} kg"
    if d.weight_basis == "adjusted":
        basis += f" (actual {_v(d.actual_weight_kg)} kg, {d.basis_rule})"
    return Text.assemble(
        (f"{_v(d.grams_per_day)} g/day", "bold"),
        f" × {d.days_per_course} days every {d.interval_weeks} weeks ({_v(d.grams_per_course)} g per course, "
        f"{_v(d.g_per_kg_per_day)} g/kg/day on {basis}); {d.courses_in_first_phase} courses in the first phase",
    )


def _finding_rows(findings: Iterable[Finding], table: Table) -> None:
    for f in findings:
        values = ", ".join(f"{k.split('.', 1)[-1]}={_v(v, words=False)}" for k, v in f.facts.items())
        limits = ", ".join(f"{k}={_v(v, words=False)}" for k, v in f.thresholds.items())
        body = Text(f.summary)
        if values:
            body.append(f"\nvalues: {values}", style="dim")
        if limits:
            body.append(f"\nthresholds: {limits}", style="dim")
        body.append(f"\nevidence: {', '.join(e.split(']')[0].lstrip('[') for e in f.evidence)}", style="dim")
        table.add_row(Text(f.severity, style=SEVERITY_STYLE[f.severity]), Text(f.rule_id, style="bold"), body)


def render_evaluation(ev: Evaluation, console: Console) -> None:
    """Print the full console view of one evaluation."""
    console.print(Panel(_header(ev), title="ivig-cds", title_align="left", border_style="blue"))
    console.print(Panel(_status_table(ev), title="Status", title_align="left"))
    console.print(Panel(_dose(ev), title="Dose plan (seed regimen)", title_align="left"))
    gaps = [f for f in ev.findings if f.rule_id == "DATA-001" or f.category == "data"]
    clinical = [f for f in ev.findings if f not in gaps]
    order = {c: i for i, c in enumerate(_CATEGORY_ORDER)}
    for category in sorted({f.category for f in clinical}, key=lambda c: (order.get(c, 99), c)):
        table = Table(show_header=False, box=None, padding=(0, 1), expand=True)
        table.add_column(width=9, no_wrap=True)
        table.add_column(width=17, no_wrap=True)
        table.add_column(ratio=1)
        _finding_rows((f for f in clinical if f.category == category), table)
        console.print(Panel(table, title=f"Findings · {category}", title_align="left"))
    if gaps:
        table = Table(show_header=False, box=None, padding=(0, 1), expand=True)
        table.add_column(width=9, no_wrap=True)
        table.add_column(width=17, no_wrap=True)
        table.add_column(ratio=1)
        for f in gaps:
            table.add_row(
                Text(f.severity, style=SEVERITY_STYLE[f.severity]), Text(f.rule_id, style="bold"), Text(f.summary)
            )
        console.print(
            Panel(table, title="Data gaps (missing is not false)", title_align="left", border_style="yellow")
        )
    foot = Group(
        Text(
            f"ruleset {ev.engine.ruleset_hash[:12]} · backend {ev.engine.backend} · ivig-cds {ev.engine.version}"
            + (f" · {ev.ignored_after_as_of} record(s) after as_of ignored" if ev.ignored_after_as_of else ""),
            style="dim",
        ),
        Text("Decision support only: a clinician must review every recommendation.", style="dim italic"),
    )
    console.print(foot)
