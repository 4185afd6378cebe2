"""Glucocorticoid mg/day from one FHIR R4 Dosage (dose × frequency ÷ period), or the warning why it cannot be."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .mapping import FhirMapping
from .report import ReportBuilder
from .values import array, finite, is_obj, quantity

__all__ = ["GC_FIELD", "mg_doses", "strength_of"]

GC_FIELD = "glucocorticoid_doses"
_NOT_EVERY_DAY = "timing.repeat.dayOfWeek not read (the dose is not given every day): the daily dose is unknown"


def strength_of(medications: list[Mapping[str, Any]], mapping: FhirMapping) -> tuple[float | None, str | None]:
    """mg of active ingredient per dose unit, or why it is unknown (``(None, None)``: no strength given).

    Read only when the Medication has exactly one ingredient with a strength, and that strength is a mass
    per one counted unit (``5 mg / 1 TAB``): a strength without a denominator says per *what* nowhere.
    """
    strengths: list[float] = []
    problem = None
    for medication in medications:
        for ingredient in array(medication.get("ingredient")):
            ratio = ingredient.get("strength") if is_obj(ingredient) else None
            if ratio is None:
                continue
            num = quantity(ratio.get("numerator")) if is_obj(ratio) else "not a Ratio"
            den = quantity(ratio.get("denominator")) if is_obj(ratio) else "not a Ratio"
            if den is None:
                problem = "Medication.ingredient.strength has no denominator (mg per what?)"
            elif num is None or isinstance(num, str) or isinstance(den, str) or num.comparator or den.comparator:
                problem = "Medication.ingredient.strength without usable numerator and denominator values"
            else:
                mg = mapping.unit("dose_mg").convert(num.value, num.unit)
                if mg is None or den.unit not in mapping.count_units or den.value <= 0:
                    problem = "Medication.ingredient.strength is not a mass per tablet (or other counted unit)"
                else:
                    strengths.append(mg / den.value)
                    continue
            strengths.append(math.nan)  # an ingredient with a strength that cannot be read still counts
    if len(strengths) > 1:
        return None, "Medication has several ingredients with a strength"
    if strengths and math.isnan(strengths[0]):
        return None, problem
    return (strengths[0], None) if strengths else (None, None)


def mg_doses(
    dosage: Mapping[str, Any],
    strength: tuple[float | None, str | None],
    mapping: FhirMapping,
    rb: ReportBuilder,
    ref: str,
    quiet: bool,
) -> tuple[float | None, float | None]:
    """The Dosage's mg per administration and mg/day; both ``None`` (with a warning naming what could not be
    read) when the daily dose cannot be known.

    Args:
        strength: mg per tablet and why it is unknown, as :func:`strength_of` gives them.
        quiet: A dosage without a dose is expected (no warning for it).
    """
    if dosage.get("asNeededBoolean") is True or "asNeededCodeableConcept" in dosage:
        rb.warn(ref, GC_FIELD, "as-needed dose: no daily dose can be derived")
        return None, None
    mg = _dose_mg(dosage, strength, mapping, rb, ref, quiet)
    if mg is None:
        return None, None
    times = _times_per_day(dosage, mapping, rb, ref)
    if times is None:
        return None, None
    per_day = mg * times
    if not math.isfinite(per_day):
        rb.warn(ref, GC_FIELD, "dose × frequency ÷ period is not a finite number of mg/day: not mapped")
        return None, None
    return mg, per_day


def _dose_mg(
    dosage: Mapping[str, Any],
    strength: tuple[float | None, str | None],
    mapping: FhirMapping,
    rb: ReportBuilder,
    ref: str,
    quiet: bool,
) -> float | None:
    """mg per administration from ``doseAndRate``: every entry with a dose must give the same mg.

    R4 ``doseAndRate`` is 0..*; its ``type`` (``ordered``, ``calculated``) says how each amount was arrived at,
    not that one of them is the dose: entries that disagree are not mapped rather than chosen between.
    """
    rates = dosage.get("doseAndRate")
    entries = (
        [r for r in rates if is_obj(r) and ("doseQuantity" in r or "doseRange" in r)]
        if isinstance(rates, list)
        else []
    )
    if any("doseRange" in r for r in entries):
        rb.warn(ref, GC_FIELD, "dose given as a range: not mapped (never a guess)")
        return None
    if not entries:
        if not quiet:
            rb.warn(ref, GC_FIELD, "no doseQuantity: the glucocorticoid dose is not recorded")
        return None
    doses = []
    for entry in entries:
        mg = _quantity_mg(entry["doseQuantity"], strength, mapping, rb, ref, quiet)
        if mg is None:
            return None
        doses.append(mg)
    if any(not math.isclose(d, doses[0], rel_tol=1e-9) for d in doses[1:]):
        rb.warn(
            ref,
            GC_FIELD,
            "several doseAndRate entries give different doses (doseAndRate.type does not make one of them"
            " the dose): not mapped (never a choice)",
        )
        return None
    return doses[0]


def _quantity_mg(
    value: object,
    strength: tuple[float | None, str | None],
    mapping: FhirMapping,
    rb: ReportBuilder,
    ref: str,
    quiet: bool,
) -> float | None:
    dose_q = quantity(value)
    if dose_q is None:
        if not quiet:
            rb.warn(ref, GC_FIELD, "no doseQuantity: the glucocorticoid dose is not recorded")
        return None
    if isinstance(dose_q, str) or dose_q.comparator:
        rb.warn(ref, GC_FIELD, "dose quantity without a usable value: not mapped")
        return None
    mg = mapping.unit("dose_mg").convert(dose_q.value, dose_q.unit)
    if mg is not None:
        return mg
    if dose_q.unit in mapping.count_units:
        per_unit, problem = strength
        if per_unit is None:
            why = problem or "no Medication.ingredient.strength"
            rb.warn(ref, GC_FIELD, f"dose in {dose_q.unit} but {why}: mg unknown, not mapped")
            return None
        rb.convert(ref, GC_FIELD, f"{dose_q.unit} dose × Medication.ingredient.strength → mg")
        return dose_q.value * per_unit
    if dose_q.unit is None:
        rb.warn(ref, GC_FIELD, "dose without a unit (a tablet count?): mg unknown, not mapped")
    else:
        rb.warn(ref, GC_FIELD, f"dose unit {str(dose_q.unit)[:32]!r} is not a mass or a tablet count: not mapped")
    return None


def _times_per_day(dosage: Mapping[str, Any], mapping: FhirMapping, rb: ReportBuilder, ref: str) -> float | None:
    """Administrations per day from ``timing.repeat`` (frequency ÷ period in days); what is unreadable is warned.

    Nothing is filled in but what R4 itself defines: an absent ``frequency`` is once per period (its
    meaningWhenMissing). A ``period`` without ``periodUnit`` (R4 tim-2), a ``frequency`` or ``periodUnit``
    without ``period``, a range (``frequencyMax``/``periodMax``), ``dayOfWeek``, and ``timeOfDay`` that
    disagrees with the frequency are not read; nor is ``timing.code`` (BID, QD, … are site-defined).
    """
    timing = dosage.get("timing")
    repeat = timing.get("repeat") if is_obj(timing) else None
    if not is_obj(repeat):
        if is_obj(timing) and "code" in timing:
            rb.warn(
                ref,
                GC_FIELD,
                "timing.code without timing.repeat is not read: the daily dose is unknown, not mapped",
            )
        else:
            rb.warn(ref, GC_FIELD, "no timing.repeat frequency/period: the daily dose is unknown, not mapped")
        return None
    if "frequencyMax" in repeat or "periodMax" in repeat:
        rb.warn(ref, GC_FIELD, "frequency or period given as a range: not mapped (never a guess)")
        return None
    if "dayOfWeek" in repeat:
        rb.warn(ref, GC_FIELD, f"{_NOT_EVERY_DAY}, not mapped")
        return None
    if "period" not in repeat:
        if "frequency" in repeat or "periodUnit" in repeat:
            rb.warn(
                ref,
                GC_FIELD,
                "timing.repeat.period absent (frequency per what?): the daily dose is unknown, not mapped",
            )
        elif "timeOfDay" in repeat or "when" in repeat:
            rb.warn(
                ref,
                GC_FIELD,
                "timing.repeat.timeOfDay/when without frequency and period not read:"
                " the daily dose is unknown, not mapped",
            )
        else:
            rb.warn(ref, GC_FIELD, "no timing.repeat frequency/period: the daily dose is unknown, not mapped")
        return None
    if "periodUnit" not in repeat:
        rb.warn(ref, GC_FIELD, "timing.repeat.period without periodUnit: the daily dose is unknown, not mapped")
        return None
    raw_frequency, raw_period, unit = repeat.get("frequency", 1), repeat["period"], repeat["periodUnit"]
    frequency, period = finite(raw_frequency), finite(raw_period)
    days = mapping.unit("period_days").convert(1.0, unit) if isinstance(unit, str) else None
    if frequency is None or frequency <= 0 or period is None or period <= 0 or days is None:
        rb.warn(ref, GC_FIELD, "timing.repeat frequency/period/periodUnit unusable: not mapped")
        return None
    times = frequency / (period * days)
    clock = repeat.get("timeOfDay")
    if clock is not None and (not isinstance(clock, list) or not math.isclose(len(set(map(str, clock))), times)):
        rb.warn(
            ref,
            GC_FIELD,
            "timing.repeat.timeOfDay disagrees with frequency/period: the daily dose is unknown, not mapped",
        )
        return None
    if "frequency" not in repeat:
        rb.convert(ref, GC_FIELD, "timing.repeat.frequency absent: once per period (its R4 meaning when missing)")
    if (raw_frequency, raw_period, unit) != (1, 1, "d"):
        rb.convert(ref, GC_FIELD, "mg/day = dose × frequency ÷ period")
    return times
