"""Answers a fresh-eyes review of the FHIR input found unsafe: each is now refused, warned or read right."""

from __future__ import annotations

import copy

from fhir_helpers import (
    LOCAL,
    LOINC,
    base,
    condition,
    ivig_admin,
    obs,
    patient,
    polymyositis,
    qty,
    warnings_of,
    weight,
)
from ivig_cds.fhir import map_resources, patient_from_resources

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"


def _two_codes(*codes: tuple[str, str]) -> dict:
    dx = condition("dx", ICD10CM, "M33.20")
    dx["code"]["coding"] = [{"system": s, "code": c} for s, c in codes]
    return dx


def test_one_condition_coded_pm_and_ibm_is_ibm_with_a_warning_in_either_order() -> None:
    for codes in (((ICD10CM, "M33.20"), (ICD10CM, "G72.41")), ((ICD10CM, "G72.41"), (ICD10CM, "M33.20"))):
        p, report = patient_from_resources([patient(), weight(), _two_codes(*codes)])
        assert p.diagnosis.condition.value == "inclusion_body_myositis"
        assert any("coded as several conditions" in w for w in warnings_of(report, "Condition/dx"))


def test_a_value_with_a_data_absent_reason_is_not_read() -> None:
    answer = obs(
        "rf",
        LOCAL,
        "rf-hyperprolinemia",
        "2020-01-01",
        valueBoolean=False,
        dataAbsentReason={"coding": [{"code": "asked-unknown"}]},
    )
    p, report = patient_from_resources([*base(), answer])
    assert p.risk_factors.hyperprolinemia is None  # not recorded, never "no"
    assert any("invalid FHIR" in w for w in warnings_of(report, "Observation/rf"))


def test_a_panels_own_data_absent_reason_leaves_its_components_values() -> None:
    panel = obs("bp", LOINC, "85354-9", "2020-01-01", dataAbsentReason={"text": "panel"})
    panel["component"] = [
        {"code": {"coding": [{"system": LOINC, "code": "29463-7"}]}, "valueQuantity": qty(81, "kg")}
    ]
    del panel["dataAbsentReason"]
    p, _ = patient_from_resources([patient(), polymyositis(), panel])
    assert p.demographics.weight_kg == 81
    panel["dataAbsentReason"] = {"text": "panel"}
    p, _ = patient_from_resources([patient(), polymyositis(), panel])
    assert p.demographics.weight_kg == 81


def test_the_same_administration_twice_is_one_infusion_not_a_double_dose() -> None:
    admin = ivig_admin("a1", "2020-02-01", qty(1, "g/kg"))
    p, report = patient_from_resources([*base(), admin, copy.deepcopy(admin)])
    assert [c.dose_g_per_kg_per_day for c in p.ivig_courses] == [1.0]
    assert any("appears 2 times: read once" in w for w in warnings_of(report, "MedicationAdministration/a1"))


def test_two_different_resources_with_one_type_and_id_are_refused() -> None:
    low, high = weight(70, rid="w"), weight(120, rid="w")
    result = map_resources([patient(), polymyositis(), low, high])
    assert result.patient is None
    assert [e.type for e in result.errors] == ["fhir_duplicate"]
    assert result.errors[0].loc == "resources[3] (Observation/w)"
    assert "120" not in result.errors[0].msg and "resources[2]" in result.errors[0].msg


def test_a_repeated_resource_under_another_full_url_still_resolves() -> None:
    from ivig_cds.fhir import map_bundle

    pat = patient()
    entries = [
        {"fullUrl": "urn:uuid:1", "resource": pat},
        {"fullUrl": "urn:uuid:2", "resource": copy.deepcopy(pat)},
        {"resource": {**weight(), "subject": {"reference": "urn:uuid:2"}}},
        {"resource": {**polymyositis(), "subject": {"reference": "urn:uuid:1"}}},
    ]
    result = map_bundle({"resourceType": "Bundle", "type": "collection", "entry": entries})
    assert result.patient is not None and result.patient.demographics.weight_kg == 70
