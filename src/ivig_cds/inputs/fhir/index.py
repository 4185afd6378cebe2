"""The resources of one input, indexed: types checked, references resolved, one patient's resources selected."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ivig_cds.errors import FieldError

from .values import fhir_date, is_obj, parse_date

__all__ = ["DATE_PATHS", "READ_TYPES", "Index", "Item", "check_shape", "unicode_text"]

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
    "Patient": {"gender": _STRING, "birthDate": _STRING},
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
_PLAIN: dict[str, dict[str, tuple[type, ...]]] = {
    kind: {key: spec[0] for key, spec in shapes.items()}
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
    if odd is None and kind != "Medication" and ("id" not in resource or (type(rid) is str and unicode_text(rid))):
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
    if wrong is not None:
        return FieldError(where, wrong, "fhir_shape")
    return None


DATE_PATHS: dict[str, tuple[str, ...]] = {
    "Observation": ("effectiveDateTime", "effectivePeriod.start", "effectiveInstant"),
    "Condition": ("onsetDateTime", "onsetPeriod.start", "recordedDate"),
    "MedicationStatement": ("effectivePeriod.start", "effectiveDateTime"),
    "MedicationAdministration": ("effectiveDateTime", "effectivePeriod.start"),
    "AllergyIntolerance": ("onsetDateTime", "recordedDate"),
    "Procedure": ("performedDateTime", "performedPeriod.start"),
    "MedicationRequest": ("authoredOn",),
}
"""Where each type's date is (the first that holds a value): the ``as_of`` cut-off and the record's date."""
_DAY_PATHS: dict[str, tuple[tuple[str, str, str | None], ...]] = {
    kind: tuple((path, path.partition(".")[0], path.partition(".")[2] or None) for path in paths)
    for kind, paths in DATE_PATHS.items()
}
""":data:`DATE_PATHS` split once: ``(path, element, part or None)``."""
_Day = tuple[date | None, str | None, str | None]


def _first_day(resource: Mapping[str, Any], paths: tuple[tuple[str, str, str | None], ...]) -> _Day:
    """``first_date(resource, *paths)`` for the one- and two-step paths of :data:`DATE_PATHS`."""
    for path, element, part in paths:
        value = resource.get(element)
        if part is not None and value is not None:
            value = value.get(part) if type(value) is dict or is_obj(value) else None
        if value is None:
            continue
        got = parse_date(value) if type(value) is str else fhir_date(value)
        if type(got) is date:
            return got, path, None
        return None, path, str(got)
    return None, None, None


class Item:
    """One resource of the input and where it came from."""

    __slots__ = ("_day", "full_url", "id", "kind", "loc", "pos", "ref", "resource")

    def __init__(
        self,
        kind: str,
        id: str | None,
        loc: str,
        resource: Mapping[str, Any],
        full_url: str | None = None,
        pos: int = 0,
    ) -> None:
        self.kind = kind
        self.id = id
        self.loc = loc
        self.resource = resource
        self.full_url = full_url
        self.pos = pos
        self.ref = f"{kind}/{id}" if id else f"{kind} ({loc})"
        """``Type/id``, or ``Type (entry[3])`` when the resource has no id."""
        self._day: tuple[date | None, str | None, str | None] | None = None

    def day(self) -> tuple[date | None, str | None, str | None]:
        """``first_date`` over the type's :data:`DATE_PATHS` (read once: the cut-off and the record use it)."""
        got = self._day
        if got is None:
            got = self._day = _first_day(self.resource, _DAY_PATHS.get(self.kind, ()))
        return got

    def __repr__(self) -> str:
        return f"Item({self.ref!r}, loc={self.loc!r})"  # no resource content: reprs reach logs


@dataclass
class Index:
    """Every resource of an input by reference and by ``fullUrl``."""

    items: list[Item] = field(default_factory=list)
    by_ref: dict[str, Item] = field(default_factory=dict)
    by_url: dict[str, Item] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)
    by_kind: dict[str, list[Item]] = field(default_factory=dict)
    repeats: dict[str, int] = field(default_factory=dict)
    """``Type/id`` -> how many more times the same resource (identical) appeared; each is read once."""
    _resolved: dict[str, Item | None] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, entries: Iterable[tuple[str, Mapping[str, Any], str | None]]) -> Index:
        """Index ``(location, resource, fullUrl)`` triples; shape problems are collected in ``errors``."""
        index = cls()
        items, by_ref, by_url, by_kind = index.items, index.by_ref, index.by_url, index.by_kind
        plain = _PLAIN
        for loc, resource, full_url in entries:
            if type(resource) is not dict and not is_obj(resource):
                index.errors.append(FieldError(loc, "not a FHIR resource (not an object)", "fhir_shape"))
                continue
            kind = resource.get("resourceType")
            rid = resource.get("id")
            # check_shape's usual case inline: a type read, an ASCII id, every element of its JSON type
            accepts = plain.get(kind) if type(kind) is str else None
            problem = None
            if accepts is not None and type(rid) is str and rid.isascii():
                for key, value in resource.items():
                    types = accepts.get(key)
                    if types is not None and type(value) not in types:
                        problem = check_shape(resource, loc)
                        break
            else:
                problem = check_shape(resource, loc)
                if type(rid) is not str or not unicode_text(rid):
                    rid = None  # (check_shape refused it): only an id that prints is named
            if problem is not None:
                # a label names the type and id only when they print, and never a 100,000-character type
                named = isinstance(kind, str) and len(kind) <= 64 and unicode_text(kind)
                label = f"{loc} ({kind}/{rid[:64]})" if named and rid else loc
                index.errors.append(FieldError(label, problem.msg, problem.type))
                continue
            assert isinstance(kind, str)
            item = Item(kind, rid, loc, resource, full_url, len(items))
            first = by_ref.get(item.ref) if rid is not None else None
            if first is not None:  # the same type and id again: read once, or refused when it differs
                if first.resource == resource:
                    index.repeats[item.ref] = index.repeats.get(item.ref, 0) + 1
                    if full_url and full_url not in by_url:  # its fullUrl is still a name of the resource
                        by_url[full_url] = first
                else:
                    index.errors.append(
                        FieldError(
                            f"{loc} ({item.ref[:130]})",
                            f"another resource with this type and id ({first.loc}) differs from it: which one is"
                            " current is unknown (send one version of each resource)",
                            "fhir_duplicate",
                        )
                    )
                continue
            items.append(item)
            group = by_kind.get(kind)
            if group is None:
                by_kind[kind] = [item]
            else:
                group.append(item)
            if rid is not None:
                by_ref[item.ref] = item
            if full_url and full_url not in by_url:
                by_url[full_url] = item
        return index

    def of_kind(self, kind: str) -> Iterator[Item]:
        return iter(self.by_kind.get(kind, ()))

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
        try:
            return self._resolved[ref]  # the same references recur (every resource names its subject)
        except KeyError:
            pass
        hit = self.by_url.get(ref)
        if hit is None:
            parts = ref.split("/_history/")[0].rstrip("/").split("/")
            hit = self.by_ref.get(f"{parts[-2]}/{parts[-1]}") if len(parts) >= 2 else None
        if len(self._resolved) < 4096:
            self._resolved[ref] = hit
        return hit

    def subject(self, ref: str) -> Item | None:
        """The indexed Patient a subject reference points to, else ``None``."""
        target = self.resolve_item(ref)
        return target if target is not None and target.kind == "Patient" else None
