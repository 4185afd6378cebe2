"""The resources of one input, indexed: types checked, references resolved, one patient's resources selected."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ivig_cds.errors import FieldError

from .values import is_obj, reference

__all__ = ["READ_TYPES", "Index", "Item", "check_shape"]

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


def check_shape(resource: Mapping[str, Any], where: str) -> FieldError | None:
    """An error when ``resource`` is not an R4 resource the adapter can read safely, else ``None``."""
    kind = resource.get("resourceType")
    if not isinstance(kind, str) or not kind:
        return FieldError(where, "not a FHIR resource (no resourceType)", "fhir_shape")
    if kind in _LATER_TYPES:
        return FieldError(
            where, f"{kind} is not an R4 resource type (R4B/R5 data?): only FHIR R4 is read", "fhir_version"
        )
    keys = _LATER_KEYS.get(kind)
    later = sorted(keys.intersection(resource)) if keys is not None and not keys.isdisjoint(resource) else []
    if kind == "AllergyIntolerance" and is_obj(resource.get("type")):
        later.append("type")
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
    if "id" in resource and not isinstance(resource.get("id"), str):
        return FieldError(where, f"{kind}.id must be a string", "fhir_shape")
    return None


@dataclass
class Item:
    """One resource of the input and where it came from."""

    kind: str
    id: str | None
    loc: str
    resource: Mapping[str, Any]
    full_url: str | None = None
    pos: int = 0
    ref: str = field(init=False)
    """``Type/id``, or ``Type (entry[3])`` when the resource has no id."""

    def __post_init__(self) -> None:
        self.ref = f"{self.kind}/{self.id}" if self.id else f"{self.kind} ({self.loc})"


@dataclass
class Index:
    """Every resource of an input by reference and by ``fullUrl``."""

    items: list[Item] = field(default_factory=list)
    by_ref: dict[str, Item] = field(default_factory=dict)
    by_url: dict[str, Item] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)

    @classmethod
    def of(cls, entries: Iterable[tuple[str, Mapping[str, Any], str | None]]) -> Index:
        """Index ``(location, resource, fullUrl)`` triples; shape problems are collected in ``errors``."""
        index = cls()
        for loc, resource, full_url in entries:
            if not is_obj(resource):
                index.errors.append(FieldError(loc, "not a FHIR resource (not an object)", "fhir_shape"))
                continue
            problem = check_shape(resource, loc)
            kind = resource.get("resourceType")
            rid = resource.get("id") if isinstance(resource.get("id"), str) else None
            if problem is not None:
                label = f"{loc} ({kind}/{rid})" if isinstance(kind, str) and rid else loc
                index.errors.append(FieldError(label, problem.msg, problem.type))
                continue
            assert isinstance(kind, str)
            item = Item(kind, rid, loc, resource, full_url, len(index.items))
            index.items.append(item)
            if rid is not None:
                index.by_ref.setdefault(item.ref, item)
            if full_url:
                index.by_url.setdefault(full_url, item)
        return index

    def of_kind(self, kind: str) -> Iterator[Item]:
        return (i for i in self.items if i.kind == kind)

    def resolve(self, ref: str | None, holder: Item | None = None) -> Mapping[str, Any] | None:
        """The resource ``ref`` points to: ``#id`` (contained in ``holder``), a ``fullUrl``, or ``Type/id``."""
        if ref is None:
            return None
        if ref.startswith("#"):
            if holder is None:
                return None
            for inner in holder.resource.get("contained") or []:
                if is_obj(inner) and inner.get("id") == ref[1:]:
                    return inner
            return None
        item = self.resolve_item(ref)
        return item.resource if item is not None else None

    def resolve_item(self, ref: str) -> Item | None:
        """The indexed resource of a ``fullUrl`` or (relative or absolute) ``Type/id`` reference."""
        hit = self.by_url.get(ref)
        if hit is not None:
            return hit
        path = ref.split("/_history/")[0]
        parts = path.rstrip("/").split("/")
        if len(parts) >= 2:
            return self.by_ref.get(f"{parts[-2]}/{parts[-1]}")
        return None

    def subject_of(self, item: Item) -> tuple[str | None, Item | None]:
        """The patient reference of a clinical resource and the indexed Patient it points to."""
        ref = reference(item.resource.get("subject")) or reference(item.resource.get("patient"))
        if ref is None:
            return None, None
        target = self.resolve_item(ref)
        return ref, target if target is not None and target.kind == "Patient" else None
