"""IVIG records from FHIR that are not what they seem: one infusion recorded twice, an order stopped on a
day the record does not hold. Neither may double a dose or read as "IVIG never stopped"."""

from __future__ import annotations

from typing import Any

from fhir_helpers import base, dosage, ivig_admin, med_request, qty, warnings_of
from ivig_cds import Engine
from ivig_cds.fhir import map_resources
from ivig_cds.verdict import verdict

ATC = "http://www.whocc.no/atc"


def _given(rid: str, when: str, grams: float, *ids: tuple[str, str]) -> dict[str, Any]:
    res = ivig_admin(rid, when, qty(grams, "g"))
    if ids:
        res["identifier"] = [{"system": system, "value": value} for system, value in ids]
    return res


def _courses(*resources: dict[str, Any]) -> tuple[Any, Any]:
    result = map_resources([*base(), *resources], as_of="2020-06-01")
    assert result.patient is not None, result.errors
    return result.patient.ivig_courses, result.report


def test_two_records_of_one_infusion_at_one_time_are_not_summed_into_a_double_dose() -> None:
    courses, report = _courses(_given("a", "2020-02-01T09:00:00Z", 70), _given("b", "2020-02-01T09:00:00Z", 70))
    assert courses == []  # 2 g/kg would be a dose never given
    assert report.incomplete == {"ivig_courses": ["MedicationAdministration/a", "MedicationAdministration/b"]}
    assert any(
        "one infusion recorded twice, or two?" in w for w in warnings_of(report, "MedicationAdministration/b")
    )


def test_a_record_with_the_identifier_of_another_is_the_same_infusion_read_once() -> None:
    same = ("urn:oid:1.2.3", "MAR-77")
    courses, report = _courses(
        _given("a", "2020-02-01T09:00:00Z", 70, same),
        _given("b", "2020-02-01T09:05:00Z", 70, same),  # resent later, the time re-entered
        _given("c", "2020-02-02T09:00:00Z", 70),
    )
    assert [(str(c.start), c.days, c.dose_g_per_kg_per_day) for c in courses] == [("2020-02-01", 2, 1.0)]
    assert any("read once" in w for w in warnings_of(report, "MedicationAdministration/b"))
    assert report.incomplete == {}
    assert report.resources_read["MedicationAdministration"] == 3  # the repeat is read (as the same one)


def test_the_same_identifier_with_another_dose_leaves_the_course_unmapped() -> None:
    same = ("urn:oid:1.2.3", "MAR-77")
    courses, report = _courses(
        _given("a", "2020-02-01T09:00:00Z", 70, same), _given("b", "2020-02-01T09:00:00Z", 35, same)
    )
    assert courses == []
    assert "ivig_courses" in report.incomplete
    assert any("which dose is right is unknown" in w for w in warnings_of(report, "MedicationAdministration/b"))


def test_infusions_one_system_numbers_apart_or_given_at_two_times_are_summed() -> None:
    courses, report = _courses(
        _given("a", "2020-02-01T09:00:00Z", 35, ("urn:mar", "1")),
        _given("b", "2020-02-01T09:00:00Z", 35, ("urn:mar", "2")),  # two bags hung at once, two MAR rows
        _given("c", "2020-02-02T09:00:00Z", 35),
        _given("d", "2020-02-02T14:00:00Z", 35),  # the day's dose in two bags
    )
    assert [(c.days, c.dose_g_per_kg_per_day) for c in courses] == [(2, 1.0)]
    assert report.incomplete == {}
    assert not any("twice" in w for w in warnings_of(report))


def _stopped(end: str | None, status: str = "stopped") -> dict[str, Any]:
    return med_request(
        "o1",
        "J06BA02",
        dosage(qty(1, "g/kg"), "2020-01-06", end),
        system=ATC,
        status=status,
        authoredOn="2020-01-01",
    )


_JAN = [ivig_admin("a1", "2020-01-06", qty(1, "g/kg")), ivig_admin("a2", "2020-01-07", qty(1, "g/kg"))]


def test_an_order_stopped_with_its_planned_end_after_as_of_has_no_stop_date_and_says_so() -> None:
    resources = [*base(), *_JAN, _stopped("2021-01-06")]
    result = map_resources(resources, as_of="2020-06-01")
    assert result.patient is not None
    assert result.patient.ivig_discontinued_on is None  # not 2021-01-06: a stop in the future is no stop
    assert result.report.incomplete == {"ivig_discontinued_on": ["MedicationRequest/o1"]}
    assert any("the day IVIG stopped is unknown" in w for w in warnings_of(result.report, "MedicationRequest/o1"))
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}
    evaluation = Engine().evaluate(bundle, as_of="2020-06-01")
    lines = {line.label: line.text for line in verdict(evaluation).lines}
    assert lines["Relapse?"].startswith("unknown: IVIG stopped per the record on a day not mapped")
    assert "ivig_discontinued_on" in lines["Incomplete"]


def test_a_planned_end_on_or_before_as_of_is_the_stop_date() -> None:
    result = map_resources([*base(), *_JAN, _stopped("2020-03-01")], as_of="2020-06-01")
    assert result.patient is not None
    assert str(result.patient.ivig_discontinued_on) == "2020-03-01"
    assert result.report.incomplete == {}


def test_stopped_without_an_end_is_incomplete_unless_an_active_order_goes_on() -> None:
    result = map_resources([*base(), *_JAN, _stopped(None)], as_of="2020-06-01")
    assert result.patient is not None and result.patient.ivig_discontinued_on is None
    assert result.report.incomplete == {"ivig_discontinued_on": ["MedicationRequest/o1"]}
    active = med_request(
        "o2", "J06BA02", dosage(qty(1, "g/kg"), "2020-02-03"), system=ATC, authoredOn="2020-02-01"
    )
    result = map_resources([*base(), *_JAN, _stopped(None), active], as_of="2020-06-01")
    assert result.patient is not None and result.report.incomplete == {}
    # a completed order without an end may be one order per course: warned, not incomplete
    result = map_resources([*base(), *_JAN, _stopped(None, "completed")], as_of="2020-06-01")
    assert result.patient is not None and result.report.incomplete == {}
    assert any("without an end date" in w for w in warnings_of(result.report, "MedicationRequest/o1"))


def test_a_stop_after_as_of_exports_as_an_active_order_with_a_planned_end() -> None:
    from ivig_cds import Patient
    from ivig_cds.fhir import bundle_from_patient, patient_from_bundle
    from ivig_cds.inputs.files import load_patient
    from test_fhir_roundtrip import ROOT

    original = load_patient(ROOT / "examples" / "relapse.json")
    assert original.ivig_discontinued_on is not None and original.as_of is not None
    data = original.model_dump(mode="json")
    data["ivig_discontinued_on"] = original.as_of.replace(year=original.as_of.year + 1).isoformat()
    bundle = bundle_from_patient(Patient.model_validate(data))
    stops = [e["resource"] for e in bundle["entry"] if e["resource"]["id"].endswith("ivig-stop-1")]
    assert [r["status"] for r in stops] == ["active"]
    back, report = patient_from_bundle(bundle)
    assert back.ivig_discontinued_on is None and report.incomplete == {} and report.warnings == []
