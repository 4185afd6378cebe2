"""FHIR R4 test data for the service: a refractory polymyositis patient as an EHR holds it, dated from today."""

from __future__ import annotations

import copy
import uuid
from datetime import date, timedelta
from typing import Any

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
UCUM = "http://unitsofmeasure.org"
LOCAL = "urn:ivig-cds:codesystem"

# The prefetch keys of the service and the FHIR type each one searches.
PREFETCH_TYPES = {
    "patient": "Patient",
    "conditions": "Condition",
    "observations": "Observation",
    "medicationRequests": "MedicationRequest",
    "medicationStatements": "MedicationStatement",
    "medicationAdministrations": "MedicationAdministration",
    "allergies": "AllergyIntolerance",
    "procedures": "Procedure",
}


def _day(today: date, days_ago: int) -> str:
    return (today - timedelta(days=days_ago)).isoformat()


def _obs(pid: str, oid: str, code: dict[str, str], when: str, **value: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [code]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": when,
        **value,
    }


def _qty(value: float, unit: str) -> dict[str, Any]:
    return {"valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}


def patient_resources(
    pid: str,
    today: date,
    *,
    myositis: bool = True,
    prior_anaphylaxis: bool = False,
    iga_deficient: bool = False,
    assessments: int = 12,
) -> list[dict[str, Any]]:
    """The resources of one patient: demographics, the diagnosis, therapies, screen labs and assessments.

    Args:
        pid: The Patient id (also the only identifier: tests look for it in logs).
        today: The evaluation date; every record is dated before it.
        myositis: Record the polymyositis Condition (else a hypertension Condition only).
        prior_anaphylaxis: Record an anaphylactic reaction to immunoglobulin (a contraindication).
        iga_deficient: Record selective IgA deficiency with anti-IgA antibodies (a contraindication).
        assessments: How many monthly CK/MMT-8 assessments to record (sets the resource count).
    """
    ref = {"reference": f"Patient/{pid}"}
    out: list[dict[str, Any]] = [
        {
            "resourceType": "Patient",
            "id": pid,
            "gender": "female",
            "birthDate": _day(today, 46 * 365),
            "active": True,
        },
        {
            "resourceType": "Condition",
            "id": f"{pid}-dx",
            "subject": ref,
            "clinicalStatus": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
                ]
            },
            "verificationStatus": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}
                ]
            },
            "code": {"coding": [{"system": SNOMED, "code": "31384009" if myositis else "38341003"}]},
            "onsetDateTime": _day(today, 5 * 365),
        },
        _obs(pid, f"{pid}-wt", {"system": LOINC, "code": "29463-7"}, _day(today, 20), **_qty(64, "kg")),
        _obs(pid, f"{pid}-ht", {"system": LOINC, "code": "8302-2"}, _day(today, 400), **_qty(165, "cm")),
        _obs(pid, f"{pid}-cr", {"system": LOINC, "code": "2160-0"}, _day(today, 20), **_qty(0.8, "mg/dL")),
        _obs(
            pid,
            f"{pid}-iga",
            {"system": LOINC, "code": "2458-8"},
            _day(today, 20),
            **_qty(3 if iga_deficient else 210, "mg/dL"),
        ),
        {
            "resourceType": "MedicationStatement",
            "id": f"{pid}-pred",
            "status": "active",
            "subject": ref,
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "8640"}], "text": "prednisone"},
            "effectivePeriod": {"start": _day(today, 5 * 365)},
            "dosage": [
                {
                    "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                    "doseAndRate": [{"doseQuantity": {"value": 20, "unit": "mg", "system": UCUM, "code": "mg"}}],
                }
            ],
        },
        {
            "resourceType": "MedicationStatement",
            "id": f"{pid}-mtx",
            "status": "stopped",
            "subject": ref,
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "6851"}], "text": "methotrexate"},
            "effectivePeriod": {"start": _day(today, 4 * 365), "end": _day(today, 3 * 365)},
            "statusReason": [{"text": "inadequate response"}],
        },
    ]
    for key, flag in (
        ("prior_ig_anaphylaxis", prior_anaphylaxis),
        ("hyperprolinemia", False),
        ("anti_iga_antibodies", iga_deficient),
    ):
        code = {"system": LOCAL, "code": "rf-" + key.replace("_", "-")}
        out.append(_obs(pid, f"{pid}-rf-{key}", code, _day(today, 30), valueBoolean=flag))
    if iga_deficient:
        out.append(
            {
                "resourceType": "Condition",
                "id": f"{pid}-igad",
                "subject": ref,
                "code": {"coding": [{"system": SNOMED, "code": "29260007"}]},
                "clinicalStatus": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
                    ]
                },
            }
        )
    for i in range(assessments):
        when = _day(today, 30 * (assessments - i))
        out.append(
            _obs(
                pid,
                f"{pid}-ck-{i}",
                {"system": LOINC, "code": "2157-6"},
                when,
                **_qty(3000 - 100 * i, "U/L"),
                referenceRange=[{"high": {"value": 190, "unit": "U/L"}}],
            )
        )
        mmt8 = _qty(min(80, 50 + i), "{score}")
        out.append(_obs(pid, f"{pid}-mmt8-{i}", {"system": LOCAL, "code": "mmt8"}, when, **mmt8))
    return out


def searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A searchset Bundle of resources."""
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r} for r in resources],
    }


def prefetch_of(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """The service's prefetch as an EHR fills it: the Patient read and one searchset per type."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in resources:
        by_type.setdefault(r["resourceType"], []).append(r)
    out: dict[str, Any] = {}
    for key, rtype in PREFETCH_TYPES.items():
        if rtype == "Patient":
            out[key] = copy.deepcopy(by_type["Patient"][0])
        else:
            out[key] = searchset(copy.deepcopy(by_type.get(rtype, [])))
    return out


def ivig_draft(
    pid: str, today: date, *, grams: float = 64, days: int = 2, rid: str = "draft-ivig"
) -> dict[str, Any]:
    """A draft IVIG MedicationRequest (CDS Hooks draftOrders)."""
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{pid}"},
        "medicationCodeableConcept": {"coding": [{"system": ATC, "code": "J06BA02"}], "text": "Privigen 10%"},
        "dosageInstruction": [
            {
                "timing": {
                    "repeat": {
                        "count": days,
                        "frequency": 1,
                        "period": 1,
                        "periodUnit": "d",
                        "boundsPeriod": {"start": (today + timedelta(days=3)).isoformat()},
                    }
                },
                "doseAndRate": [{"doseQuantity": {"value": grams, "unit": "g", "system": UCUM, "code": "g"}}],
            }
        ],
    }


def other_draft(pid: str) -> dict[str, Any]:
    """A draft order that is not IVIG (amoxicillin)."""
    return {
        "resourceType": "MedicationRequest",
        "id": "draft-amox",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{pid}"},
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "723"}], "text": "Amoxicillin 500 mg"},
    }


def lab_draft(pid: str) -> dict[str, Any]:
    """A draft order that is not a medication (a ServiceRequest)."""
    return {
        "resourceType": "ServiceRequest",
        "id": "draft-cbc",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{pid}"},
        "code": {"text": "Complete blood count"},
    }


def draft_bundle(*orders: dict[str, Any]) -> dict[str, Any]:
    """``context.draftOrders``."""
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": o} for o in orders]}


def hook_request(
    hook: str,
    pid: str,
    *,
    prefetch: dict[str, Any] | None = None,
    drafts: list[dict[str, Any]] | None = None,
    selections: list[str] | None = None,
    instance: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A CDS Hooks request body for the hook (draftOrders and selections for the order hooks)."""
    context: dict[str, Any] = {"userId": "Practitioner/dr-1", "patientId": pid}
    if hook in ("order-select", "order-sign"):
        context["draftOrders"] = draft_bundle(*(drafts or []))
    if hook == "order-select":
        context["selections"] = selections or [f"MedicationRequest/{d['id']}" for d in drafts or []]
    body: dict[str, Any] = {"hook": hook, "hookInstance": instance or str(uuid.uuid4()), "context": context}
    if prefetch is not None:
        body["prefetch"] = prefetch
    body.update(extra)
    return body
