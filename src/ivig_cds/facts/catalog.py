"""The fact catalog: every fact type and field a rule may test, with its type and input source.

Each fact family declares its fields next to its computation (as a plugin's ``FactDeriver``
does); the catalog gathers them. Rules are validated against it when they load, so a misspelled
field or a string compared with a number fails at load time, not silently at the bedside.
"""

from __future__ import annotations

from collections.abc import Mapping

from ivig_cds.facts import (
    demographics,
    deterioration,
    glucocorticoid,
    infusion,
    relapse,
    renal,
    response,
    safety,
    therapy,
    workup,
)
from ivig_cds.facts.fields import FactField, FieldType, text
from ivig_cds.model.terminology import STABILIZERS

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

RISK_FACTORS = demographics.RISK_FACTORS
CONDITIONS = demographics.CONDITIONS
AGENT_CLASSES = therapy.AGENT_CLASSES
OUTCOMES = therapy.OUTCOMES

PATIENT_FAMILIES: tuple[Mapping[str, FactField], ...] = (
    demographics.FIELDS,
    therapy.FIELDS,
    safety.FIELDS,
    response.FIELDS,
    relapse.FIELDS,
    workup.FIELDS,
    renal.FIELDS,
    infusion.FIELDS,
    deterioration.FIELDS,
    glucocorticoid.FIELDS,
)


def _patient_fields() -> dict[str, FactField]:
    fields: dict[str, FactField] = {}
    for family in PATIENT_FAMILIES:
        clash = sorted(set(fields) & set(family))
        if clash:
            raise ValueError(f"patient fact fields declared twice: {clash}")
        fields.update(family)
    return fields


CATALOG: dict[str, dict[str, FactField]] = {
    "patient": _patient_fields(),
    "therapy": dict(therapy.THERAPY_FIELDS),
    "therapy_change": dict(therapy.CHANGE_FIELDS),
    "course": {**safety.COURSE_FIELDS, **renal.COURSE_FIELDS},
    "conclusion": {"rule": text("rules", "id of the rule that concluded")},
}
