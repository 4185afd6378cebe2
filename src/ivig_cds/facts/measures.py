"""Measurements shared by the fact families: ages, months, body weights, doses in effect, MMT-8 and CK ratios.

Every function is pure and reads no clock. Values are not rounded: rules compare the exact values
(a BMI of 29.96 is below 30) and messages round them for display only.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from ivig_cds.model.patient import Assessment, GlucocorticoidDose

__all__ = [
    "DAYS_PER_MONTH",
    "age_years",
    "at_most_pct",
    "body_weights",
    "ck_x_uln",
    "dose_in_effect",
    "mmt8_pct",
    "months_between",
]

DAYS_PER_MONTH = 30.4375


def months_between(start: date, end: date) -> float:
    """Months (of 30.4375 days) from ``start`` to ``end``, unrounded (182 days are 5.98 months)."""
    return (end - start).days / DAYS_PER_MONTH


def age_years(birth: date, on: date) -> int:
    """Age in completed years on a date."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def body_weights(
    weight_kg: float | None, height_cm: float | None, sex: str | None, t: Mapping[str, Any]
) -> dict[str, Any]:
    """BMI, Devine ideal weight, adjusted weight and weight as % of ideal (``None`` where not computable).

    Devine: 50 kg (men) / 45.5 kg (women) + 2.3 kg per inch over 60 in (none below 60 in); adjusted
    = ideal + factor × (actual − ideal). For sex ``other`` or ``unknown`` (or not recorded) the
    women's formula is used - the lower dose - and ``ideal_weight_sex_assumed`` says so.
    """
    out: dict[str, Any] = dict.fromkeys(("bmi", "ideal_weight_kg", "adjusted_weight_kg", "weight_pct_of_ideal"))
    out["ideal_weight_sex_assumed"] = None
    if weight_kg is None or height_cm is None:
        return out
    out["bmi"] = weight_kg / (height_cm / 100) ** 2
    assumed = sex not in ("male", "female")
    base = t["ibw_male_base_kg"] if sex == "male" else t["ibw_female_base_kg"]
    # "+ 2.3 kg per inch over 60 in": shorter patients keep the base weight (never below it)
    ideal = base + t["ibw_kg_per_inch_over_60"] * max(0.0, height_cm / 2.54 - 60)
    if ideal <= 0:
        return out
    out["ideal_weight_sex_assumed"] = assumed
    out["ideal_weight_kg"] = ideal
    out["adjusted_weight_kg"] = ideal + t["adjbw_factor"] * (weight_kg - ideal)
    out["weight_pct_of_ideal"] = weight_kg / ideal * 100
    return out


def dose_in_effect(doses: Sequence[GlucocorticoidDose], on: date) -> float | None:
    """Prednisone-equivalent mg/day in effect on a date (step function), or ``None`` before any entry."""
    current: float | None = None
    for d in doses:  # sorted by date
        if d.date <= on:
            current = float(d.prednisone_mg_per_day)
        else:
            break
    return current


def mmt8_pct(a: Assessment) -> float | None:
    """MMT-8 as % of its scale maximum, so 0–80 and 0–150 scores compare."""
    return None if a.mmt8 is None else a.mmt8 / a.mmt8_max * 100


def at_most_pct(score: float, best: float, pct: float) -> bool:
    """``score <= pct % of best``, exact at the boundary (44/80 is exactly 80% of 55/80)."""
    return score * 100 <= best * pct + 1e-9 * max(1.0, best * pct)


def ck_x_uln(a: Assessment | None) -> float | None:
    """CK as a multiple of the visit's own upper limit of normal."""
    if a is None or a.ck_u_per_l is None:
        return None
    ratio = a.ck_u_per_l / a.ck_uln_u_per_l
    # a huge CK over a tiny ULN overflows: keep it the largest finite number (inf - inf is NaN)
    return ratio if math.isfinite(ratio) else sys.float_info.max
