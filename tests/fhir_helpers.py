"""Small builders of FHIR R4 resources for the adapter tests, and fixtures for the fetched public data."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from fhir_data import hl7_examples, synthea_bundles

PID = "p1"
SUBJECT = {"reference": f"Patient/{PID}"}
SNOMED, LOINC, RXNORM, UCUM = (
    "http://snomed.info/sct",
    "http://loinc.org",
    "http://www.nlm.nih.gov/research/umls/rxnorm",
    "http://unitsofmeasure.org",
)
ATC = "http://www.whocc.no/atc"
LOCAL = "urn:ivig-cds:codesystem"


def patient(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": PID, "birthDate": "1970-01-01", "gender": "female", **extra}


def qty(value: float, unit: str, **extra: Any) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit, **extra}


def obs(rid: str, system: str, code: str, day: str, **value: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "subject": SUBJECT,
        "code": {"coding": [{"system": system, "code": code}]},
        "effectiveDateTime": day,
        **value,
    }


def weight(kg: float = 70, day: str = "2020-01-01", rid: str = "w1") -> dict[str, Any]:
    return obs(rid, LOINC, "29463-7", day, valueQuantity=qty(kg, "kg"))


def condition(
    rid: str, system: str, code: str, verification: str | None = "confirmed", **extra: Any
) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Condition",
        "id": rid,
        "subject": SUBJECT,
        "code": {"coding": [{"system": system, "code": code}]},
        "onsetDateTime": "2019-01-01",
    }
    if verification:
        res["verificationStatus"] = {"coding": [{"code": verification}]}
    res.update(extra)
    return res


def polymyositis(rid: str = "dx") -> dict[str, Any]:
    return condition(rid, SNOMED, "31384009")


def base() -> list[dict[str, Any]]:
    """The least a patient file needs: a Patient, a weight and a polymyositis Condition."""
    return [patient(), weight(), polymyositis()]


def med_request(
    rid: str, code: str, *dosages: dict[str, Any], system: str = RXNORM, **extra: Any
) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "active",
        "intent": "order",
        "subject": SUBJECT,
        "medicationCodeableConcept": {"coding": [{"system": system, "code": code}]},
        "authoredOn": "2020-01-01",
    }
    if dosages:
        res["dosageInstruction"] = list(dosages)
    res.update(extra)
    return res


def statement(
    rid: str, code: str, status: str = "completed", system: str = RXNORM, **extra: Any
) -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "id": rid,
        "status": status,
        "subject": SUBJECT,
        "medicationCodeableConcept": {"coding": [{"system": system, "code": code}]},
        **extra,
    }


def dosage(
    dose: dict[str, Any],
    start: str | None = None,
    end: str | None = None,
    *,
    frequency: float = 1,
    period: float = 1,
    unit: str = "d",
    sequence: int | None = None,
) -> dict[str, Any]:
    repeat: dict[str, Any] = {"frequency": frequency, "period": period, "periodUnit": unit}
    if start:
        repeat["boundsPeriod"] = {"start": start, **({"end": end} if end else {})}
    out: dict[str, Any] = {"timing": {"repeat": repeat}, "doseAndRate": [{"doseQuantity": dose}]}
    if sequence is not None:
        out["sequence"] = sequence
    return out


def ivig_admin(
    rid: str, day: str, dose: dict[str, Any], product: str = "Privigen", **dosage_extra: Any
) -> dict[str, Any]:
    return {
        "resourceType": "MedicationAdministration",
        "id": rid,
        "status": "completed",
        "subject": SUBJECT,
        "medicationCodeableConcept": {"coding": [{"system": ATC, "code": "J06BA02"}], "text": product},
        "effectiveDateTime": day,
        "dosage": {"dose": dose, **dosage_extra},
    }


def warnings_of(report: Any, resource: str | None = None) -> list[str]:
    return [w.message for w in report.warnings if resource is None or w.resource == resource]


# ---------------------------------------------------------------- fetched data


@pytest.fixture(scope="session")
def hl7_dir() -> Path:
    """The HL7 R4 example files (fetched once with npm pack); the test skips when they cannot be had."""
    path, reason = hl7_examples()
    if path is None:
        pytest.skip(f"HL7 R4 examples unavailable: {reason}")
    return path


@pytest.fixture(scope="session")
def synthea_dir() -> Path:
    """fhiry's Synthea R4 bundles (fetched once with pip download); the test skips when they cannot be had."""
    path, reason = synthea_bundles()
    if path is None:
        pytest.skip(f"Synthea bundles unavailable: {reason}")
    return path


def load_example(directory: Path, name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((directory / name).read_text(encoding="utf-8")))
