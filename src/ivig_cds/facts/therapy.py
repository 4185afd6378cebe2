"""Myositis treatments: therapy facts, background changes (stability), and the glucocorticoid dose over time."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from ivig_cds.facts.fields import FactField, flag, number, text
from ivig_cds.facts.measures import dose_in_effect
from ivig_cds.facts.records import Snapshot, ref

__all__ = ["AGENT_CLASSES", "CHANGE_FIELDS", "FIELDS", "OUTCOMES", "THERAPY_FIELDS", "fill"]

AGENT_CLASSES = ("glucocorticoid", "steroid_sparing", "procedure", "other")
OUTCOMES = ("inadequate_response", "intolerance", "adequate_response", "ongoing", "unknown")
Fact = tuple[dict[str, Any], str]  # (fact, the patient-file record it came from)

FIELDS: dict[str, FactField] = {
    "therapies_count": number("therapies", "number of therapy records up to as_of"),
    "gc_ever_used": flag("therapies, glucocorticoid_doses", "a glucocorticoid was used"),
    "gc_baseline_mg": number("glucocorticoid_doses", "prednisone-equivalent mg/day in effect at course 1"),
    "gc_current_mg": number("glucocorticoid_doses, therapies", "prednisone-equivalent mg/day in effect at as_of"),
    "gc_reduction_pct": number("glucocorticoid_doses", "reduction from baseline, %"),
    "gc_current_pct_of_baseline": number("glucocorticoid_doses", "current dose as % of baseline"),
}

THERAPY_FIELDS: dict[str, FactField] = {
    "agent": text("therapies[].agent", "agent"),
    "agent_class": text("therapies[].agent", "agent class", *AGENT_CLASSES),
    "outcome": text("therapies[].outcome", "outcome", *OUTCOMES),
    "duration_days": number(
        "therapies[].start, stop",
        "days taken: to stop (or as_of when ongoing); rituximab and cyclophosphamide to the reference date",
    ),
    "ongoing": flag("therapies[].stop", "no stop date up to as_of"),
    "start": text("therapies[].start", "start date"),
}

CHANGE_FIELDS: dict[str, FactField] = {
    "agent": text("therapies[].agent / glucocorticoid_doses", "agent (prednisone_equivalent for dose steps)"),
    "agent_class": text("therapies[].agent", "agent class", *AGENT_CLASSES),
    "kind": text("therapies / glucocorticoid_doses", "what changed", "start", "stop", "dose_change"),
    "direction": text("glucocorticoid_doses", "dose direction", "increase", "decrease", "unknown"),
    "date": text("therapies / glucocorticoid_doses", "date of the change"),
    "days_before_ref": number("therapies / glucocorticoid_doses", "days before course 1 (or as_of); < 0 = after"),
    "after_first_course": flag("ivig_courses[0].start", "the change is after course 1 started"),
    "before_best_response": flag(
        "assessments", "the change is dated on or before the visit of the best TIS (unknown without one)"
    ),
}


def _agent_class(agent: str, terminology: Mapping[str, Any]) -> str:
    classes: Mapping[str, Sequence[str]] = terminology.get("agent_classes", {})
    for cls, agents in classes.items():
        if agent in agents:
            return str(cls)
    return "other"


def _change(
    agent: str, cls: str, kind: str, day: date, direction: str, ref_date: date, first: date | None
) -> dict[str, Any]:
    return {
        "t": "therapy_change",
        "agent": agent,
        "agent_class": cls,
        "kind": kind,
        "direction": direction,
        "date": day.isoformat(),
        "days_before_ref": (ref_date - day).days,
        "after_first_course": first is not None and day > first,
        "before_best_response": None,  # set once the response is scored (derive)
    }


def fill(s: Snapshot, p: dict[str, Any], src: dict[str, str]) -> list[Fact]:
    """Fill the glucocorticoid fields of the patient fact; return the therapy and therapy_change facts."""
    first, ref_date = s.episode.first, s.ref_date
    infusional = set(s.terminology.get("infusional_agents", ()))
    therapies: list[Fact] = []
    changes: list[Fact] = []
    gc_used = any(d.prednisone_mg_per_day > 0 for d in s.gc)
    for i, th, stop, dose_changes in s.therapies:
        agent = str(th.agent)
        cls = _agent_class(agent, s.terminology)
        gc_used = gc_used or cls == "glucocorticoid"
        # an infusion's trial runs from its start to the reference date, whatever its stop says
        end = ref_date if agent in infusional else (stop or s.as_of)
        fact = {
            "t": "therapy",
            "agent": agent,
            "agent_class": cls,
            "outcome": str(th.outcome),
            "duration_days": max(0, (end - th.start).days),
            "ongoing": stop is None,
            "start": th.start.isoformat(),
        }
        therapies.append((fact, ref(th, f"therapies[{i}]")))
        events = [("start", th.start, "increase")] + [("dose_change", d, "unknown") for d in dose_changes]
        if stop is not None:
            events.append(("stop", stop, "decrease"))
        for kind, day, direction in events:
            changes.append(
                (_change(agent, cls, kind, day, direction, ref_date, first), ref(th, f"therapies[{i}]"))
            )
    previous: float | None = None
    for d in s.gc:
        dose = float(d.prednisone_mg_per_day)
        if previous is not None and dose != previous:
            direction = "increase" if dose > previous else "decrease"
            change = _change(
                "prednisone_equivalent", "glucocorticoid", "dose_change", d.date, direction, ref_date, first
            )
            changes.append((change, ref(d, "glucocorticoid_doses")))
        previous = dose
    p["therapies_count"] = len(therapies)
    p["gc_ever_used"] = gc_used if (therapies or s.gc) else None

    baseline = dose_in_effect(s.gc, first) if first else None
    current = dose_in_effect(s.gc, s.as_of)
    if current is None and not any(f["agent_class"] == "glucocorticoid" and f["ongoing"] for f, _ in therapies):
        current = 0.0 if therapies or s.gc else None  # no glucocorticoid ongoing: none in effect
    p["gc_baseline_mg"], p["gc_current_mg"] = baseline, current
    for key in ("gc_baseline_mg", "gc_current_mg", "gc_reduction_pct", "gc_current_pct_of_baseline"):
        src[key] = "glucocorticoid_doses"
    reduction = pct_of_baseline = math.nan
    if baseline and current is not None:
        reduction = (baseline - current) / baseline * 100
        pct_of_baseline = current / baseline * 100
    finite = math.isfinite(reduction) and math.isfinite(pct_of_baseline)  # a near-0 baseline overflows
    p["gc_reduction_pct"] = reduction if finite else None
    p["gc_current_pct_of_baseline"] = pct_of_baseline if finite else None
    return therapies + changes
