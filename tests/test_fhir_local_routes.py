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
        drops = _with_route(med_request("dx", "3264", dosage(qty(1, "mg"), "2020-06-01")), code)
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


def test_a_site_table_names_its_local_routes_among_its_routes(tmp_path: Path) -> None:
    text = (Path(load_mapping().source)).read_text(encoding="utf-8")
    bad = tmp_path / "mapping.yaml"
    bad.write_text(text.replace("local_routes: [topical,", "local_routes: [dermal,"), encoding="utf-8")
    with pytest.raises(RuleFileError, match="local_routes"):
        load_mapping(bad)


def test_a_local_glucocorticoid_with_an_unreadable_status_is_not_an_incomplete_dose() -> None:
    drops = _with_route(med_request("dx", "3264", dosage(qty(1, "mg"), "2020-06-01")), "54485002")
    drops["status"] = "taken"  # not an R4 MedicationRequest status: refused, but eye drops are no systemic dose
    _, report = patient_from_resources([*base(), drops], as_of=AS_OF)
    assert report.incomplete == {}
    oral = _with_route(med_request("pr", "8640", dosage(qty(20, "mg"), "2020-06-01")), "26643006")
    oral["status"] = "taken"
    _, report = patient_from_resources([*base(), oral], as_of=AS_OF)
    assert report.incomplete == {"glucocorticoid_doses": ["MedicationRequest/pr"]}
