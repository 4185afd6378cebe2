"""What ``explain`` adds to a rule's trace: the records behind its values, the comparisons behind its flags,
and the two rules the engine itself writes (``DATA-001``, ``PLUGIN-001``).

A derived flag such as ``relapse_found = true`` hides the comparison that set it; :func:`compared`
shows it in numbers (``MMT-8 56/80 on 2018-08-20 is 76% of the best since course 1, 74/80 on
2017-01-09; relapse at ≤ 80%``), recomputed from the patient file with the same measures and
thresholds the facts used. No rich here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ivig_cds.facts.measures import ck_x_uln, mmt8_pct
from ivig_cds.model.evaluation import Finding
from ivig_cds.model.format import format_value
from ivig_cds.model.patient import Assessment, Patient

__all__ = ["META_RULES", "MetaExplanation", "MetaRule", "compared", "describe_record", "record_refs"]


@dataclass(frozen=True)
class MetaRule:
    """A rule the engine writes itself rather than a rule file: documented like the others."""

    id: str
    version: str
    title: str
    category: str
    severity: str
    summary: str
    detail: str
    evidence: tuple[str, ...]

    def row(self) -> dict[str, Any]:
        """Its ``rules list`` row."""
        return {"id": self.id, "version": self.version, "severity": self.severity, "category": self.category,
                "title": self.title, "origin": "core"}  # fmt: skip

    def document(self) -> dict[str, Any]:
        """Its ``rules show`` document."""
        evidence = [{"key": "ivig-cds", "citation": e, "verified": True} for e in self.evidence]
        return {**self.row(), "file": "(written by the engine)", "summary": self.summary, "detail": self.detail,
                "evidence": evidence}  # fmt: skip


META_RULES: dict[str, MetaRule] = {
    "DATA-001": MetaRule(
        "DATA-001",
        "1.0.0",
        "Missing data kept a rule from deciding",
        "data",
        "one step below the undecided rule's (stop -> warning, warning -> advisory, else info)",
        "{rule title} ({RULE-ID}) could not be checked: not recorded - {the patient-file fields}",
        "Every rule is evaluated three-valued (true, false, unknown). A rule whose conditions are unknown"
        " because a field it reads is not recorded - neither true nor false - gets one DATA-001 finding"
        " naming it (facts.rule) and the patient-file fields to record (sources). Missing is never read"
        " as no. Rules with `gaps: false` do not report gaps.",
        ("[ivig-cds] missing data is reported, never read as a negative (Kleene three-valued logic)",),
    ),
    "PLUGIN-001": MetaRule(
        "PLUGIN-001",
        "1.0.0",
        "Plugin failed: evaluation incomplete",
        "data",
        "warning",
        "Evaluation incomplete: plugin {name} failed in {hook}; its contribution is missing",
        "A plugin that fails to load or raises in a hook (anything, even SystemExit or its own"
        " KeyboardInterrupt) is reported in engine.plugin_failures and by one PLUGIN-001 warning per"
        " failure; it contributes no rules, and every other plugin and the core still run."
        " --strict-plugins makes the failure fatal instead.",
        ("[ivig-cds] plugin isolation: a failing plugin is reported, never silent",),
    ),
}
"""The rules the engine writes itself, by id."""


@dataclass(frozen=True)
class MetaExplanation:
    """``explain FILE DATA-001``: the engine's own rule, and its findings for this patient."""

    patient_id: str
    as_of: str
    rule: MetaRule
    findings: tuple[Finding, ...]

    @property
    def fired(self) -> bool:
        return bool(self.findings)

    @property
    def outcome(self) -> str:
        return "fired" if self.findings else "did not fire"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (``explain --format json``)."""
        return {
            "patient_id": self.patient_id,
            "as_of": self.as_of,
            "rule": self.rule.document(),
            "outcome": self.outcome,
            "fired": self.fired,
            "findings": [
                {"summary": f.summary, "facts": f.facts, "sources": f.sources, "severity": str(f.severity)}
                for f in self.findings
            ],
        }


# ---------------------------------------------------------------- records


def record_refs(patient: Patient) -> dict[str, Any]:
    """Every dated record of the patient file by how findings name it (its ``source``, else its path)."""
    out: dict[str, Any] = {}
    for name in ("assessments", "labs", "therapies", "ivig_courses"):
        for i, record in enumerate(getattr(patient, name)):
            out[getattr(record, "source", None) or f"{name}[{i}]"] = record
    return out


def _v(value: object) -> str:
    return format_value(value, "display")


def describe_record(ref: str, record: Any) -> str:
    """One record in a line: ``assessments[11] 2018-08-20: MMT-8 56/80, CK 2600 U/L (ULN 200)``."""
    if isinstance(record, Assessment):
        parts = []
        if record.mmt8 is not None:
            parts.append(f"MMT-8 {_v(record.mmt8)}/{record.mmt8_max}")
        if record.ck_u_per_l is not None:
            parts.append(f"CK {_v(record.ck_u_per_l)} U/L (ULN {_v(record.ck_uln_u_per_l)})")
        others = (("physician global", record.physician_global_cm), ("patient global", record.patient_global_cm),
                  ("HAQ", record.haq), ("dysphagia", record.dysphagia))  # fmt: skip
        for label, value in others:
            if value is not None:
                parts.append(f"{label} {_v(value)}")
        return f"{ref} {record.date}: " + (", ".join(parts) or "nothing recorded")
    if hasattr(record, "test"):
        return f"{ref} {record.date}: {_v(str(record.test))} {_v(record.value)}"
    if hasattr(record, "agent"):
        stop = record.stop.isoformat() if record.stop else "ongoing"
        return (
            f"{ref}: {_v(str(record.agent))} {record.start} → {stop}, {_v(str(record.outcome)).replace('_', ' ')}"
        )
    if hasattr(record, "days"):
        product = f", {_v(record.product)}" if getattr(record, "product", None) else ""
        return f"{ref}: {record.start}, {record.days} d × {_v(record.dose_g_per_kg_per_day)} g/kg/day{product}"
    return ref


# ---------------------------------------------------------------- comparisons behind derived flags


def _assessments(patient: Patient) -> list[Assessment]:
    return sorted(patient.assessments, key=lambda a: a.date)


def _relapse(patient: Patient, visit: Any, first: date, t: Mapping[str, Any], kind: object) -> list[str]:
    """The relapse visit against the best MMT-8 (and, for the CK criterion, the CK nadir) since course 1."""
    if not isinstance(visit, Assessment):
        return []
    before = [a for a in _assessments(patient) if first <= a.date < visit.date]
    scored = [a for a in before if a.mmt8 is not None]
    score = mmt8_pct(visit)
    lines = []
    if scored and score is not None:
        best = max(scored, key=lambda a: (mmt8_pct(a) or 0.0, a.date))
        ratio = score / (mmt8_pct(best) or 1.0) * 100
        limit = t.get("relapse_mmt8_pct_of_best") if kind == "strength" else t.get("relapse_ck_mmt8_pct_of_best")
        lines.append(
            f"MMT-8 {_v(visit.mmt8)}/{visit.mmt8_max} on {visit.date} is {format_value(ratio, decimals=0)}% of the"
            f" best since course 1, {_v(best.mmt8)}/{best.mmt8_max} on {best.date} (relapse at ≤ {_v(limit)}%)"
        )
    ck, cks = ck_x_uln(visit), [x for a in before if (x := ck_x_uln(a)) is not None]
    if kind == "strength_and_ck" and ck is not None and cks:
        nadir = min(cks)
        lines.append(
            f"CK {format_value(ck, decimals=1)} × ULN on {visit.date} is {format_value(ck / nadir, decimals=1)} ×"
            f" the nadir since course 1 ({format_value(nadir, decimals=1)} × ULN; relapse with ≥"
            f" {_v(t.get('relapse_ck_x_nadir'))} × and above ULN)"
        )
    return lines


Comparison = Callable[[Patient, Any, date, Mapping[str, Any], Mapping[str, Any]], list[str]]
_COMPARISONS: dict[str, Comparison] = {
    "relapse_found": lambda patient, visit, first, t, p: _relapse(patient, visit, first, t, p.get("relapse_kind")),
}


def compared(
    patient: Patient,
    fields: Sequence[str],
    patient_fact: Mapping[str, Any],
    field_sources: Mapping[str, str],
    first_course: date | None,
    thresholds: Mapping[str, Any],
) -> list[str]:
    """The records behind the patient-fact ``fields`` a rule tested, and the comparisons behind its flags."""
    refs = record_refs(patient)
    lines: list[str] = []
    for name in dict.fromkeys(fields):
        where = field_sources.get(name)
        record = refs.get(where) if where else None
        if record is None:
            continue
        lines.append(f"{name} ← {describe_record(str(where), record)}")
        compare = _COMPARISONS.get(name)
        if compare is not None and first_course is not None and patient_fact.get(name):
            lines += [f"  {line}" for line in compare(patient, record, first_course, thresholds, patient_fact)]
    return list(dict.fromkeys(lines))
