"""IVIG given or a glucocorticoid taken that the adapter cannot map: the report says the file is incomplete,
and every view says what the evaluation therefore does not count (a patient must not just look IVIG-naive)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from fhir_helpers import SUBJECT, base, dosage, ivig_admin, med_request, qty, warnings_of
from ivig_cds import Engine
from ivig_cds.cli import main
from ivig_cds.console.evaluation import render_evaluation
from ivig_cds.fhir import patient_from_resources
from ivig_cds.outputs.cds_hooks import build_cards
from ivig_cds.outputs.text import render_markdown

AS_OF = "2021-01-01"


_NO_WEIGHT = "dose in grams but no body weight on or before the course (within 365 days before it): not mapped"


def _grams_before_any_weight() -> list[dict]:
    """A course of 2 x 70 g given in 2019; the only weight is from 2020 (base): it cannot be per kg."""
    return [*base(), ivig_admin("g1", "2019-06-01", qty(70, "g")), ivig_admin("g2", "2019-06-02", qty(70, "g"))]


def _ivig_statement(status: str = "completed") -> dict:
    return {
        "resourceType": "MedicationStatement",
        "id": "st",
        "status": status,
        "subject": SUBJECT,
        "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "J06BA02"}]},
        "effectivePeriod": {"start": "2019-01-01", "end": "2019-06-30"},
    }


def test_an_unmappable_ivig_course_makes_the_file_incomplete() -> None:
    p, report = patient_from_resources(_grams_before_any_weight(), as_of=AS_OF)
    assert p.ivig_courses == []
    assert report.incomplete == {"ivig_courses": ["MedicationAdministration/g1", "MedicationAdministration/g2"]}
    assert (
        "dose in grams but no body weight on or before the course (within 365 days before it): not mapped"
        in warnings_of(report, "MedicationAdministration/g1")
    )


@pytest.mark.parametrize(
    ("resources", "refs"),
    [
        ([ivig_admin(f"d{i}", f"2020-03-0{i}", qty(0.4, "g/kg")) for i in range(1, 7)], 6),  # 6 days: no course
        ([ivig_admin("hi", "2020-03-01", qty(3, "g/kg"))], 1),  # outside 0.1-2.0 g/kg
        ([ivig_admin("u", "2020-03-01", qty(40, "mL"))], 1),  # not grams
        ([{**ivig_admin("nd", "2020-03-01", qty(0.4, "g/kg")), "effectiveDateTime": None}], 1),  # no date
    ],
)
def test_every_ivig_infusion_not_made_a_course_is_counted(resources: list[dict], refs: int) -> None:
    resources = [{k: v for k, v in r.items() if v is not None} for r in resources]
    _, report = patient_from_resources([*base(), *resources], as_of=AS_OF)
    assert len(report.incomplete["ivig_courses"]) == refs


def test_mapped_courses_and_excluded_infusions_leave_the_file_complete() -> None:
    sc = ivig_admin("sc", "2020-03-01", qty(0.4, "g/kg"), product="Hizentra")  # SCIG: not IVIG at all
    ok = ivig_admin("ok", "2020-04-01", qty(1, "g/kg"))
    _, report = patient_from_resources([*base(), sc, ok], as_of=AS_OF)
    assert report.incomplete == {}


def test_an_ivig_statement_without_administrations_in_its_period_is_incomplete() -> None:
    _, report = patient_from_resources([*base(), _ivig_statement()], as_of=AS_OF)
    assert report.incomplete == {"ivig_courses": ["MedicationStatement/st"]}
    assert any("no IVIG administration in its period" in w for w in warnings_of(report, "MedicationStatement/st"))
    covered = [*base(), _ivig_statement(), ivig_admin("a", "2019-03-01", qty(1, "g/kg"), **{})]
    covered[1] = {**covered[1], "effectiveDateTime": "2019-01-01"}  # the weight before the course
    _, report = patient_from_resources(covered, as_of=AS_OF)
    assert report.incomplete == {}
    _, report = patient_from_resources([*base(), _ivig_statement("intended")], as_of=AS_OF)
    assert report.incomplete == {}  # intended: not taken


def test_a_glucocorticoid_without_a_mappable_dose_is_incomplete() -> None:
    no_dose = med_request("pred", "8640")  # prednisone, no dosageInstruction
    no_strength = med_request("tab", "8640", dosage(qty(2, "TAB"), "2020-01-01"))
    fine = med_request("ok", "8640", dosage(qty(10, "mg"), "2020-01-01"))
    _, report = patient_from_resources([*base(), no_dose, no_strength, fine], as_of=AS_OF)
    assert report.incomplete == {"glucocorticoid_doses": ["MedicationRequest/pred", "MedicationRequest/tab"]}


def _evaluation() -> object:
    return Engine(backend="reference").evaluate({"resourceType": "Bundle", "type": "collection",
                                                  "entry": [{"resource": r} for r in _grams_before_any_weight()]},
                                                 as_of=AS_OF)  # fmt: skip


def test_every_view_says_what_is_not_counted() -> None:
    ev = _evaluation()
    assert ev.mapping["incomplete"] == {
        "ivig_courses": ["MedicationAdministration/g1", "MedicationAdministration/g2"]
    }
    md = render_markdown([ev])
    assert "**Incomplete** FHIR record not fully mapped (ivig\\_courses): IVIG given per the record" in md
    assert "INCOMPLETE ivig\\_courses: IVIG given per the record" in md  # and listed with the warnings
    out = io.StringIO()
    render_evaluation(ev, Console(file=out, width=100, color_system=None))
    text = " ".join(out.getvalue().split())
    assert "INCOMPLETE ivig_courses" in text
    assert "Incomplete FHIR record not fully mapped (ivig_courses)" in text  # the verdict, first
    assert "no IVIG course yet" not in text and "IVIG in the record may not be mapped (see Incomplete)" in text
    summary = build_cards(ev).response["cards"][0]
    assert summary["detail"].startswith("- **Incomplete**: ivig\\_courses: IVIG given per the record")
    assert summary["indicator"] in ("warning", "critical")  # never a plain info card


def test_brief_marks_the_patient_incomplete(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "b.json"
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": r} for r in _grams_before_any_weight()]}  # fmt: skip
    path.write_text(json.dumps(bundle), encoding="utf-8")
    main(["evaluate", str(path), "--brief", "--as-of", AS_OF, "--backend", "reference"])
    out = capsys.readouterr().out
    assert " incomplete" in out
    assert (
        "incomplete: the FHIR record holds IVIG, glucocorticoid doses or medications that could not be mapped"
        in " ".join(out.split())
    )


@pytest.mark.parametrize("status", ["unknown", "on-hold", None])
def test_an_ivig_administration_that_may_have_been_given_is_incomplete(status: str | None) -> None:
    admin = ivig_admin("a1", "2020-03-01", qty(1, "g/kg"))
    if status is None:
        del admin["status"]
    else:
        admin["status"] = status
    p, report = patient_from_resources([*base(), admin], as_of=AS_OF)
    assert p.ivig_courses == []
    assert report.incomplete == {"ivig_courses": ["MedicationAdministration/a1"]}
    assert warnings_of(report, "MedicationAdministration/a1") == [
        f"IVIG administration with {f'status {status}' if status else 'no status'}: not read as given"
    ]
    admin["status"] = "not-done"
    _, report = patient_from_resources([*base(), admin], as_of=AS_OF)
    assert report.incomplete == {}


@pytest.mark.parametrize("status", ["on-hold", "unknown"])
def test_a_statement_that_may_have_been_taken_is_incomplete(status: str) -> None:
    _, report = patient_from_resources([*base(), _ivig_statement(status)], as_of=AS_OF)
    assert report.incomplete == {"ivig_courses": ["MedicationStatement/st"]}


def test_a_statement_is_covered_only_by_a_course_in_its_own_days() -> None:
    one_day = {**_ivig_statement(), "effectiveDateTime": "2019-01-01"}
    del one_day["effectivePeriod"]
    later = ivig_admin("a", "2020-06-01", qty(1, "g/kg"))  # a course a year later says nothing of 2019
    _, report = patient_from_resources([*base(), one_day, later], as_of=AS_OF)
    assert report.incomplete == {"ivig_courses": ["MedicationStatement/st"]}
    partial = {**_ivig_statement(), "effectivePeriod": {"start": "2019"}}  # an unusable start: no date
    _, report = patient_from_resources([*base(), partial, later], as_of=AS_OF)
    assert report.incomplete == {"ivig_courses": ["MedicationStatement/st"]}
    # a course whose days overlap the statement's period (it began the day before) covers it
    days = [ivig_admin(f"d{i}", f"2020-03-0{i}", qty(0.4, "g/kg")) for i in range(1, 6)]
    inside = {**_ivig_statement(), "effectivePeriod": {"start": "2020-03-02", "end": "2020-03-05"}}
    _, report = patient_from_resources([*base(), inside, *days], as_of=AS_OF)
    assert report.incomplete == {}


def test_an_ended_ivig_order_without_administrations_is_incomplete() -> None:
    order = med_request(
        "rq",
        "J06BA02",
        dosage(qty(1, "g/kg"), "2019-01-01", "2019-06-30", period=4, unit="wk"),
        system="http://www.whocc.no/atc",
        status="completed",
    )
    p, report = patient_from_resources([*base(), order], as_of=AS_OF)
    assert str(p.ivig_discontinued_on) == "2019-06-30" and p.ivig_courses == []
    assert report.incomplete == {"ivig_courses": ["MedicationRequest/rq"]}


def test_a_reference_that_is_not_a_reference_is_not_echoed() -> None:
    admin = ivig_admin("a1", "2020-03-01", qty(1, "g/kg"))
    del admin["medicationCodeableConcept"]
    admin["medicationReference"] = {"reference": "Smith, John DOB 1970-01-01 MRN 12345"}
    _, report = patient_from_resources([*base(), admin], as_of=AS_OF)
    text = json.dumps(report.to_dict())
    assert "Smith" not in text and "12345" not in text
    assert warnings_of(report, "MedicationAdministration/a1") == [
        "medicationReference (not a FHIR reference) is not a Medication in the input: not mapped"
    ]


def test_an_unknown_drug_is_said_before_the_answer_on_the_card_and_in_the_header() -> None:
    admin = ivig_admin("a1", "2020-03-01", qty(1, "g/kg"))
    del admin["medicationCodeableConcept"]
    admin["medicationReference"] = {"reference": "Medication/m1"}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in [*base(), admin]]}
    ev = Engine(backend="reference").evaluate(bundle, as_of=AS_OF)
    card = build_cards(ev).response["cards"][0]
    assert card["summary"].startswith("Record incomplete (see details): IVIG:")
    out = io.StringIO()
    render_evaluation(ev, Console(file=out, width=100, color_system=None))
    assert "no IVIG course yet" not in out.getvalue()


def _pulse(rid: str = "mp1", day: str = "2020-11-01") -> dict:
    admin = ivig_admin(rid, day, qty(1000, "mg"))
    admin["medicationCodeableConcept"] = {
        "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "6902"}]
    }
    return admin


def test_a_glucocorticoid_pulse_no_order_holds_is_incomplete() -> None:
    _, report = patient_from_resources([*base(), _pulse()], as_of=AS_OF)
    assert report.incomplete == {"glucocorticoid_doses": ["MedicationAdministration/mp1"]}
    order = med_request("mp", "6902", dosage(qty(1000, "mg"), "2020-11-01", "2020-11-03"))
    _, report = patient_from_resources([*base(), _pulse(), order], as_of=AS_OF)
    assert report.incomplete == {}  # the order of the same agent holds that day's dose
    other = med_request("pred", "8640", dosage(qty(10, "mg"), "2020-01-01"))
    _, report = patient_from_resources([*base(), _pulse(), other], as_of=AS_OF)
    assert report.incomplete == {"glucocorticoid_doses": ["MedicationAdministration/mp1"]}  # a pulse on top


def test_every_finding_card_of_an_incomplete_record_says_so() -> None:
    """A per-finding card (e.g. SAFETY-014, first course of an IVIG-naive patient) read alone must not look
    settled when the record holds IVIG the evaluation could not count."""
    undated = ivig_admin("a1", "2020-03-01", qty(1, "g/kg"))
    del undated["effectiveDateTime"]  # given, but when is unknown: no course
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in [*base(), undated]],
    }
    cards = build_cards(Engine(backend="reference").evaluate(bundle, as_of=AS_OF)).response["cards"]
    assert len(cards) > 1
    for card in cards[1:]:
        assert card["detail"].startswith("**Record incomplete** (`ivig_courses`)"), card["summary"]
    clean = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in base()]}
    cards = build_cards(Engine(backend="reference").evaluate(clean, as_of=AS_OF)).response["cards"]
    assert len(cards) > 1 and not any("Record incomplete" in c["detail"] for c in cards)


@pytest.mark.parametrize("status", ["on-hold", "unknown", None])
def test_a_glucocorticoid_pulse_whose_status_leaves_open_whether_it_was_given_is_incomplete(
    status: str | None,
) -> None:
    pulse = _pulse()
    if status is None:
        del pulse["status"]
    else:
        pulse["status"] = status
    _, report = patient_from_resources([*base(), pulse], as_of=AS_OF)
    assert report.incomplete == {"glucocorticoid_doses": ["MedicationAdministration/mp1"]}
    said = f"status {status}" if status else "no status"
    assert f"methylprednisolone administration with {said}: not read as given" in warnings_of(
        report, "MedicationAdministration/mp1"
    )
    order = med_request("mp", "6902", dosage(qty(1000, "mg"), "2020-11-01", "2020-11-03"))
    _, report = patient_from_resources([*base(), pulse, order], as_of=AS_OF)
    assert report.incomplete == {}  # the order of the same agent holds that day's dose


def test_a_medication_reference_with_only_a_display_is_an_unknown_drug_said_so() -> None:
    admin = ivig_admin("a1", "2020-03-01", qty(1, "g/kg"))
    del admin["medicationCodeableConcept"]
    admin["medicationReference"] = {"display": "Privigen 10%"}  # a label, not a resource: never a guess
    _, report = patient_from_resources([*base(), admin], as_of=AS_OF)
    assert warnings_of(report, "MedicationAdministration/a1") == [
        "medicationReference names no resource (no reference; a display is not read): the drug is unknown:"
        " not mapped"
    ]
    assert report.incomplete == {"therapies": ["MedicationAdministration/a1"]}


def test_a_pulse_is_held_only_by_an_order_of_at_least_its_dose() -> None:
    low = med_request("mp", "6902", dosage(qty(4, "mg"), "2020-10-01"))  # 4 mg/day does not hold a 1 g pulse
    _, report = patient_from_resources([*base(), _pulse(), low], as_of=AS_OF)
    assert report.incomplete == {"glucocorticoid_doses": ["MedicationAdministration/mp1"]}
    grams = _pulse()
    grams["dosage"]["dose"] = qty(1, "g")  # 1 g = 1000 mg: held by a 1000 mg/day order
    order = med_request("mp", "6902", dosage(qty(1000, "mg"), "2020-11-01", "2020-11-03"))
    _, report = patient_from_resources([*base(), grams, order], as_of=AS_OF)
    assert report.incomplete == {}
    two = [_pulse("mp1"), _pulse("mp2")]  # 2 g given on one day: a 1 g/day order holds half of it
    _, report = patient_from_resources([*base(), *two, order], as_of=AS_OF)
    assert report.incomplete == {
        "glucocorticoid_doses": ["MedicationAdministration/mp1", "MedicationAdministration/mp2"]
    }


def test_an_ordinary_administration_is_held_by_the_order_it_follows() -> None:
    """A tablet taken, an alternate-day dose above the order's daily mean: held by the order, no false alarm."""
    alternate = med_request("pr", "8640", dosage(qty(40, "mg"), "2020-10-01", period=2))  # 20 mg/day mean
    for dose in (qty(40, "mg"), qty(1, "TAB")):
        taken = _pulse("t1")
        taken["medicationCodeableConcept"]["coding"][0]["code"] = "8640"  # prednisone
        if dose is None:
            del taken["dosage"]
        else:
            taken["dosage"]["dose"] = dose
        _, report = patient_from_resources([*base(), taken, alternate], as_of=AS_OF)
        assert report.incomplete == {}, dose
        _, report = patient_from_resources([*base(), taken], as_of=AS_OF)  # no order at all: incomplete
        assert report.incomplete == {"glucocorticoid_doses": ["MedicationAdministration/t1"]}, dose


@pytest.mark.parametrize("dose", [qty(125, "mg"), qty(250, "mL"), None])
def test_an_administration_beyond_its_order_or_of_unknown_amount_is_incomplete(dose: Any) -> None:
    """125 mg IV methylprednisolone on a 4 mg/day order, a pulse recorded as its bag volume, or no dose:
    what was given is not what the order gives (or is unknown) - the file would hold only the 4 mg."""
    given = _pulse("a1")
    if dose is None:
        del given["dosage"]
    else:
        given["dosage"]["dose"] = dose
    low = med_request("mp", "6902", dosage(qty(4, "mg"), "2020-10-01"))
    _, report = patient_from_resources([*base(), given, low], as_of=AS_OF)
    assert report.incomplete == {"glucocorticoid_doses": ["MedicationAdministration/a1"]}


def _record_of(order: str, rid: str, mg: float, start: str, end: str | None = None) -> dict:
    record = med_request(rid, "8640", dosage(qty(mg, "mg")))
    record.update(resourceType="MedicationStatement", partOf=[{"reference": f"MedicationRequest/{order}"}])
    record["dosage"] = record.pop("dosageInstruction")
    record["effectivePeriod"] = {"start": start, **({"end": end} if end else {})}
    record["status"] = "completed" if end else "active"
    return record


def test_an_order_and_its_dose_records_are_one_dose_not_two() -> None:
    """A taper order (40 then 30 mg) with dose records partOf it: 40 then 30 mg/day, never 80 then 60; on
    days no record covers, the order's own dose holds."""
    taper = med_request(
        "o1",
        "8640",
        dosage(qty(40, "mg"), "2020-01-01", "2020-02-29", sequence=1),
        dosage(qty(30, "mg"), "2020-03-01", sequence=2),
    )
    records = [_record_of("o1", "r1", 40, "2020-01-01", "2020-02-29"), _record_of("o1", "r2", 30, "2020-03-01")]
    p, report = patient_from_resources([*base(), taper, *records], as_of=AS_OF)
    doses = [(str(d.date), d.prednisone_mg_per_day) for d in p.glucocorticoid_doses]
    assert doses == [("2020-01-01", 40), ("2020-03-01", 30)], doses
    assert not [w for w in warnings_of(report) if "overlaps" in w]
    partial = [_record_of("o1", "r1", 10, "2020-01-01", "2020-01-31")]  # a record of January only
    steady = med_request("o1", "8640", dosage(qty(20, "mg"), "2020-01-01"))
    p, _ = patient_from_resources([*base(), steady, *partial], as_of=AS_OF)
    doses = [(str(d.date), d.prednisone_mg_per_day) for d in p.glucocorticoid_doses]
    assert doses == [("2020-01-01", 10), ("2020-02-01", 20)], doses


def test_a_dose_record_not_mapped_leaves_the_order_its_dose() -> None:
    """Completed daily records with only a date (their steps are refused: ended without an end) replace
    nothing: the order's 20 mg/day stays."""
    order = med_request("o1", "8640", dosage(qty(20, "mg"), "2020-01-01"))
    records = []
    for i in (1, 2, 3):
        record = _record_of("o1", f"r{i}", 20, f"2020-01-0{i}", "2020-01-0{i}")
        del record["effectivePeriod"]
        record["effectiveDateTime"] = f"2020-01-0{i}"
        records.append(record)
    p, _ = patient_from_resources([*base(), order, *records], as_of=AS_OF)
    assert [(str(d.date), d.prednisone_mg_per_day) for d in p.glucocorticoid_doses] == [("2020-01-01", 20)]


def test_an_administration_is_held_only_by_the_doses_the_file_holds() -> None:
    """An order and its record are one 250 mg/day dose in the file: a 500 mg administration is not within it."""
    order = med_request("mp", "6902", dosage(qty(250, "mg"), "2020-10-01", "2020-10-03"))
    record = _record_of("mp", "r1", 250, "2020-10-01", "2020-10-03")
    record["medicationCodeableConcept"]["coding"][0]["code"] = "6902"
    given = _pulse("a1", "2020-10-02")
    given["dosage"]["dose"] = qty(500, "mg")
    p, report = patient_from_resources([*base(), order, record, given], as_of=AS_OF)
    assert [d.prednisone_mg_per_day for d in p.glucocorticoid_doses][:1] == [312.5]
    assert report.incomplete == {"glucocorticoid_doses": ["MedicationAdministration/a1"]}


def test_tablets_taken_count_at_their_strength() -> None:
    """10 tablets of 5 mg (50 mg) are not within a 1-tablet (5 mg/day) order; 1 tablet is."""
    rxnorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
    five = {
        "resourceType": "Medication",
        "id": "tab",
        "code": {"coding": [{"system": rxnorm, "code": "8640"}]},
        "ingredient": [
            {
                "itemCodeableConcept": {"text": "prednisone"},
                "strength": {"numerator": qty(5, "mg"), "denominator": qty(1, "TAB")},
            }
        ],
    }
    order = med_request("gc", "8640", dosage(qty(1, "TAB"), "2020-10-01"))
    del order["medicationCodeableConcept"]
    order["medicationReference"] = {"reference": "Medication/tab"}
    for count, expected in ((10, {"glucocorticoid_doses": ["MedicationAdministration/t1"]}), (1, {})):
        taken = _pulse("t1")
        del taken["medicationCodeableConcept"]
        taken["medicationReference"] = {"reference": "Medication/tab"}
        taken["dosage"]["dose"] = qty(count, "TAB")
        _, report = patient_from_resources([*base(), five, order, taken], as_of=AS_OF)
        assert report.incomplete == expected, count


def test_an_administration_of_a_pulse_order_repeated_monthly_is_held_by_its_dose() -> None:
    """A 1 g pulse every 4 weeks averages 36 mg/day: its 1 g administration is what the order gives that day
    (2 g is not); prednisone 60 mg every 3 days likewise."""
    monthly = med_request("mp", "6902", dosage(qty(1000, "mg"), "2020-10-01", period=4, unit="wk"))
    for grams, expected in ((1, {}), (2, {"glucocorticoid_doses": ["MedicationAdministration/mp1"]})):
        pulse = _pulse()
        pulse["dosage"]["dose"] = qty(grams, "g")
        _, report = patient_from_resources([*base(), pulse, monthly], as_of=AS_OF)
        assert report.incomplete == expected, grams
    every_third = med_request("pr", "8640", dosage(qty(60, "mg"), "2020-10-01", period=3))
    taken = _pulse("t1")
    taken["medicationCodeableConcept"]["coding"][0]["code"] = "8640"
    taken["dosage"]["dose"] = qty(60, "mg")
    _, report = patient_from_resources([*base(), taken, every_third], as_of=AS_OF)
    assert report.incomplete == {}


def test_an_infrequent_order_holds_one_administration_per_interval() -> None:
    """A monthly 1 g order holds its 1 g pulse, not a 3-day 1 g course (3 g in three days); a 60 mg every-3-days
    order holds one 60 mg dose in 3 days, not one every day; a negative dose is held by none."""
    monthly = med_request("mp", "6902", dosage(qty(1000, "mg"), "2020-10-01", period=4, unit="wk"))
    course = [_pulse(f"p{i}", f"2020-11-0{i}") for i in (1, 2, 3)]
    _, report = patient_from_resources([*base(), *course, monthly], as_of=AS_OF)
    assert report.incomplete == {
        "glucocorticoid_doses": ["MedicationAdministration/p2", "MedicationAdministration/p3"]
    }
    every_third = med_request("pr", "8640", dosage(qty(60, "mg"), "2020-10-01", period=3))
    daily = []
    for i in (1, 2, 3, 4):
        taken = _pulse(f"t{i}", f"2020-11-0{i}")
        taken["medicationCodeableConcept"]["coding"][0]["code"] = "8640"
        taken["dosage"]["dose"] = qty(60, "mg")
        daily.append(taken)
    _, report = patient_from_resources([*base(), *daily, every_third], as_of=AS_OF)
    assert report.incomplete == {  # t1 is one dose; any 3 days after it hold more than one
        "glucocorticoid_doses": [f"MedicationAdministration/t{i}" for i in (2, 3, 4)]
    }
    negative = _pulse("n1")
    negative["dosage"]["dose"] = qty(-2000, "mg")
    _, report = patient_from_resources([*base(), negative, _pulse("n2"), monthly], as_of=AS_OF)
    assert "MedicationAdministration/n1" in report.incomplete.get("glucocorticoid_doses", [])


def _given(rid: str, day: str, code: str, dose: dict) -> dict:
    record = _pulse(rid, day)
    record["medicationCodeableConcept"]["coding"][0]["code"] = code
    record["dosage"]["dose"] = dose
    return record


def test_infrequent_schedules_on_time_are_held_and_extra_doses_are_not() -> None:
    monthly = med_request("mp", "6902", dosage(qty(1000, "mg"), "2020-01-01", unit="mo"))
    calendar = [_given(f"m{i}", f"2020-0{i}-01", "6902", qty(1, "g")) for i in range(1, 8)]  # 29-31 days apart
    _, report = patient_from_resources([*base(), *calendar, monthly], as_of=AS_OF)
    assert report.incomplete == {}
    tiw = med_request("pr", "8640", dosage(qty(20, "mg"), "2020-06-01", frequency=3, period=1, unit="wk"))
    mon_wed_fri = [_given(f"t{d}", f"2020-06-{d:02d}", "8640", qty(20, "mg")) for d in (1, 3, 5, 8, 10, 12)]
    _, report = patient_from_resources([*base(), *mon_wed_fri, tiw], as_of=AS_OF)
    assert report.incomplete == {}
    alternate = med_request("pr", "8640", dosage(qty(40, "mg"), "2020-06-01", period=2))
    every_day = [_given(f"d{d}", f"2020-06-0{d}", "8640", qty(40, "mg")) for d in (1, 2, 3, 4)]
    _, report = patient_from_resources([*base(), *every_day, alternate], as_of=AS_OF)
    assert report.incomplete == {"glucocorticoid_doses": [f"MedicationAdministration/d{d}" for d in (2, 3, 4)]}


def test_a_pulse_beside_a_daily_order_of_the_same_agent_is_held() -> None:
    daily = med_request("md", "6902", dosage(qty(4, "mg"), "2020-10-01"))
    monthly = med_request("mp", "6902", dosage(qty(1000, "mg"), "2020-10-01", unit="mo"))
    tablets = [_given(f"o{d}", f"2020-11-{d:02d}", "6902", qty(4, "mg")) for d in range(1, 11)]
    _, report = patient_from_resources(
        [*base(), *tablets, _pulse("iv", "2020-11-05"), daily, monthly], as_of=AS_OF
    )
    assert report.incomplete == {}


def test_a_tablet_of_unknown_strength_inside_an_interval_is_not_held() -> None:
    monthly = med_request("mp", "6902", dosage(qty(1000, "mg"), "2020-10-01", unit="mo"))
    tabs = _given("tb", "2020-11-01", "6902", qty(20, "TAB"))
    _, report = patient_from_resources([*base(), tabs, _pulse("iv", "2020-11-10"), monthly], as_of=AS_OF)
    assert "MedicationAdministration/iv" in report.incomplete.get("glucocorticoid_doses", [])


@pytest.mark.parametrize("with_dosage", [True, False])
def test_dose_records_of_part_of_an_order_without_a_dose_leave_the_rest_unknown(with_dosage: bool) -> None:
    """An order with no readable dose, whose dose records cover January only: on its later days the dose is
    unknown, not 0 mg (the file would show prednisone stopped): incomplete. Records that cover the order to
    as_of (an open one) or to its end leave nothing unknown."""
    steps = (dosage(qty(1, "{puff}"), "2020-01-01"),) if with_dosage else ()
    order = med_request("o1", "8640", *steps)
    if with_dosage:
        del order["dosageInstruction"][0]["doseAndRate"]  # a step without a dose
    january = _record_of("o1", "r1", 10, "2020-01-01", "2020-01-31")
    p, report = patient_from_resources([*base(), order, january], as_of=AS_OF)
    assert [(str(d.date), d.prednisone_mg_per_day) for d in p.glucocorticoid_doses][:1] == [("2020-01-01", 10)]
    assert report.incomplete == {"glucocorticoid_doses": ["MedicationRequest/o1"]}
    assert any("cover only part of its period" in w for w in warnings_of(report, "MedicationRequest/o1"))
    ongoing = _record_of("o1", "r2", 5, "2020-02-01")  # from February on, open: to as_of
    _, report = patient_from_resources([*base(), order, january, ongoing], as_of=AS_OF)
    assert report.incomplete == {}
    gap = _record_of("o1", "r2", 5, "2020-02-02")  # one day (1 February) no record covers
    _, report = patient_from_resources([*base(), order, january, gap], as_of=AS_OF)
    assert report.incomplete == {"glucocorticoid_doses": ["MedicationRequest/o1"]}
