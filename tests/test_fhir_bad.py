"""FHIR input that cannot make a patient file: each a clear InputError naming the resource, never a traceback."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from fhir_helpers import (
    LOINC,
    PID,
    RXNORM,
    SUBJECT,
    base,
    dosage,
    med_request,
    obs,
    patient,
    qty,
    warnings_of,
    weight,
)
from ivig_cds import Engine, InputError
from ivig_cds.fhir import (
    FhirInputError,
    map_bundle,
    map_prefetch,
    map_resources,
    patient_from_bundle,
    patient_from_prefetch,
    patient_from_resources,
    prefetch_gaps,
)


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def errors_of(resources: list[dict[str, Any]]) -> list[tuple[str, str]]:
    result = map_resources(resources)
    assert result.patient is None
    return [(e.loc, e.msg) for e in result.errors]


def test_not_a_bundle() -> None:
    with pytest.raises(FhirInputError) as info:
        patient_from_bundle({"resourceType": "Patient", "id": "x"})
    assert [(e.loc, e.msg) for e in info.value.errors] == [("resourceType", "expected a FHIR Bundle, got Patient")]


def test_engine_refuses_a_resource_that_is_neither_bundle_nor_patient() -> None:
    with pytest.raises(InputError) as info:
        Engine(backend="reference").evaluate({"resourceType": "Observation", "id": "o"})
    assert info.value.errors[0].loc == "resourceType"
    assert "expected a FHIR Bundle or a patient file, got Observation" in info.value.errors[0].msg


def test_r5_medication_statement_is_refused_not_misread() -> None:
    r5 = {
        "resourceType": "MedicationStatement",
        "id": "ms5",
        "status": "recorded",
        "subject": SUBJECT,
        "medication": {"concept": {"coding": [{"system": RXNORM, "code": "8640"}]}},
    }
    assert errors_of([*base(), r5]) == [
        (
            "resources[3] (MedicationStatement/ms5)",
            "MedicationStatement has R5 element(s) medication: only FHIR R4 is read (R4 uses e.g."
            " medicationCodeableConcept/medicationReference, effective[x], performed[x])",
        )
    ]


def test_r5_medication_request_is_refused() -> None:
    r5 = med_request("mr5", "8640")
    r5["medication"] = {"concept": r5.pop("medicationCodeableConcept")}
    loc, msg = errors_of([*base(), r5])[0]
    assert loc == "resources[3] (MedicationRequest/mr5)" and "R5 element(s) medication" in msg


def test_r5_only_resource_types_are_refused() -> None:
    assert errors_of([*base(), {"resourceType": "MedicationUsage", "id": "u"}])[0][1].startswith(
        "MedicationUsage is not an R4 resource type"
    )


def test_a_medication_reference_to_an_absent_medication() -> None:
    rx = med_request("mr1", "8640")
    rx["medicationReference"] = {"reference": "Medication/nowhere"}
    del rx["medicationCodeableConcept"]
    # the contract: an unknown medication is a mapping warning and the evaluation goes on - and since the
    # drug could be IVIG or a steroid, the file is said to be incomplete (not a silent 'no such therapy')
    patient, report = patient_from_resources([*base(), rx])
    assert patient.therapies == [] and patient.glucocorticoid_doses == []
    assert warnings_of(report, "MedicationRequest/mr1") == [
        "medicationReference 'Medication/nowhere' is not a Medication in the input: not mapped"
    ]
    assert report.incomplete == {"therapies": ["MedicationRequest/mr1"]}
    del rx["medicationReference"]
    _, report = patient_from_resources([*base(), rx])
    assert report.incomplete == {"therapies": ["MedicationRequest/mr1"]}


def test_a_draft_order_whose_drug_cannot_be_known_is_still_an_error() -> None:
    # order-sign: an unidentifiable draft may be the IVIG order; 'no IVIG order' would show no card at all
    draft = med_request("d1", "8640", status="draft")
    draft["medicationReference"] = {"reference": "Medication/nowhere"}
    del draft["medicationCodeableConcept"]
    result = map_resources(base(), draft_orders=[draft])
    assert [e.msg for e in result.errors] == [
        "medicationReference 'Medication/nowhere' is not a Medication in the input"
    ]


def test_no_patient_several_patients_and_the_choice() -> None:
    assert errors_of([weight()]) == [("Patient", "no Patient resource in the input")]
    two = [*base(), patient(id="p2")]
    assert errors_of(two) == [("Patient", "2 Patient resources: say which one (patient_id / --patient-id)")]
    chosen, _ = patient_from_bundle(bundle(*two), patient_id=PID)
    assert chosen.patient_id == PID
    with pytest.raises(FhirInputError) as info:
        patient_from_bundle(bundle(*two), patient_id="p3")
    assert info.value.errors[0].msg == "no Patient resource with the requested id"


def test_no_weight_and_a_partial_birth_date() -> None:
    resources = base()
    resources[0]["birthDate"] = "1970"
    resources.remove(resources[1])
    assert errors_of(resources) == [
        ("demographics.birth_date (Patient/p1)", "Patient.birthDate is absent or not a full date (partial date)"),
        ("demographics.weight_kg", "no usable body-weight Observation (LOINC 29463-7, at or before as_of)"),
    ]


def test_a_value_out_of_the_contract_names_the_resource() -> None:
    resources = base()
    resources[1] = weight(kg=500)
    assert errors_of(resources) == [
        (
            "demographics.weight_kg (Observation/w1)",
            "Input should be less than or equal to 350",
        )  # the value's Observation
    ]


def test_unknown_units_and_comparators_are_warnings_naming_the_resource() -> None:
    ck = obs("ck1", LOINC, "2157-6", "2020-02-01", valueQuantity=qty(900, "ukat/L"))
    hb = obs("hb1", LOINC, "718-7", "2020-02-01", valueQuantity=qty(10, "g/dL", comparator="<"))
    iga = obs("iga1", LOINC, "2458-8", "2020-02-01", valueQuantity=qty(0.05, "g/L"))
    p, report = patient_from_resources([*base(), ck, hb, iga])
    assert p.assessments == []
    assert [(lab.test.value, lab.value) for lab in p.labs] == [("iga_mg_dl", 5.0)]
    warnings = {(w.resource, w.message) for w in report.warnings}
    assert ("Observation/ck1", "unit 'ukat/L' is not one of U/L, [IU]/L, U/mL: not mapped") in warnings
    assert ("Observation/hb1", "value with comparator '<': not mapped (never a guess)") in warnings
    assert ("Observation/iga1", "g/L → mg/dL") in {(c.resource, c.message) for c in report.conversions}


def test_a_vas_without_a_unit_is_not_read_but_a_score_is() -> None:
    local = "urn:ivig-cds:codesystem"
    vas = obs("v1", local, "physician-global", "2020-02-01", valueInteger=4)
    mmt = obs("m1", local, "mmt8", "2020-02-01", valueInteger=64)
    p, report = patient_from_resources([*base(), vas, mmt])
    assert [(a.mmt8, a.physician_global_cm) for a in p.assessments] == [(64, None)]
    assert "no valueQuantity: not mapped" not in [
        w.message for w in report.warnings if w.resource == "Observation/m1"
    ]
    assert any(w.resource == "Observation/v1" and "unit 'None'" in w.message for w in report.warnings)


def test_error_messages_hold_no_patient_values() -> None:
    resources = base()
    resources[0]["name"] = [{"family": "Secretname"}]
    resources[0]["birthDate"] = "1970-02-30"
    resources.append(obs("w2", LOINC, "29463-7", "2021-01-01", valueQuantity=qty(123.456, "stone")))
    result = map_resources(resources)
    text = json.dumps([e.to_dict() for e in result.errors]) + result.report.model_dump_json()
    assert "Secretname" not in text and "123.456" not in text and "1970-02-30" not in text


def test_absent_partof_target_is_a_warning() -> None:
    """A prefetch of statements without the orders they are partOf: each statement is what it says (a dose
    taken on its days), a therapy of its own - never the whole patient refused."""
    dose = {
        "resourceType": "MedicationStatement",
        "id": "d1",
        "status": "active",
        "subject": SUBJECT,
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "8640"}]},
        "effectivePeriod": {"start": "2020-01-01"},
        "partOf": [{"reference": "MedicationStatement/gone"}],
        "dosage": [dosage(qty(10, "mg"))],
    }
    patient, report = patient_from_resources([*base(), dose], as_of="2021-01-01")
    assert [(str(d.date), d.prednisone_mg_per_day) for d in patient.glucocorticoid_doses] == [("2020-01-01", 10)]
    assert [t.source for t in patient.therapies] == ["MedicationStatement/d1"]
    assert warnings_of(report, "MedicationStatement/d1") == [
        "partOf 'MedicationStatement/gone' is not in the input: read as a therapy of its own"
    ]


def test_resources_of_another_patient_are_ignored_and_said() -> None:
    other = weight(kg=99, rid="w-other")
    other["subject"] = {"reference": "Patient/someone-else"}
    p, report = patient_from_resources([*base(), other])
    assert p.demographics.weight_kg == 70
    assert ("Observation/w-other", "subject is not the Patient of the input: ignored") in {
        (w.resource, w.message) for w in report.warnings
    }


def test_prefetch_null_means_no_data_and_an_outcome_means_not_fetched() -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}
    meds = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in base()[1:]]}
    prefetch = {"patient": patient(), "observations": meds, "conditions": None, "allergies": outcome}
    assert prefetch_gaps(prefetch, ["patient", "observations", "conditions", "allergies", "procedures"]) == [
        "allergies",
        "procedures",
    ]
    p, report = patient_from_prefetch(prefetch)
    assert p.diagnosis.condition.value == "polymyositis"
    assert ("prefetch.allergies", "not fetched (OperationOutcome): data of this template is missing") in {
        (w.resource, w.message) for w in report.warnings
    }
    result = map_prefetch(prefetch, expected_keys=["procedures"])
    assert ("prefetch.procedures", "not fetched (absent): data of this template is missing") in {
        (w.resource, w.message) for w in result.report.warnings
    }


def test_a_resource_in_two_prefetch_templates_is_read_once() -> None:
    resources = base()
    prefetch = {"a": bundle(*resources) | {"type": "searchset"}, "b": bundle(resources[1]) | {"type": "searchset"}}
    _, report = patient_from_prefetch(prefetch)
    assert report.resources_read["Observation"] == 1


def test_a_hundred_thousand_resources_map_in_one_pass() -> None:
    noise = [
        obs(f"hr{i}", LOINC, "8867-4", f"20{10 + i % 10}-01-0{1 + i % 9}", valueQuantity=qty(70, "/min"))
        for i in range(99_997)
    ]
    result = map_bundle(bundle(*base(), *noise))
    assert result.patient is not None
    assert result.report.resources_ignored["Observation"] == 99_997
    assert result.report.resources_read == {"Condition": 1, "Observation": 1, "Patient": 1}


def test_the_input_is_not_modified() -> None:
    resources = [*base(), med_request("mr1", "8640", dosage(qty(10, "mg"), "2020-01-01"))]
    before = copy.deepcopy(resources)
    patient_from_resources(resources)
    assert resources == before
