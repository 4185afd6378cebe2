"""A glucocorticoid (or another agent) acting locally - a cream, eye drops, an inhaler - is neither a systemic
dose nor a trial of the agent for myositis: not read, and said; a systemic route is read as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fhir_helpers import SUBJECT, base, dosage, med_request, qty, warnings_of
from ivig_cds.errors import RuleFileError
from ivig_cds.fhir import load_mapping, patient_from_resources

AS_OF = "2021-01-01"
SNOMED = "http://snomed.info/sct"


_DROP = {"value": 1, "unit": "drop"}


def _route(code: str) -> dict[str, Any]:
    return {"coding": [{"system": SNOMED, "code": code}]}


def _with_route(request: dict[str, Any], code: str) -> dict[str, Any]:
    for d in request["dosageInstruction"]:
        d["route"] = _route(code)
    return request


def _steroids(p: Any) -> list[Any]:
    return list(p.glucocorticoid_doses)


def test_an_eye_drop_or_a_cream_by_route_is_not_a_systemic_dose() -> None:
    for code, name in (("54485002", "ophthalmic"), ("6064005", "topical"), ("447694001", "inhaled")):
        drops = _with_route(med_request("dx", "3264", dosage(_DROP, "2020-06-01")), code)
        p, report = patient_from_resources([*base(), drops], as_of=AS_OF)
        assert _steroids(p) == [] and [t.agent for t in p.therapies] == []
        assert warnings_of(report, "MedicationRequest/dx") == [
            f"dexamethasone acting locally (dosageInstruction.route is {name}): not read"
        ]
        assert report.incomplete == {}  # not a dose the file misses


def test_an_oral_route_is_read_as_its_dose_says() -> None:
    oral = _with_route(med_request("pred", "8640", dosage(qty(20, "mg"), "2020-06-01")), "26643006")
    p, report = patient_from_resources([*base(), oral], as_of=AS_OF)
    assert [(str(d.date), d.prednisone_mg_per_day) for d in p.glucocorticoid_doses] == [("2020-06-01", 20)]
    assert warnings_of(report, "MedicationRequest/pred") == []
    mixed = med_request("pred", "8640", dosage(qty(20, "mg"), "2020-06-01"), dosage(qty(1, "mg"), "2020-06-01"))
    mixed["dosageInstruction"][0]["route"] = _route("26643006")
    mixed["dosageInstruction"][1]["route"] = _route("6064005")
    p, _ = patient_from_resources([*base(), mixed], as_of=AS_OF)
    assert p.glucocorticoid_doses  # a systemic route among them: read as the resource says


def test_a_cream_by_name_without_a_route_is_not_read_and_not_an_incomplete_dose() -> None:
    cream = {
        "resourceType": "MedicationStatement",
        "id": "hc",
        "status": "active",
        "subject": SUBJECT,
        "medicationCodeableConcept": {"text": "Hydrocortisone 10 MG/ML Topical Cream"},
        "effectivePeriod": {"start": "2020-06-01"},
        "dosage": [
            {"text": "apply thinly twice daily", "doseAndRate": [{"doseQuantity": qty(1, "{application}")}]}
        ],
    }
    p, report = patient_from_resources([*base(), cream], as_of=AS_OF)
    assert _steroids(p) == [] and report.incomplete == {}
    assert warnings_of(report, "MedicationStatement/hc") == [
        "hydrocortisone acting locally (its name or form says cream): not read"
    ]


def test_a_referenced_medication_whose_form_is_an_ointment_is_not_read() -> None:
    rxnorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
    tacrolimus = {
        "resourceType": "Medication",
        "id": "m1",
        "code": {"coding": [{"system": rxnorm, "code": "42316"}]},
        "form": {"coding": [{"system": SNOMED, "code": "385101003", "display": "Ointment"}]},
    }
    statement = {
        "resourceType": "MedicationStatement",
        "id": "tac",
        "status": "active",
        "subject": SUBJECT,
        "medicationReference": {"reference": "Medication/m1"},
        "effectivePeriod": {"start": "2020-01-01"},
    }
    p, report = patient_from_resources([*base(), tacrolimus, statement], as_of=AS_OF)
    assert [t.agent for t in p.therapies] == []  # eczema treatment: not a tacrolimus trial for myositis
    assert warnings_of(report, "MedicationStatement/tac") == [
        "tacrolimus acting locally (its name or form says ointment): not read"
    ]
    del tacrolimus["form"]
    p, _ = patient_from_resources([*base(), tacrolimus, statement], as_of=AS_OF)
    assert [t.agent for t in p.therapies] == ["tacrolimus"]


def test_a_site_table_cannot_call_an_ivig_route_local(tmp_path: Path) -> None:
    text = (Path(load_mapping().source)).read_text(encoding="utf-8")
    bad = tmp_path / "mapping.yaml"
    topical = '  topical: [{system: snomed, code: "6064005", display: "Topical route"}]\n'
    iv = '  topical: [{system: snomed, code: "47625008"}]\n'  # the intravenous route's code
    bad.write_text(text.replace(topical, iv, 1), encoding="utf-8")
    with pytest.raises(RuleFileError, match=r"local_routes\.topical"):
        load_mapping(bad)


def test_ivig_by_a_route_of_no_table_is_still_read_as_ivig() -> None:
    """The local routes are not IVIG routes: an IVIG infusion coded "oral" is a data-entry conflict, read as
    the medication says and warned (never dropped: the patient would look IVIG-naive)."""
    from fhir_helpers import ivig_admin

    a = ivig_admin("a1", "2020-06-01", qty(1, "g/kg"), route=_route("26643006"))
    p, report = patient_from_resources([*base(), a], as_of=AS_OF)
    assert len(p.ivig_courses) == 1
    assert "dosage.route is not a route of the mapping table: read as intravenous, as the medication says" in (
        warnings_of(report, "MedicationAdministration/a1")
    )


def _named(rid: str, code: str, text: str, dose: dict[str, Any]) -> dict[str, Any]:
    rxnorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
    request = med_request(rid, code, dosage(dose, "2020-06-01"))
    request["medicationCodeableConcept"] = {"coding": [{"system": rxnorm, "code": code}], "text": text}
    return request


@pytest.mark.parametrize(
    "text",
    [
        "prednisone 40 mg daily for nasal polyps",  # a word of a route is no dose form
        "dexamethasone 4 MG/ML Injectable Solution (not for ophthalmic use)",
        "prednisone 5 mg tablet - non-nasal",
    ],
)
def test_a_route_word_in_a_systemic_name_is_read(text: str) -> None:
    p, report = patient_from_resources([*base(), _named("s1", "8640", text, qty(40, "mg"))], as_of=AS_OF)
    assert [d.prednisone_mg_per_day for d in p.glucocorticoid_doses] == [40]
    assert report.incomplete == {}


@pytest.mark.parametrize(
    ("text", "dose", "why"),
    [
        ("Prednisone 5 MG Oral Tablet (taken with inhaler)", qty(1, "{tablet}"), "says inhaler and oral"),
        ("hydrocortisone 1% cream", qty(20, "mg"), "says cream, its dose is a mass"),
    ],
)
def test_a_local_form_with_a_systemic_word_or_a_mass_dose_is_incomplete(text: str, dose: Any, why: str) -> None:
    p, report = patient_from_resources([*base(), _named("s1", "8640", text, dose)], as_of=AS_OF)
    assert p.glucocorticoid_doses == [] and report.incomplete == {"glucocorticoid_doses": ["MedicationRequest/s1"]}
    (warning,) = warnings_of(report, "MedicationRequest/s1")
    assert why in warning and warning.endswith("local or systemic is unknown, not read")


@pytest.mark.parametrize(
    "route",
    [
        {"text": "Sub-cutaneous"},  # free text: "cutaneous" here is no cutaneous route
        {"text": "Intravitreal (into the eye)"},
        {
            "coding": [{"system": "urn:oid:2.16.840.1.113883.3.7025", "code": "18"}],
            "text": "via nasal feeding tube",
        },
        {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration", "code": "OPHTHALMIC"}
            ]
        },
    ],
)
def test_a_route_not_coded_as_a_local_snomed_route_reads_the_dose_as_recorded(route: dict[str, Any]) -> None:
    request = med_request("mp", "6902", dosage(qty(16, "mg"), "2020-06-01"))
    request["dosageInstruction"][0]["route"] = route
    p, report = patient_from_resources([*base(), request], as_of=AS_OF)
    assert [d.prednisone_mg_per_day for d in p.glucocorticoid_doses] == [20]  # 16 mg methylprednisolone
    assert report.incomplete == {}


def test_a_coded_local_route_with_a_systemic_name_or_code_is_a_conflict() -> None:
    tablet = _with_route(_named("pr", "8640", "Prednisone 20 MG Oral Tablet", qty(1, "{tablet}")), "6064005")
    _, report = patient_from_resources([*base(), tablet], as_of=AS_OF)
    assert report.incomplete == {"glucocorticoid_doses": ["MedicationRequest/pr"]}
    both = med_request("pr", "8640", dosage(qty(1, "{tablet}"), "2020-06-01"))
    both["dosageInstruction"][0]["route"] = {
        "coding": [{"system": SNOMED, "code": "6064005"}, {"system": SNOMED, "code": "26643006"}]
    }
    _, report = patient_from_resources([*base(), both], as_of=AS_OF)
    assert report.incomplete == {"glucocorticoid_doses": ["MedicationRequest/pr"]}


def test_ciclosporin_eye_emulsion_is_no_ciclosporin_trial() -> None:
    restasis = _named("cy", "3008", "cycloSPORINE 0.5 MG/ML Ophthalmic Emulsion", {"value": 1, "unit": "drop"})
    p, report = patient_from_resources([*base(), restasis], as_of=AS_OF)
    assert [t.agent for t in p.therapies] == [] and report.incomplete == {}


def test_a_dose_record_of_another_drug_leaves_the_order_unquiet() -> None:
    order = med_request("o1", "8640")
    child = _named("c1", "6851", "methotrexate 15 mg weekly", qty(15, "mg"))
    child.update(resourceType="MedicationStatement", partOf=[{"reference": "MedicationRequest/o1"}])
    child["dosage"] = child.pop("dosageInstruction")
    child["effectivePeriod"] = {"start": "2020-06-01"}
    _, report = patient_from_resources([*base(), order, child], as_of=AS_OF)
    assert report.incomplete.get("glucocorticoid_doses") == ["MedicationRequest/o1"]


def test_an_order_whose_only_dose_record_acts_locally_is_not_read_quietly() -> None:
    order = med_request("o1", "8640")
    child = _named("c1", "8640", "prednisolone acetate ophthalmic suspension", {"value": 1, "unit": "drop"})
    child.update(resourceType="MedicationStatement", partOf=[{"reference": "MedicationRequest/o1"}])
    child["dosage"] = child.pop("dosageInstruction")
    child["effectivePeriod"] = {"start": "2020-06-01"}
    _, report = patient_from_resources([*base(), order, child], as_of=AS_OF)
    assert report.incomplete == {"glucocorticoid_doses": ["MedicationRequest/o1"]}
    assert "no dosage: the glucocorticoid dose is not recorded" in warnings_of(report, "MedicationRequest/o1")


def test_a_local_glucocorticoid_with_an_unreadable_status_is_not_an_incomplete_dose() -> None:
    drops = _with_route(med_request("dx", "3264", dosage(_DROP, "2020-06-01")), "54485002")
    drops["status"] = "taken"  # not an R4 MedicationRequest status: refused, but eye drops are no systemic dose
    _, report = patient_from_resources([*base(), drops], as_of=AS_OF)
    assert report.incomplete == {}
    oral = _with_route(med_request("pr", "8640", dosage(qty(20, "mg"), "2020-06-01")), "26643006")
    oral["status"] = "taken"
    _, report = patient_from_resources([*base(), oral], as_of=AS_OF)
    assert report.incomplete == {"glucocorticoid_doses": ["MedicationRequest/pr"]}


@pytest.mark.parametrize(
    ("name", "code"), [("hydrocortisone 1% cream", "5492"), ("tacrolimus 0.1 % topical ointment", "42316")]
)
def test_a_local_name_with_a_route_given_only_as_text_is_local(name: str, code: str) -> None:
    request = _named("t", code, name, {"value": 1, "unit": "{application}"})
    request["dosageInstruction"][0]["route"] = {"text": "Topical"}  # not coded: the name decides
    p, report = patient_from_resources([*base(), request], as_of=AS_OF)
    assert p.glucocorticoid_doses == [] and [t.agent for t in p.therapies] == [] and report.incomplete == {}


@pytest.mark.parametrize(
    "route",
    [
        {
            "coding": [
                {"system": SNOMED, "code": "6064005"},
                {"system": "urn:oid:1.2.3", "code": "IV", "display": "Intravenous"},
            ]
        },
        {"coding": [{"system": SNOMED, "code": "6064005"}], "text": "By mouth"},
    ],
)
def test_a_coded_local_route_that_also_says_systemic_is_a_conflict(route: dict[str, Any]) -> None:
    request = med_request("mp", "6902", dosage(_DROP, "2020-06-01"))
    request["dosageInstruction"][0]["route"] = route
    _, report = patient_from_resources([*base(), request], as_of=AS_OF)
    assert report.incomplete == {"glucocorticoid_doses": ["MedicationRequest/mp"]}


def test_a_coded_local_route_with_a_mass_dose_is_a_conflict() -> None:
    nasal = _with_route(med_request("pr", "8640", dosage(qty(40, "mg"), "2020-06-01")), "46713006")
    _, report = patient_from_resources([*base(), nasal], as_of=AS_OF)
    assert report.incomplete == {"glucocorticoid_doses": ["MedicationRequest/pr"]}


def test_a_cream_dosed_in_grams_by_a_coded_local_route_is_local() -> None:
    cream = _with_route(_named("hc", "5492", "hydrocortisone 1% cream", qty(2, "g")), "6064005")
    p, report = patient_from_resources([*base(), cream], as_of=AS_OF)
    assert p.glucocorticoid_doses == [] and report.incomplete == {}
