"""The patient-file additions of issue 13 through FHIR: local Observations in, the same Observations out;
a site table without their codes still loads and simply leaves them unrecorded."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ivig_cds import Patient
from ivig_cds.fhir import bundle_from_patient, load_mapping, patient_from_bundle

RULES = Path(__file__).resolve().parents[1] / "rules" / "fhir"
ADDED = ("finger_flexor_weakness", "myotoxic_exposure", "thyroid_function_normal", "eular_acr_score",
         "eular_acr_with_biopsy", "cancer_screening", "bone_protection", "live_vaccine", "bp_")  # fmt: skip


def test_a_planned_live_vaccine_after_as_of_survives(full_patient_dict: dict[str, Any]) -> None:
    full_patient_dict["preventive_care"]["live_vaccine_on"] = "2024-09-01"  # after as_of 2024-06-01
    original = Patient.model_validate(full_patient_dict)
    patient, report = patient_from_bundle(bundle_from_patient(original))
    assert patient.preventive_care is not None
    assert patient.preventive_care.live_vaccine_on == original.preventive_care.live_vaccine_on  # type: ignore[union-attr]
    assert patient.diagnosis.bohan_peter_items == original.diagnosis.bohan_peter_items
    assert patient.diagnosis.eular_acr_score == 7.9
    assert report.warnings == []


def test_a_live_vaccine_without_its_date_is_reported(full_patient_dict: dict[str, Any]) -> None:
    bundle = bundle_from_patient(Patient.model_validate(full_patient_dict))
    for entry in bundle["entry"]:
        if entry["resource"].get("code", {}).get("coding", [{}])[0].get("code") == "live-vaccine":
            del entry["resource"]["valueDateTime"]
            entry["resource"]["valueBoolean"] = True
    patient, report = patient_from_bundle(bundle)
    assert patient.preventive_care is not None and patient.preventive_care.live_vaccine_on is None
    assert any(w.field == "preventive_care.live_vaccine_on" for w in report.warnings)


def test_a_site_table_without_the_additions_still_maps(tmp_path: Path, full_patient_dict: dict[str, Any]) -> None:
    text = (RULES / "mapping.yaml").read_text(encoding="utf-8")
    kept = [line for line in text.splitlines() if not re.match(rf"  ({'|'.join(ADDED)})", line)]
    site = tmp_path / "site.yaml"
    site.write_text("\n".join(kept) + "\n", encoding="utf-8")
    table = load_mapping(site)
    assert "bone_protection" not in table.observations
    bundle = bundle_from_patient(Patient.model_validate(full_patient_dict))  # written with the default codes
    patient, _ = patient_from_bundle(bundle, mapping=table)
    assert patient.preventive_care is None
    assert patient.diagnosis.finger_flexor_weakness is None and patient.diagnosis.bohan_peter_items is None
    assert patient.diagnosis.ibm_features is False  # the contract's own fields are read as before
