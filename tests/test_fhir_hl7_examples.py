"""The adapter on the HL7 R4 specification's own examples (fetched from the npm registry, not copied here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fhir_helpers import hl7_dir, load_example, polymyositis, warnings_of
from ivig_cds.fhir import map_resources

__all__ = ["hl7_dir"]  # the fixture, re-exported for pytest


def bundle_of(directory: Path, *names: str, extra: tuple[dict[str, Any], ...] = ()) -> list[dict[str, Any]]:
    """The examples, re-pointed at Patient/example (they refer to several patients), plus a PM Condition."""
    out = [load_example(directory, n) for n in names]
    for resource in out:
        for key in ("subject", "patient"):
            if key in resource:
                resource[key] = {"reference": "Patient/example"}
    dx = polymyositis()
    dx["subject"] = {"reference": "Patient/example"}
    return [*out, dx, *extra]


def test_patient_and_a_weight_in_pounds(hl7_dir: Path) -> None:
    result = map_resources(bundle_of(hl7_dir, "Patient-example.json", "Observation-example.json"))
    assert result.patient is not None
    d = result.patient.demographics
    assert (d.birth_date.isoformat(), d.sex.value, d.source) == ("1974-12-25", "male", "Patient/example")
    assert d.weight_kg == pytest.approx(185 * 0.45359237, abs=1e-3)
    notes = [(c.resource, c.message) for c in result.report.conversions]
    assert ("Observation/example", "[lb_av] → kg") in notes


def test_prednisone_tablets_times_the_referenced_strength_in_steps(hl7_dir: Path) -> None:
    rx = load_example(hl7_dir, "MedicationRequest-medrx0303.json")
    rx.pop("contained")
    rx["medicationReference"] = {"reference": "Medication/med0311"}  # the example Medication with its strength
    names = ("Patient-example.json", "Observation-example.json", "Medication-med0311.json")
    result = map_resources([*bundle_of(hl7_dir, *names), _at(rx)])
    assert result.patient is not None, result.errors
    doses = [(g.date.isoformat(), g.prednisone_mg_per_day) for g in result.patient.glucocorticoid_doses]
    # 4, 2, 1 tablets × 5 mg; the boundsPeriods leave 21-22 January uncovered and end on 6 February
    assert doses == [
        ("2015-01-16", 20),
        ("2015-01-21", 0),
        ("2015-01-23", 10),
        ("2015-01-31", 5),
        ("2015-02-07", 0),
    ]
    therapy = result.patient.therapies[0]
    assert (therapy.agent.value, therapy.start.isoformat(), str(therapy.stop)) == (
        "prednisone",
        "2015-01-16",
        "2015-02-06",
    )
    assert [d.isoformat() for d in therapy.dose_changed_on] == ["2015-01-23", "2015-01-31"]
    assert all(g.source == "MedicationRequest/medrx0303" for g in result.patient.glucocorticoid_doses)


def test_tablets_without_a_strength_are_reported_not_guessed(hl7_dir: Path) -> None:
    names = ("Patient-example.json", "Observation-example.json", "MedicationRequest-medrx0303.json")
    result = map_resources(bundle_of(hl7_dir, *names))
    assert result.patient is not None
    assert result.patient.glucocorticoid_doses == []  # the contained Medication has no ingredient strength
    assert "dose in TAB but no Medication.ingredient.strength: mg unknown, not mapped" in warnings_of(
        result.report, "MedicationRequest/medrx0303"
    )
    assert result.patient.therapies[0].agent.value == "prednisone"  # recognised by its name, and said so


def test_dose_steps_without_bounds_cannot_be_placed_in_time(hl7_dir: Path) -> None:
    rx = load_example(hl7_dir, "MedicationRequest-medrx0302.json")
    rx["contained"][0]["code"] = {
        "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "8640"}]
    }
    result = map_resources([*bundle_of(hl7_dir, "Patient-example.json", "Observation-example.json"), _at(rx)])
    assert result.patient is not None
    assert result.patient.glucocorticoid_doses == []
    assert any(
        "without timing.repeat.boundsPeriod.start" in w
        for w in warnings_of(result.report, "MedicationRequest/medrx0302")
    )


def test_an_unrecognised_medication_is_a_warning(hl7_dir: Path) -> None:
    names = ("Patient-example.json", "Observation-example.json", "MedicationRequest-medrx0302.json")
    result = map_resources(bundle_of(hl7_dir, *names))  # azithromycin
    assert result.patient is not None and result.patient.therapies == []
    assert warnings_of(result.report, "MedicationRequest/medrx0302") == [
        "medication not recognised (no mapped code or name): not mapped"
    ]


def test_an_administration_entered_in_error_is_ignored(hl7_dir: Path) -> None:
    names = ("Patient-example.json", "Observation-example.json", "MedicationAdministration-medadmin0303.json")
    result = map_resources(bundle_of(hl7_dir, *names))
    assert result.patient is not None and result.patient.ivig_courses == []
    assert result.report.resources_ignored.get("MedicationAdministration") == 1


def test_grams_of_ivig_divided_by_the_weight_before_the_course(hl7_dir: Path) -> None:
    admin = load_example(hl7_dir, "MedicationAdministration-medadmin0303.json")
    admin["status"] = "completed"
    admin["contained"][0]["code"] = {
        "coding": [{"system": "http://www.whocc.no/atc", "code": "J06BA02"}],
        "text": "Privigen",
    }
    admin["dosage"]["dose"]["value"] = 45  # the example's 4.5 g would be 0.05 g/kg: below any IVIG dose
    names = ("Patient-example.json", "Observation-example.json")
    weight = load_example(hl7_dir, "Observation-example.json")
    weight["effectiveDateTime"] = "2015-01-01"  # the example weight is dated after the infusion
    weight["id"] = "earlier"
    result = map_resources([*bundle_of(hl7_dir, *names), _at(admin), _at(weight)])
    assert result.patient is not None, result.errors
    course = result.patient.ivig_courses[0]
    assert (course.start.isoformat(), course.days, course.product) == ("2015-01-15", 1, "Privigen")
    assert course.dose_g_per_kg_per_day == pytest.approx(45 / (185 * 0.45359237), abs=1e-5)
    assert any("grams ÷ body weight of Observation/earlier" in c.message for c in result.report.conversions)
    assert "rate given as a ratio (e.g. mL/min): not mapped" in warnings_of(
        result.report, "MedicationAdministration/medadmin0303"
    )


def test_egfr_with_a_comparator_is_dropped_and_named(hl7_dir: Path) -> None:
    egfr = load_example(hl7_dir, "Observation-f205.json")
    egfr["effectiveDateTime"] = "2013-04-03"  # the example has only `issued`
    result = map_resources([*bundle_of(hl7_dir, "Patient-example.json", "Observation-example.json"), _at(egfr)])
    assert result.patient is not None
    assert "value with comparator '>': not mapped (never a guess)" in warnings_of(
        result.report, "Observation/f205"
    )
    # the other component (no comparator) is an eGFR code of the table, read with its unit
    assert [(lab.test.value, lab.value) for lab in result.patient.labs] == [("egfr_ml_min_1_73m2", 60)]


def test_an_observation_without_an_effective_date_is_reported(hl7_dir: Path) -> None:
    egfr = load_example(hl7_dir, "Observation-f205.json")
    result = map_resources([*bundle_of(hl7_dir, "Patient-example.json", "Observation-example.json"), _at(egfr)])
    assert result.patient is not None and result.patient.labs == []
    assert "no usable effective date (absent): not mapped" in warnings_of(result.report, "Observation/f205")


def test_other_conditions_and_allergies_leave_the_screen_not_recorded(hl7_dir: Path) -> None:
    names = ["Patient-example.json", "Observation-example.json"] + [f"Condition-f20{i}.json" for i in range(1, 6)]
    names += [
        "AllergyIntolerance-example.json",
        "AllergyIntolerance-nkda.json",
        "AllergyIntolerance-medication.json",
    ]
    result = map_resources(bundle_of(hl7_dir, *names))
    assert result.patient is not None
    # "no known drug allergy" is not a refuted IVIG allergy: the screen stays "not recorded"
    assert result.patient.risk_factors.prior_ig_anaphylaxis is None
    assert all(v is None for v in result.patient.risk_factors.model_dump().values())
    assert result.report.resources_ignored["Condition"] == 5
    assert result.report.resources_ignored["AllergyIntolerance"] == 3


def test_without_a_myositis_condition_no_patient_file_is_built(hl7_dir: Path) -> None:
    resources = [load_example(hl7_dir, "Patient-example.json"), load_example(hl7_dir, "Observation-example.json")]
    result = map_resources(resources)
    assert result.patient is None
    assert [e.loc for e in result.errors] == ["diagnosis"]
    assert result.errors[0].msg.startswith("no myositis Condition (http://snomed.info/sct|31384009")


def _at(resource: dict[str, Any]) -> dict[str, Any]:
    for key in ("subject", "patient"):
        if key in resource:
            resource[key] = {"reference": "Patient/example"}
    return resource
