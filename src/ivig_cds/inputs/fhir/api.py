"""The public entry points: a patient file and its mapping report from resources, a Bundle or a prefetch."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from ivig_cds.errors import FieldError
from ivig_cds.model.patient import Patient

from .build import FhirInputError, MappingResult, map_entries, not_a_list, type_name
from .mapping import FhirMapping
from .report import MappingReport, ReportBuilder
from .values import fhir_date, is_obj

__all__ = [
    "FhirInputError",
    "bundle_entries",
    "map_bundle",
    "map_prefetch",
    "map_resources",
    "patient_from_bundle",
    "patient_from_prefetch",
    "patient_from_resources",
    "prefetch_gaps",
]


def _resource_entries(
    resources: Iterable[Mapping[str, Any]], where: str
) -> list[tuple[str, Mapping[str, Any], str | None]]:
    return [(f"{where}[{i}]", r, None) for i, r in enumerate(resources)]


def bundle_entries(
    bundle: Mapping[str, Any], where: str = "entry"
) -> tuple[list[tuple[str, Mapping[str, Any], str | None]], list[FieldError]]:
    """``(location, resource, fullUrl)`` of every entry of a Bundle, and shape errors (not a Bundle, ...)."""
    if not is_obj(bundle):  # a path, a list, None: the functions take the parsed JSON (Engine.evaluate a path)
        hint = (
            " (a path? json.load the file, or pass the path to Engine.evaluate)" if isinstance(bundle, str) else ""
        )
        what = f"expected a FHIR Bundle (a parsed JSON object), got {type_name(bundle)}{hint}"
        return [], [FieldError("resourceType", what, "fhir_shape")]
    if bundle.get("resourceType") != "Bundle":
        kind = bundle.get("resourceType")
        return [], [
            FieldError(
                "resourceType",
                f"expected a FHIR Bundle, got {str(kind)[:40] if kind else 'no resourceType'}",
                "fhir_shape",
            )
        ]
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        return [], [FieldError("entry", "Bundle.entry must be a list", "fhir_shape")]
    out: list[tuple[str, Mapping[str, Any], str | None]] = []
    errors: list[FieldError] = []
    for i, entry in enumerate(entries):
        if type(entry) is not dict and not is_obj(entry):
            errors.append(FieldError(f"{where}[{i}]", "a Bundle entry must be an object", "fhir_shape"))
            continue
        resource = entry.get("resource")
        if resource is None:  # e.g. a transaction-response entry or a deletion: nothing to read
            continue
        full = entry.get("fullUrl")
        out.append((f"{where}[{i}]", resource, full if type(full) is str or isinstance(full, str) else None))
    return out, errors


def map_resources(
    resources: Iterable[Mapping[str, Any]],
    *,
    as_of: date | str | None = None,
    mapping: FhirMapping | str | os.PathLike[str] | None = None,
    patient_id: str | None = None,
    draft_orders: Iterable[Mapping[str, Any]] = (),
) -> MappingResult:
    """Like :func:`patient_from_resources`, but never raises for bad input: errors are in the result."""
    problem = not_a_list(resources, "resources")
    return map_entries(
        _resource_entries(resources, "resources") if problem is None else [],
        as_of=as_of,
        mapping=mapping,
        patient_id=patient_id,
        draft_orders=draft_orders,
        initial_errors=[problem] if problem is not None else (),
    )


def patient_from_resources(
    resources: Iterable[Mapping[str, Any]],
    *,
    as_of: date | str | None = None,
    mapping: FhirMapping | str | os.PathLike[str] | None = None,
    patient_id: str | None = None,
    draft_orders: Iterable[Mapping[str, Any]] = (),
) -> tuple[Patient, MappingReport]:
    """Build the patient file of one patient from FHIR R4 resources (plain JSON dicts).

    Args:
        resources: The resources (any order): one Patient (or several with ``patient_id``) and theirs.
        as_of: Read resources dated up to this date (a ``date`` or ``YYYY-MM-DD``; later ones are ignored and
            counted); it becomes the patient file's ``as_of``. ``None``: no cut-off, and the file has no
            ``as_of``. Anything else (a datetime, another string, a number) is an error at ``as_of``.
        mapping: A site mapping table (:func:`load_mapping`) or a path to one; default the built-in one
            (a bad table file raises its RuleFileError, anything else a TypeError: configuration, not input).
        patient_id: Which Patient (its ``Patient.id``), when the resources hold several; a value that is
            not a string is a TypeError.
        draft_orders: CDS Hooks draft MedicationRequests; a draft IVIG order becomes ``ivig_order``.

    Returns:
        The validated :class:`~ivig_cds.patient.Patient` (every record with ``source: "Type/id"``) and the
        :class:`MappingReport`.

    Raises:
        FhirInputError: (an :class:`~ivig_cds.errors.InputError`) the resources cannot make a valid patient
            file; each error's ``loc`` names the resource (``resources[3] (MedicationRequest/abc)``).
    """
    result = map_resources(
        resources, as_of=as_of, mapping=mapping, patient_id=patient_id, draft_orders=draft_orders
    )
    return result.raise_for_errors("<fhir resources>"), result.report


def map_bundle(
    bundle: Mapping[str, Any],
    *,
    as_of: date | str | None = None,
    mapping: FhirMapping | str | os.PathLike[str] | None = None,
    patient_id: str | None = None,
    draft_orders: Iterable[Mapping[str, Any]] = (),
) -> MappingResult:
    """Like :func:`patient_from_bundle`, but never raises for bad input: errors are in the result."""
    entries, errors = bundle_entries(bundle)
    rb = ReportBuilder()
    if as_of is None and is_obj(bundle):
        stamp = fhir_date(bundle.get("timestamp"))
        as_of = stamp if isinstance(stamp, date) else None
        if stamp is not None and as_of is None:  # said, not silently "no cut-off"
            rb.warn("Bundle", "as_of", f"Bundle.timestamp unusable ({stamp}): no as_of cut-off, all dates read")
    return map_entries(
        entries,
        as_of=as_of,
        mapping=mapping,
        patient_id=patient_id,
        draft_orders=draft_orders,
        initial_errors=errors,
        rb=rb,
    )


def patient_from_bundle(
    bundle: Mapping[str, Any],
    *,
    as_of: date | str | None = None,
    mapping: FhirMapping | str | os.PathLike[str] | None = None,
    patient_id: str | None = None,
) -> tuple[Patient, MappingReport]:
    """Build the patient file from a FHIR R4 Bundle of any type (collection, searchset, transaction, ...).

    ``as_of`` defaults to the date of ``Bundle.timestamp`` when the bundle has one. A bundle holding
    several Patients needs ``patient_id``. Raises :class:`FhirInputError` as :func:`patient_from_resources`.
    """
    result = map_bundle(bundle, as_of=as_of, mapping=mapping, patient_id=patient_id)
    return result.raise_for_errors("<fhir bundle>"), result.report


def _is_outcome(value: object) -> bool:
    return is_obj(value) and value.get("resourceType") == "OperationOutcome"


def prefetch_gaps(prefetch: Mapping[str, Any], keys: Iterable[str]) -> list[str]:
    """The prefetch keys that were not fetched: absent, or an OperationOutcome (``null`` means "no data").

    Raises:
        TypeError: ``prefetch`` is not a mapping or ``keys`` not a list of names (a caller's mistake).
    """
    if not isinstance(prefetch, Mapping):
        raise TypeError(f"prefetch must be a mapping (template name: resource), not {type(prefetch).__name__}")
    if isinstance(keys, str | bytes) or not isinstance(keys, Iterable):
        raise TypeError(f"keys must be a list of template names, not {type(keys).__name__}")
    return sorted(k for k in keys if k not in prefetch or _is_outcome(prefetch[k]))


def map_prefetch(
    prefetch: Mapping[str, Any],
    *,
    as_of: date | str | None = None,
    mapping: FhirMapping | str | os.PathLike[str] | None = None,
    patient_id: str | None = None,
    draft_orders: Iterable[Mapping[str, Any]] = (),
    expected_keys: Iterable[str] = (),
) -> MappingResult:
    """Like :func:`patient_from_prefetch`, but never raises for bad input: errors are in the result."""
    rb = ReportBuilder()
    entries: list[tuple[str, Mapping[str, Any], str | None]] = []
    errors: list[FieldError] = []
    if not is_obj(prefetch):
        what = f"a CDS Hooks prefetch must be a JSON object (template name: resource), got {type_name(prefetch)}"
        errors.append(FieldError("prefetch", what, "fhir_shape"))
        prefetch = {}
    if isinstance(expected_keys, str | bytes) or not isinstance(expected_keys, Iterable):
        what = f"expected_keys must be a list of template names, got {type_name(expected_keys)}"
        errors.append(FieldError("expected_keys", what, "fhir_shape"))
        expected_keys = ()
    seen: set[str] = set()
    for key in sorted(prefetch, key=str):  # JSON keys are strings; a dict built in code may hold others
        value = prefetch[key]
        where = f"prefetch.{key}"
        if value is None:
            continue  # "no data"
        if _is_outcome(value):
            rb.warn(where, "(prefetch)", "not fetched (OperationOutcome): data of this template is missing")
            continue
        if is_obj(value) and value.get("resourceType") == "Bundle":
            found, errs = bundle_entries(value, f"{where}.entry")
            errors += errs
        else:
            found = [(where, value, None)]
        for loc, resource, full in found:
            rtype, rid = (resource.get("resourceType"), resource.get("id")) if is_obj(resource) else (None, None)
            key_id = f"{rtype}/{rid}" if rid else None
            if key_id is not None and key_id in seen:  # the same resource under two templates
                continue
            if key_id is not None:
                seen.add(key_id)
            entries.append((loc, resource, full))
    for key in prefetch_gaps(prefetch, [k for k in expected_keys if isinstance(k, str)]):
        if key not in prefetch:
            rb.warn(f"prefetch.{key}", "(prefetch)", "not fetched (absent): data of this template is missing")
    return map_entries(
        entries,
        as_of=as_of,
        mapping=mapping,
        patient_id=patient_id,
        draft_orders=draft_orders,
        initial_errors=errors,
        rb=rb,
    )


def patient_from_prefetch(
    prefetch: Mapping[str, Any],
    *,
    as_of: date | str | None = None,
    mapping: FhirMapping | str | os.PathLike[str] | None = None,
    patient_id: str | None = None,
    draft_orders: Iterable[Mapping[str, Any]] = (),
) -> tuple[Patient, MappingReport]:
    """Build the patient file from a CDS Hooks ``prefetch`` (resources and searchset Bundles by template name).

    A key whose value is ``null`` means "no data"; an ``OperationOutcome`` value means "not fetched" and is
    reported as a warning (use :func:`prefetch_gaps` to list absent keys). Raises :class:`FhirInputError`.
    """
    result = map_prefetch(prefetch, as_of=as_of, mapping=mapping, patient_id=patient_id, draft_orders=draft_orders)
    return result.raise_for_errors("<prefetch>"), result.report
