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


SC = {"coding": [{"system": "http://snomed.info/sct", "code": "34206005", "display": "Subcutaneous route"}]}
IM = {"coding": [{"system": "http://snomed.info/sct", "code": "78421000"}]}
IV = {"coding": [{"system": "http://snomed.info/sct", "code": "47625008"}]}


def test_an_ivig_code_given_subcutaneously_or_intramuscularly_is_not_a_course() -> None:
    sc = ivig_admin("sc", "2020-03-02", qty(0.4, "g/kg"), route=SC)
    im = ivig_admin("im", "2020-04-02", qty(0.4, "g/kg"), route=IM)
    iv = ivig_admin("iv", "2020-05-02", qty(0.4, "g/kg"), route=IV)
    p, report = patient_from_resources([*base(), sc, im, iv])
    assert [c.source for c in p.ivig_courses] == ["MedicationAdministration/iv"]
    assert notes(report, "MedicationAdministration/sc") == [
        ("ivig_courses", "dosage.route is subcutaneous, not intravenous: not IVIG, not mapped")
    ]
    assert notes(report, "MedicationAdministration/im") == [
        ("ivig_courses", "dosage.route is intramuscular, not intravenous: not IVIG, not mapped")
    ]
    assert notes(report, "MedicationAdministration/iv") == []
    assert report.resources_ignored["MedicationAdministration"] == 2


def test_an_unlisted_route_keeps_the_course_and_says_so_and_no_route_is_read() -> None:
    odd = ivig_admin("odd", "2020-03-02", qty(0.4, "g/kg"), route={"text": "via port"})
    plain = ivig_admin("plain", "2020-05-02", qty(0.4, "g/kg"))
    p, report = patient_from_resources([*base(), odd, plain])
    assert [c.source for c in p.ivig_courses] == ["MedicationAdministration/odd", "MedicationAdministration/plain"]
    assert notes(report, "MedicationAdministration/odd") == [
        (
            "ivig_courses",
            "dosage.route is not a route of the mapping table: read as intravenous, as the medication says",
        )
    ]
    assert notes(report, "MedicationAdministration/plain") == []


def ivig_request(rid: str, status: str, route: dict[str, Any] | None, **bounds: str) -> dict[str, Any]:
    dosage: dict[str, Any] = {"timing": {"repeat": {"boundsPeriod": bounds}}}
    if route is not None:
        dosage["route"] = route
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": status,
        "intent": "order",
        "subject": SUBJECT,
        "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "J06BA02"}]},
        "authoredOn": bounds.get("start", "2020-01-01"),
        "dosageInstruction": [dosage],
    }


def test_a_subcutaneous_ivig_order_says_nothing_about_ivig_discontinuation() -> None:
    stopped_sc = ivig_request("sc", "stopped", SC, start="2020-01-01", end="2020-05-01")
    p, report = patient_from_resources([*base(), stopped_sc])
    assert p.ivig_discontinued_on is None
    assert notes(report, "MedicationRequest/sc") == [
        ("ivig_discontinued_on", "dosageInstruction.route is subcutaneous, not intravenous: not IVIG, not mapped")
    ]
    # a stopped IV order then an active SC one: IVIG was discontinued (the SC order does not restart it)
    stopped_iv = ivig_request("iv", "stopped", IV, start="2020-01-01", end="2020-05-01")
    active_sc = ivig_request("sc2", "active", SC, start="2020-08-01")
    p, _ = patient_from_resources([*base(), stopped_iv, active_sc])
    assert str(p.ivig_discontinued_on) == "2020-05-01"


def test_a_subcutaneous_draft_order_is_not_the_ivig_order() -> None:
    order = draft(doseQuantity=qty(0.4, "g/kg"))
    order["dosageInstruction"][0]["route"] = SC
    p, report = patient_from_resources(base(), draft_orders=[order])
    assert p.ivig_order is None
    assert notes(report, "MedicationRequest/draft") == [
        ("ivig_order", "dosageInstruction.route is subcutaneous, not intravenous: not IVIG, not mapped")
    ]


def test_the_routes_are_data_a_site_replaces(tmp_path: Any) -> None:
    import pytest

    from ivig_cds import RuleFileError
    from ivig_cds.fhir import default_mapping_path, load_mapping, map_resources

    table = default_mapping_path().read_text(encoding="utf-8")
    start = table.index("\nroutes:\n")
    end = table.index("\n\n", start + 1)
    broken = tmp_path / "broken.yaml"
    broken.write_text(table[:start] + "\nroutes:\n  subcutaneous: []" + table[end:], encoding="utf-8")
    with pytest.raises(RuleFileError, match="routes: a mapping of route: codes, with intravenous among them"):
        load_mapping(broken)
    # a site whose SC code is its own: its administrations are not courses
    site = tmp_path / "site.yaml"
    sc = '  subcutaneous: [{system: snomed, code: "34206005", display: "Subcutaneous route"}]'
    assert sc in table
    site.write_text(table.replace(sc, '  subcutaneous: [{system: local, code: "route-sc"}]'), encoding="utf-8")
    admin = ivig_admin(
        "sc",
        "2020-03-02",
        qty(0.4, "g/kg"),
        route={"coding": [{"system": "urn:ivig-cds:codesystem", "code": "route-sc"}]},
    )
    mapped = map_resources([*base(), admin], mapping=load_mapping(site))
    assert mapped.patient is not None and mapped.patient.ivig_courses == []
    assert "dosage.route is subcutaneous, not intravenous: not IVIG, not mapped" in warnings_of(mapped.report)
