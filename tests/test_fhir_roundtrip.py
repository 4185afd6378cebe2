"""Patient file -> FHIR Bundle -> patient file: the same patient and the same evaluation, for every example."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ivig_cds import Engine, Patient
from ivig_cds.fhir import bundle_from_patient, iter_bulk_patients, map_bundle, patient_from_bundle
from ivig_cds.inputs.files import load_patient

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted((ROOT / "examples").glob("*.json")) + sorted(
    (ROOT / "examples" / "seed_cohort" / "patients").glob("*.json")
)


def strip_sources(value: Any) -> Any:
    """The data without the ``source`` fields the adapter adds."""
    if isinstance(value, dict):
        return {k: strip_sources(v) for k, v in value.items() if k != "source"}
    if isinstance(value, list):
        return [strip_sources(v) for v in value]
    return value


def comparable(evaluation: Any) -> dict[str, Any]:
    """An evaluation as data, without the parts that name inputs (sources, mapping)."""
    data = json.loads(evaluation.to_json())
    data.pop("mapping", None)
    for finding in data["findings"]:
        finding.pop("sources", None)
    return data


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(backend="reference")


def test_every_example_is_covered() -> None:
    assert len(FILES) == 44  # 9 examples + 35 seed patients


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_round_trip_gives_the_same_patient_and_evaluation(path: Path, engine: Engine) -> None:
    original = load_patient(path)
    bundle = json.loads(json.dumps(bundle_from_patient(original)))  # through JSON, as a file would be
    patient, report = patient_from_bundle(bundle)
    assert strip_sources(patient.model_dump(mode="json")) == strip_sources(original.model_dump(mode="json"))
    assert patient.demographics.source == f"Patient/{original.patient_id}"
    assert all(t.source and "/" in t.source for t in patient.therapies)
    assert report.warnings == []
    assert comparable(engine.evaluate(bundle)) == comparable(engine.evaluate(original))


def test_every_field_of_the_contract_survives(engine: Engine, full_patient_dict: dict[str, Any]) -> None:
    original = Patient.model_validate(full_patient_dict)
    bundle = bundle_from_patient(original)
    patient, report = patient_from_bundle(bundle)
    assert strip_sources(patient.model_dump(mode="json")) == strip_sources(original.model_dump(mode="json"))
    assert patient.ivig_order is not None and patient.ivig_order.days == 2
    assert patient.ivig_courses[0].adverse_events[0].source is not None
    assert comparable(engine.evaluate(bundle)) == comparable(engine.evaluate(original))
    assert report.conversions  # e.g. the discontinuation read from the stopped IVIG order


def test_the_bundle_is_deterministic() -> None:
    patient = load_patient(FILES[0])
    assert json.dumps(bundle_from_patient(patient)) == json.dumps(bundle_from_patient(patient))


def test_as_of_comes_from_the_bundle_timestamp_unless_given() -> None:
    original = load_patient(ROOT / "examples" / "relapse.json")
    bundle = bundle_from_patient(original)
    assert patient_from_bundle(bundle)[0].as_of == original.as_of
    result = map_bundle(bundle, as_of=original.diagnosis.diagnosed_on)
    assert result.patient is not None and result.patient.as_of == original.diagnosis.diagnosed_on
    assert sum(result.report.ignored_after_as_of.values()) > 0  # everything later was left out and counted
    assert result.patient.ivig_courses == []


def _write_bulk(directory: Path, paths: list[Path]) -> None:
    by_type: dict[str, list[str]] = {}
    for path in paths:
        for entry in bundle_from_patient(load_patient(path))["entry"]:
            resource = entry["resource"]
            by_type.setdefault(resource["resourceType"], []).append(json.dumps(resource))
    for kind, lines in by_type.items():
        (directory / f"{kind}.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_bulk_export_gives_one_patient_per_patient_resource(tmp_path: Path) -> None:
    seed = [p for p in FILES if p.parent.name == "patients"]
    _write_bulk(tmp_path, seed)
    results = list(iter_bulk_patients(tmp_path))
    assert len(results) == 35
    assert all(r.patient is not None and r.errors == [] for r in results)
    by_id = {r.patient.patient_id: r.patient for r in results if r.patient is not None}
    for path in seed:
        original = load_patient(path).model_copy(update={"as_of": None})  # NDJSON has no Bundle.timestamp
        assert strip_sources(by_id[original.patient_id].model_dump(mode="json")) == strip_sources(
            original.model_dump(mode="json")
        )
    assert all(":" in r.source and "Patient.ndjson" in r.source for r in results)  # file:line, no identifier


def test_cohort_on_the_seed_cohort_as_fhir_reproduces_the_seed_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ivig_cds.cli import main

    for path in (p for p in FILES if p.parent.name == "patients"):  # Bundles keep each file's as_of
        bundle = bundle_from_patient(load_patient(path))
        (tmp_path / path.name).write_text(json.dumps(bundle), encoding="utf-8")
    assert main(["cohort", str(tmp_path), "--format", "json", "--backend", "reference"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["records"], report["evaluated"], report["invalid"]) == (35, 35, 0)
    cohort = report["cohort"]
    assert (cohort["treated"]["n"], cohort["responders"]["n"], cohort["responders"]["of"]) == (35, 25, 35)
    assert cohort["remission"]["n"] == 12
    assert (cohort["remission_off_therapy"]["n"], cohort["remission_low_dose_steroid"]["n"]) == (5, 7)
    assert cohort["ivig_dependent"]["n"] == 6
    assert cohort["relapses"]["n"] == 7
    assert round(cohort["months_to_relapse"]["mean"], 1) == 17.1


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_order_of_a_bundles_entries_does_not_change_the_patient_file(path: Path) -> None:
    """Entries in reverse order (Observations later in the bundle than in time, same-day values swapped) map
    to the same file as in order: the values are sorted, not taken in input order (sources may name another
    resource of one day's row, which is first in the input)."""
    bundle = bundle_from_patient(load_patient(path))
    backwards = {**bundle, "entry": list(reversed(bundle["entry"]))}
    forwards, _ = patient_from_bundle(bundle)
    reordered, report = patient_from_bundle(backwards)

    def data(patient: Patient) -> Any:
        doc = strip_sources(patient.model_dump(mode="json"))
        doc["labs"].sort(key=lambda r: (r["date"], r["test"]))  # one day's tests: in input order
        return doc

    assert data(reordered) == data(forwards)
    assert report.warnings == patient_from_bundle(bundle)[1].warnings
