"""Optional strict validation of every resource against the R4B models of ``fhir.resources`` ([fhir] extra)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from ivig_cds.errors import FieldError, IvigCdsError

__all__ = ["StrictUnavailable", "validate_resources"]

# R4B keeps the R4 shapes of every resource read here; fhir.resources has no R4 package (its default is R5).
_MODULES = {
    "Patient": "patient",
    "Condition": "condition",
    "Observation": "observation",
    "MedicationRequest": "medicationrequest",
    "MedicationStatement": "medicationstatement",
    "MedicationAdministration": "medicationadministration",
    "Medication": "medication",
    "AllergyIntolerance": "allergyintolerance",
    "Procedure": "procedure",
    "Bundle": "bundle",
}


class StrictUnavailable(IvigCdsError):
    """``--strict-fhir`` was asked for but ``fhir.resources`` is not installed."""


def _model(kind: str) -> Any:
    try:
        module = importlib.import_module(f"fhir.resources.R4B.{_MODULES[kind]}")
    except ImportError:
        raise StrictUnavailable(
            "strict FHIR validation needs fhir.resources: pip install 'ivig-cds[fhir]'"
        ) from None
    return getattr(module, kind)


def validate_resources(doc: Mapping[str, Any]) -> list[FieldError]:
    """Validate each resource read (Bundle entries, or the resource itself) as R4B; one error per problem.

    Messages carry the element path and the error type only, never the offending value.

    Raises:
        StrictUnavailable: ``fhir.resources`` is not installed.
    """
    from pydantic import ValidationError

    if doc.get("resourceType") == "Bundle":
        entries = [
            (f"entry[{i}]", e.get("resource"))
            for i, e in enumerate(doc["entry"] if isinstance(doc.get("entry"), list) else [])
            if isinstance(e, Mapping)
        ]
    else:
        entries = [("(resource)", doc)]
    errors: list[FieldError] = []
    for loc, resource in entries:
        if not isinstance(resource, Mapping) or resource.get("resourceType") not in _MODULES:
            continue
        kind = str(resource["resourceType"])
        model = _model(kind)
        try:
            model.model_validate(dict(resource))
        except ValidationError as exc:
            rid = resource.get("id")
            where = f"{loc} ({kind}/{rid})" if isinstance(rid, str) else loc
            for err in exc.errors(include_url=False, include_input=False, include_context=False)[:5]:
                path = ".".join(str(p) for p in err["loc"])
                errors.append(FieldError(where, f"not valid FHIR R4(B): {path}: {err['type']}", "fhir_strict"))
    return errors
