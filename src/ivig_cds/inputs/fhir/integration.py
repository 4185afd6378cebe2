"""Where the engine, the batch runner and the CLI meet FHIR: recognise a FHIR document and map it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from ivig_cds.errors import FieldError, InputError
from ivig_cds.inputs.files import (
    Format,
    check_patient_id,
    load_patient,
    looks_like_document,
    parse_document,
    validate_patient,
)
from ivig_cds.model.patient import Patient

if TYPE_CHECKING:  # the FHIR modules load only when FHIR input arrives: a patient file never needs them
    from .build import MappingResult
    from .mapping import FhirMapping
    from .report import MappingReport

__all__ = [
    "bulk_bundles",
    "is_fhir_document",
    "load_input",
    "map_document",
    "resolve_mapping",
    "sniff_ndjson",
    "with_mapping",
]

_SNIFF_BYTES = 4096
_M = TypeVar("_M", bound=BaseModel)


def is_fhir_document(doc: object) -> bool:
    """A parsed JSON object that is a FHIR resource (it has ``resourceType``) rather than a patient file."""
    return isinstance(doc, Mapping) and "resourceType" in doc


def resolve_mapping(mapping: FhirMapping | str | os.PathLike[str] | None) -> FhirMapping:
    """A loaded table from a table, a path to one, or ``None`` (the built-in table)."""
    from .mapping import FhirMapping, load_mapping

    if isinstance(mapping, FhirMapping):
        return mapping
    return load_mapping(Path(mapping) if mapping is not None else None)


def map_document(
    doc: Mapping[str, Any],
    *,
    as_of: date | None = None,
    mapping: FhirMapping | None = None,
    strict: bool = False,
    patient_id: str | None = None,
) -> MappingResult:
    """Map a Bundle (or a lone Patient resource); with ``strict``, validate every resource as R4 first.
    ``patient_id`` chooses the Patient of a Bundle that holds several."""
    from .api import map_bundle, map_resources
    from .build import MappingResult

    errors: list[FieldError] = []
    if strict:
        from .strict import validate_resources

        errors = validate_resources(doc)
    if doc.get("resourceType") == "Bundle":
        result = map_bundle(doc, as_of=as_of, mapping=mapping, patient_id=patient_id)
    elif doc.get("resourceType") == "Patient":
        result = map_resources([doc], as_of=as_of, mapping=mapping, patient_id=patient_id)
    else:
        kind = str(doc.get("resourceType"))[:40]
        result = map_bundle({"resourceType": "Bundle"}, mapping=mapping)
        errors.append(
            FieldError("resourceType", f"expected a FHIR Bundle or a patient file, got {kind}", "fhir_shape")
        )
    if errors:
        return MappingResult(None, None, result.report, errors + result.errors)
    return result


def load_input(
    source: Patient | dict[str, Any] | str | os.PathLike[str] | bytes,
    *,
    as_of: date | None = None,
    mapping: FhirMapping | str | os.PathLike[str] | None = None,
    strict: bool = False,
    name: str | None = None,
    fmt: Format | None = None,
    patient_id: str | None = None,
) -> tuple[Patient, MappingReport | None]:
    """A patient file or a FHIR document (recognised by ``resourceType``, no flag) as a :class:`Patient`.

    ``patient_id`` chooses the Patient of a FHIR document that holds several; it does not apply to a
    patient file (one patient, its own ``patient_id``), which is then refused rather than read as if chosen.

    Returns:
        The patient and, for FHIR input, the mapping report (``None`` for a patient file).

    Raises:
        InputError: The input is invalid (for FHIR a :class:`FhirInputError` carrying the report).
        TypeError: ``patient_id`` is not a string or ``None``.
    """
    check_patient_id(patient_id)
    if isinstance(source, Patient):
        return _patient_file(source, patient_id, name or "<patient>"), None
    label = name
    doc: object = None
    if isinstance(source, dict):
        if not is_fhir_document(source):
            return _patient_file(load_patient(source, name=name), patient_id, name or "<dict>"), None
        doc, label = source, name or "<dict>"
    elif isinstance(source, bytes):
        label = name or "<bytes>"
        doc = parse_document(source, source=label, fmt=fmt)
        if not is_fhir_document(doc):
            return _patient_file(validate_patient(doc, source=label), patient_id, label), None
    elif isinstance(source, str) and looks_like_document(source):  # JSON or YAML text, not a path
        label = name or "<str>"
        doc = parse_document(source, source=label, fmt=fmt)
        if not is_fhir_document(doc):
            return _patient_file(validate_patient(doc, source=label), patient_id, label), None
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        label = name or str(path)
        if not _looks_fhir(path):
            try:
                return _patient_file(load_patient(path, name=name), patient_id, label), None
            except InputError as exc:
                if not any(e.loc == "resourceType" for e in exc.errors):
                    raise
        doc = parse_document(path.read_bytes(), source=label, fmt="json")
    else:
        return _patient_file(load_patient(source, name=name), patient_id, name or "<patient>"), None
    assert isinstance(doc, Mapping)
    result = map_document(doc, as_of=as_of, mapping=resolve_mapping(mapping), strict=strict, patient_id=patient_id)
    return result.raise_for_errors(label or "<fhir>"), result.report


NOT_FOR_PATIENT_FILES = (
    "--patient-id (patient_id) chooses a Patient of FHIR input: a patient file holds one patient,"
    " so it does not apply (drop the option for patient files)"
)


def _patient_file(patient: Patient, patient_id: str | None, label: str) -> Patient:
    """A patient file's patient; refused when a ``patient_id`` was asked for, which only FHIR input takes."""
    if patient_id is not None:
        raise InputError(label, [FieldError("patient_id", NOT_FOR_PATIENT_FILES, "not_fhir")])
    return patient


def _looks_fhir(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError:
        return False  # load_patient reports the OS error in its own words
    return b'"resourceType"' in head


def with_mapping(evaluation: _M, report: MappingReport | None) -> _M:
    """The evaluation with its ``mapping`` block (unchanged when the input was a patient file)."""
    if report is None:
        return evaluation
    return evaluation.model_copy(update={"mapping": report.to_dict()})


def sniff_ndjson(path: Path, lines: int = 8) -> bool:
    """Whether an NDJSON file is a Bulk Data file: among its first ``lines`` non-blank lines one is a FHIR
    resource and none a patient file (one junk first line does not turn an export into patient files)."""
    seen = 0
    resource = False
    try:
        with path.open("rb") as handle:
            for line in handle:
                if not line.strip():
                    continue
                if b'"schema_version"' in line:
                    return False
                resource = resource or b'"resourceType"' in line
                seen += 1
                if seen >= lines:
                    break
    except OSError:
        return False
    return resource


def bulk_bundles(paths: Iterable[Path]) -> Iterator[tuple[str, bytes | None, tuple[FieldError, ...]]]:
    """Per Patient of a Bulk Data export: ``(source, a collection Bundle as JSON bytes, ())``; bad lines give
    ``(source, None, errors)``. The batch runner evaluates each Bundle as one record."""
    from .bulk import iter_bulk_groups

    for source, entries, errors in iter_bulk_groups(list(paths)):
        if errors:
            yield source, None, tuple(errors)
            continue
        bundle = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for _, r, _ in entries],
        }
        yield source, json.dumps(bundle, separators=(",", ":")).encode(), ()
