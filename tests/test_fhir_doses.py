"""Glucocorticoid mg/day from FHIR timing, doseAndRate and strength: what R4 does not say is not filled in."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_helpers import SUBJECT, base, dosage, med_request, qty
from ivig_cds.fhir import patient_from_resources

GC = "glucocorticoid_doses"


def mapped(*dosages: dict[str, Any], **extra: Any) -> tuple[list[tuple[str, float]], list[tuple[str, str]]]:
    """The dose steps and the glucocorticoid warnings of one prednisone order with these dosages."""
    p, report = patient_from_resources([*base(), med_request("gc", "8640", *dosages, **extra)])
    steps = [(g.date.isoformat(), g.prednisone_mg_per_day) for g in p.glucocorticoid_doses]
    return steps, [(w.field, w.message) for w in report.warnings if w.resource == "MedicationRequest/gc"]


def with_repeat(**repeat: Any) -> dict[str, Any]:
    out = dosage(qty(10, "mg"), "2020-01-01")
    kept = {"boundsPeriod": out["timing"]["repeat"]["boundsPeriod"]}
    out["timing"]["repeat"] = {**kept, **repeat}
    return out


@pytest.mark.parametrize(
    ("repeat", "message"),
    [
        (  # Mondays only: once a week, not every day (R4: dayOfWeek is not used with frequency and period)
            {"frequency": 1, "period": 1, "periodUnit": "d", "dayOfWeek": ["mon"]},
            "timing.repeat.dayOfWeek not read (the dose is not given every day): the daily dose is unknown,"
            " not mapped",
        ),
        (
            {"frequency": 2},
            "timing.repeat.period absent (frequency per what?): the daily dose is unknown, not mapped",
        ),
        (
            {"periodUnit": "wk"},
            "timing.repeat.period absent (frequency per what?): the daily dose is unknown, not mapped",
        ),
        (  # R4 tim-2: a period needs its unit
            {"frequency": 1, "period": 2},
            "timing.repeat.period without periodUnit: the daily dose is unknown, not mapped",
        ),
        (
            {"when": ["MORN"]},
            "timing.repeat.timeOfDay/when without frequency and period not read: the daily dose is unknown,"
            " not mapped",
        ),
        (
            {"timeOfDay": ["08:00:00"]},
            "timing.repeat.timeOfDay/when without frequency and period not read: the daily dose is unknown,"
            " not mapped",
        ),
        (  # twice a day at the clock, once a day by the frequency: which one?
            {"frequency": 1, "period": 1, "periodUnit": "d", "timeOfDay": ["08:00:00", "20:00:00"]},
            "timing.repeat.timeOfDay disagrees with frequency/period: the daily dose is unknown, not mapped",
        ),
        (
            {"frequency": 1, "frequencyMax": 2, "period": 1, "periodUnit": "d"},
            "frequency or period given as a range: not mapped (never a guess)",
        ),
        (
            {"frequency": 1, "period": 1, "periodMax": 2, "periodUnit": "d"},
            "frequency or period given as a range: not mapped (never a guess)",
        ),
    ],
)
def test_a_schedule_that_does_not_say_how_often_a_day_is_not_mapped(repeat: dict[str, Any], message: str) -> None:
    steps, warnings = mapped(with_repeat(**repeat))
    assert steps == []
    assert warnings == [(GC, message)]


def test_a_timing_code_without_repeat_is_not_read() -> None:
    bid = dosage(qty(10, "mg"))
    bid["timing"] = {
        "code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation", "code": "BID"}]}
    }
    steps, warnings = mapped(bid)
    assert steps == []
    assert warnings == [
        (GC, "timing.code without timing.repeat is not read: the daily dose is unknown, not mapped")
    ]


def test_what_r4_defines_is_read() -> None:
    # no frequency: once per period (R4 meaningWhenMissing), said as a conversion
    p, report = patient_from_resources([*base(), med_request("gc", "8640", with_repeat(period=2, periodUnit="d"))])
    assert [(g.date.isoformat(), g.prednisone_mg_per_day) for g in p.glucocorticoid_doses] == [("2020-01-01", 5)]
    assert "timing.repeat.frequency absent: once per period (its R4 meaning when missing)" in [
        c.message for c in report.conversions
    ]
    # a clock that agrees with the frequency, and a when with a frequency
    steps, warnings = mapped(
        with_repeat(frequency=2, period=1, periodUnit="d", timeOfDay=["08:00:00", "20:00:00"])
    )
    assert (steps, warnings) == ([("2020-01-01", 20)], [])
    steps, warnings = mapped(with_repeat(frequency=1, period=1, periodUnit="d", when=["MORN"]))
    assert (steps, warnings) == ([("2020-01-01", 10)], [])


def test_dose_and_rate_entries_must_agree() -> None:
    two = dosage(qty(10, "mg"), "2020-01-01")
    ordered = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/dose-rate-type", "code": "ordered"}]}
    calculated = {
        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/dose-rate-type", "code": "calculated"}]
    }
    two["doseAndRate"] = [
        {"type": ordered, "doseQuantity": qty(10, "mg")},
        {"type": calculated, "doseQuantity": qty(60, "mg")},
    ]
    steps, warnings = mapped(two)
    assert steps == []
    assert warnings == [
        (
            GC,
            "several doseAndRate entries give different doses (doseAndRate.type does not make one of them"
            " the dose): not mapped (never a choice)",
        )
    ]
    # the same dose said twice (in mg and in g) is one dose
    two["doseAndRate"] = [
        {"type": ordered, "doseQuantity": qty(10, "mg")},
        {"type": calculated, "doseQuantity": qty(0.01, "g")},
    ]
    assert mapped(two) == ([("2020-01-01", 10)], [])
    # a range in any entry is a range
    two["doseAndRate"] = [
        {"doseQuantity": qty(10, "mg")},
        {"doseRange": {"low": qty(5, "mg"), "high": qty(10, "mg")}},
    ]
    assert mapped(two) == ([], [(GC, "dose given as a range: not mapped (never a guess)")])


def tablets_of(
    strength: dict[str, Any] | None, *more: dict[str, Any]
) -> tuple[list[tuple[str, float]], list[tuple[str, str]]]:
    ingredients = [{"itemCodeableConcept": {"text": "prednisone"}, **({"strength": strength} if strength else {})}]
    ingredients += [{"itemCodeableConcept": {"text": "lactose"}, "strength": s} for s in more]
    medication = {
        "resourceType": "Medication",
        "id": "tab",
        "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "8640"}]},
        "ingredient": ingredients,
    }
    order = med_request("gc", "8640", dosage(qty(2, "TAB"), "2020-01-01"))
    del order["medicationCodeableConcept"]
    order["medicationReference"] = {"reference": "Medication/tab"}
    p, report = patient_from_resources([*base(), medication, order])
    steps = [(g.date.isoformat(), g.prednisone_mg_per_day) for g in p.glucocorticoid_doses]
    return steps, [(w.field, w.message) for w in report.warnings if w.resource == "MedicationRequest/gc"]


def test_a_strength_must_say_per_what() -> None:
    assert tablets_of({"numerator": qty(5, "mg"), "denominator": qty(1, "TAB")}) == ([("2020-01-01", 10)], [])
    assert tablets_of({"numerator": qty(5, "mg")}) == (
        [],
        [
            (
                GC,
                "dose in TAB but Medication.ingredient.strength has no denominator (mg per what?):"
                " mg unknown, not mapped",
            )
        ],
    )
    # an unreadable strength of the agent is not replaced by another ingredient's strength
    assert tablets_of(
        {"numerator": qty(5, "mg"), "denominator": qty(1, "mL")},
        {"numerator": qty(100, "mg"), "denominator": qty(1, "TAB")},
    ) == ([], [(GC, "dose in TAB but Medication has several ingredients with a strength: mg unknown, not mapped")])
    assert tablets_of({"numerator": qty(5, "mg"), "denominator": qty(1, "mL")}) == (
        [],
        [
            (
                GC,
                "dose in TAB but Medication.ingredient.strength is not a mass per tablet (or other counted unit):"
                " mg unknown, not mapped",
            )
        ],
    )


def test_warnings_name_elements_not_values() -> None:
    _, warnings = mapped(with_repeat(frequency=3, period=7.5))
    assert all("3" not in m and "7.5" not in m for _, m in warnings)
    assert SUBJECT["reference"] not in str(warnings)


UNREAD_DURATION = (
    GC,
    "timing.repeat.boundsDuration not read (days or weeks from a boundsPeriod.start, or from the end of the"
    " sequence step before, only): the step holds until the next one or the end",
)


def test_a_bounds_duration_that_cannot_be_placed_is_said() -> None:
    alone = dosage(qty(10, "mg"))
    alone["timing"]["repeat"]["boundsDuration"] = {"value": 10, "unit": "d", "code": "d"}
    # no boundsPeriod.start: counted from the order's own start (as a count is), not held open to as_of
    assert mapped(alone) == ([("2020-01-01", 10), ("2020-01-11", 0)], [])
    months = dosage(qty(10, "mg"), "2020-01-01")
    months["timing"]["repeat"]["boundsDuration"] = {"value": 3, "unit": "mo", "code": "mo"}
    assert mapped(months) == ([("2020-01-01", 10)], [UNREAD_DURATION])
    days = dosage(qty(10, "mg"), "2020-01-01")
    days["timing"]["repeat"]["boundsDuration"] = {"value": 10, "unit": "d", "code": "d"}
    assert mapped(days) == ([("2020-01-01", 10), ("2020-01-11", 0)], [])
