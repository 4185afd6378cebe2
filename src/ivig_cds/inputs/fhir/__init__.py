"""FHIR R4 input: build patient files from what an EHR holds (Bundles, prefetch, Bulk NDJSON) and export them.

::

    patient_from_resources / _bundle / _prefetch  ->  (Patient, MappingReport)   raise FhirInputError
    map_resources / map_bundle / map_prefetch     ->  MappingResult              never raise for bad input
    iter_bulk_patients(ndjson files)              ->  one BulkResult per Patient
    bundle_from_patient(patient)                  ->  an R4 Bundle with the default codes
"""

from __future__ import annotations

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
