"""More records the adapter cannot read that must make the file incomplete, never vanish: medication resources
refused for a status that is not an R4 code, Medications that say nothing of their drug, a glucocorticoid
order whose only dose records are not read; and a ``patient_id`` that is not a string."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fhir_helpers import ATC, RXNORM, SUBJECT, base, dosage, ivig_admin, med_request, qty, statement, warnings_of
from ivig_cds import Engine
from ivig_cds.fhir import map_bundle, map_prefetch, patient_from_bundle, patient_from_resources

AS_OF = "2021-01-01"
RELAPSE = Path(__file__).resolve().parents[1] / "examples" / "relapse.json"
BAD_STATUS = "status is not a FHIR R4 {} status code: not read"


def _statement(rid: str, code: str, status: str = "active", system: str = RXNORM, **extra: Any) -> dict[str, Any]:
    return statement(rid, code, status, system, **{"effectivePeriod": {"start": "2020-01-01"}, **extra})


def _pulse(rid: str = "mp1", day: str = "2020-11-01") -> dict[str, Any]:
    admin = ivig_admin(rid, day, qty(1000, "mg"))
    admin["medicationCodeableConcept"] = {"coding": [{"system": RXNORM, "code": "6902"}]}
    return admin


def _child(rid: str, status: str, parent: str = "MedicationRequest/pr") -> dict[str, Any]:
    return _statement(rid, "8640", status, partOf=[{"reference": parent}], dosage=[dosage(qty(10, "mg"))])


def _bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


# ------------------------------------------------------------- 1. a status that is not an R4 code


@pytest.mark.parametrize(
    ("resource", "field"),
    [
        ({**ivig_admin("x", "2020-03-01", qty(1, "g/kg")), "status": "given"}, "ivig_courses"),
        ({**_statement("x", "J06BA02", system=ATC), "status": "taken"}, "ivig_courses"),
        ({**med_request("x", "J06BA02", system=ATC), "status": "Completed"}, "ivig_courses"),
        (
            {**med_request("x", "8640", dosage(qty(10, "mg"), "2020-01-01")), "status": "Active"},
            "glucocorticoid_doses",
        ),
        ({**_statement("x", "8638", dosage=[dosage(qty(5, "mg"))]), "status": "taken"}, "glucocorticoid_doses"),
        ({**_pulse("x"), "status": "given"}, "glucocorticoid_doses"),  # no order holds the pulse
    ],
    ids=["ivig-admin", "ivig-statement", "ivig-order", "gc-order", "gc-statement", "gc-pulse"],
)
def test_ivig_or_a_glucocorticoid_with_a_status_not_of_r4_is_incomplete(
    resource: dict[str, Any], field: str
) -> None:
    _, report = patient_from_resources([*base(), resource], as_of=AS_OF)
    ref = f"{resource['resourceType']}/x"
    assert report.incomplete == {field: [ref]}
    assert BAD_STATUS.format(resource["resourceType"]) in warnings_of(report, ref)
    assert report.resources_ignored == {resource["resourceType"]: 1}  # counted once, as before


def test_a_status_not_of_r4_leaves_other_drugs_and_non_orders_as_they_were() -> None:
    mtx = {**med_request("mtx", "6851", dosage(qty(15, "mg"), "2020-01-01")), "status": "Active"}
    proposal = {**med_request("prop", "J06BA02", system=ATC, intent="proposal"), "status": "Completed"}
    scig = {**ivig_admin("sc", "2020-03-01", qty(0.4, "g/kg"), product="Hizentra"), "status": "given"}
    scig["medicationCodeableConcept"] = {"text": "Hizentra"}  # subcutaneous immunoglobulin: not IVIG
    _, report = patient_from_resources([*base(), mtx, proposal, scig], as_of=AS_OF)
    assert report.incomplete == {}
    assert BAD_STATUS.format("MedicationRequest") in warnings_of(report, "MedicationRequest/mtx")
    assert report.resources_ignored == {"MedicationRequest": 2, "MedicationAdministration": 1}


def test_a_status_not_of_r4_on_a_pulse_an_order_holds_is_not_incomplete() -> None:
    order = med_request("mp", "6902", dosage(qty(1000, "mg"), "2020-11-01", "2020-11-03"))
    _, report = patient_from_resources([*base(), {**_pulse(), "status": "given"}, order], as_of=AS_OF)
    assert report.incomplete == {}  # the order holds that day's dose, given or not


def test_a_status_not_of_r4_on_an_unknown_drug_is_a_drug_unknown() -> None:
    admin = {**ivig_admin("a1", "2020-03-01", qty(1, "g/kg")), "status": "given"}
    del admin["medicationCodeableConcept"]
    admin["medicationReference"] = {"reference": "Medication/absent"}
    _, report = patient_from_resources([*base(), admin], as_of=AS_OF)
    assert report.incomplete == {"therapies": ["MedicationAdministration/a1"]}
    assert warnings_of(report, "MedicationAdministration/a1") == [
        BAD_STATUS.format("MedicationAdministration"),
        "medicationReference 'Medication/absent' is not a Medication in the input: not mapped",
    ]


def test_a_status_not_of_r4_after_as_of_or_of_another_patient_is_not_incomplete() -> None:
    later = {**ivig_admin("late", "2022-03-01", qty(1, "g/kg")), "status": "given"}
    other = {
        **ivig_admin("o", "2020-03-01", qty(1, "g/kg")),
        "status": "given",
        "subject": {"reference": "Patient/q"},
    }
    _, report = patient_from_resources([*base(), later, other], as_of=AS_OF)
    assert report.incomplete == {}


def test_a_dose_record_with_a_status_not_of_r4_leaves_its_order_without_a_dose() -> None:
    child = {**_child("c1", "active"), "status": "taken"}
    _, report = patient_from_resources([*base(), med_request("pr", "8640"), child], as_of=AS_OF)
    assert report.incomplete == {
        "glucocorticoid_doses": ["MedicationRequest/pr", "MedicationStatement/c1"],
    }


# ------------------------------------------------------------- 2. a Medication that says nothing of its drug


def _by_reference(resource: dict[str, Any], medication: dict[str, Any], contained: bool = False) -> dict[str, Any]:
    resource = {k: v for k, v in resource.items() if k != "medicationCodeableConcept"}
    if contained:
        resource["contained"] = [{**medication, "id": "m"}]
        resource["medicationReference"] = {"reference": "#m"}
    else:
        resource["medicationReference"] = {"reference": f"Medication/{medication['id']}"}
    return resource


@pytest.mark.parametrize(
    "medication",
    [
        {"resourceType": "Medication", "id": "m1"},
        {"resourceType": "Medication", "id": "m1", "code": {"coding": []}},
        {"resourceType": "Medication", "id": "m1", "code": {"text": " "}},
        {"resourceType": "Medication", "id": "m1", "code": {"coding": [{"code": "J06BA02"}]}},  # no system
        {"resourceType": "Medication", "id": "m1", "form": {"text": "solution"}},
    ],
    ids=["no-code", "empty-coding", "blank-text", "no-system", "form-only"],
)
@pytest.mark.parametrize("contained", [False, True], ids=["in-input", "contained"])
def test_a_medication_without_code_or_name_is_a_drug_unknown(medication: dict[str, Any], contained: bool) -> None:
    admin = _by_reference(ivig_admin("a1", "2020-03-01", qty(1, "g/kg")), medication, contained)
    order = _by_reference(med_request("rq", "x", dosage(qty(10, "mg"), "2020-01-01")), medication, contained)
    statement = _by_reference(_statement("st", "x"), medication, contained)
    resources = [*base(), admin, order, statement] + ([] if contained else [medication])
    p, report = patient_from_resources(resources, as_of=AS_OF)
    assert p.ivig_courses == [] and p.therapies == []
    refs = ["MedicationAdministration/a1", "MedicationRequest/rq", "MedicationStatement/st"]
    assert report.incomplete == {"therapies": refs}
    named = "'#m'" if contained else "'Medication/m1'"
    for ref in refs:
        assert warnings_of(report, ref) == [
            f"medicationReference {named} is a Medication without a code or name: the drug is unknown: not mapped"
        ]


def test_an_inline_concept_without_code_or_name_is_a_drug_unknown() -> None:
    order = med_request("rq", "x", dosage(qty(10, "mg"), "2020-01-01"))
    order["medicationCodeableConcept"] = {"coding": [{"system": RXNORM}]}
    _, report = patient_from_resources([*base(), order], as_of=AS_OF)
    assert report.incomplete == {"therapies": ["MedicationRequest/rq"]}
    assert warnings_of(report, "MedicationRequest/rq") == [
        "medicationCodeableConcept without a code or name: the drug is unknown: not mapped"
    ]


def test_a_medication_the_table_knows_or_names_a_drug_it_does_not_is_as_before() -> None:
    mtx = {"resourceType": "Medication", "id": "mtx", "code": {"coding": [{"system": RXNORM, "code": "6851"}]}}
    other = {"resourceType": "Medication", "id": "aml", "code": {"coding": [{"system": RXNORM, "code": "17767"}]}}
    named = {"resourceType": "Medication", "id": "nm", "code": {"text": "some tablet"}}
    by_ingredient = {
        "resourceType": "Medication",
        "id": "ing",
        "ingredient": [{"itemCodeableConcept": {"coding": [{"system": RXNORM, "code": "8640"}]}}],
    }
    orders = [
        _by_reference(med_request(m["id"], "x", dosage(qty(10, "mg"), "2020-01-01")), m)
        for m in (mtx, other, named, by_ingredient)
    ]
    p, report = patient_from_resources([*base(), mtx, other, named, by_ingredient, *orders], as_of=AS_OF)
    assert sorted(t.agent.value for t in p.therapies) == ["methotrexate", "prednisone"]
    assert report.incomplete == {}
    for ref in ("MedicationRequest/aml", "MedicationRequest/nm"):
        assert warnings_of(report, ref) == ["medication not recognised (no mapped code or name): not mapped"]


def test_a_draft_order_whose_medication_says_nothing_is_an_error() -> None:
    draft = _by_reference(
        med_request("d", "x", status="draft"), {"resourceType": "Medication", "id": "m1"}, contained=True
    )
    result = map_bundle(_bundle(base()), draft_orders=[draft], as_of=AS_OF)
    assert [(e.loc, e.msg) for e in result.errors] == [
        (
            "draft_orders[0] (MedicationRequest/d)",
            "medicationReference '#m' is a Medication without a code or name: the drug is unknown",
        )
    ]


@pytest.mark.parametrize("status", ["on-hold", "unknown", None])
def test_an_administration_that_may_have_been_given_of_an_unknown_drug_is_incomplete(status: str | None) -> None:
    admin = _by_reference(
        ivig_admin("a1", "2020-03-01", qty(1, "g/kg")), {"resourceType": "Medication", "id": "g"}
    )
    admin.pop("status")
    if status is not None:
        admin["status"] = status
    _, report = patient_from_resources([*base(), admin], as_of=AS_OF)  # Medication/g is not in the input
    assert report.incomplete == {"therapies": ["MedicationAdministration/a1"]}
    assert warnings_of(report, "MedicationAdministration/a1") == [
        "medicationReference 'Medication/g' is not a Medication in the input: not mapped"
    ]
    admin["status"] = "not-done"
    _, report = patient_from_resources([*base(), admin], as_of=AS_OF)
    assert report.incomplete == {} and warnings_of(report, "MedicationAdministration/a1") == []


# ------------------------------------------------------------- 3. dose records (partOf) that are not read


@pytest.mark.parametrize("statuses", [["entered-in-error"], ["entered-in-error", "not-taken"], ["intended"]])
def test_a_glucocorticoid_order_whose_dose_records_are_all_unread_is_incomplete(statuses: list[str]) -> None:
    children = [_child(f"c{i}", s) for i, s in enumerate(statuses)]
    p, report = patient_from_resources([*base(), med_request("pr", "8640"), *children], as_of=AS_OF)
    assert p.glucocorticoid_doses == []
    assert report.incomplete == {"glucocorticoid_doses": ["MedicationRequest/pr"]}
    assert warnings_of(report, "MedicationRequest/pr") == ["no dosage: the glucocorticoid dose is not recorded"]


def test_one_read_dose_record_keeps_its_order_quiet() -> None:
    children = [_child("c0", "entered-in-error"), _child("c1", "active")]
    p, report = patient_from_resources([*base(), med_request("pr", "8640"), *children], as_of=AS_OF)
    assert len(p.glucocorticoid_doses) == 1
    assert report.incomplete == {}
    assert warnings_of(report, "MedicationRequest/pr") == []


# ------------------------------------------------------------- 4. patient_id must be a string


@pytest.mark.parametrize("bad", [123, b"p1", True, ["p1"]], ids=repr)
def test_a_patient_id_that_is_not_a_string_is_a_type_error(bad: object) -> None:
    bundle = _bundle(base())
    message = f"patient_id must be a string (a Patient.id) or None, not {type(bad).__name__}"
    for call in (
        lambda: patient_from_bundle(bundle, patient_id=bad),  # type: ignore[arg-type]
        lambda: map_bundle(bundle, patient_id=bad),  # type: ignore[arg-type]
        lambda: patient_from_resources(base(), patient_id=bad),  # type: ignore[arg-type]
        lambda: map_prefetch({"patient": base()[0]}, patient_id=bad),  # type: ignore[arg-type]
        lambda: Engine(backend="reference").evaluate(bundle, patient_id=bad),  # type: ignore[arg-type]
        lambda: Engine(backend="reference").evaluate(RELAPSE, patient_id=bad),  # type: ignore[arg-type]
    ):
        with pytest.raises(TypeError) as info:
            call()
        assert str(info.value) == message


def test_a_string_patient_id_still_chooses_the_patient() -> None:
    patient, _ = patient_from_bundle(_bundle(base()), patient_id="p1", as_of=AS_OF)
    assert patient.patient_id == "p1"


def test_a_statement_part_of_another_drugs_therapy_or_a_procedure_is_a_therapy_of_its_own() -> None:
    """Methotrexate recorded partOf a prednisone order, or prednisone partOf a plasmapheresis Procedure:
    no dose record of it (another drug, no drug), so a therapy of its own - never dropped (a lost trial of
    methotrexate could make a refractory patient look not refractory)."""
    order = med_request("pr", "8640", dosage(qty(20, "mg"), "2020-01-01"))
    mtx = _statement("mtx", "6851", partOf=[{"reference": "MedicationRequest/pr"}])
    procedure = {
        "resourceType": "Procedure",
        "id": "pe",
        "status": "completed",
        "subject": SUBJECT,
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "127788007"}]},
        "performedDateTime": "2020-03-01",
    }
    pred = _statement("pd", "8640", partOf=[{"reference": "Procedure/pe"}], dosage=[dosage(qty(10, "mg"))])
    p, report = patient_from_resources([*base(), order, mtx, procedure, pred], as_of="2021-01-01")
    assert sorted((t.agent.value, t.source) for t in p.therapies) == [
        ("methotrexate", "MedicationStatement/mtx"),
        ("plasmapheresis", "Procedure/pe"),
        ("prednisone", "MedicationRequest/pr"),  # and MedicationStatement/pd: one agent, overlapping
    ]
    assert any("not a dose record of it" in w for w in warnings_of(report, "MedicationStatement/pd"))
    said = warnings_of(report, "MedicationStatement/mtx")
    assert any("not a dose record of it" in w for w in said), said
    child = _child("c1", "active")  # a prednisone record of the prednisone order stays its dose record
    p, _ = patient_from_resources([*base(), order, child], as_of="2021-01-01")
    assert [t.source for t in p.therapies] == ["MedicationRequest/pr"]
