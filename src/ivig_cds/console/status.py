"""The top of the console view: the header, the status panel (verdict first) and the dose plan.

The status panel opens with the three answers a clinician asks (:mod:`ivig_cds.verdict`): can IVIG
be given and what first, is it working, any relapse. Then the status values in words, each
eligibility level with the rules behind it (the screen level as what to record), the alerts, and
the data gaps counted apart.
"""

from __future__ import annotations

from rich.console import RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ivig_cds.console.theme import ELIGIBILITY_STYLE, OUTCOME_STYLE, RESPONSE_STYLE, TONE_STYLE, alert_counts, safe
from ivig_cds.glossary import level_word, status_word
from ivig_cds.model.evaluation import Eligibility, Evaluation
from ivig_cds.model.format import format_value, plural, typeset
from ivig_cds.verdict import Verdict, courses_given, eligibility_groups, medications_unmapped, plan_note, verdict

__all__ = ["dose_panel", "header_panel", "status_panel", "status_rows"]

_GOOD, _BAD, _WARN, _NEUTRAL = "green", "bold red", "yellow", ""


def _v(value: object, decimals: int = 1) -> str:
    return format_value(value, "display", decimals=decimals)


def header_panel(ev: Evaluation) -> Panel:
    """Patient id, as-of date, age, sex, weight, diagnosis, classification and IVIG courses."""
    p = ev.patient
    text = Text()
    today = " (today, UTC)" if ev.status.as_of_source == "today" else ""
    text.append(f"as of {ev.as_of}{today}", style="bold")
    who = (
        f"{p.age_years} y"
        + (f" {_v(p.sex)}" if p.sex else "")
        + (f" · {_v(p.weight_kg)} kg" if p.weight_kg else "")
    )
    text.append(f"   {who}   ")
    text.append(f"{_v(p.condition).replace('_', ' ')} ({_v(p.classification)})", style="bold")
    courses = courses_given(ev)
    if p.first_course:
        courses += f" since {p.first_course}"
    if p.discontinued_on:
        courses += f", stopped {p.discontinued_on}"
    if p.restarted_on:
        courses += f", restarted {p.restarted_on}"
    text.append(f"\n{courses}", style="dim")
    title = Text("ivig-cds · patient ") + safe(ev.patient_id)
    return Panel(text, title=title, title_align="left", border_style="blue")


def status_rows(ev: Evaluation, v: Verdict | None = None) -> list[tuple[str, Text]]:
    """(label, value) rows of the status panel, the verdict's three lines first."""
    s = ev.status
    v = v or verdict(ev)
    rows: list[tuple[str, Text]] = [(line.label, safe(line.text, TONE_STYLE[line.tone])) for line in v.lines]
    rows.append(("", Text("")))
    rows.append(
        ("Eligibility", Text(status_word("eligibility", s.eligibility), style=ELIGIBILITY_STYLE[s.eligibility]))
    )
    for level, reasons in eligibility_groups(ev):
        rows.append((f"  {level_word(level)}", safe("; ".join(reasons), "dim" if level != s.eligibility else "")))
    refractory = "unknown (no therapy history)" if s.refractory is None else _v(s.refractory)
    style = _NEUTRAL if s.refractory is None else (_GOOD if s.refractory else _BAD)
    if s.refractory is False and medications_unmapped(ev):
        refractory, style = f"{refractory} on the mapped record (medications not mapped: see Incomplete)", _WARN
    rows.append(("Refractory", Text(refractory, style=style)))
    response = status_word("response", s.response)
    if s.response_level:
        response += f" · {status_word('response_level', s.response_level)}"
    if s.total_improvement_score is not None:
        response += f" · best TIS {_v(s.total_improvement_score)}"
    if s.latest_total_improvement_score is not None:
        response += f" · latest TIS {_v(s.latest_total_improvement_score)}"
    rows.append(("Response", Text(response, style=RESPONSE_STYLE.get(s.response, _NEUTRAL))))
    taper = "—" if s.steroid_reduction_pct is None else f"{_v(s.steroid_reduction_pct)}% reduction since course 1"
    if s.steroid_taper_beyond_50 is not None:
        taper += " (beyond 50%)" if s.steroid_taper_beyond_50 else " (not beyond 50%)"
    rows.append(("Steroid taper", Text(taper, style=_GOOD if s.steroid_taper_beyond_50 else _NEUTRAL)))
    outcome = status_word("outcome", s.outcome)
    if s.relapse_alert and s.months_to_relapse is not None:
        outcome += f", {_v(s.months_to_relapse)} months after stopping"
    rows.append(("Outcome", Text(outcome, style=OUTCOME_STYLE.get(s.outcome, _NEUTRAL))))
    alerts = alert_counts(ev.findings)
    rows.append(("Alerts", alerts if alerts else Text("none", style=_GOOD)))
    gaps = len(ev.data_gaps)
    if gaps:
        rows.append(
            ("Data gaps", Text(f"{plural(gaps, 'rule')} could not decide: record the values below", style=_WARN))
        )
    return rows


def status_panel(ev: Evaluation) -> Panel:
    """The status panel, bordered red / yellow / green by the worst of eligibility, relapse and alerts."""
    v = verdict(ev)
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for label, value in status_rows(ev, v):
        table.add_row(label, value)
    s = ev.status
    tones = {line.tone for line in v.lines}
    severities = {str(f.severity) for f in ev.findings if f.rule_id != "DATA-001"}
    bad = s.eligibility in (Eligibility.CONTRAINDICATED, Eligibility.NOT_ELIGIBLE) or "stop" in severities
    bad = bad or bool(tones & {"bad", "stop"})
    warn = "warning" in severities or "warn" in tones
    border = "red" if bad else ("yellow" if warn else "green")
    return Panel(table, title="Status", title_align="left", border_style=border)


def dose_panel(ev: Evaluation) -> Panel:
    """The seed regimen's dose plan, marked "for reference only" when IVIG should not be given."""
    note = plan_note(ev)
    title = "Dose plan (seed regimen)" + (f" · {note.title}" if note.title else "")
    d = ev.dose_plan
    body: RenderableType
    if d is None:
        body = Text("No dose plan: weight not recorded.", style=_WARN)
    else:
        basis = f"{d.weight_basis} weight {_v(d.dosing_weight_kg)} kg"
        if d.weight_basis == "adjusted":
            basis += f" (actual {_v(d.actual_weight_kg)} kg{', ' + d.basis_rule if d.basis_rule else ''})"
        body = Text.assemble(
            (f"{_v(d.grams_per_day)} g/day", "bold"),
            f" × {d.days_per_course} days every {d.interval_weeks} weeks ",
            (f"({_v(d.grams_per_course)} g per course)", "bold"),
            f"\n{_v(d.g_per_kg_per_day)} g/kg/day on {basis}" + (f"; {typeset(note.phase)}" if note.phase else ""),
        )
    return Panel(body, title=title, title_align="left", border_style="red" if note.reference_only else "none")
