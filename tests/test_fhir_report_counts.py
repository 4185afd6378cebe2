"""The mapping report's counts add up: every resource of the input is read, dated after as_of, or ignored -
each once, whatever path left it unused (a medication the table does not know, a value that is not mapped)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fhir_helpers import base, dosage, med_request, qty, synthea_dir
from ivig_cds.fhir import bundle_from_patient, map_bundle, patient_from_resources
from ivig_cds.inputs.files import load_patient

__all__ = ["synthea_dir"]

REPO = Path(__file__).resolve().parents[1]
SEED = sorted((REPO / "examples" / "seed_cohort" / "patients").glob("*.json"))[:12]


def _unaccounted(resources: list[dict[str, Any]], report: Any) -> dict[str, tuple[int, int]]:
    given = Counter(r["resourceType"] for r in resources)
    told = Counter(report.resources_read) + Counter(report.resources_ignored) + Counter(report.ignored_after_as_of)
    return {k: (given[k], told[k]) for k in given | told if given[k] != told[k]}


@pytest.mark.parametrize("path", SEED, ids=lambda p: p.name)
def test_a_seed_patient_as_fhir_is_accounted_for(path: Path) -> None:
    bundle = bundle_from_patient(load_patient(path))
    report = map_bundle(bundle, as_of="1990-01-01").report  # some resources after it, most before
    assert _unaccounted([e["resource"] for e in bundle["entry"]], report) == {}


@pytest.mark.parametrize("name", ["afhir.json", "bfhir.json", "cfhir.json"])
def test_a_synthea_bundle_is_accounted_for(synthea_dir: Path, name: str) -> None:
    bundle = json.loads((synthea_dir / name).read_text(encoding="utf-8"))
    report = map_bundle(bundle).report
    assert _unaccounted([e["resource"] for e in bundle["entry"]], report) == {}
    assert report.resources_ignored["MedicationRequest"] >= 1  # a drug the table does not know: not used


def test_an_unknown_drug_and_a_referenced_medication_are_counted() -> None:
    rxnorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
    amlodipine = med_request("bp", "17767", dosage(qty(5, "mg"), "2020-01-01"))  # not a drug of the table
    pred = {"resourceType": "Medication", "id": "m1", "code": {"coding": [{"system": rxnorm, "code": "8640"}]}}
    order = med_request("rx", "8640", dosage(qty(10, "mg"), "2020-01-01"))
    del order["medicationCodeableConcept"]
    order["medicationReference"] = {"reference": "Medication/m1"}
    unused = {"resourceType": "Medication", "id": "m2", "code": {"coding": [{"system": rxnorm, "code": "8640"}]}}
    resources = [*base(), amlodipine, pred, order, unused]
    _, report = patient_from_resources(resources, as_of="2021-01-01")
    assert _unaccounted(resources, report) == {}
    assert report.resources_read["Medication"] == 1 and report.resources_ignored["Medication"] == 1
    assert report.resources_ignored["MedicationRequest"] == 1


def test_draft_orders_are_counted_with_the_input() -> None:
    from fhir_helpers import ivig_admin
    from ivig_cds.fhir import map_resources

    unknown = med_request("x1", "999999", dosage(qty(5, "mg"), "2020-01-01"))
    draft = med_request("d1", "J06BA02", dosage(qty(1, "g/kg"), "2021-02-01"), system="http://www.whocc.no/atc")
    draft["status"] = "draft"
    given = [*base(), unknown, ivig_admin("a1", "2020-06-01", qty(1, "g/kg"))]
    report = map_resources(given, as_of="2021-01-01", draft_orders=[draft]).report
    assert _unaccounted([*given, draft], report) == {}
    assert report.resources_ignored["MedicationRequest"] == 1  # the unknown order, not hidden by the draft


def test_a_part_of_that_is_not_a_reference_is_not_echoed() -> None:
    from ivig_cds.fhir import map_resources

    child = med_request("c1", "8640", dosage(qty(5, "mg"), "2020-01-01"))
    child.update(resourceType="MedicationStatement", partOf=[{"reference": "Smith, John MRN 12345"}])
    child["dosage"] = child.pop("dosageInstruction")
    child["effectivePeriod"] = {"start": "2020-01-01"}
    result = map_resources([*base(), child], as_of="2021-01-01")
    text = json.dumps([(e.loc, e.msg) for e in result.errors]) + json.dumps(result.report.to_dict())
    assert "Smith" not in text and "12345" not in text
    said = [w.message for w in result.report.warnings]
    assert "partOf (not a FHIR reference) is not in the input: read as a therapy of its own" in said, said
