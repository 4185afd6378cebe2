"""Agents that act locally (a cream, eye drops, an inhaler): neither a systemic dose nor a therapy trial."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .index import Index, Item
from .mapping import FhirMapping, contains_words, words
from .medications import MedInfo, dosages_of, form_words
from .values import codeable_text, codings, is_obj, quantity, reference

__all__ = ["Local", "acts_locally", "local_use"]

Local = tuple[str, bool]
"""Why a resource acts locally, and whether what it says conflicts (a cream with a mass dose)."""


def local_use(item: Item, info: MedInfo, index: Index, mapping: FhirMapping) -> Local | None:
    """Whether a medication resource acts locally, and why; ``None``: read it as recorded.

    By its routes when its dosages name any: local when every dosage names one and each is a local route
    (coded, or named in the route's text); a dosage without a route, or a route that is not local (or not
    understood), reads the resource as recorded. With no route, by the dose form its names say (the
    medication's, its Medication's ``form``): a local form with a systemic word or a mass dose conflicts.
    """
    res = item.resource
    dosages = [res.get("dosage")] if item.kind == "MedicationAdministration" else dosages_of(item)
    routed = [d for d in dosages if is_obj(d) and "route" in d]
    if routed:
        if len(routed) < len(dosages):
            return None
        names = set()
        for d in routed:
            name = _local_route(d["route"], mapping)
            if name is None:
                return None
            names.add(name)
        element = "dosageInstruction.route" if item.kind == "MedicationRequest" else "dosage.route"
        return f"{element} is {'/'.join(sorted(names))}", False
    local, systemic = info.local_form, info.systemic_word  # the names' (once per medication content)
    if "medicationReference" in res:
        more_local, more_systemic = form_words(_form_texts(item, index), mapping)
        local, systemic = local or more_local, systemic or more_systemic
    if local is None:
        return None
    if systemic is not None:
        return f"its name or form says {local} and {systemic}", True
    if any(_mass(d, item.kind, mapping) for d in dosages if is_obj(d)):
        return f"its name or form says {local}, its dose is a mass", True
    return f"its name or form says {local}", False


def acts_locally(item: Item, info: MedInfo, index: Index, mapping: FhirMapping) -> bool:
    """Whether the resource acts locally without a conflict (then it is no dose the record misses)."""
    local = local_use(item, info, index, mapping) if info.agent is not None else None
    return local is not None and not local[1]


def _local_route(route: object, mapping: FhirMapping) -> str | None:
    """The local route a dosage's route is (by code, else by a word of its text or display), else ``None``."""
    if not is_obj(route):
        return None
    pairs = codings(route)
    for name, codes in mapping.local_routes.items():
        if codes.match(pairs) is not None:
            return name
    if pairs and any(system == "http://snomed.info/sct" for system, _ in pairs):
        return None  # a SNOMED route that is not local (oral, intravenous): its code says it
    for text in codeable_text(route):
        said = words(text)
        for phrase in mapping.local_route_words:
            if contains_words(said, phrase):
                return " ".join(phrase)
    return None


def _mass(dosage: Mapping[str, Any], kind: str, mapping: FhirMapping) -> bool:
    """Whether a dosage's dose is a mass (mg, g): a systemic-size dose, not a cream's application."""
    if kind == "MedicationAdministration":
        doses = [dosage.get("dose")]
    else:
        rates = dosage.get("doseAndRate")
        doses = [r.get("doseQuantity") for r in rates if is_obj(r)] if isinstance(rates, list) else []
    units = mapping.unit("dose_mg")
    for raw in doses:
        q = quantity(raw)
        if q is not None and not isinstance(q, str) and units.convert(1.0, q.unit) is not None:
            return True
    return False


def _form_texts(item: Item, index: Index) -> list[str]:
    """The text and displays of the referenced (or contained) Medication's ``form``."""
    ref = reference(item.resource.get("medicationReference"))
    medication: Mapping[str, Any] | None = index.resolve(ref, item) if ref else None
    form = medication.get("form") if is_obj(medication) else None
    return codeable_text(form) if is_obj(form) else []
