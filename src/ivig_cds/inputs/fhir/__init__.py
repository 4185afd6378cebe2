"""FHIR R4 input: build patient files from what an EHR holds (Bundles, prefetch, Bulk NDJSON) and export them.

::

    patient_from_resources / _bundle / _prefetch  ->  (Patient, MappingReport)   raise FhirInputError
    map_resources / map_bundle / map_prefetch     ->  MappingResult              never raise for bad input
    iter_bulk_patients(ndjson files)              ->  one BulkResult per Patient
    bundle_from_patient(patient)                  ->  an R4 Bundle with the default codes
"""

from __future__ import annotations

import importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from .api import (
        bundle_entries,
        map_bundle,
        map_prefetch,
        map_resources,
        patient_from_bundle,
        patient_from_prefetch,
        patient_from_resources,
        prefetch_gaps,
    )
    from .build import FhirInputError, MappingResult
    from .bulk import BulkResult, iter_bulk_patients
    from .export import bundle_from_patient
    from .mapping import FhirMapping, default_mapping_path, load_mapping
    from .report import MappingNote, MappingReport

_HOMES = {
    "bundle_entries": "api",
    "map_bundle": "api",
    "map_prefetch": "api",
    "map_resources": "api",
    "patient_from_bundle": "api",
    "patient_from_prefetch": "api",
    "patient_from_resources": "api",
    "prefetch_gaps": "api",
    "FhirInputError": "build",
    "MappingResult": "build",
    "BulkResult": "bulk",
    "iter_bulk_patients": "bulk",
    "bundle_from_patient": "export",
    "FhirMapping": "mapping",
    "default_mapping_path": "mapping",
    "load_mapping": "mapping",
    "MappingNote": "report",
    "MappingReport": "report",
}
"""Each public name -> its module, imported on first use (a patient file never loads the FHIR modules)."""


def __getattr__(name: str) -> _typing.Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "BulkResult",
    "FhirInputError",
    "FhirMapping",
    "MappingNote",
    "MappingReport",
    "MappingResult",
    "bundle_entries",
    "bundle_from_patient",
    "default_mapping_path",
    "iter_bulk_patients",
    "load_mapping",
    "map_bundle",
    "map_prefetch",
    "map_resources",
    "patient_from_bundle",
    "patient_from_prefetch",
    "patient_from_resources",
    "prefetch_gaps",
]
