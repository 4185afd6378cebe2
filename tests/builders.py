"""Fluent builders of valid patient files (contract v1) and helpers shared by the rule and engine tests.

Start from :func:`eligible` - a realistic, fully recorded, eligible adult with refractory
polymyositis - and change only what a test is about::

    patient = eligible().risk(pregnant=True).build()

Dates are ISO strings in the built dict. :func:`day` turns an offset in days from course 1
(:data:`C1`) into a date, so IVIG timelines read as numbers of days.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from ivig_cds import Engine, Evaluation, Finding, facts

__all__ = [
    "AS_OF",
    "C1",
    "RISK_FACTORS",
    "TIS_17_5",
    "TIS_20",
    "TIS_37_5",
    "TIS_40",
    "TIS_57_5",
    "TIS_60",
    "DualEngine",
    "PatientBuilder",
    "day",
    "eligible",
    "finding",
    "findings",
    "gaps_for",
    "iso",
    "relapse_candidate",
    "responder",
    "rule_ids",
    "with_response",
]

C1 = date(2024, 1, 8)
"""Default start of IVIG course 1."""
AS_OF = date(2024, 6, 1)
"""Default ``as_of`` of :func:`eligible`."""

RISK_FACTORS = facts.RISK_FACTORS

# Baseline / follow-up core set measure pairs whose ACR/EULAR 2016 TIS is known exactly
# (rules/tis.yaml: absolute % change = change / the scale's range x 100). MMT-8 is on the 0-80 scale;
# absent measures score 0.
TIS_20 = ({"mmt8": 50}, {"mmt8": 66})  # MMT +16/80 = +20 % (edge of the 10-20 band) -> 20
TIS_17_5 = (  # MMT +8/80 = +10 % -> 10; patient global 10 -> 7 cm = -30 % of 10 cm -> 7.5
    {"mmt8": 50, "patient_global_cm": 10},
    {"mmt8": 58, "patient_global_cm": 7},
)
TIS_37_5 = (  # MMT +25/80 = +31.25 % -> 32.5; patient global -2/10 cm = -20 % -> 5
    {"mmt8": 50, "patient_global_cm": 10},
    {"mmt8": 75, "patient_global_cm": 8},
)
TIS_40 = (  # 32.5 + 7.5
    {"mmt8": 50, "patient_global_cm": 10},
    {"mmt8": 75, "patient_global_cm": 7},
)
TIS_57_5 = (  # 32.5 + physician global -3/10 cm (17.5) + patient global -3/10 cm (7.5)
    {"mmt8": 50, "physician_global_cm": 10, "patient_global_cm": 10},
    {"mmt8": 75, "physician_global_cm": 7, "patient_global_cm": 7},
)
TIS_60 = (  # 32.5 + physician global -5/10 cm (20) + patient global -3/10 cm (7.5)
    {"mmt8": 50, "physician_global_cm": 10, "patient_global_cm": 10},
    {"mmt8": 75, "physician_global_cm": 5, "patient_global_cm": 7},
)

_DELETE = object()


def iso(value: date | str) -> str:
    """A date as ``YYYY-MM-DD`` (strings pass through)."""
    return value if isinstance(value, str) else value.isoformat()


def day(offset: int, anchor: date = C1) -> date:
    """The date ``offset`` days after ``anchor`` (course 1 by default; negative = before)."""
    return anchor + timedelta(days=offset)


class PatientBuilder:
    """Builds a patient-file dict step by step; every method returns the builder."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._d: dict[str, Any] = copy.deepcopy(dict(data))

    # -- top level ------------------------------------------------------------------------
    def build(self) -> dict[str, Any]:
        """A deep copy of the patient dict, safe to mutate."""
        return copy.deepcopy(self._d)

    def copy(self) -> PatientBuilder:
        return PatientBuilder(self._d)

    def id(self, patient_id: str) -> PatientBuilder:
        self._d["patient_id"] = patient_id
        return self

    def as_of(self, when: date | str | None) -> PatientBuilder:
        """Set ``as_of``; ``None`` removes it (the engine then needs ``as_of=`` or uses today)."""
        if when is None:
            self._d.pop("as_of", None)
        else:
            self._d["as_of"] = iso(when)
        return self

    def set(self, path: str, value: Any) -> PatientBuilder:
        """Set a dotted path (``demographics.weight_kg``); the value ``DELETE`` removes the key."""
        *parents, last = path.split(".")
        target = self._d
        for part in parents:
            target = target.setdefault(part, {})
        if value is _DELETE:
            target.pop(last, None)
        else:
            target[last] = value
        return self

    DELETE = _DELETE

    # -- demographics, diagnosis, risk factors -----------------------------------------------
    def demographics(self, **fields: Any) -> PatientBuilder:
        for key, value in fields.items():
            self.set(f"demographics.{key}", iso(value) if isinstance(value, date) else value)
        return self

    def born(self, when: date | str) -> PatientBuilder:
        return self.demographics(birth_date=iso(when))

    def diagnosis(self, **fields: Any) -> PatientBuilder:
        for key, value in fields.items():
            self.set(f"diagnosis.{key}", iso(value) if isinstance(value, date) else value)
        return self

    def risk(self, **flags: bool | None) -> PatientBuilder:
        """Set risk factors (``None`` = recorded as null, i.e. not recorded)."""
        for key, value in flags.items():
            if key not in RISK_FACTORS:
                raise KeyError(key)
            self._d.setdefault("risk_factors", {})[key] = value
        return self

    def no_risk_factors(self) -> PatientBuilder:
        """Drop the whole risk-factor screen (every key not recorded)."""
        self._d.pop("risk_factors", None)
        return self

    # -- therapies and glucocorticoid steps ---------------------------------------------------
    def therapy(
        self,
        agent: str,
        start: date | str,
        stop: date | str | None = None,
        outcome: str = "inadequate_response",
        dose_changed_on: Iterable[date | str] = (),
    ) -> PatientBuilder:
        entry: dict[str, Any] = {
            "agent": agent,
            "start": iso(start),
            "stop": None if stop is None else iso(stop),
            "outcome": outcome,
        }
        changes = [iso(d) for d in dose_changed_on]
        if changes:
            entry["dose_changed_on"] = changes
        self._d["therapies"].append(entry)
        return self

    def no_therapies(self) -> PatientBuilder:
        self._d["therapies"] = []
        return self

    def stop_therapy(self, agent: str, stop: date | str, outcome: str | None = None) -> PatientBuilder:
        """Set the stop date (and optionally the outcome) of every record of ``agent``."""
        for entry in self._d["therapies"]:
            if entry["agent"] == agent:
                entry["stop"] = iso(stop)
                if outcome is not None:
                    entry["outcome"] = outcome
        return self

    def gc(self, when: date | str, mg: float) -> PatientBuilder:
        """Add a glucocorticoid dose step (prednisone-equivalent mg/day from ``when``)."""
        self._d.setdefault("glucocorticoid_doses", []).append({"date": iso(when), "prednisone_mg_per_day": mg})
        return self

    def no_gc(self) -> PatientBuilder:
        self._d["glucocorticoid_doses"] = []
        return self

    # -- assessments, labs ------------------------------------------------------------------
    def assessment(self, when: date | str, **fields: Any) -> PatientBuilder:
        self._d.setdefault("assessments", []).append({"date": iso(when), **fields})
        return self

    def lab(self, when: date | str, test: str, value: float) -> PatientBuilder:
        self._d.setdefault("labs", []).append({"date": iso(when), "test": test, "value": value})
        return self

    def no_labs(self) -> PatientBuilder:
        self._d["labs"] = []
        return self

    # -- IVIG -------------------------------------------------------------------------------
    def course(
        self,
        start: date | str,
        days: int = 2,
        dose: float = 1.0,
        product: str | None = "Gamunex-C",
        adverse_events: list[dict[str, str]] | None = None,
        max_rate: float | None = None,
    ) -> PatientBuilder:
        entry: dict[str, Any] = {"start": iso(start), "days": days, "dose_g_per_kg_per_day": dose}
        if product is not None:
            entry["product"] = product
        if max_rate is not None:
            entry["max_rate_mg_kg_min"] = max_rate
        if adverse_events:
            entry["adverse_events"] = adverse_events
        self._d.setdefault("ivig_courses", []).append(entry)
        return self

    def courses(self, n: int, first: date = C1, every_days: int = 28, **kw: Any) -> PatientBuilder:
        """Add ``n`` courses, the first on ``first``, then every ``every_days`` days."""
        for i in range(n):
            self.course(first + timedelta(days=i * every_days), **kw)
        return self

    def discontinue(self, when: date | str | None) -> PatientBuilder:
        self._d["ivig_discontinued_on"] = None if when is None else iso(when)
        return self


def eligible(*, patient_id: str = "pt-001", as_of: date = AS_OF) -> PatientBuilder:
    """A realistic eligible patient: 44-year-old woman, definite refractory PM, fully screened.

    Prednisone since 2020 (60 mg, 20 mg from 2021, unchanged since) with calcium and vitamin D,
    methotrexate failed after a year, every risk factor false, normal eGFR / creatinine / IgA, blood
    group O, BMI 23.5.
    No IVIG course and no assessment yet.
    """
    return PatientBuilder(
        {
            "schema_version": 1,
            "patient_id": patient_id,
            "as_of": iso(as_of),
            "demographics": {
                "birth_date": "1980-03-15",
                "sex": "female",
                "weight_kg": 64,
                "height_cm": 165,
                "abo_group": "O",
            },
            "diagnosis": {
                "condition": "polymyositis",
                "diagnosed_on": "2019-11-01",
                "classification": "definite",
                "criteria": "bohan_peter",
                "ibm_features": False,
                "statin_exposure": False,
                "anti_hmgcr": False,
                "anti_srp": False,
            },
            "therapies": [
                {"agent": "prednisone", "start": "2020-01-01", "stop": None, "outcome": "inadequate_response"},
                {
                    "agent": "methotrexate",
                    "start": "2020-03-01",
                    "stop": "2021-03-01",
                    "outcome": "inadequate_response",
                },
            ],
            "glucocorticoid_doses": [
                {"date": "2020-01-01", "prednisone_mg_per_day": 60},
                {"date": "2021-01-01", "prednisone_mg_per_day": 20},
            ],
            "assessments": [],
            "labs": [
                {"date": "2024-01-02", "test": "egfr_ml_min_1_73m2", "value": 95},
                {"date": "2024-01-02", "test": "creatinine_mg_dl", "value": 0.8},
                {"date": "2024-01-02", "test": "iga_mg_dl", "value": 200},
            ],
            "ivig_courses": [],
            "ivig_discontinued_on": None,
            "risk_factors": dict.fromkeys(RISK_FACTORS, False),
            "preventive_care": {"bone_protection": True},
        }
    )


def with_response(
    b: PatientBuilder,
    pair: tuple[Mapping[str, Any], Mapping[str, Any]],
    *,
    n_courses: int = 3,
    assessed_at: int = 70,
    baseline_at: int = -7,
    as_of: int | None = None,
) -> PatientBuilder:
    """Add IVIG courses every 28 days from :data:`C1`, a baseline and one scored follow-up visit.

    ``assessed_at`` / ``baseline_at`` / ``as_of`` are day offsets from course 1; by default the
    follow-up is 14 days after course 3 and ``as_of`` is the later of it and the last course.
    """
    baseline, follow_up = pair
    b.courses(n_courses)
    b.assessment(day(baseline_at), **baseline)
    b.assessment(day(assessed_at), **follow_up)
    last = max(assessed_at, 28 * (n_courses - 1))
    return b.as_of(day(last if as_of is None else as_of))


def responder(pair: tuple[Mapping[str, Any], Mapping[str, Any]] = TIS_40, **kw: Any) -> PatientBuilder:
    """:func:`eligible` with 3 courses and a scored response (default TIS 40, moderate)."""
    return with_response(eligible(), pair, **kw)


def relapse_candidate(
    *, stop_at: int = 90, baseline_mmt8: float = 50, best_mmt8: float = 70, best_ck: float = 150
) -> PatientBuilder:
    """A responder (MMT-8 50 -> 70 on day 70, CK 1200 -> 150: TIS 40) whose IVIG stopped on ``stop_at``.

    Add post-stop assessments and set ``as_of`` to make (or not make) a relapse.
    """
    b = eligible()
    b.courses(3)
    b.assessment(day(-7), mmt8=baseline_mmt8, ck_u_per_l=1200)
    b.assessment(day(70), mmt8=best_mmt8, ck_u_per_l=best_ck)
    return b.discontinue(day(stop_at)).as_of(day(stop_at + 30))


# -- reading results ---------------------------------------------------------------------------


def rule_ids(ev: Evaluation) -> list[str]:
    """The rule ids of the findings, in output order."""
    return [f.rule_id for f in ev.findings]


def findings(ev: Evaluation, rule_id: str) -> list[Finding]:
    return [f for f in ev.findings if f.rule_id == rule_id]


def finding(ev: Evaluation, rule_id: str) -> Finding:
    """The single finding of ``rule_id`` (fails the test when there is none or several)."""
    found = findings(ev, rule_id)
    assert len(found) == 1, f"expected one {rule_id} finding, got {len(found)}: {rule_ids(ev)}"
    return found[0]


def gaps_for(ev: Evaluation, rule_id: str) -> list[Finding]:
    """DATA-001 findings about ``rule_id``."""
    return [f for f in findings(ev, "DATA-001") if f.facts.get("rule") == rule_id]


def _comparable(ev: Evaluation) -> dict[str, Any]:
    data = json.loads(ev.to_json())
    data["engine"].pop("backend")
    return data


class DualEngine:
    """Evaluates every patient on the durable backend and the reference backend and checks they agree.

    Returns the durable result, so every test patient also checks backend agreement.
    """

    def __init__(self, **kw: Any) -> None:
        self.durable = Engine(**kw)
        self.reference = Engine(backend="reference", **kw)

    def evaluate(self, patient: Any, **kw: Any) -> Evaluation:
        if isinstance(patient, PatientBuilder):
            patient = patient.build()
        ev = self.durable.evaluate(patient, **kw)
        ref = self.reference.evaluate(patient, **kw)
        assert _comparable(ev) == _comparable(ref), "durable and reference backends disagree"
        return ev
