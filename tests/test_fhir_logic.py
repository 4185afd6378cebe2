"""The adapter's arithmetic and rules on small hand-built resources: doses, courses, orders, risks, diagnosis."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_helpers import (
    ATC,
    LOCAL,
    LOINC,
    RXNORM,
    SNOMED,
    SUBJECT,
    base,
    condition,
    dosage,
    ivig_admin,
    med_request,
    obs,
    patient,
    polymyositis,
    qty,
    warnings_of,
    weight,
)
from ivig_cds.fhir import map_resources, patient_from_resources

_NO_WEIGHT = "dose in grams but no body weight on or before the course (within 365 days before it): not mapped"


def doses(resources: list[dict[str, Any]]) -> list[tuple[str, float]]:
    p, _ = patient_from_resources(resources)
    return [(g.date.isoformat(), g.prednisone_mg_per_day) for g in p.glucocorticoid_doses]


def test_mg_per_day_is_dose_times_frequency_over_period() -> None:
    twice = med_request("a", "8640", dosage(qty(5, "mg"), "2020-01-01", frequency=2))
    every_other = med_request("b", "8640", dosage(qty(20, "mg"), "2021-01-01", period=2))
    assert doses([*base(), twice]) == [("2020-01-01", 10)]
    assert doses([*base(), every_other]) == [("2021-01-01", 10)]


def test_other_glucocorticoids_become_prednisone_equivalent() -> None:
    mp = med_request("mp", "6902", dosage(qty(8, "mg"), "2020-01-01", "2020-01-31"))
    dex = med_request("dx4", "3264", dosage(qty(0.75, "mg"), "2020-02-01", "2020-02-29"))
    hc = med_request("hc", "5492", dosage(qty(20, "mg"), "2020-03-01"))
    defl = med_request("df", "22396", dosage(qty(6, "mg"), "2020-04-01"))
    p, report = patient_from_resources([*base(), mp, dex, hc, defl])
    got = [(g.date.isoformat(), g.prednisone_mg_per_day) for g in p.glucocorticoid_doses]
    assert got == [
        ("2020-01-01", 10),
        ("2020-02-01", pytest.approx(5.0025)),
        ("2020-03-01", 5),
        ("2020-04-01", pytest.approx(9.98)),
    ]
    # the open hydrocortisone order and the later deflazacort order overlap: 5 + 6 × 0.83, added and said so
    assert "overlaps MedicationRequest/hc: the two glucocorticoid doses are added" in warnings_of(
        report, "MedicationRequest/df"
    )
    assert "methylprednisolone mg × 1.25 → prednisone-equivalent mg" in [c.message for c in report.conversions]


def test_overlapping_orders_are_added_and_reported() -> None:
    a = med_request("a", "8640", dosage(qty(10, "mg"), "2020-01-01", "2020-03-31"))
    b = med_request("b", "8638", dosage(qty(5, "mg"), "2020-02-01", "2020-02-29"))
    p, report = patient_from_resources([*base(), a, b])
    assert [(g.date.isoformat(), g.prednisone_mg_per_day) for g in p.glucocorticoid_doses] == [
        ("2020-01-01", 10),
        ("2020-02-01", 15),
        ("2020-03-01", 10),
        ("2020-04-01", 0),
    ]
    assert "overlaps MedicationRequest/b: the two glucocorticoid doses are added" in warnings_of(
        report, "MedicationRequest/a"
    )


def test_mass_units_convert_and_others_are_refused() -> None:
    grams = med_request("g", "8640", dosage(qty(0.01, "g"), "2020-01-01"))
    puffs = med_request("p", "8640", dosage(qty(2, "{puff}"), "2020-01-01"))
    p, report = patient_from_resources([*base(), grams, puffs])
    assert [(g.prednisone_mg_per_day) for g in p.glucocorticoid_doses] == [10]
    assert "dose unit '{puff}' is not a mass or a tablet count: not mapped" in warnings_of(
        report, "MedicationRequest/p"
    )


def test_as_needed_and_range_doses_are_not_guessed() -> None:
    prn = med_request("prn", "8640", {**dosage(qty(5, "mg"), "2020-01-01"), "asNeededBoolean": True})
    rng = dosage(qty(5, "mg"), "2020-01-01")
    rng["doseAndRate"] = [{"doseRange": {"low": qty(5, "mg"), "high": qty(10, "mg")}}]
    p, report = patient_from_resources([*base(), prn, med_request("rng", "8640", rng)])
    assert p.glucocorticoid_doses == []
    assert "as-needed dose: no daily dose can be derived" in warnings_of(report, "MedicationRequest/prn")
    assert "dose given as a range: not mapped (never a guess)" in warnings_of(report, "MedicationRequest/rng")


def test_a_statement_gives_the_therapy_period_outcome_and_dose_changes() -> None:
    ms = {
        "resourceType": "MedicationStatement",
        "id": "mtx",
        "status": "completed",
        "subject": SUBJECT,
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "6851"}]},
        "effectivePeriod": {"start": "2019-02-01", "end": "2019-09-30"},
        "statusReason": [{"text": "Stopped: treatment failure after 6 months"}],
        "dosage": [{"timing": {"repeat": {"boundsPeriod": {"start": d}}}} for d in ("2019-02-01", "2019-05-01")],
    }
    p, _ = patient_from_resources([*base(), ms])
    t = p.therapies[0]
    assert (t.agent.value, t.start.isoformat(), str(t.stop), t.outcome.value, t.source) == (
        "methotrexate",
        "2019-02-01",
        "2019-09-30",
        "inadequate_response",
        "MedicationStatement/mtx",
    )
    assert [d.isoformat() for d in t.dose_changed_on] == ["2019-05-01"]


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ("intolerance: nausea", "intolerance"),
        ("adverse reaction", "intolerance"),
        ("patient moved away", "unknown"),
        ("ineffective", "inadequate_response"),
    ],
)
def test_outcome_text(text: str, outcome: str) -> None:
    ms = med_request(
        "aza",
        "1256",
        dosage(qty(100, "mg"), "2019-01-01", "2019-12-31"),
        statusReason={"text": text},
        status="stopped",
    )
    p, _ = patient_from_resources([*base(), ms])
    assert p.therapies[0].outcome.value == outcome


def test_a_stopped_order_without_an_end_is_not_a_therapy() -> None:
    mr = med_request("aza", "1256", status="stopped")
    p, report = patient_from_resources([*base(), mr])
    assert p.therapies == []
    assert warnings_of(report, "MedicationRequest/aza") == [
        "status stopped without an end date: when it stopped is unknown, not mapped"
    ]


def test_renewals_of_one_agent_are_one_therapy_with_dose_changes() -> None:
    a = med_request("a", "6851", dosage(qty(15, "mg"), "2019-01-01", "2019-06-30"))
    b = med_request("b", "6851", dosage(qty(20, "mg"), "2019-07-01", "2019-12-31"))
    p, _ = patient_from_resources([*base(), a, b])
    assert len(p.therapies) == 1
    t = p.therapies[0]
    assert (t.start.isoformat(), str(t.stop), [d.isoformat() for d in t.dose_changed_on]) == (
        "2019-01-01",
        "2019-12-31",
        ["2019-07-01"],
    )


def test_a_procedure_is_a_therapy_on_its_dates() -> None:
    proc = {
        "resourceType": "Procedure",
        "id": "pex",
        "status": "completed",
        "subject": SUBJECT,
        "code": {"coding": [{"system": SNOMED, "code": "127788007"}]},
        "performedPeriod": {"start": "2019-03-01", "end": "2019-03-20"},
        "outcome": {"text": "ineffective"},
    }
    p, _ = patient_from_resources([*base(), proc])
    assert [(t.agent.value, str(t.start), str(t.stop), t.outcome.value) for t in p.therapies] == [
        ("plasmapheresis", "2019-03-01", "2019-03-20", "inadequate_response")
    ]


def test_ivig_days_in_a_row_are_one_course_divided_by_the_weight_before_it() -> None:
    resources = [
        patient(),
        polymyositis(),
        weight(80, "2020-01-01", "w-before"),
        weight(60, "2020-03-10", "w-after"),
    ]
    resources += [ivig_admin("d1", "2020-03-02", qty(80, "g")), ivig_admin("d2", "2020-03-03", qty(80, "g"))]
    resources += [ivig_admin("d3", "2020-03-30", qty(1, "g/kg"), rateQuantity=qty(4, "mg/kg/min"))]
    p, report = patient_from_resources(resources)
    courses = [
        (str(c.start), c.days, c.dose_g_per_kg_per_day, c.max_rate_mg_kg_min, c.source) for c in p.ivig_courses
    ]
    assert courses == [
        ("2020-03-02", 2, 1.0, None, "MedicationAdministration/d1"),
        ("2020-03-30", 1, 1.0, 4, "MedicationAdministration/d3"),
    ]
    assert p.demographics.weight_kg == 60  # the latest weight is the patient's; the course used the one before it
    assert "grams ÷ body weight of Observation/w-before → g/kg" in [c.message for c in report.conversions]


def test_course_problems_are_reported() -> None:
    days = [ivig_admin(f"d{i}", f"2020-03-0{i}", qty(0.4, "g/kg")) for i in range(1, 7)]  # six days in a row
    mixed = [ivig_admin("m1", "2020-05-01", qty(1, "g/kg")), ivig_admin("m2", "2020-05-02", qty(0.8, "g/kg"))]
    no_weight = [ivig_admin("n1", "2019-01-01", qty(70, "g"))]
    p, report = patient_from_resources([*base(), *days, *mixed, *no_weight])
    assert [(str(c.start), c.dose_g_per_kg_per_day) for c in p.ivig_courses] == [
        ("2020-05-01", pytest.approx(0.9))
    ]
    assert "6 consecutive infusion days (a course holds 1-5): not mapped" in warnings_of(
        report, "MedicationAdministration/d1"
    )
    assert "daily doses differ within the course: their mean is recorded" in warnings_of(
        report, "MedicationAdministration/m1"
    )
    assert (
        "dose in grams but no body weight on or before the course (within 365 days before it): not mapped"
        in warnings_of(report, "MedicationAdministration/n1")
    )


def test_subcutaneous_immunoglobulin_is_not_ivig() -> None:
    p, report = patient_from_resources(
        [*base(), ivig_admin("sc", "2020-03-01", qty(0.4, "g/kg"), product="Hizentra")]
    )
    assert p.ivig_courses == []
    assert warnings_of(report, "MedicationAdministration/sc") == [
        "Hizentra is subcutaneous immunoglobulin, not IVIG: not mapped"
    ]


def test_a_draft_ivig_order_is_the_ivig_order() -> None:
    draft = {
        "resourceType": "MedicationRequest",
        "id": "draft",
        "status": "draft",
        "intent": "proposal",
        "subject": SUBJECT,
        "medicationCodeableConcept": {"text": "Octagam 10%"},
        "dosageInstruction": [
            {
                "timing": {
                    "repeat": {
                        "count": 2,
                        "frequency": 1,
                        "period": 1,
                        "periodUnit": "d",
                        "boundsPeriod": {"start": "2020-06-01"},
                    }
                },
                "doseAndRate": [{"doseQuantity": qty(140, "g"), "rateQuantity": qty(8, "mg/kg/min")}],
            }
        ],
    }
    p, report = patient_from_resources(base(), draft_orders=[draft])
    order = p.ivig_order
    assert order is not None
    assert (
        order.product,
        order.dose_g_per_kg_per_day,
        order.days,
        str(order.start),
        order.max_rate_mg_kg_min,
        order.source,
    ) == ("Octagam 10%", 2.0, 2, "2020-06-01", 8, "MedicationRequest/draft")
    assert "grams ÷ body weight of Observation/w1 → g/kg" in [c.message for c in report.conversions]


def test_a_draft_order_of_another_drug_is_not_an_ivig_order() -> None:
    p, report = patient_from_resources(base(), draft_orders=[med_request("d", "8640", status="draft")])
    assert p.ivig_order is None
    assert report.resources_ignored["MedicationRequest"] == 1


def test_a_stopped_ivig_order_gives_the_discontinuation_unless_a_later_one_is_active() -> None:
    admin = ivig_admin("d1", "2020-01-10", qty(1, "g/kg"))
    stopped = med_request(
        "stop",
        "J06BA02",
        system=ATC,
        status="stopped",
        dosageInstruction=[{"timing": {"repeat": {"boundsPeriod": {"start": "2020-01-10", "end": "2020-05-01"}}}}],
    )
    p, _ = patient_from_resources([*base(), admin, stopped])
    assert str(p.ivig_discontinued_on) == "2020-05-01"
    restart = med_request("again", "J06BA02", system=ATC, authoredOn="2020-08-01")
    p, report = patient_from_resources([*base(), admin, stopped, restart])
    assert p.ivig_discontinued_on is None
    assert "an IVIG order from its end on is active: IVIG not discontinued" in [
        c.message for c in report.conversions
    ]


def test_absent_is_not_false_and_only_explicit_negatives_are_false() -> None:
    dm = condition("dm", SNOMED, "44054006")
    no_hf = condition("hf", SNOMED, "84114007", verification="refuted")
    old_sepsis = condition("sep", SNOMED, "91302008", clinicalStatus={"coding": [{"code": "resolved"}]})
    not_pregnant = obs(
        "preg",
        LOINC,
        "82810-3",
        "2020-01-01",
        valueCodeableConcept={"coding": [{"system": SNOMED, "code": "60001007"}]},
    )
    cvc = obs("cvc", LOCAL, "rf-central-venous-catheter", "2020-01-01", valueBoolean=False)
    p, report = patient_from_resources([*base(), dm, no_hf, old_sepsis, not_pregnant, cvc])
    rf = p.risk_factors
    assert (rf.diabetes, rf.heart_failure, rf.pregnant, rf.central_venous_catheter) == (True, False, False, False)
    assert rf.sepsis is None and rf.thrombosis_history is None and rf.prior_ig_anaphylaxis is None
    assert "clinicalStatus resolved: says nothing about today, not mapped" in warnings_of(report, "Condition/sep")


def test_a_risk_asserted_and_refuted_counts_as_present() -> None:
    yes = condition("hf1", SNOMED, "84114007")
    no = condition("hf2", SNOMED, "84114007", verification="refuted")
    p, report = patient_from_resources([*base(), yes, no])
    assert p.risk_factors.heart_failure is True
    assert "asserted here and refuted by Condition/hf2: recorded as present" in warnings_of(
        report, "Condition/hf1"
    )


def test_an_unverified_default_code_is_used_and_flagged() -> None:
    p, report = patient_from_resources([*base(), condition("e11", "http://hl7.org/fhir/sid/icd-10-cm", "E11.9")])
    assert p.risk_factors.diabetes is True
    assert "matched the unverified default code http://hl7.org/fhir/sid/icd-10-cm|E11*" in warnings_of(
        report, "Condition/e11"
    )


def test_ivig_anaphylaxis_allergy() -> None:
    allergy = {
        "resourceType": "AllergyIntolerance",
        "id": "ig",
        "patient": SUBJECT,
        "code": {"text": "Immune globulin (Gammagard)"},
        "reaction": [{"manifestation": [{"coding": [{"system": SNOMED, "code": "39579001"}]}]}],
    }
    mild = {**allergy, "id": "ig2", "reaction": [{"severity": "mild", "manifestation": [{"text": "rash"}]}]}
    p, _ = patient_from_resources([*base(), allergy])
    assert p.risk_factors.prior_ig_anaphylaxis is True
    p, report = patient_from_resources([*base(), mild])
    assert p.risk_factors.prior_ig_anaphylaxis is None
    assert any("review the allergy" in w for w in warnings_of(report, "AllergyIntolerance/ig2"))


@pytest.mark.parametrize(
    ("verification", "site", "expected"),
    [
        ("confirmed", None, "probable"),
        ("provisional", None, "possible"),
        (None, None, "unknown"),
        ("confirmed", "definite", "definite"),
    ],
)
def test_classification(verification: str | None, site: str | None, expected: str) -> None:
    resources = [patient(), weight(), condition("dx", SNOMED, "31384009", verification=verification)]
    if site:
        resources.append(
            obs(
                "cls",
                LOCAL,
                "classification",
                "2019-01-01",
                valueCodeableConcept={"coding": [{"system": LOCAL, "code": site}]},
            )
        )
    p, _ = patient_from_resources(resources)
    assert p.diagnosis.classification.value == expected


def test_an_ibm_code_outranks_a_pm_code_and_icd10_prefixes_match() -> None:
    resources = [
        patient(),
        weight(),
        condition("pm", "http://hl7.org/fhir/sid/icd-10-cm", "M33.22"),
        condition("ibm", "http://hl7.org/fhir/sid/icd-10-cm", "G72.41"),
    ]
    p, report = patient_from_resources(resources)
    assert (p.diagnosis.condition.value, p.diagnosis.source) == ("inclusion_body_myositis", "Condition/ibm")
    assert any("another myositis Condition (polymyositis)" in w for w in warnings_of(report, "Condition/pm"))
    refuted = [patient(), weight(), condition("pm", SNOMED, "31384009", verification="refuted")]
    assert [e.loc for e in map_resources(refuted).errors] == ["diagnosis"]


def test_assessments_are_grouped_by_date_with_units() -> None:
    day = "2020-02-01"
    resources = [
        *base(),
        obs("m", LOCAL, "mmt8-150", day, valueQuantity=qty(120, "{score}")),
        obs(
            "ck", LOINC, "2157-6", day, valueQuantity=qty(3400, "U/L"), referenceRange=[{"high": qty(190, "U/L")}]
        ),
        obs("pg", LOCAL, "physician-global", day, valueQuantity=qty(45, "mm")),
        obs(
            "dy",
            LOCAL,
            "dysphagia",
            day,
            valueCodeableConcept={"coding": [{"system": LOCAL, "code": "dysphagia-mild"}]},
        ),
    ]
    p, _ = patient_from_resources(resources)
    a = p.assessments[0]
    assert (
        a.mmt8,
        a.mmt8_max,
        a.ck_u_per_l,
        a.ck_uln_u_per_l,
        a.physician_global_cm,
        a.dysphagia.value if a.dysphagia else None,
    ) == (120, 150, 3400, 190, 4.5, "mild")
    assert a.source == "Observation/m"


def test_the_report_is_deterministic_and_json_ready() -> None:
    resources = [*base(), med_request("x", "999999"), med_request("y", "888888")]
    first = map_resources(resources).report.to_dict()
    second = map_resources(list(reversed(resources))).report.to_dict()
    assert first == second
    assert [w["resource"] for w in first["warnings"]] == ["MedicationRequest/x", "MedicationRequest/y"]


def test_current_risk_answers_must_be_recent_when_as_of_is_known() -> None:
    from datetime import date

    old = obs(
        "preg-old",
        LOINC,
        "82810-3",
        "2020-01-01",
        valueCodeableConcept={"coding": [{"system": SNOMED, "code": "60001007"}]},
    )
    refuted_sepsis = condition("sep", SNOMED, "91302008", verification="refuted", recordedDate="2020-01-01")
    p, report = patient_from_resources([*base(), old, refuted_sepsis], as_of=date(2020, 6, 1))
    assert (p.risk_factors.pregnant, p.risk_factors.sepsis) == (None, None)  # an old "no" says nothing today
    stale = "dated more than 30 days before as_of: says nothing about today, not mapped"
    assert stale in warnings_of(report, "Observation/preg-old") and stale in warnings_of(report, "Condition/sep")
    assert any(
        "latest body weight is more than 90 days before as_of" in w for w in warnings_of(report, "Observation/w1")
    )
    p, _ = patient_from_resources([*base(), old, refuted_sepsis], as_of=date(2020, 1, 20))
    assert (p.risk_factors.pregnant, p.risk_factors.sepsis) == (False, False)


def test_without_a_subject_a_resource_is_the_patients_only_when_there_is_one_patient() -> None:
    loose = weight(kg=80, day="2021-01-01", rid="loose")
    del loose["subject"]
    p, report = patient_from_resources([*base(), loose])
    assert p.demographics.weight_kg == 80
    assert "no subject: taken as the patient's (the input holds one patient)" in warnings_of(
        report, "Observation/loose"
    )
    p, report = patient_from_resources([*base(), loose, patient(id="p2")], patient_id="p1")
    assert p.demographics.weight_kg == 70
    assert "no subject, and the input holds several patients: ignored" in warnings_of(report, "Observation/loose")


def test_a_stopped_glucocorticoid_order_without_an_end_gives_no_open_dose() -> None:
    mr = med_request("gc", "8640", dosage(qty(20, "mg"), "2020-01-01"), status="stopped")
    p, report = patient_from_resources([*base(), mr])
    assert p.glucocorticoid_doses == [] and p.therapies == []
    assert "status stopped without an end date: its dose is not mapped" in warnings_of(
        report, "MedicationRequest/gc"
    )
