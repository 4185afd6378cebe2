"""The diagnostic work-up and preventive care: classification items and scores, mimics, malignancy screening,
bone protection and live vaccines.

Everything here is optional data (additions to patient-file contract 1.1): a field that was not recorded
stays ``None``. The classification categories are the published cut-offs looked up from the thresholds
(Bohan & Peter item counts; EULAR/ACR 2017 score bands); the rules decide what a category means for IVIG.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from ivig_cds.facts.fields import FactField, flag, number, text
from ivig_cds.facts.measures import months_between
from ivig_cds.facts.records import Snapshot, ref

__all__ = ["BOHAN_PETER_CATEGORIES", "EULAR_ACR_CATEGORIES", "FIELDS", "fill"]

BOHAN_PETER_CATEGORIES = ("definite", "probable", "possible", "not_met")
EULAR_ACR_CATEGORIES = ("definite", "probable", "possible", "not_iim")
_BP_ITEMS = ("symmetric_proximal_weakness", "biopsy_myositis", "raised_muscle_enzymes", "myopathic_emg")
_BP_BY_COUNT = {4: "definite", 3: "probable", 2: "possible"}
_CARE = "preventive_care"

FIELDS: dict[str, FactField] = {
    "finger_flexor_weakness": flag("diagnosis.finger_flexor_weakness", "finger-flexor weakness on examination"),
    "myotoxic_exposure": flag(
        "diagnosis.myotoxic_exposure", "exposure to a myotoxic drug or toxin other than statins"
    ),
    "thyroid_function_normal": flag("diagnosis.thyroid_function_normal", "thyroid function checked and normal"),
    "bohan_peter_items_met": number(
        "diagnosis.bohan_peter_items", "Bohan & Peter items 1-4 met (only when all four are recorded)"
    ),
    "bohan_peter_rash": flag("diagnosis.bohan_peter_items.rash", "Bohan & Peter item 5: dermatomyositis rash"),
    "bohan_peter_category": text(
        "diagnosis.bohan_peter_items",
        "polymyositis category of items 1-4 (4 definite, 3 probable, 2 possible; all four recorded)",
        *BOHAN_PETER_CATEGORIES,
    ),
    "eular_acr_score": number("diagnosis.eular_acr_score", "EULAR/ACR 2017 total score"),
    "eular_acr_with_biopsy": flag("diagnosis.eular_acr_with_biopsy", "the score includes muscle-biopsy items"),
    "eular_acr_category": text(
        "diagnosis.eular_acr_score, eular_acr_with_biopsy",
        "EULAR/ACR 2017 probability category by the cut-offs with or without biopsy",
        *EULAR_ACR_CATEGORIES,
    ),
    "months_since_diagnosis": number("diagnosis.diagnosed_on", "months (30.4375 d) from diagnosis to as_of"),
    "cancer_screening_on": text(f"{_CARE}.cancer_screening_on", "date of the latest malignancy screening"),
    "cancer_screening_months_before_diagnosis": number(
        f"{_CARE}.cancer_screening_on", "months from the screening to the diagnosis (negative: after it)"
    ),
    "bone_protection": flag(f"{_CARE}.bone_protection", "calcium and vitamin D or a bone-protective drug"),
    "live_vaccine_on": text(f"{_CARE}.live_vaccine_on", "date of a live vaccine, given or planned"),
    "live_vaccine_days_after_ivig": number(
        f"{_CARE}.live_vaccine_on, ivig_courses",
        "days from the last IVIG infusion on or before the vaccine to the vaccine",
    ),
    "live_vaccine_days_before_ivig": number(
        f"{_CARE}.live_vaccine_on, ivig_courses, ivig_order.start",
        "days from the vaccine to the next IVIG infusion (a course or the order) after it",
    ),
}


def _bohan_peter(s: Snapshot, p: dict[str, Any]) -> None:
    items = s.patient.diagnosis.bohan_peter_items
    p["bohan_peter_items_met"] = p["bohan_peter_category"] = p["bohan_peter_rash"] = None
    if items is None:
        return
    p["bohan_peter_rash"] = items.rash
    values = [getattr(items, k) for k in _BP_ITEMS]
    if all(v is not None for v in values):
        met = sum(1 for v in values if v)
        p["bohan_peter_items_met"] = met
        p["bohan_peter_category"] = _BP_BY_COUNT.get(met, "not_met")


def _eular_acr(s: Snapshot, p: dict[str, Any]) -> None:
    dx, t = s.patient.diagnosis, s.t
    score, biopsy = dx.eular_acr_score, dx.eular_acr_with_biopsy
    p["eular_acr_score"], p["eular_acr_with_biopsy"] = score, biopsy
    p["eular_acr_category"] = None
    if score is None or biopsy is None:
        return
    prefix = "eular_acr_biopsy_" if biopsy else "eular_acr_"
    category = "not_iim"
    for name in ("possible", "probable", "definite"):  # cut-offs rise: the highest reached wins
        if score >= float(t[prefix + name]):
            category = name
    p["eular_acr_category"] = category


def _infusion_days(s: Snapshot) -> list[date]:
    days = [c.start + timedelta(days=d) for _, c in s.courses for d in range(c.days)]
    order = s.patient.ivig_order
    if order is not None and order.start is not None:
        days.append(order.start)
    return sorted(days)


def _care(s: Snapshot, p: dict[str, Any], src: dict[str, str]) -> None:
    care = s.patient.preventive_care
    dx_on = s.patient.diagnosis.diagnosed_on
    screened = s.cancer_screening_on
    p["cancer_screening_on"] = screened.isoformat() if screened is not None else None
    p["cancer_screening_months_before_diagnosis"] = months_between(screened, dx_on) if screened else None
    p["bone_protection"] = care.bone_protection if care is not None else None
    vaccine = care.live_vaccine_on if care is not None else None
    p["live_vaccine_on"] = vaccine.isoformat() if vaccine is not None else None
    p["live_vaccine_days_after_ivig"] = p["live_vaccine_days_before_ivig"] = None
    if vaccine is not None:
        days = _infusion_days(s)
        before = [d for d in days if d <= vaccine]
        after = [d for d in days if d > vaccine]
        p["live_vaccine_days_after_ivig"] = (vaccine - before[-1]).days if before else None
        p["live_vaccine_days_before_ivig"] = (after[0] - vaccine).days if after else None
    if care is not None:
        src.update(dict.fromkeys((k for k in FIELDS if FIELDS[k].source.startswith(_CARE)), ref(care, _CARE)))


def fill(s: Snapshot, p: dict[str, Any], src: dict[str, str]) -> None:
    """Fill the work-up (classification items, score, mimics) and preventive-care fields of the patient fact."""
    dx = s.patient.diagnosis
    where = ref(dx, "diagnosis")
    for key in ("finger_flexor_weakness", "myotoxic_exposure", "thyroid_function_normal"):
        p[key] = getattr(dx, key)
    _bohan_peter(s, p)
    _eular_acr(s, p)
    p["months_since_diagnosis"] = months_between(dx.diagnosed_on, s.as_of)
    diagnosis_fields = [k for k in FIELDS if FIELDS[k].source.startswith("diagnosis")]
    src.update(dict.fromkeys(diagnosis_fields, where))
    _care(s, p, src)
