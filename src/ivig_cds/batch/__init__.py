"""Batches: many records in, one result or error record each, in order, in this process or in workers."""

from __future__ import annotations

from ivig_cds.batch.evaluate import Evaluator, evaluate_record
from ivig_cds.batch.records import (
    MAX_FILE_BYTES,
    MAX_RECORDS,
    PATIENT_SUFFIXES,
    Failure,
    Record,
    Result,
    Tally,
    collect_records,
)
from ivig_cds.batch.runner import InProcess, Runner, default_jobs, run_batch
from ivig_cds.engine.config import EngineSpec

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_RECORDS",
    "PATIENT_SUFFIXES",
    "EngineSpec",
    "Evaluator",
    "Failure",
    "InProcess",
    "Record",
    "Result",
    "Runner",
    "Tally",
    "collect_records",
    "default_jobs",
    "evaluate_record",
    "run_batch",
]
