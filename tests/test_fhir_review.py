"""Answers a fresh-eyes review of the FHIR input found unsafe: each is now refused, warned or read right."""

from __future__ import annotations

import copy

from fhir_helpers import (
    LOCAL,
    LOINC,
    RXNORM,
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


def _creatinine(rid: str, mg_dl: float, when: str = "2020-01-05") -> dict:
    return obs(rid, LOINC, "2160-0", when, valueQuantity=qty(mg_dl, "mg/dL"))


def test_two_creatinines_at_one_moment_that_differ_are_neither_read_whatever_their_order() -> None:
    for order in ((1.0, 4.5), (4.5, 1.0)):
        resources = [*base(), _creatinine("c1", order[0]), _creatinine("c2", order[1])]
        p, report = patient_from_resources(resources)
        assert [lab.test.value for lab in p.labs] == []
        for rid, other in (("c1", "c2"), ("c2", "c1")):
            assert f"another value at the same date and time (Observation/{other}) differs: neither is read" in (
                warnings_of(report, f"Observation/{rid}")
            )


def test_the_same_value_twice_or_values_at_two_times_are_read() -> None:
    p, report = patient_from_resources([*base(), _creatinine("c1", 1.0), _creatinine("c2", 1.0)])
    assert [float(lab.value) for lab in p.labs] == [1.0, 1.0] and not warnings_of(report, "Observation/c1")
    timed = [_creatinine("c1", 4.5, "2020-01-05T08:00:00Z"), _creatinine("c2", 1.0, "2020-01-05T20:00:00Z")]
    p, _ = patient_from_resources([*base(), *reversed(timed)])
    assert [(float(lab.value), lab.source) for lab in p.labs] == [(4.5, "Observation/c1"), (1.0, "Observation/c2")]


def test_the_weight_of_a_day_is_its_latest_for_the_file_and_for_dosing() -> None:
    heavy = weight(120, "2020-01-05T08:00:00Z", rid="w-am")
    light = weight(80, "2020-01-05T20:00:00Z", rid="w-pm")
    for resources in ([patient(), polymyositis(), heavy, light], [patient(), polymyositis(), light, heavy]):
        admin = ivig_admin("a1", "2020-02-01", qty(80, "g"))
        p, _ = patient_from_resources([*resources, admin])
        assert p.demographics.weight_kg == 80
        assert [c.dose_g_per_kg_per_day for c in p.ivig_courses] == [1.0]  # 80 g ÷ 80 kg, not ÷ 120 kg


def test_two_weights_at_one_moment_that_differ_leave_no_weight() -> None:
    result = map_resources([patient(), polymyositis(), weight(120, rid="w1"), weight(80, rid="w2")])
    assert result.patient is None and [e.loc for e in result.errors] == ["demographics.weight_kg"]
    assert any("neither is read" in w for w in warnings_of(result.report, "Observation/w1"))


def _methotrexate(*reasons: dict, reason_code: list | None = None) -> dict:
    res = {
        "resourceType": "MedicationStatement",
        "id": "mtx",
        "status": "completed",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "6851"}]},
        "effectivePeriod": {"start": "2019-02-01", "end": "2019-08-01"},
        "statusReason": list(reasons),
    }
    if reason_code is not None:
        res["reasonCode"] = reason_code
    return res


def _outcome(res: dict) -> tuple[str, list[str]]:
    p, report = patient_from_resources([*base(), res])
    (therapy,) = p.therapies
    return therapy.outcome.value, warnings_of(report, "MedicationStatement/mtx")


def test_a_negated_free_text_outcome_is_not_read() -> None:
    for text in ("no side effects; stopped because disease in remission", "not ineffective", "without toxicity"):
        outcome, said = _outcome(_methotrexate({"text": text}))
        assert outcome == "unknown", text
        assert any("negation" in w for w in said), text


def test_a_plain_free_text_outcome_is_read_and_said() -> None:
    for text, expected in (
        ("no response to treatment", "inadequate_response"),
        ("hepatotoxicity: intolerance", "intolerance"),
    ):
        outcome, said = _outcome(_methotrexate({"text": text}))
        assert outcome == expected, text
        assert f"outcome {expected} read from free text (no outcome code): confirm it" in said


def test_texts_or_codes_naming_two_outcomes_are_unknown() -> None:
    outcome, said = _outcome(_methotrexate({"text": "ineffective"}, {"text": "intolerance"}))
    assert outcome == "unknown" and any("several outcomes" in w for w in said)
    coded = [
        {"coding": [{"system": LOCAL, "code": c}]} for c in ("outcome-intolerance", "outcome-inadequate-response")
    ]
    outcome, said = _outcome(_methotrexate(*coded))
    assert outcome == "unknown" and any("outcome codes disagree" in w for w in said)


def test_a_reason_code_text_is_why_it_was_given_not_how_it_went() -> None:
    why = [{"text": "polymyositis with inadequate response to prednisone"}]
    outcome, said = _outcome(_methotrexate(reason_code=why))
    assert outcome == "unknown" and any("reasonCode text names an outcome: not read" in w for w in said)
    coded = [{"coding": [{"system": LOCAL, "code": "outcome-intolerance"}]}]
    assert _outcome(_methotrexate(reason_code=coded)) == ("intolerance", [])


def test_an_unverified_pregnancy_answer_code_is_used_and_said() -> None:
    answer = {"coding": [{"system": LOINC, "code": "LA15173-0"}]}  # "Pregnant", marked verified: false
    status = obs("preg", LOINC, "82810-3", "2020-01-01", valueCodeableConcept=answer)
    p, report = patient_from_resources([*base(), status])
    assert p.risk_factors.pregnant is True
    assert "matched the unverified default code http://loinc.org|LA15173-0" in warnings_of(
        report, "Observation/preg"
    )


def test_a_coding_that_is_not_an_array_is_an_error_not_an_unrecognised_condition() -> None:
    iga = condition("iga", "http://snomed.info/sct", "29260007")
    iga["code"]["coding"] = iga["code"]["coding"][0]  # an object where R4 has an array
    result = map_resources([*base(), iga])
    assert [(e.loc, e.msg) for e in result.errors] == [
        ("resources[3] (Condition/iga)", "Condition.code.coding must be an array (FHIR R4 JSON)")
    ]


def test_a_status_that_is_not_an_r4_code_is_reported_not_silently_ignored() -> None:
    mtx = _methotrexate({"text": "ineffective"})
    mtx["status"] = "finished"
    p, report = patient_from_resources([*base(), mtx])
    assert p.therapies == []
    assert warnings_of(report, "MedicationStatement/mtx") == [
        "status is not a FHIR R4 MedicationStatement status code: not read"
    ]


def test_markdown_and_cds_hooks_output_list_what_the_mapping_could_not_read() -> None:
    from ivig_cds import Engine
    from ivig_cds.outputs.cds_hooks import build_cards
    from ivig_cds.outputs.text import render_markdown

    unknown = _methotrexate({"coding": [{"system": LOCAL, "code": "outcome-intolerance"}]})
    unknown["medicationCodeableConcept"] = {"text": "Zzzumab"}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in [*base(), unknown]],
    }
    ev = Engine().evaluate(bundle, as_of="2020-06-01")
    line = "MedicationStatement/mtx (therapies): medication not recognised (no mapped code or name): not mapped"
    assert "### Not read from the record (FHIR mapping warnings)" in render_markdown([ev])
    assert line in render_markdown([ev])
    summary = build_cards(ev).response["cards"][0]
    assert "**Not read from the record** (" in summary["detail"] and line in summary["detail"]


def test_the_weight_names_the_observation_it_came_from() -> None:
    # demographics.source is the Patient; the dosing weight's own resource is named in the report
    p, report = patient_from_resources([*base(), weight(80, "2020-06-01", "w2")])
    assert p.demographics.weight_kg == 80
    notes = {(c.resource, c.message) for c in report.conversions if c.field == "demographics.weight_kg"}
    assert notes == {("Observation/w2", "the patient's weight: the latest one read")}
