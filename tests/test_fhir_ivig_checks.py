"""IVIG from FHIR: rates that cannot be read are said, and a route that is not intravenous is not IVIG."""

from __future__ import annotations

from typing import Any

from fhir_helpers import SUBJECT, base, ivig_admin, qty, warnings_of
from ivig_cds.fhir import patient_from_resources

RATE = "ivig_courses.max_rate_mg_kg_min"


def notes(report: Any, resource: str) -> list[tuple[str, str]]:
    return [(w.field, w.message) for w in report.warnings if w.resource == resource]


def draft(**dose_and_rate: Any) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": "draft",
        "status": "draft",
        "intent": "proposal",
        "subject": SUBJECT,
        "medicationCodeableConcept": {"text": "Octagam 10%"},
        "dosageInstruction": [{"doseAndRate": [dose_and_rate]}],
    }


def test_a_rate_in_ml_per_hour_is_not_dropped_silently() -> None:
    admin = ivig_admin("a1", "2020-03-02", qty(1, "g/kg"), rateQuantity=qty(100, "mL/h"))
    p, report = patient_from_resources([*base(), admin])
    assert [(c.dose_g_per_kg_per_day, c.max_rate_mg_kg_min) for c in p.ivig_courses] == [(1.0, None)]
    assert notes(report, "MedicationAdministration/a1") == [
        (
            RATE,
            "dosage.rateQuantity unit 'mL/h' is not convertible to mg/kg/min"
            " (a volume rate needs the concentration and the weight): not mapped",
        )
    ]


def test_an_unusable_or_non_positive_rate_is_said() -> None:
    odd = ivig_admin("a1", "2020-03-02", qty(1, "g/kg"), rateQuantity=qty(4, "mg/kg/min", comparator="<"))
    zero = ivig_admin("a2", "2020-05-02", qty(1, "g/kg"), rateQuantity=qty(0, "mg/kg/min"))
    _, report = patient_from_resources([*base(), odd, zero])
    assert notes(report, "MedicationAdministration/a1") == [
        (RATE, "dosage.rateQuantity without a usable value: not mapped")
    ]
    assert notes(report, "MedicationAdministration/a2") == [
        (RATE, "dosage.rateQuantity is not a positive rate: not mapped")
    ]


def test_a_course_with_one_unreadable_rate_records_no_maximum() -> None:
    known = ivig_admin("d1", "2020-03-02", qty(1, "g/kg"), rateQuantity=qty(4, "mg/kg/min"))
    unknown = ivig_admin("d2", "2020-03-03", qty(1, "g/kg"), rateQuantity=qty(150, "mL/h"))
    p, report = patient_from_resources([*base(), known, unknown])
    assert [(c.days, c.max_rate_mg_kg_min) for c in p.ivig_courses] == [(2, None)]
    assert (
        RATE,
        "a rate of the course could not be read: the maximum rate is not recorded",
    ) in notes(report, "MedicationAdministration/d1")


def test_a_draft_order_rate_in_ml_per_hour_is_said() -> None:
    p, report = patient_from_resources(base(), draft_orders=[draft(rateQuantity=qty(100, "mL/h"))])
    assert p.ivig_order is not None and p.ivig_order.max_rate_mg_kg_min is None
    assert notes(report, "MedicationRequest/draft") == [
        (
            "ivig_order.max_rate_mg_kg_min",
            "doseAndRate.rateQuantity unit 'mL/h' is not convertible to mg/kg/min"
            " (a volume rate needs the concentration and the weight): not mapped",
        )
    ]


def test_a_draft_order_with_doses_that_differ_maps_neither() -> None:
    order = draft(doseQuantity=qty(1, "g/kg"))
    order["dosageInstruction"][0]["doseAndRate"].append({"doseQuantity": qty(2, "g/kg")})
    p, report = patient_from_resources(base(), draft_orders=[order])
    assert p.ivig_order is not None and p.ivig_order.dose_g_per_kg_per_day is None
    assert warnings_of(report, "MedicationRequest/draft") == [
        "several doseAndRate entries that differ: the ordered dose and rate are not mapped (never a choice)"
    ]
    same = draft(doseQuantity=qty(1, "g/kg"), type={"text": "ordered"})
    same["dosageInstruction"][0]["doseAndRate"].append({"doseQuantity": qty(1, "g/kg"), "type": {"text": "calc"}})
    p, report = patient_from_resources(base(), draft_orders=[same])
    assert p.ivig_order is not None and p.ivig_order.dose_g_per_kg_per_day == 1.0
    assert warnings_of(report, "MedicationRequest/draft") == []
