"""The findings of the console view: one panel per category, the data gaps, the evidence cited once.

Each finding shows its severity, rule id, summary and detail, then the values the rule read and the
thresholds it used in clinical words and units (``eGFR 45 mL/min/1.73 m²``; the raw names stay in
``--format json`` and ``explain``), the patient-file records they came from and its citation keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ivig_cds.console.theme import BORDER, SEVERITY_LABEL, SEVERITY_STYLE, safe, worst
from ivig_cds.glossary import threshold_text, value_text
from ivig_cds.model.evaluation import SEVERITY_ORDER, Finding
from ivig_cds.model.format import printable, typeset

__all__ = ["citations", "evidence_keys", "evidence_panel", "finding_panels", "gap_panel"]

_CATEGORY_ORDER = (
    "safety", "eligibility", "diagnosis", "refractory", "dosing", "response", "steroid", "outcome", "relapse",
    "data",
)  # fmt: skip
_NARROW = 90  # below this the rule id moves into the text to leave it room


def evidence_keys(f: Finding) -> str:
    """The citation keys of a finding, ``(unverified)`` after a design choice."""
    keys = []
    for e in f.evidence:
        key = e.split("]", 1)[0].lstrip("[")
        keys.append(key + (" (unverified)" if e.endswith("(UNVERIFIED)") else ""))
    return ", ".join(keys)


def _values(f: Finding) -> str:
    if f.rule_id == "PLUGIN-001":
        return ""
    return ", ".join(value_text(k, v) for k, v in f.facts.items())


def _body(f: Finding) -> Text:
    loud = f.severity in ("stop", "warning")
    body = safe(typeset(f.summary), "bold" if loud else "")
    if f.detail:
        body.append("\n" + printable(typeset(f.detail)), style="italic")
    values = _values(f)
    if values:
        body.append(f"\nvalues: {values}", style="dim")
    limits = ", ".join(threshold_text(k, v) for k, v in f.thresholds.items())
    if limits:
        body.append(f"\nthresholds: {limits}", style="dim")
    if f.sources:
        body.append("\nfrom: " + printable(", ".join(f.sources)), style="dim")
    if f.evidence:
        body.append(f"\nevidence: {evidence_keys(f)}", style="dim")
    return body


def _table(narrow: bool) -> Table:
    """Severity | rule id | text; narrow: severity | rule id and text."""
    table = Table(show_header=False, box=None, padding=(0, 1), expand=True)
    table.add_column(width=8, no_wrap=True)
    if not narrow:
        table.add_column(width=16, overflow="fold")
    table.add_column(ratio=1)
    return table


def _row(table: Table, label: Text, rule_id: str, body: Text, narrow: bool) -> None:
    rid = safe(rule_id, "bold")
    if narrow:
        table.add_row(label, Text.assemble(rid, "  ", body))
    else:
        table.add_row(label, rid, body)


def finding_panels(findings: Sequence[Finding], width: int) -> list[Panel]:
    """One panel per category of clinical finding (not ``DATA-001``), the most severe category first."""
    clinical = [f for f in findings if f.rule_id != "DATA-001"]
    narrow = width < _NARROW
    order = {c: i for i, c in enumerate(_CATEGORY_ORDER)}

    def rank(category: str) -> tuple[int, int, str]:
        sev = worst(f for f in clinical if f.category == category) or "info"
        return SEVERITY_ORDER[sev], order.get(category, 99), category

    panels = []
    for category in sorted({f.category for f in clinical}, key=rank):
        table = _table(narrow)
        items = [f for f in clinical if f.category == category]
        for f in items:
            label = Text(SEVERITY_LABEL[f.severity], style=SEVERITY_STYLE[f.severity])
            _row(table, label, f.rule_id, _body(f), narrow)
        title = Text("Findings · ") + safe(category)
        panels.append(Panel(table, title=title, title_align="left", border_style=BORDER[worst(items) or "info"]))
    return panels


def _group(path: str) -> tuple[str, str]:
    """``labs[iga_mg_dl]`` -> ``("labs", "iga_mg_dl")``, ``assessments[].dysphagia`` -> ``("assessments",
    "dysphagia")``, ``risk_factors.sepsis`` -> ``("risk_factors", "sepsis")``."""
    for i, ch in enumerate(path):
        if ch == ".":
            return path[:i], path[i + 1 :]
        if ch == "[":
            close = path.find("]", i)
            if close < 0:
                return path[:i], path[i + 1 :]
            inner, rest = path[i + 1 : close], path[close + 1 :].lstrip(".")
            return path[:i], ".".join(part for part in (inner, rest) if part)
    return path, ""


def gap_panel(gaps: Sequence[Finding], width: int) -> Panel:
    """The rules missing data kept from deciding, with what to record grouped by where it is recorded."""
    narrow = width < _NARROW
    table = _table(narrow)
    for f in gaps:
        rid = str(f.facts.get("rule", ""))
        title = f.summary.split(f" ({rid})", 1)[0] if rid else f.summary
        groups: dict[str, list[str]] = {}
        # risk_factors.sepsis, labs[iga_mg_dl] -> "risk_factors: sepsis", "labs: iga_mg_dl" (a source may name
        # several fields: "demographics.height_cm, demographics.sex")
        for src in (part.strip() for whole in f.sources for part in whole.split(", ")):
            head, tail = _group(src)
            groups.setdefault(head, []).append(tail)
        body = safe(typeset(title))
        for head, tails in groups.items():
            body.append("\n" + printable(head), style="bold")
            if any(tails):
                body.append(": " + printable(", ".join(t for t in tails if t)), style="dim")
        # the label says what it is (a gap), coloured by how much the undecided rule matters
        _row(table, Text(" gap", style=SEVERITY_STYLE[f.severity]), rid, body, narrow)
    return Panel(
        table,
        title="Data gaps · these rules could not decide",
        title_align="left",
        subtitle="missing is not “no”: record these values and re-evaluate",
        subtitle_align="left",
        border_style="yellow",
    )


def citations(findings: Iterable[Finding]) -> list[str]:
    """The citations the clinical findings use, each once, in order of first use."""
    return list(dict.fromkeys(e for f in findings if f.rule_id != "DATA-001" for e in f.evidence))


def evidence_panel(cites: Iterable[str]) -> Panel | None:
    """Each citation once, by key, with its full text; ``None`` when nothing is cited."""
    cites = list(dict.fromkeys(cites))
    if not cites:
        return None
    table = Table(show_header=False, box=None, padding=(0, 1), expand=True)
    table.add_column(no_wrap=True, style="bold")
    table.add_column(ratio=1, style="dim")
    for c in sorted(cites, key=lambda c: c.partition("] ")[0]):
        key, _, text = c.partition("] ")
        table.add_row(safe(key.lstrip("[")), safe(typeset(text)))
    return Panel(table, title="Evidence cited", title_align="left", border_style="dim")
