"""Fact derivation: pure functions from a patient snapshot to the facts the rules test.

Nothing here decides anything clinical: the fact families measure (ages, weights, doses in
effect, scores, intervals) and hand numbers to the rules, which hold the decisions and their
thresholds. Every function is deterministic and reads no clock: ``as_of`` is always passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ivig_cds.facts import (
    demographics,
    deterioration,
    glucocorticoid,
    infusion,
    relapse,
    renal,
    response,
    safety,
    therapy,
    workup,
)
from ivig_cds.facts.measures import DAYS_PER_MONTH, age_years, body_weights, dose_in_effect, months_between
from ivig_cds.facts.records import Snapshot, known_at, truncate
from ivig_cds.facts.scoring import TisTable
from ivig_cds.model.patient import Patient
from ivig_cds.model.terminology import ProductTable

__all__ = [
    "DAYS_PER_MONTH",
    "Derived",
    "age_years",
    "body_weights",
    "derive",
    "dose_in_effect",
    "months_between",
    "product_table",
    "truncate",
]


@dataclass
class Derived:
    """The derived facts of one patient, plus the context used to assemble status and dose plan.

    Attributes:
        facts: Fact dicts (``t`` = fact type), in a deterministic order; ``None`` fields kept.
        refs: For each fact, the patient-file path it came from (``therapies[2]``), or ``""``.
        context: Dates the status, findings and console use (first course, discontinuation, ...).
        ignored_after_as_of: Records dated after ``as_of`` that were left out.
        field_sources: For fields of the patient fact, the record each came from (its ``source``
            when recorded, e.g. ``Observation/123``, else its path, e.g. ``labs[2]``).
    """

    facts: list[dict[str, Any]] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    ignored_after_as_of: int = 0
    field_sources: dict[str, str] = field(default_factory=dict)

    def add(self, fact: dict[str, Any], ref: str = "") -> None:
        self.facts.append(fact)
        self.refs.append(ref)

    @property
    def patient(self) -> dict[str, Any]:
        return self.facts[0]


_TABLES: dict[int, tuple[Mapping[str, Any], ProductTable]] = {}


def product_table(terminology: Mapping[str, Any]) -> ProductTable:
    """The product table of a terminology mapping, built once per mapping."""
    hit = _TABLES.get(id(terminology))
    if hit is None or hit[0] is not terminology:
        if len(_TABLES) > 256:
            _TABLES.clear()
        table = ProductTable.from_mapping(terminology, source="terminology.yaml")
        hit = _TABLES[id(terminology)] = (terminology, table)
    return hit[1]


def _mark_before_best(facts: list[tuple[dict[str, Any], str]], best_on: date | None) -> None:
    """Say of each background change whether it came on or before the best-TIS visit (``None`` without one)."""
    for fact, _ in facts:
        if fact["t"] == "therapy_change":
            fact["before_best_response"] = None if best_on is None else date.fromisoformat(fact["date"]) <= best_on


def derive(
    patient: Patient,
    as_of: date,
    thresholds: Mapping[str, Any],
    terminology: Mapping[str, Any],
    tis: TisTable,
) -> Derived:
    """Derive every fact the rules use from a validated patient snapshot, as of a date."""
    s: Snapshot = known_at(patient, as_of, thresholds, terminology, product_table(terminology), tis)
    out = Derived(ignored_after_as_of=s.ignored)
    p: dict[str, Any] = {"t": "patient"}
    src = out.field_sources
    demographics.fill(s, p, src)
    others = therapy.fill(s, p, src)
    others += safety.fill(s, p, src)  # after demographics: the volume needs the weights
    scored = response.fill(s, p, src)
    _mark_before_best(others, scored.best[1] if scored.best is not None else None)
    dates = relapse.fill(s, p, src)
    workup.fill(s, p, src)
    renal.fill(s, p, src)
    infusion.fill(s, p, src)
    deteriorating_since = deterioration.fill(s, p, src, scored)
    glucocorticoid.fill(s, p, src, others, deteriorating_since)
    out.context.update(
        first_course=s.episode.first,
        discontinued_on=s.episode.stopped or (s.previous.stopped if s.previous else None),
        restarted_on=s.episode.first if s.previous is not None else None,
        as_of=as_of,
        ref_date=s.ref_date,
        **{f"{k}_date": v for k, v in dates.items()},
    )
    out.add(p, "")
    for fact, ref in others:
        out.add(fact, ref)
    return out
