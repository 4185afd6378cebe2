"""Glucocorticoids that act locally (a cream, eye drops, an inhaler): not a systemic dose, not read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .index import Index, Item
from .mapping import FhirMapping
from .medications import MedInfo, dosages_of, local_form
from .values import codeable_text, codings, is_obj, reference

__all__ = ["local_use"]


def local_use(item: Item, info: MedInfo, index: Index, mapping: FhirMapping) -> str | None:
    """Why a glucocorticoid resource acts locally (``"dosage.route is topical"``), else ``None``.

    Local when every dosage route the table knows is one of its ``local_routes`` (and no route of the
    resource is another one the table knows); with no known route, when the medication's name or its
    Medication's ``form`` holds one of the ``local_forms`` words. A route the table does not list says
    nothing either way.
    """
    element = "dosageInstruction.route" if item.kind == "MedicationRequest" else "dosage.route"
    dosages = [item.resource.get("dosage")] if item.kind == "MedicationAdministration" else dosages_of(item)
    named: set[str] = set()
    for d in dosages:
        if is_obj(d) and "route" in d:  # (most records name no route: no codings read)
            pairs = codings(d["route"])
            named |= {name for name, codes in mapping.routes.items() if codes.match(pairs) is not None}
    if named:
        if named <= mapping.local_routes:
            return f"{element} is {'/'.join(sorted(named))}"
        return None  # a systemic route (oral, intravenous, ...) is read as its dose says
    form = info.local_form  # the names' (decided once per medication content)
    if form is None and "medicationReference" in item.resource:
        form = local_form(_form_texts(item, index), mapping)
    return f"its name or form says {form}" if form is not None else None


def _form_texts(item: Item, index: Index) -> list[str]:
    """The text and displays of the referenced (or contained) Medication's ``form``."""
    ref = reference(item.resource.get("medicationReference"))
    medication: Mapping[str, Any] | None = index.resolve(ref, item) if ref else None
    form = medication.get("form") if is_obj(medication) else None
    return codeable_text(form) if is_obj(form) else []
