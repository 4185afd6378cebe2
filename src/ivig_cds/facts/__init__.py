"""Facts: pure derivations from a patient snapshot to the typed facts the rules test, and their catalog."""

from __future__ import annotations

from ivig_cds.facts.catalog import (
    AGENT_CLASSES,
    CATALOG,
    CONDITIONS,
    OUTCOMES,
    RISK_FACTORS,
    STABILIZERS,
    FactField,
    FieldType,
)

__all__ = [
    "AGENT_CLASSES",
    "CATALOG",
    "CONDITIONS",
    "OUTCOMES",
    "RISK_FACTORS",
    "STABILIZERS",
    "FactField",
    "FieldType",
]
