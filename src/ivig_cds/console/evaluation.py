"""Rich rendering for a person at a terminal: evaluation, cohort table, explanation, rules (no clinical logic).

Every function draws on a :class:`~rich.console.Console` it is given, so tests render with
``Console(file=io.StringIO(), width=100, color_system=None)``. Severity is carried by words as
well as colour (``STOP``, ``WARNING`` in capitals), so it survives ``NO_COLOR`` and plain files.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
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

from ivig_cds.batch.runner import Result
from ivig_cds.console.fhir import mapping_panel
from ivig_cds.console.timeline import TimelineView, timeline_data
from ivig_cds.model.evaluation import SEVERITY_ORDER, Evaluation, Finding
from ivig_cds.model.patient import Patient

__all__ = [
    "SEVERITY_LABEL",
    "SEVERITY_STYLE",
    "ProgressBar",
    "progress_bar",
    "render_brief",
    "render_evaluation",
    "render_text",
    "status_lines",
]

SEVERITY_STYLE = {"stop": "bold white on red", "warning": "bold red", "advisory": "yellow", "info": "cyan"}
SEVERITY_LABEL = {"stop": " STOP ", "warning": "WARNING", "advisory": "advisory", "info": "info"}
_GOOD, _BAD, _WARN, _NEUTRAL = "green", "bold red", "yellow", "default"
_BORDER = {"stop": "red", "warning": "red", "advisory": "yellow", "info": "blue"}

_ELIGIBILITY_STYLE = {
    "eligible": _GOOD,
    "eligible_with_precautions": _WARN,
    "screen_incomplete": _WARN,
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
_VERDICT = {True: ("✓", "green"), False: ("✗", "red"), None: ("?", "yellow")}
_OPS = {"eq": "=", "ne": "≠", "lt": "<", "le": "≤", "gt": ">", "ge": "≥", "in": "in"}


def _v(value: object, *, words: bool = True) -> str:
    """A value for people: ``yes``/``no``, ``—`` for not recorded, underscores as spaces."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace("_", " ") if words else str(value)


def _raw(value: object) -> str:
    """A value as the data holds it (``true``, ``null``, ``inadequate_response``): for ``values:`` lines."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return value
    if isinstance(value, tuple):
        value = list(value)
    return json.dumps(value, ensure_ascii=False)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ---------------------------------------------------------------- one evaluation


_SCREEN_WORDS = {
    "risk_factors.prior_ig_anaphylaxis": "prior Ig anaphylaxis",
    "risk_factors.iga_deficiency": "IgA level",
    "risk_factors.anti_iga_antibodies": "anti-IgA antibodies",
    "labs[creatinine_mg_dl]": "creatinine/eGFR (180 d)",
    "risk_factors.hyperprolinemia": "hyperprolinemia",
}


def _screen_item(path: str) -> str:
    return _SCREEN_WORDS.get(path, path)


def status_lines(ev: Evaluation) -> list[tuple[str, str, str]]:
    """(label, value, style) rows of the status panel."""
    s = ev.status
    elig = _v(s.eligibility)
    if s.missing_screen:
        elig += " — record " + ", ".join(_screen_item(m) for m in s.missing_screen)
    elif s.eligibility_reasons:
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


def _worst(findings: Iterable[Finding]) -> str | None:
    return min((f.severity for f in findings), key=lambda s: SEVERITY_ORDER[s], default=None)


def _header(ev: Evaluation) -> Text:
    p = ev.patient
    text = Text()
    text.append(f"as of {ev.as_of}" + (" (today, UTC)" if ev.status.as_of_source == "today" else ""), style="bold")
    who = f"{p.age_years} y" + (f" {p.sex}" if p.sex else "") + (f" · {_v(p.weight_kg)} kg" if p.weight_kg else "")
    text.append(f"   {who}   ")
    text.append(f"{_v(p.condition)} ({p.classification})", style="bold")
    courses = _plural(p.courses_given, "IVIG course")
    if p.first_course:
        courses += f" since {p.first_course}"
    if p.discontinued_on:
        courses += f", stopped {p.discontinued_on}"
    text.append(f"\n{courses}", style="dim")
    return text


def _status_panel(ev: Evaluation) -> Panel:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for label, value, style in status_lines(ev):
        table.add_row(label, Text(value, style=style))
    clinical = [f for f in ev.findings if f.category != "data"]
    counts = {sev: sum(1 for f in clinical if f.severity == sev) for sev in ("stop", "warning", "advisory")}
    alerts = Text()
    for sev, n in counts.items():
        if n:
            word = {"stop": "STOP", "warning": "WARNING", "advisory": "advisory"}[sev]
            alerts.append(
                ("  " if alerts else "")
                + f"{n} {word}"
                + ("" if n == 1 or sev == "stop" else "S" if sev == "warning" else "s"),
                style=SEVERITY_STYLE[sev],
            )
    table.add_row("Alerts", alerts if alerts else Text("none", style=_GOOD))
    gaps = len({f.facts.get("rule") for f in ev.findings if f.category == "data"})
    if gaps:
        table.add_row("Data gaps", Text(f"{_plural(gaps, 'rule')} could not decide (see below)", style=_WARN))
    s = ev.status
    bad = s.eligibility in ("contraindicated", "not_eligible") or s.relapse_alert or counts["stop"]
    warn = counts["warning"] or s.eligibility == "eligible_with_precautions" or s.outcome == "ivig_dependent"
    border = "red" if bad else ("yellow" if warn else "green")
    return Panel(table, title="Status", title_align="left", border_style=border)


def _dose(ev: Evaluation) -> RenderableType:
    d = ev.dose_plan
    if d is None:
        return Text("No dose plan: weight not recorded.", style=_WARN)
    basis = f"{d.weight_basis} weight {_v(d.dosing_weight_kg)} kg"
    if d.weight_basis == "adjusted":
        basis += f" (actual {_v(d.actual_weight_kg)} kg{', ' + d.basis_rule if d.basis_rule else ''})"
    return Text.assemble(
        (f"{_v(d.grams_per_day)} g/day", "bold"),
        f" × {d.days_per_course} days every {d.interval_weeks} weeks ",
        (f"({_v(d.grams_per_course)} g per course)", "bold"),
        f"\n{_v(d.g_per_kg_per_day)} g/kg/day on {basis}; {d.courses_in_first_phase} courses in the first phase",
    )


def _evidence_keys(f: Finding) -> str:
    keys = []
    for e in f.evidence:
        key = e.split("]", 1)[0].lstrip("[")
        keys.append(key + (" (unverified)" if e.endswith("(UNVERIFIED)") else ""))
    return ", ".join(keys)


def _finding_body(f: Finding) -> Text:
    loud = f.severity in ("stop", "warning")
    body = Text(f.summary, style="bold" if loud else "")
    if f.detail:
        body.append(f"\n{f.detail}", style="italic")
    values = ", ".join(f"{k.removeprefix('patient.')}={_raw(v)}" for k, v in f.facts.items())
    if values:
        body.append(f"\nvalues: {values}", style="dim")
    limits = ", ".join(f"{k}={_raw(v)}" for k, v in f.thresholds.items())
    if limits:
        body.append(f"\nthresholds: {limits}", style="dim")
    if f.sources:
        body.append(f"\nfrom: {', '.join(f.sources)}", style="dim")
    if f.evidence:
        body.append(f"\nevidence: {_evidence_keys(f)}", style="dim")
    return body


def _findings_table(narrow: bool = False) -> Table:
    """Severity | rule id | text; below 90 columns the rule id moves into the text to leave it room."""
    table = Table(show_header=False, box=None, padding=(0, 1), expand=True)
    table.add_column(width=8, no_wrap=True)
    if not narrow:
        table.add_column(width=16, overflow="fold")
    table.add_column(ratio=1)
    return table


def _row(table: Table, severity: str, rule_id: str, body: Text, narrow: bool) -> None:
    label = Text(SEVERITY_LABEL[severity], style=SEVERITY_STYLE[severity])
    if narrow:
        table.add_row(label, Text.assemble((rule_id, "bold"), "  ", body))
    else:
        table.add_row(label, Text(rule_id, style="bold"), body)


def _group(path: str) -> tuple[str, str]:
    for i, ch in enumerate(path):
        if ch in ".[":
            return path[:i], path[i + 1 :].rstrip("]")
    return path, ""


def _gap_panel(gaps: Sequence[Finding], narrow: bool = False) -> Panel:
    table = _findings_table(narrow)
    for f in gaps:
        rid = str(f.facts.get("rule", ""))
        title = f.summary.split(f" ({rid})", 1)[0] if rid else f.summary
        groups: dict[str, list[str]] = {}
        for src in f.sources:  # risk_factors.sepsis, labs[iga_mg_dl] -> "risk_factors: sepsis", "labs: iga_mg_dl"
            head, tail = _group(src)
            groups.setdefault(head, []).append(tail)
        body = Text(title)
        for head, tails in groups.items():
            body.append(f"\n{head}", style="bold")
            if any(tails):
                body.append(": " + ", ".join(t for t in tails if t), style="dim")
        table.add_row(
            Text(SEVERITY_LABEL[f.severity], style=SEVERITY_STYLE[f.severity]), Text(rid, style="bold"), body
        )
    return Panel(
        table,
        title="Data gaps · these rules could not decide",
        title_align="left",
        subtitle="missing is not “no”: record these values and re-evaluate",
        subtitle_align="left",
        border_style="yellow",
    )


def _evidence_panel(findings: Sequence[Finding]) -> Panel | None:
    cites = list(dict.fromkeys(e for f in findings for e in f.evidence))
    if not cites:
        return None
    table = Table(show_header=False, box=None, padding=(0, 1), expand=True)
    table.add_column(no_wrap=True, style="bold")
    table.add_column(ratio=1, style="dim")
    for c in cites:
        key, _, text = c.partition("] ")
        table.add_row(key.lstrip("["), text)
    return Panel(table, title="Evidence cited", title_align="left", border_style="dim")


def render_evaluation(
    ev: Evaluation, console: Console, patient: Patient | None = None, *, evidence: bool = True
) -> None:
    """Print the full console view of one evaluation.

    Args:
        ev: The evaluation.
        console: Where to draw.
        patient: The patient file it came from; when given, the timeline is drawn.
        evidence: Add the panel of full citations.
    """
    console.print(
        Panel(
            _header(ev),
            title=f"ivig-cds · patient {escape(ev.patient_id)}",
            title_align="left",
            border_style="blue",
        )
    )
    console.print(_status_panel(ev))
    fhir = mapping_panel(ev.mapping)
    if fhir is not None:
        console.print(fhir)
    blocked = ev.status.eligibility in ("contraindicated", "not_eligible")
    dose_title = "Dose plan (seed regimen)" + (
        f" · for reference only: {_v(ev.status.eligibility)}" if blocked else ""
    )
    console.print(
        Panel(_dose(ev), title=dose_title, title_align="left", border_style="red" if blocked else "none")
    )
    if patient is not None:
        from datetime import date

        data = timeline_data(patient, date.fromisoformat(ev.as_of))
        if data is not None:
            console.print(Panel(TimelineView(data), title="Timeline", title_align="left", border_style="dim"))
    gaps = [f for f in ev.findings if f.category == "data"]
    clinical = [f for f in ev.findings if f.category != "data"]
    narrow = console.width < 90
    order = {c: i for i, c in enumerate(_CATEGORY_ORDER)}

    def rank(category: str) -> tuple[int, int, str]:
        worst = _worst(f for f in clinical if f.category == category) or "info"
        return SEVERITY_ORDER[worst], order.get(category, 99), category

    for category in sorted({f.category for f in clinical}, key=rank):
        table = _findings_table(narrow)
        items = [f for f in clinical if f.category == category]
        for f in items:
            _row(table, f.severity, f.rule_id, _finding_body(f), narrow)
        worst = _worst(items) or "info"
        console.print(
            Panel(table, title=f"Findings · {category}", title_align="left", border_style=_BORDER[worst])
        )
    if not clinical:
        console.print(Text("No findings.", style="dim"))
    if gaps:
        console.print(_gap_panel(gaps, narrow))
    if evidence:
        panel = _evidence_panel(clinical)
        if panel is not None:
            console.print(panel)
    tail = f" · {_plural(ev.ignored_after_as_of, 'record')} after as_of ignored" if ev.ignored_after_as_of else ""
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
    """The console view of each evaluation as plain text (the ``rich`` output format)."""
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, force_terminal=False, soft_wrap=False)
    for ev in evaluations:
        render_evaluation(ev, console)
    return buf.getvalue()


def render_brief(results: Sequence[Result], console: Console) -> None:
    """One row per record: a batch at a glance (``evaluate --brief``)."""
    table = Table(expand=False)
    table.add_column("source", overflow="fold")
    table.add_column("patient", overflow="fold")
    for name in ("eligibility", "response", "outcome", "alerts"):
        table.add_column(name, no_wrap=True)
    for r in results:
        if r.evaluation is None:
            what = "invalid" if r.failure is None or r.failure.kind == "invalid" else "failed"
            table.add_row(r.source, "", Text(what, style=_BAD), "", "", "")
            continue
        ev, s = r.evaluation, r.evaluation.status
        worst = _worst(f for f in ev.findings if f.category != "data")
        table.add_row(
            r.source,
            ev.patient_id,
            Text(_v(s.eligibility), style=_ELIGIBILITY_STYLE[s.eligibility]),
            _v(s.response),
            Text(_v(s.outcome), style=_OUTCOME_STYLE.get(s.outcome, _NEUTRAL)),
            Text(SEVERITY_LABEL[worst].strip(), style=SEVERITY_STYLE[worst]) if worst else Text("—"),
        )
    console.print(table)


# ---------------------------------------------------------------- progress


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


def progress_bar(console: Console, total: int) -> ProgressBar:
    """A progress bar drawn on ``console`` (the CLI passes its stderr console)."""
    return ProgressBar(console, total)
