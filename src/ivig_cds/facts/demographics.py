"""The person and the diagnosis: age, sex, body size (BMI, ideal and adjusted weight), diagnosis, risk factors."""

from __future__ import annotations

from typing import Any

from ivig_cds.facts.fields import FactField, flag, number, text
from ivig_cds.facts.measures import age_years, body_weights
from ivig_cds.facts.records import Snapshot, ref
from ivig_cds.model.patient import Condition, RiskFactors

__all__ = ["CONDITIONS", "FIELDS", "RISK_FACTORS", "fill"]

RISK_FACTORS: tuple[str, ...] = tuple(RiskFactors.model_fields)  # the contract's keys, one source of truth
CONDITIONS: tuple[str, ...] = tuple(str(c) for c in Condition)

FIELDS: dict[str, FactField] = {
    "age_years": number("demographics.birth_date", "age in whole years at as_of"),
    "sex": text("demographics.sex", "sex", "female", "male", "other", "unknown"),
    "weight_kg": number("demographics.weight_kg", "actual body weight, kg"),
    "height_cm": number("demographics.height_cm", "height, cm"),
    "bmi": number("demographics.height_cm", "body-mass index, kg/m²"),
    "ideal_weight_kg": number("demographics.height_cm", "Devine ideal body weight, kg"),
    "ideal_weight_sex_assumed": flag(
        "demographics.height_cm, demographics.sex",
        "sex other/unknown: the ideal weight uses the women's formula (the lower dose); unknown without a height",
    ),
    "adjusted_weight_kg": number("demographics.height_cm", "adjusted body weight, kg"),
    "weight_pct_of_ideal": number("demographics.height_cm", "actual ÷ ideal weight × 100"),
    "abo_group": text("demographics.abo_group", "ABO blood group", "O", "A", "B", "AB"),
    "condition": text("diagnosis.condition", "working diagnosis", *CONDITIONS),
    "classification": text(
        "diagnosis.classification", "classification category", "definite", "probable", "possible", "unknown"
    ),
    "ibm_features": flag("diagnosis.ibm_features", "inclusion-body-myositis features present"),
    "statin_exposure": flag("diagnosis.statin_exposure", "statin exposure ever"),
    "anti_hmgcr": flag("diagnosis.anti_hmgcr", "anti-HMGCR antibody positive"),
    "anti_srp": flag("diagnosis.anti_srp", "anti-SRP antibody positive"),
    **{f"rf_{rf}": flag(f"risk_factors.{rf}", rf.replace("_", " ")) for rf in RISK_FACTORS},
}


_DEMOGRAPHICS = ("age_years", "sex", "weight_kg", "height_cm", "bmi", "ideal_weight_kg",
                 "ideal_weight_sex_assumed", "adjusted_weight_kg", "weight_pct_of_ideal", "abo_group")  # fmt: skip
_DIAGNOSIS = ("condition", "classification", "ibm_features", "statin_exposure", "anti_hmgcr", "anti_srp")


def fill(s: Snapshot, p: dict[str, Any], src: dict[str, str]) -> None:
    """Fill the patient fact's person, body-size, diagnosis and risk-factor fields (and their sources)."""
    demo, dx = s.patient.demographics, s.patient.diagnosis
    src.update(dict.fromkeys(_DEMOGRAPHICS, ref(demo, "demographics")))
    src.update(dict.fromkeys(_DIAGNOSIS, ref(dx, "diagnosis")))
    src.update({f"rf_{key}": f"risk_factors.{key}" for key in RISK_FACTORS})
    p["age_years"] = age_years(demo.birth_date, s.as_of)
    p["sex"] = str(demo.sex) if demo.sex is not None else None
    p["weight_kg"], p["height_cm"] = demo.weight_kg, demo.height_cm
    p.update(body_weights(demo.weight_kg, demo.height_cm, p["sex"], s.t))
    p["abo_group"] = str(demo.abo_group) if demo.abo_group is not None else None
    p["condition"], p["classification"] = str(dx.condition), str(dx.classification)
    for key in ("ibm_features", "statin_exposure", "anti_hmgcr", "anti_srp"):
        p[key] = getattr(dx, key)
    risk = s.patient.risk_factors
    for key in RISK_FACTORS:
        p[f"rf_{key}"] = getattr(risk, key)
