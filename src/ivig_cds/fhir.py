"""FHIR R4 input and export: the public names of :mod:`ivig_cds.inputs.fhir` (see ``docs/fhir.md``)."""

from __future__ import annotations

from ivig_cds.inputs.fhir import (
    BulkResult,
    FhirInputError,
    FhirMapping,
    MappingNote,
    MappingReport,
    MappingResult,
    bundle_entries,
    bundle_from_patient,
    default_mapping_path,
    iter_bulk_patients,
    load_mapping,
    map_bundle,
    map_prefetch,
    map_resources,
    patient_from_bundle,
    patient_from_prefetch,
    patient_from_resources,
    prefetch_gaps,
)

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
