"""Batches: many records in, one result or error record each, in order, in this process or in workers."""

from __future__ import annotations

from ivig_cds.batch.runner import (
    MAX_RECORDS,
    PATIENT_SUFFIXES,
    EngineSpec,
    Failure,
    Record,
    Result,
    Tally,
    collect_records,
    default_jobs,
    evaluate_record,
    run_batch,
)

__all__ = [
    "MAX_RECORDS",
    "PATIENT_SUFFIXES",
    "EngineSpec",
    "Failure",
    "Record",
    "Result",
    "Tally",
    "collect_records",
    "default_jobs",
    "evaluate_record",
    "run_batch",
]
