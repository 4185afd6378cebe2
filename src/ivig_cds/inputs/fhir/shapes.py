"""What an R4 resource of a type read must look like: its type, its elements' JSON types, its status codes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ivig_cds.errors import FieldError

from .values import is_obj

__all__ = ["ACCEPTED_TYPES", "READ_TYPES", "STATUSES", "check_shape", "concept_problem", "unicode_text"]

READ_TYPES = frozenset(
    {
        "Patient",
        "Condition",
        "Observation",
        "MedicationRequest",
        "MedicationStatement",
        "MedicationAdministration",
        "Medication",
        "AllergyIntolerance",
        "Procedure",
    }
)
"""Resource types the adapter reads; every other type is ignored and counted."""

STATUSES: dict[str, frozenset[str]] = {
    "Observation": frozenset(
        {"registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"}
    ),
    "MedicationRequest": frozenset(
        {"active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft", "unknown"}
    ),
    "MedicationStatement": frozenset(
        {"active", "completed", "entered-in-error", "intended", "stopped", "on-hold", "unknown", "not-taken"}
    ),
    "MedicationAdministration": frozenset(
        {"in-progress", "not-done", "on-hold", "completed", "entered-in-error", "stopped", "unknown"}
    ),
    "Procedure": frozenset(
        {
            "preparation",
            "in-progress",
            "not-done",
            "on-hold",
            "stopped",
            "completed",
            "entered-in-error",
            "unknown",
        }
    ),
}
"""The R4 ``status`` codes of each type read (required bindings): any other code is not R4, and is reported."""

# Elements that exist only in R5 (or R4B/R5) versions of the types read: their presence means the data
# is not R4, and reading it as R4 would silently lose the medication, the date or the reason.
_LATER_KEYS: dict[str, frozenset[str]] = {
    "MedicationRequest": frozenset(
        {"medication", "informationSource", "renderedDosageInstruction", "effectiveDosePeriod"}
    ),
    "MedicationStatement": frozenset(
        {"medication", "adherence", "relatedClinicalInformation", "reason", "renderedDosageInstruction"}
    ),
    "MedicationAdministration": frozenset(
        {
            "medication",
            "occurenceDateTime",
            "occurencePeriod",
            "occurenceTiming",
            "isSubPotent",
            "subPotentReason",
            "reason",
        }
    ),
    "Procedure": frozenset(
        {
            "occurrenceDateTime",
            "occurrencePeriod",
            "occurrenceString",
            "occurrenceAge",
            "occurrenceRange",
            "occurrenceTiming",
            "reason",
            "focus",
            "supportingInfo",
        }
    ),
    "Condition": frozenset({"participant"}),
    "AllergyIntolerance": frozenset({"participant"}),
    "Observation": frozenset({"triggeredBy", "instantiatesCanonical", "instantiatesReference", "bodyStructure"}),
    "Medication": frozenset({"marketingAuthorizationHolder", "totalVolume", "definition", "doseForm"}),
}
# Resource types that do not exist in R4 (R4B and R5 additions).
_LATER_TYPES = frozenset(
    {
        "AdministrableProductDefinition",
        "ActorDefinition",
        "ArtifactAssessment",
        "Citation",
        "ClinicalUseDefinition",
        "ConditionDefinition",
        "DeviceAssociation",
        "DeviceDispense",
        "DeviceUsage",
        "EncounterHistory",
        "EvidenceReport",
        "FormularyItem",
        "GenomicStudy",
        "ImagingSelection",
        "Ingredient",
        "InventoryItem",
        "InventoryReport",
        "ManufacturedItemDefinition",
        "MedicationUsage",
        "NutritionIntake",
        "NutritionProduct",
        "PackagedProductDefinition",
        "Permission",
        "RegulatedAuthorization",
        "RequestOrchestration",
        "Requirements",
        "SubscriptionStatus",
        "SubscriptionTopic",
        "TestPlan",
        "Transport",
    }
)


_OBJECT, _ARRAY, _STRING = "an object", "an array", "a string"
_BOOLEAN, _INTEGER = "true or false", "an integer"
_STATUS = "a CodeableConcept (or an STU3 code string)"
# The JSON type of every top-level element the adapter reads, per resource type (FHIR R4 JSON): an element
# of another type is not R4 (or not FHIR) and is refused naming the element, never read as absent. Condition
# and AllergyIntolerance statuses may also be STU3 code strings (Synthea's Bulk exports): both are read.
_COMMON = {
    "status": _STRING,
    "subject": _OBJECT,
    "patient": _OBJECT,
    "code": _OBJECT,
    "contained": _ARRAY,
    "partOf": _ARRAY,
}
_ELEMENTS: dict[str, dict[str, str]] = {
    "Patient": {"gender": _STRING, "birthDate": _STRING, "deceasedBoolean": _BOOLEAN, "deceasedDateTime": _STRING},
    "Observation": {
        "effectiveDateTime": _STRING,
        "effectivePeriod": _OBJECT,
        "effectiveInstant": _STRING,
        "valueQuantity": _OBJECT,
        "valueCodeableConcept": _OBJECT,
        "valueString": _STRING,
        "valueBoolean": _BOOLEAN,
        "valueInteger": _INTEGER,
        "valueDateTime": _STRING,
        "referenceRange": _ARRAY,
        "component": _ARRAY,
        "dataAbsentReason": _OBJECT,
    },
    "Condition": {
        "clinicalStatus": _STATUS,
        "verificationStatus": _STATUS,
        "onsetDateTime": _STRING,
        "onsetPeriod": _OBJECT,
        "recordedDate": _STRING,
    },
    "AllergyIntolerance": {
        "clinicalStatus": _STATUS,
        "verificationStatus": _STATUS,
        "type": _STRING,
        "onsetDateTime": _STRING,
        "recordedDate": _STRING,
        "reaction": _ARRAY,
    },
    "Procedure": {
        "performedDateTime": _STRING,
        "performedPeriod": _OBJECT,
        "outcome": _OBJECT,
        "statusReason": _OBJECT,
        "reasonCode": _ARRAY,
    },
    "MedicationRequest": {
        "intent": _STRING,
        "authoredOn": _STRING,
        "medicationCodeableConcept": _OBJECT,
        "medicationReference": _OBJECT,
        "dosageInstruction": _ARRAY,
        "statusReason": _OBJECT,
        "reasonCode": _ARRAY,
    },
    "MedicationStatement": {
        "effectiveDateTime": _STRING,
        "effectivePeriod": _OBJECT,
        "medicationCodeableConcept": _OBJECT,
        "medicationReference": _OBJECT,
        "dosage": _ARRAY,
        "statusReason": _ARRAY,
        "reasonCode": _ARRAY,
    },
    "MedicationAdministration": {
        "effectiveDateTime": _STRING,
        "effectivePeriod": _OBJECT,
        "medicationCodeableConcept": _OBJECT,
        "medicationReference": _OBJECT,
        "dosage": _OBJECT,
        "statusReason": _ARRAY,
        "reasonCode": _ARRAY,
    },
    "Medication": {"ingredient": _ARRAY},
}
_ACCEPTS: dict[str, tuple[type, ...]] = {
    _OBJECT: (dict,),
    _ARRAY: (list,),
    _STRING: (str,),
    _BOOLEAN: (bool,),
    _INTEGER: (int,),
    _STATUS: (dict, str),
}
_LATER = "an R5 element"
_SHAPES: dict[str, dict[str, tuple[tuple[type, ...], str]]] = {
    kind: {
        **{key: (_ACCEPTS[want], want) for key, want in {**_COMMON, **_ELEMENTS.get(kind, {})}.items()},
        **{key: ((), _LATER) for key in _LATER_KEYS.get(kind, ())},
    }
    for kind in set(_ELEMENTS) | set(_LATER_KEYS)
}
"""Per type, every top-level element checked: its accepted JSON types and their name (R5-only ones accept
none), so that one pass over a resource's keys finds both R5 elements and elements of the wrong type."""
_COMMON_SHAPES = {key: (_ACCEPTS[want], want) for key, want in _COMMON.items()}
_CONCEPTS = ("code", "medicationCodeableConcept", "valueCodeableConcept")
"""The CodeableConcepts a resource is recognised by: a ``coding`` that is not an array would hide its codes."""
CONCEPT_TYPES: tuple[type, ...] = (dict,)
"""The accepted types of an identifying concept (:data:`_CONCEPTS`) in :data:`ACCEPTED_TYPES`: this very
tuple, so the inline check knows to look at its ``coding`` too."""
ANY_CONCEPT: tuple[type, ...] = (dict, list, str, int, float, bool, type(None))
"""The entry of a concept key that is not an element of the type (an AllergyIntolerance's
``medicationCodeableConcept``): any JSON value, but an object's ``coding`` must still be an array."""
ACCEPTED_TYPES: dict[str, dict[str, tuple[type, ...]]] = {
    kind: {
        **dict.fromkeys(_CONCEPTS, ANY_CONCEPT),
        **{
            key: CONCEPT_TYPES if key in _CONCEPTS and spec[0] == (dict,) else spec[0]
            for key, spec in shapes.items()
        },
    }
    for kind, shapes in _SHAPES.items()
    if kind != "Medication"
}
"""The accepted JSON types alone, for :meth:`Index.of`'s inline check of the usual resource (a Medication's
ingredients need :func:`check_shape`'s look inside)."""


def _accepted(want: str, value: object) -> bool:
    """The slow check behind the exact-type one: other Mappings as objects, int subclasses as integers."""
    if want in (_OBJECT, _STATUS):
        return is_obj(value)
    return want == _INTEGER and isinstance(value, int) and not isinstance(value, bool)


_NOT_UNICODE = "id holds an unpaired UTF-16 surrogate (\\uD800-\\uDFFF): not Unicode text"


def unicode_text(text: str) -> bool:
    """Whether ``text`` is Unicode that can be written out (JSON's ``\\ud800`` escapes can make it not)."""
    if text.isascii():  # almost every id and type: no encoding needed to know
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def concept_problem(resource: Mapping[str, Any], kind: object) -> str | None:
    """The error when one of the resource's identifying concepts holds a ``coding`` that is not an array."""
    for key in _CONCEPTS:
        concept = resource.get(key)
        if type(concept) is dict and "coding" in concept and type(concept["coding"]) is not list:
            return f"{kind}.{key}.coding must be an array (FHIR R4 JSON)"
    return None


def check_shape(resource: Mapping[str, Any], where: str) -> FieldError | None:
    """An error when ``resource`` is not an R4 resource the adapter can read safely, else ``None``.

    In order: no resource type; an R4B/R5 type; R5 elements (all of them named); a non-string ``id``; the
    first element (in key order) whose JSON type is not R4's.
    """
    kind = resource.get("resourceType")
    if not isinstance(kind, str) or not kind:
        return FieldError(where, "not a FHIR resource (no resourceType)", "fhir_shape")
    if kind not in _SHAPES and (len(kind) > 64 or not unicode_text(kind)):  # no FHIR type is longer
        return FieldError(where, "resourceType is not a FHIR resource type name", "fhir_shape")
    if kind in _LATER_TYPES:
        return FieldError(
            where, f"{kind} is not an R4 resource type (R4B/R5 data?): only FHIR R4 is read", "fhir_version"
        )
    expected = _SHAPES.get(kind, _COMMON_SHAPES)
    odd = None
    for key, value in resource.items():
        spec = expected.get(key)
        if spec is not None and type(value) not in spec[0]:
            odd = (odd or []) + [key]
    rid = resource.get("id")
    nested = concept_problem(resource, kind)
    if (
        odd is None
        and nested is None
        and kind != "Medication"
        and ("id" not in resource or (type(rid) is str and unicode_text(rid)))
    ):
        return None  # the usual case: no R5 element, every element of its type
    later: list[str] = []
    wrong = None
    for key in odd or ():
        want, value = expected[key][1], resource[key]
        if want is _LATER:
            later.append(key)
        elif wrong is None and not _accepted(want, value) and not (kind == "AllergyIntolerance" and key == "type"):
            wrong = f"{kind}.{key} must be {want} (FHIR R4 JSON)"
    later.sort()
    if kind == "AllergyIntolerance" and "type" in resource and type(resource["type"]) is not str:
        if is_obj(resource["type"]):
            later.append("type")  # R5: a CodeableConcept
        elif wrong is None:
            wrong = f"{kind}.type must be {_STRING} (FHIR R4 JSON)"
    if kind == "Medication":
        ingredients = resource.get("ingredient")
        if isinstance(ingredients, list) and any(is_obj(i) and "item" in i for i in ingredients):
            later.append("ingredient.item")
    if later:
        return FieldError(
            where,
            f"{kind} has R5 element(s) {', '.join(later)}: only FHIR R4 is read (R4 uses e.g."
            " medicationCodeableConcept/medicationReference, effective[x], performed[x])",
            "fhir_version",
        )
    if "id" in resource and type(rid) is not str:
        return FieldError(where, f"{kind}.id must be a string", "fhir_shape")
    if type(rid) is str and not unicode_text(rid):
        return FieldError(where, _NOT_UNICODE, "fhir_shape")
    wrong = wrong or nested
    if wrong is not None:
        return FieldError(where, wrong, "fhir_shape")
    return None
