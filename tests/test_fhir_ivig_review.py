"""IVIG from FHIR, after an adversarial review: per-course orders are no discontinuation, immunoglobulins
that are not IVIG are said, a reaction the table cannot read leaves the courses incomplete."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_helpers import SUBJECT, base, dosage, ivig_admin, med_request, qty, warnings_of
from ivig_cds.fhir import patient_from_resources

ATC = "http://www.whocc.no/atc"


def _order(rid: str, start: str, end: str, status: str = "completed") -> dict[str, Any]:
    return med_request(rid, "J06BA02", dosage(qty(1, "g/kg"), start, end), system=ATC, status=status)


def _course(tag: str, *days: str) -> list[dict[str, Any]]:
    return [ivig_admin(f"{tag}{i}", day, qty(70, "g")) for i, day in enumerate(days)]


def test_orders_per_course_completed_after_it_are_no_discontinuation() -> None:
    """One order per course, each completed after its course: IVIG went on - it was not stopped."""
    given = [*_course("a", "2020-03-02", "2020-03-03"), *_course("b", "2020-04-01", "2020-04-02")]
    orders = [_order("o1", "2020-03-02", "2020-03-03"), _order("o2", "2020-04-01", "2020-04-02")]
    p, report = patient_from_resources([*base(), *given, *orders], as_of="2020-04-20")
    # the last order ended with the last course, the next course not yet due: IVIG goes on (monitoring stays on)
    assert p.ivig_discontinued_on is None
    assert any("not read as stopped" in c.message for c in report.conversions)
    p, report = patient_from_resources([*base(), *given, *orders], as_of="2020-06-01")
    # past the schedule with nothing after: read as stopped on the last order's end, and said
    assert str(p.ivig_discontinued_on) == "2020-04-02"
    assert any("order per course" in w for w in warnings_of(report, "MedicationRequest/o2"))
    draft = med_request("next", "J06BA02", dosage(qty(1, "g/kg")), system=ATC, status="draft")
    p, report = patient_from_resources([*base(), *given, *orders], as_of="2020-04-20", draft_orders=[draft])
    assert p.ivig_discontinued_on is None  # the next course is being ordered: on schedule
    assert p.ivig_order is not None


def test_a_course_on_schedule_after_an_ended_order_is_no_discontinuation_but_a_late_one_is_a_restart() -> None:
    stopped = _order("o1", "2020-01-06", "2020-02-01", status="stopped")
    jan = _course("a", "2020-01-06", "2020-01-07")
    feb = _course("b", "2020-02-03", "2020-02-04")
    p, report = patient_from_resources([*base(), stopped, *jan, *feb], as_of="2020-03-01")
    assert p.ivig_discontinued_on is None
    assert any("goes on to schedule" in c.message for c in report.conversions)
    late = _course("c", "2020-09-01", "2020-09-02")  # seven months on: stopped, then restarted
    p, _ = patient_from_resources([*base(), stopped, *jan, *late], as_of="2020-10-01")
    assert str(p.ivig_discontinued_on) == "2020-02-01"


def test_an_active_order_written_the_day_another_stopped_goes_on() -> None:
    stopped = _order("o1", "2020-01-06", "2020-03-01", status="stopped")
    switched = med_request("o2", "J06BA02", dosage(qty(1, "g/kg")), system=ATC, authoredOn="2020-03-01")
    p, _ = patient_from_resources([*base(), *_course("a", "2020-01-06"), stopped, switched], as_of="2020-03-10")
    assert p.ivig_discontinued_on is None


def _named(rid: str, text: str, coding: list[dict[str, str]] | None = None) -> dict[str, Any]:
    admin = ivig_admin(rid, "2020-03-02", qty(14, "g"))
    admin["medicationCodeableConcept"] = {"text": text, **({"coding": coding} if coding else {})}
    return admin


@pytest.mark.parametrize(
    ("text", "coding", "said"),
    [
        ("Immune globulin subcutaneous (human) 20%", None, "subcutaneous"),
        ("Cuvitru 20% immune globulin", None, "cuvitru"),
        ("HyQvia", None, "hyqvia"),
        ("immune globulin", [{"system": ATC, "code": "J06BA01"}], "J06BA01"),
        ("Rho(D) immune globulin", None, "rho d"),
        ("hepatitis B immune globulin", None, "hepatitis b"),
        ("anti-thymocyte immunoglobulin", None, "anti thymocyte"),
        ("immunoglobulin", [{"system": ATC, "code": "J06BB01"}], "J06BB"),
    ],
)
def test_an_immunoglobulin_that_is_not_ivig_is_said_and_not_a_course(
    text: str, coding: list[dict[str, str]] | None, said: str
) -> None:
    p, report = patient_from_resources([*base(), _named("s1", text, coding)], as_of="2020-06-01")
    assert p.ivig_courses == []
    warned = warnings_of(report, "MedicationAdministration/s1")
    assert any("not IVIG: not mapped" in w and said in w for w in warned), warned


@pytest.mark.parametrize("text", ["Gammaked 10%", "Alyglo", "Yimmugo 10%", "I.V.I.G."])
def test_ivig_brands_missing_from_the_product_table_are_ivig(text: str) -> None:
    p, _ = patient_from_resources([*base(), _named("s1", text)], as_of="2020-06-01")
    assert [(str(c.start), c.product) for c in p.ivig_courses] == [("2020-03-02", text)]


def test_a_draft_order_not_recognised_or_not_ivig_is_said() -> None:
    draft = med_request("d", "x", dosage(qty(1, "g/kg")), status="draft")
    draft["medicationCodeableConcept"] = {"text": "Hizentra 20%"}
    _, report = patient_from_resources(base(), draft_orders=[draft])
    assert any("not an IVIG order" in w for w in warnings_of(report, "MedicationRequest/d"))
    draft["medicationCodeableConcept"] = {"text": "Kyvigam 10%"}  # not a product of the table
    _, report = patient_from_resources(base(), draft_orders=[draft])
    assert any("not recognised: not an IVIG order" in w for w in warnings_of(report, "MedicationRequest/d"))


def _reaction(code: dict[str, str]) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "ae1",
        "status": "final",
        "subject": SUBJECT,
        "code": {"coding": [{"system": "urn:ivig-cds:codesystem", "code": "ivig-adverse-event"}]},
        "effectiveDateTime": "2020-03-02",
        "partOf": [{"reference": "MedicationAdministration/a0"}],
        "valueCodeableConcept": {"coding": [code]},
        "component": [
            {
                "code": {"coding": [{"system": "urn:ivig-cds:codesystem", "code": "severity"}]},
                "valueCodeableConcept": {"coding": [{"system": "urn:ivig-cds:codesystem", "code": "ae-severe"}]},
            }
        ],
    }


def test_an_anaphylaxis_coded_in_snomed_is_anaphylaxis_and_an_unreadable_reaction_is_incomplete() -> None:
    given = _course("a", "2020-03-02", "2020-03-03")
    snomed = _reaction({"system": "http://snomed.info/sct", "code": "39579001"})
    p, report = patient_from_resources([*base(), *given, snomed], as_of="2020-06-01")
    assert [(e.type.value, e.severity.value) for e in p.ivig_courses[0].adverse_events] == [
        ("anaphylaxis", "severe")
    ]
    assert report.incomplete == {}
    odd = _reaction({"system": "http://snomed.info/sct", "code": "271807003"})  # a rash, in SNOMED
    p, report = patient_from_resources([*base(), *given, odd], as_of="2020-06-01")
    assert p.ivig_courses[0].adverse_events == []
    assert report.incomplete == {"ivig_courses": ["Observation/ae1"]}


def test_each_days_dose_is_checked_not_only_the_mean() -> None:
    given = [ivig_admin("a0", "2020-03-02", qty(3, "g/kg")), ivig_admin("a1", "2020-03-03", qty(0.5, "g/kg"))]
    p, report = patient_from_resources([*base(), *given], as_of="2020-06-01")  # mean 1.75: in range
    assert p.ivig_courses == []
    assert report.incomplete == {"ivig_courses": ["MedicationAdministration/a0", "MedicationAdministration/a1"]}


def test_an_infusion_without_a_rate_leaves_the_courses_maximum_unknown() -> None:
    fast = ivig_admin("a0", "2020-03-02", qty(1, "g/kg"), rateQuantity=qty(2, "mg/kg/min"))
    unrated = ivig_admin("a1", "2020-03-03", qty(1, "g/kg"))
    p, report = patient_from_resources([*base(), fast, unrated], as_of="2020-06-01")
    assert p.ivig_courses[0].max_rate_mg_kg_min is None
    assert any("has no rate" in w for w in warnings_of(report, "MedicationAdministration/a0"))


def test_infusion_days_a_day_apart_are_two_courses_and_said() -> None:
    given = [ivig_admin("a0", "2020-03-06", qty(1, "g/kg")), ivig_admin("a1", "2020-03-09", qty(1, "g/kg"))]
    p, report = patient_from_resources([*base(), *given], as_of="2020-06-01")  # Friday, Monday
    assert len(p.ivig_courses) == 2
    assert any("read as a new course" in w for w in warnings_of(report, "MedicationAdministration/a1"))


def test_two_products_on_a_courses_first_day_give_one_answer_in_any_order() -> None:
    a = ivig_admin("a0", "2020-03-02", qty(35, "g"), product="Privigen")
    b = ivig_admin("a1", "2020-03-02", qty(35, "g"), product="Octagam 10%")
    one, _ = patient_from_resources([*base(), a, b], as_of="2020-06-01")
    two, _ = patient_from_resources([*base(), b, a], as_of="2020-06-01")
    assert one.model_dump() == two.model_dump()
    assert (one.ivig_courses[0].product, one.ivig_courses[0].source) == ("Privigen", "MedicationAdministration/a0")


def test_a_reaction_whose_infusion_is_absent_is_incomplete_not_an_error() -> None:
    given = _course("a", "2020-03-02", "2020-03-03")
    reaction = _reaction({"system": "urn:ivig-cds:codesystem", "code": "ae-anaphylaxis"})
    reaction["partOf"] = [{"reference": "MedicationAdministration/elsewhere"}]
    p, report = patient_from_resources([*base(), *given, reaction], as_of="2020-06-01")
    assert report.incomplete == {"ivig_courses": ["Observation/ae1"]}
    reaction["partOf"] = [{"display": "the March infusion"}, {"reference": "MedicationAdministration/a1"}]
    p, report = patient_from_resources([*base(), *given, reaction], as_of="2020-06-01")
    assert [e.type.value for e in p.ivig_courses[0].adverse_events] == ["anaphylaxis"]  # the second partOf


SNOMED = "http://snomed.info/sct"


@pytest.mark.parametrize(
    "text",
    [
        "Gamunex-C 10% IV/SC",
        "Gammagard Liquid 10% (IV/SC)",
        "Gammaked 10% IV/SC",
        "Immune Globulin Infusion (Human) 10% for intravenous and subcutaneous use",
        "Octagam 10% lot SC-0123",
        "Privigen lot IM-4321",
        "Privigen 10% - not for SC/IM use",
        "IVIG (Privigen) per IM team",
        "Privigen Hep B neg",
        "Gammagard",
    ],
)
def test_route_words_in_an_ivig_name_do_not_make_it_another_immunoglobulin(text: str) -> None:
    """A second review: "SC" or "IM" in free text (an IV/SC product, a lot number) dropped real courses -
    and the anaphylaxis attached to them."""
    given = [_named("a0", text), {**_named("a1", text), "effectiveDateTime": "2020-03-03"}]
    reaction = _reaction({"system": "urn:ivig-cds:codesystem", "code": "ae-anaphylaxis"})
    p, report = patient_from_resources([*base(), *given, reaction], as_of="2020-06-01")
    assert [c.days for c in p.ivig_courses] == [2], warnings_of(report, "MedicationAdministration/a0")
    assert [e.type.value for e in p.ivig_courses[0].adverse_events] == ["anaphylaxis"]


@pytest.mark.parametrize(
    "text",
    ["Rh0(D) Immune Globulin Intravenous (Human)", "Rh(D) immunoglobulin", "CMV-IGIV", "Hep B immune globulin"],
)
def test_specific_immunoglobulins_in_common_spellings_are_not_ivig(text: str) -> None:
    p, _ = patient_from_resources([*base(), _named("s1", text)], as_of="2020-06-01")
    assert p.ivig_courses == []


def test_a_text_only_route_word_is_not_ivig_but_leaves_the_courses_incomplete() -> None:
    p, report = patient_from_resources([*base(), _named("s1", "immune globulin SC 20%")], as_of="2020-06-01")
    assert p.ivig_courses == [] and report.incomplete == {"ivig_courses": ["MedicationAdministration/s1"]}


def test_a_short_day_keeps_its_course_and_its_reaction() -> None:
    a0 = ivig_admin("a0", "2020-03-02", qty(70, "g"))
    a1 = {**ivig_admin("a1", "2020-03-03", qty(5, "g")), "status": "stopped"}  # stopped early
    reaction = _reaction({"system": "urn:ivig-cds:codesystem", "code": "ae-anaphylaxis"})
    reaction["partOf"] = [{"reference": "MedicationAdministration/a1"}]
    p, _ = patient_from_resources([*base(), a0, a1, reaction], as_of="2020-06-01")
    assert [e.type.value for e in p.ivig_courses[0].adverse_events] == ["anaphylaxis"]


def test_a_reaction_to_an_infusion_whose_course_is_not_mapped_is_incomplete() -> None:
    bad = ivig_admin("a0", "2020-03-02", qty(100, "mL"))  # a volume: the course is not mapped
    reaction = _reaction({"system": "urn:ivig-cds:codesystem", "code": "ae-anaphylaxis"})
    _, report = patient_from_resources([*base(), bad, reaction], as_of="2020-06-01")
    assert "Observation/ae1" in report.incomplete["ivig_courses"]


def test_a_stopped_order_stays_the_stop_whatever_a_draft_says() -> None:
    stopped = _order("o1", "2020-01-06", "2020-02-10", status="stopped")
    given = [*_course("a", "2020-01-06", "2020-01-07"), *_course("b", "2020-02-03", "2020-02-04")]
    draft = med_request("next", "J06BA02", dosage(qty(1, "g/kg")), system=ATC, status="draft")
    p, _ = patient_from_resources([*base(), stopped, *given], as_of="2020-03-01", draft_orders=[draft])
    assert str(p.ivig_discontinued_on) == "2020-02-10"


def test_an_order_ended_before_every_course_is_no_stop() -> None:
    stopped = _order("o1", "2019-11-01", "2019-12-20", status="stopped")
    p, report = patient_from_resources([*base(), stopped, *_course("a", "2020-01-06")], as_of="2020-03-01")
    assert p.ivig_discontinued_on is None
    assert any("before the first mapped IVIG course" in w for w in warnings_of(report, "MedicationRequest/o1"))
