"""The three CDS services (patient-view, order-select, order-sign): ids, hooks, texts and prefetch templates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["PREFETCH", "SERVICES", "ServiceSpec", "discovery_document"]

# What the FHIR mapping reads (docs/fhir-mapping.md), one query per resource type, using only the
# spec's template subset: a read, type searches by patient reference, the {{context.patientId}} token.
PREFETCH: dict[str, str] = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}",
    "medicationRequests": "MedicationRequest?patient={{context.patientId}}",
    "medicationStatements": "MedicationStatement?patient={{context.patientId}}",
    "medicationAdministrations": "MedicationAdministration?patient={{context.patientId}}",
    "allergies": "AllergyIntolerance?patient={{context.patientId}}",
    "procedures": "Procedure?patient={{context.patientId}}",
}


@dataclass(frozen=True)
class ServiceSpec:
    """One CDS service as discovery describes it."""

    id: str
    hook: str
    title: str
    description: str
    prefetch: Mapping[str, str]

    def to_discovery(self) -> dict[str, Any]:
        """The service's entry in the discovery response."""
        return {
            "hook": self.hook,
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "prefetch": dict(self.prefetch),
            "usageRequirements": "Needs the prefetch, or fhirServer with fhirAuthorization so the service can "
            "fetch what is missing (412 otherwise). Decision support only: review every card.",
        }


_DISCLAIMER = " Decision support, not a medical device: every card shows its values, thresholds and evidence."

SERVICES: dict[str, ServiceSpec] = {
    s.id: s
    for s in (
        ServiceSpec(
            "ivig-cds-patient-view",
            "patient-view",
            "IVIG in refractory polymyositis: status",
            "For a patient with myositis: refractory status, IVIG eligibility and pre-IVIG screen gaps, "
            "response (ACR/EULAR 2016 TIS), steroid taper, outcome and relapse alerts. No cards for a "
            "patient without myositis." + _DISCLAIMER,
            PREFETCH,
        ),
        ServiceSpec(
            "ivig-cds-order-select",
            "order-select",
            "IVIG order check (selection)",
            "For a draft IVIG MedicationRequest selected in draftOrders: contraindications, precautions, "
            "pre-IVIG screen gaps and the order's dose against the plan (1 g/kg/day × 2 days every 4 weeks). "
            "No cards for other orders." + _DISCLAIMER,
            PREFETCH,
        ),
        ServiceSpec(
            "ivig-cds-order-sign",
            "order-sign",
            "IVIG order check (signing)",
            "For the draft IVIG orders about to be signed: the same checks as at selection, worded for the "
            "signature (do not sign, sign only with precautions). No cards for other orders." + _DISCLAIMER,
            PREFETCH,
        ),
    )
}


def discovery_document() -> dict[str, Any]:
    """The discovery response: ``{"services": [...]}``."""
    return {"services": [s.to_discovery() for s in SERVICES.values()]}
