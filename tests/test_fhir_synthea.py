"""Synthea R4 bundles and NDJSON (from the fhiry sdist on PyPI): not myositis patients, read without error.

What happens, decided and tested: the mapping reads them and reports what it could not map (the
medications, an eGFR in mL/min); no patient file can be built because no Condition is a myositis; the
evaluation says so as an InputError naming ``diagnosis``, and the CLI exits 2 with that message.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fhir_helpers import synthea_dir, warnings_of
from ivig_cds import Engine, InputError
from ivig_cds.cli import main
from ivig_cds.fhir import FhirInputError, iter_bulk_patients, map_bundle

__all__ = ["synthea_dir"]
BUNDLES = ("afhir.json", "bfhir.json", "cfhir.json")


@pytest.mark.parametrize("name", BUNDLES)
def test_a_synthea_bundle_maps_and_reports(synthea_dir: Path, name: str) -> None:
    bundle = json.loads((synthea_dir / name).read_text(encoding="utf-8"))
    result = map_bundle(bundle)
    assert [e.loc for e in result.errors] == ["diagnosis"]
    assert result.patient is None and result.document is not None
    demographics = result.document["demographics"]
    assert demographics["weight_kg"] > 20 and demographics["height_cm"] > 100  # kg and cm, latest values
    labs = {lab["test"] for lab in result.document["labs"]}
    assert "creatinine_mg_dl" in labs  # Synthea codes creatinine 38483-4
    assert all(lab["source"].startswith("Observation/") for lab in result.document["labs"])
    meds = [w for w in result.report.warnings if w.resource.startswith("MedicationRequest/")]
    assert meds and all(
        w.message == "medication not recognised (no mapped code or name): not mapped" for w in meds
    )
    assert result.report.resources_ignored["Claim"] > 0  # every type not read is counted
    assert "risk_factors" not in result.document  # Synthea's prediabetes, anaemia ... assert no risk factor


def test_the_egfr_in_ml_per_min_is_not_read_as_per_1_73_m2(synthea_dir: Path) -> None:
    result = map_bundle(json.loads((synthea_dir / "cfhir.json").read_text(encoding="utf-8")))
    assert result.document is not None
    assert "egfr_ml_min_1_73m2" not in {lab["test"] for lab in result.document["labs"]}
    assert any("unit 'mL/min' is not one of" in w for w in warnings_of(result.report))


def test_a_tablet_count_without_a_unit_is_not_a_dose(synthea_dir: Path) -> None:
    bundle = json.loads((synthea_dir / "cfhir.json").read_text(encoding="utf-8"))
    patient_ref = next(e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    for entry in bundle["entry"]:
        res = entry["resource"]
        if res["resourceType"] == "MedicationRequest":  # as if the simvastatin orders were prednisone
            res["medicationCodeableConcept"] = {
                "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "8640"}]
            }
    bundle["entry"].append(
        {
            "resource": {
                "resourceType": "Condition",
                "id": "pm",
                "subject": {"reference": patient_ref},
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "31384009"}]},
                "onsetDateTime": "2010-01-01",
            }
        }
    )
    result = map_bundle(bundle)
    assert result.patient is not None, result.errors
    assert result.patient.glucocorticoid_doses == []
    assert "dose without a unit (a tablet count?): mg unknown, not mapped" in warnings_of(result.report)
    # stopped orders carry no end date: when they stopped is unknown, so they are reported, not guessed
    assert any("without an end date" in w for w in warnings_of(result.report))


def test_evaluation_says_there_is_no_myositis_condition(synthea_dir: Path) -> None:
    bundle = json.loads((synthea_dir / "afhir.json").read_text(encoding="utf-8"))
    with pytest.raises(InputError) as info:
        Engine(backend="reference").evaluate(bundle)
    assert isinstance(info.value, FhirInputError)
    assert info.value.errors[0].loc == "diagnosis"
    assert "no myositis Condition" in str(info.value)
    assert info.value.report.resources_read["Observation"] > 0


def test_cli_exits_2_with_the_reason(synthea_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(synthea_dir / "bfhir.json"), "--backend", "reference"]) == 2
    err = capsys.readouterr().err
    assert f"invalid FHIR input {synthea_dir / 'bfhir.json'}" in err
    assert "diagnosis: no myositis Condition" in err
    assert "Traceback" not in err


def test_fhir_map_prints_the_report_and_the_reason(synthea_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fhir", "map", str(synthea_dir / "cfhir.json")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    # two creatinines at one moment (13:11:44, 2.7 and 1.04 mg/dL): neither is read, both named
    assert "mapping 1.6.0 (default): read 44 Observation, 1 Patient" in captured.err
    assert "another value at the same date and time" in captured.err
    assert "warning: MedicationRequest/" in captured.err
    assert "  diagnosis: no myositis Condition" in captured.err


def test_bulk_ndjson_files_give_one_result_per_patient(synthea_dir: Path) -> None:
    files = [
        synthea_dir / n
        for n in ("Patient.ndjson", "AllergyIntolerance.ndjson", "Procedure.ndjson", "Device.ndjson")
    ]
    results = list(iter_bulk_patients(files))
    assert len(results) == 25
    for r in results:  # no weight and no myositis in these files: each patient says so, none stops the run
        assert [e.loc for e in r.errors] == ["demographics.weight_kg", "diagnosis"]
        assert r.report is not None and r.report.resources_read["Patient"] == 1
        assert r.source.startswith(str(synthea_dir / "Patient.ndjson") + ":")
