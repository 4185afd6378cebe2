"""Agents that act locally (a cream, eye drops, an inhaler): neither a systemic dose nor a therapy trial."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .index import Index, Item
from .mapping import FhirMapping
from .medications import MedInfo, dosages_of, form_words
from .values import codeable_text, codings, is_obj, quantity, reference

__all__ = ["Local", "acts_locally", "local_use"]

Local = tuple[str, bool]
"""Why a resource acts locally, and whether what it says conflicts (a cream with a mass dose)."""


def local_use(item: Item, info: MedInfo, index: Index, mapping: FhirMapping) -> Local | None:
    """Whether a medication resource acts locally, and why; ``None``: read it as recorded.

    Local signals: every dosage's route coded as a local route; else (no route, or a route not coded local:
    text, another code system) the dose form the names say (the medication's, its Medication's ``form``
    text). A local signal with a systemic one - a systemic word in the names or in a route's text, a route
    coded local and otherwise, a dose in mg or µg - conflicts: which one is meant is unknown.
    """
    res = item.resource
    dosages = [res.get("dosage")] if item.kind == "MedicationAdministration" else dosages_of(item)
    local, systemic = info.local_form, info.systemic_word  # the names' (once per medication content)
    if "medicationReference" in res:
        more_local, more_systemic = form_words(_form_texts(item, index), mapping)
        local, systemic = local or more_local, systemic or more_systemic
    routes = [_local_route(d["route"], mapping) for d in dosages if is_obj(d) and "route" in d]
    for _, route_systemic in routes:
        systemic = systemic or route_systemic
    if routes and len(routes) == len(dosages) and all(name is not None for name, _ in routes):
        element = "dosageInstruction.route" if item.kind == "MedicationRequest" else "dosage.route"
        said = f"{element} is {'/'.join(sorted({str(name) for name, _ in routes}))}"
    elif local is not None:
        said = f"its name or form says {local}"
    else:
        return None
    if systemic is not None:
        return f"{said} and {systemic}", True
    if any(_mass(d, item.kind, mapping) for d in dosages if is_obj(d)):
        return f"{said}, its dose is a mass", True
    return said, False


def acts_locally(item: Item, info: MedInfo, index: Index, mapping: FhirMapping) -> bool:
    """Whether the resource acts locally without a conflict (then it is no dose the record misses)."""
    local = local_use(item, info, index, mapping) if info.agent is not None or info.other_steroid else None
    return local is not None and not local[1]


def _local_route(route: object, mapping: FhirMapping) -> tuple[str | None, str | None]:
    """The local route a dosage's route is coded as (else ``None``), and a systemic signal the route also
    gives: another SNOMED route code, or a systemic word in its text or displays ("Intravenous"). Text alone
    never makes a route local: "sub-cutaneous" is no cutaneous route."""
    if not is_obj(route):
        return None, None
    pairs = codings(route)
    snomed = mapping.systems.get("snomed")  # the table's name for SNOMED CT, as its route codes use it
    local = sorted(name for name, codes in mapping.local_routes.items() if codes.match(pairs) is not None)
    _, systemic = form_words(codeable_text(route), mapping)
    other = [
        p for p in pairs if p[0] == snomed and all(c.match([p]) is None for c in mapping.local_routes.values())
    ]
    if systemic is None and other:
        systemic = "another route code"
    return ("/".join(local) if local else None), systemic


def _mass(dosage: Mapping[str, Any], kind: str, mapping: FhirMapping) -> bool:
    """Whether a dosage's dose is in mg or µg: a tablet's or an injection's dose, not a cream's (a cream or a
    spray is dosed in grams or applications)."""
    if kind == "MedicationAdministration":
        doses = [dosage.get("dose")]
    else:
        rates = dosage.get("doseAndRate")
        doses = [r.get("doseQuantity") for r in rates if is_obj(r)] if isinstance(rates, list) else []
    units = mapping.unit("dose_mg")
    for raw in doses:
        q = quantity(raw)
        factor = units.convert(1.0, q.unit) if q is not None and not isinstance(q, str) else None
        if factor is not None and factor < 1000:  # mg, µg; not g
            return True
    return False


def _form_texts(item: Item, index: Index) -> list[str]:
    """The text and displays of the referenced (or contained) Medication's ``form``."""
    ref = reference(item.resource.get("medicationReference"))
    medication: Mapping[str, Any] | None = index.resolve(ref, item) if ref else None
    form = medication.get("form") if is_obj(medication) else None
    return codeable_text(form) if is_obj(form) else []
