"""The fact catalog: every fact type and field a rule may test, with its type and input source.

Rules are validated against this catalog when they load, so a misspelled field or a string
compared with a number fails at load time, not silently at the bedside.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ivig_cds.model.patient import RiskFactors

__all__ = ["CATALOG", "FactField", "FieldType", "field_spec"]

FieldType = Literal["number", "string", "bool"]


@dataclass(frozen=True)
class FactField:
    """One field of a fact type.

    Attributes:
        type: ``number``, ``string`` or ``bool`` — what rule literals must be.
        source: The patient-file path(s) the value is derived from (named in data-gap findings).
        description: What the value means, with its unit.
        choices: For strings, the closed vocabulary (``None`` = free text).
    """

    type: FieldType
    source: str
    description: str
    choices: tuple[str, ...] | None = None


def _n(source: str, description: str) -> FactField:
    return FactField("number", source, description)


def _b(source: str, description: str) -> FactField:
    return FactField("bool", source, description)


def _s(source: str, description: str, *choices: str) -> FactField:
    return FactField("string", source, description, choices or None)


RISK_FACTORS: tuple[str, ...] = tuple(RiskFactors.model_fields)  # the contract's keys, one source of truth

CONDITIONS = (
    "polymyositis",
    "dermatomyositis",
    "inclusion_body_myositis",
    "immune_mediated_necrotizing_myopathy",
    "antisynthetase_syndrome",
    "overlap_myositis",
    "other",
)
AGENT_CLASSES = ("glucocorticoid", "steroid_sparing", "procedure", "other")
STABILIZERS = ("proline", "maltose", "sucrose", "glycine", "sorbitol", "glucose", "other", "unknown")
OUTCOMES = ("inadequate_response", "intolerance", "adequate_response", "ongoing", "unknown")

_PATIENT: dict[str, FactField] = {
    "age_years": _n("demographics.birth_date", "age in whole years at as_of"),
    "sex": _s("demographics.sex", "sex", "female", "male", "other", "unknown"),
    "weight_kg": _n("demographics.weight_kg", "actual body weight, kg"),
    "height_cm": _n("demographics.height_cm", "height, cm"),
    "bmi": _n("demographics.weight_kg + height_cm", "body-mass index, kg/m²"),
    "ideal_weight_kg": _n("demographics.height_cm + sex", "Devine ideal body weight, kg"),
    "adjusted_weight_kg": _n("demographics.weight_kg + height_cm + sex", "adjusted body weight, kg"),
    "weight_pct_of_ideal": _n("demographics.weight_kg + height_cm + sex", "actual ÷ ideal weight × 100"),
    "abo_group": _s("demographics.abo_group", "ABO blood group", "O", "A", "B", "AB"),
    "condition": _s("diagnosis.condition", "working diagnosis", *CONDITIONS),
    "classification": _s(
        "diagnosis.classification", "classification category", "definite", "probable", "possible", "unknown"
    ),
    "ibm_features": _b("diagnosis.ibm_features", "inclusion-body-myositis features present"),
    "statin_exposure": _b("diagnosis.statin_exposure", "statin exposure ever"),
    "anti_hmgcr": _b("diagnosis.anti_hmgcr", "anti-HMGCR antibody positive"),
    "anti_srp": _b("diagnosis.anti_srp", "anti-SRP antibody positive"),
    "therapies_count": _n("therapies", "number of therapy records up to as_of"),
    "gc_ever_used": _b("therapies, glucocorticoid_doses", "a glucocorticoid was used"),
    "latest_ck_x_uln": _n("assessments[].ck_u_per_l", "latest CK as a multiple of its ULN"),
    "egfr_ml_min": _n("labs[egfr_ml_min_1_73m2]", "latest eGFR, mL/min/1.73 m²"),
    "creatinine_mg_dl": _n("labs[creatinine_mg_dl]", "latest serum creatinine, mg/dL"),
    "iga_mg_dl": _n("labs[iga_mg_dl]", "latest serum IgA, mg/dL"),
    "courses_count": _n("ivig_courses", "IVIG courses started up to as_of"),
    "months_since_first_course": _n("ivig_courses[0].start", "months (30.4375 d) from course 1 to as_of"),
    "course_plan_g_per_kg": _n("ivig_courses", "grams per kg per course: last course given, else the plan"),
    "product_stabilizer": _s("ivig_courses[].product", "stabiliser of the last course's product", *STABILIZERS),
    "product": _s("ivig_courses[].product", "product of the last course"),
    "daily_volume_ml": _n("demographics.weight_kg", "infusion volume per day on actual weight at 10%, mL"),
    "daily_volume_adjusted_ml": _n("demographics", "infusion volume per day on adjusted weight at 10%, mL"),
    "discontinued": _b("ivig_discontinued_on", "IVIG discontinued on or before as_of"),
    "months_since_discontinuation": _n("ivig_discontinued_on", "months from discontinuation to as_of"),
    "baseline_mmt8": _n("assessments[].mmt8", "baseline MMT-8 (last ≤ course 1, ≤ 90 days before)"),
    "response_window_open": _b(
        "ivig_courses, assessments", "≥ 3 courses and an assessment ≥ 14 days after course 3's start"
    ),
    "best_tis": _n("assessments", "best ACR/EULAR 2016 Total Improvement Score in the response window"),
    "baseline_ck_x_uln": _n("assessments[].ck_u_per_l", "baseline CK × ULN"),
    "ck_by_course4_x_uln": _n("assessments[].ck_u_per_l", "CK × ULN before course 4"),
    "ck_fall_by_course4_pct": _n(
        "assessments[].ck_u_per_l", "CK fall from baseline to before course 4, % (negative = rise)"
    ),
    "dysphagia_latest": _s("assessments[].dysphagia", "latest dysphagia grade", "none", "mild", "severe"),
    "dysphagia_previous": _s("assessments[].dysphagia", "previous dysphagia grade", "none", "mild", "severe"),
    "dysphagia_worsened": _b("assessments[].dysphagia", "latest dysphagia grade worse than the one before"),
    "gc_baseline_mg": _n("glucocorticoid_doses", "prednisone-equivalent mg/day in effect at course 1"),
    "gc_current_mg": _n("glucocorticoid_doses, therapies", "prednisone-equivalent mg/day in effect at as_of"),
    "gc_reduction_pct": _n("glucocorticoid_doses", "reduction from baseline, %"),
    "gc_current_pct_of_baseline": _n("glucocorticoid_doses", "current dose as % of baseline"),
    "weaning_failures": _n("ivig_courses, assessments", "intervals > weaning gap with MMT-8 ≤ weaning %"),
    "relapse_found": _b("assessments after ivig_discontinued_on", "an assessment after stop meets relapse"),
    "relapse_kind": _s("assessments", "how relapse was met", "strength", "strength_and_ck"),
    "months_to_relapse": _n("assessments, ivig_discontinued_on", "months from stop to the relapse visit"),
    "ck_flare_only": _b("assessments after ivig_discontinued_on", "CK rise without the strength criterion"),
    "surveillance_missed": _n("assessments after ivig_discontinued_on", "relapse-watch visits missed"),
    "months_to_next_surveillance": _n("ivig_discontinued_on", "months until the next relapse-watch visit"),
}
for _rf in RISK_FACTORS:
    _PATIENT[f"rf_{_rf}"] = _b(f"risk_factors.{_rf}", _rf.replace("_", " "))

_THERAPY: dict[str, FactField] = {
    "agent": _s("therapies[].agent", "agent"),
    "agent_class": _s("therapies[].agent", "agent class", *AGENT_CLASSES),
    "outcome": _s("therapies[].outcome", "outcome", *OUTCOMES),
    "duration_days": _n("therapies[].start, stop", "days taken (to stop, or to as_of when ongoing)"),
    "ongoing": _b("therapies[].stop", "no stop date up to as_of"),
    "start": _s("therapies[].start", "start date"),
}

_CHANGE: dict[str, FactField] = {
    "agent": _s("therapies[].agent / glucocorticoid_doses", "agent (prednisone_equivalent for dose steps)"),
    "agent_class": _s("therapies[].agent", "agent class", *AGENT_CLASSES),
    "kind": _s("therapies / glucocorticoid_doses", "what changed", "start", "stop", "dose_change"),
    "direction": _s("glucocorticoid_doses", "dose direction", "increase", "decrease", "unknown"),
    "date": _s("therapies / glucocorticoid_doses", "date of the change"),
    "days_before_ref": _n("therapies / glucocorticoid_doses", "days before course 1 (or as_of); < 0 = after"),
    "after_first_course": _b("ivig_courses[0].start", "the change is after course 1 started"),
}

_COURSE: dict[str, FactField] = {
    "number": _n("ivig_courses[]", "course number, 1-based"),
    "start": _s("ivig_courses[].start", "first infusion day"),
    "days": _n("ivig_courses[].days", "consecutive infusion days"),
    "dose_g_per_kg_per_day": _n("ivig_courses[].dose_g_per_kg_per_day", "g/kg/day"),
    "course_g_per_kg": _n("ivig_courses[]", "total g/kg in the course"),
    "product": _s("ivig_courses[].product", "product name"),
    "product_stabilizer": _s("ivig_courses[].product", "stabiliser", *STABILIZERS),
}

_CONCLUSION: dict[str, FactField] = {
    "rule": _s("rules", "id of the rule that concluded"),
}

CATALOG: dict[str, dict[str, FactField]] = {
    "patient": _PATIENT,
    "therapy": _THERAPY,
    "therapy_change": _CHANGE,
    "course": _COURSE,
    "conclusion": _CONCLUSION,
}


def field_spec(fact_type: str, field: str) -> FactField | None:
    """The catalog entry for ``fact_type.field``, or ``None`` if there is none."""
    return CATALOG.get(fact_type, {}).get(field)
