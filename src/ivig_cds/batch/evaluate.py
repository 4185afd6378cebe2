"""Evaluate one batch record, never raising: a result, or a failure that names the record and not its data."""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

from ivig_cds.batch.records import Failure, Record, Result
from ivig_cds.errors import FieldError, InputError, IvigCdsError, PluginError
from ivig_cds.model.evaluation import Evaluation
from ivig_cds.model.patient import Patient

__all__ = ["Evaluator", "Task", "evaluate_record"]

Task = tuple[int, Record]


class Evaluator(Protocol):
    """What a runner evaluates with: an :class:`~ivig_cds.Engine`, or anything with its ``evaluate``."""

    def evaluate(self, patient: Patient, *, as_of: date | None = None) -> Evaluation: ...


def _load(record: Record, engine: Evaluator, as_of: date | None, patient_id: str | None) -> tuple[Patient, Any]:
    """The record as a patient (FHIR input recognised by ``resourceType``) and its mapping report, if FHIR."""
    from ivig_cds.inputs.fhir.integration import load_input

    mapping, strict = getattr(engine, "fhir_mapping", None), getattr(engine, "strict_fhir", False)
    if record.path is not None:
        return load_input(record.path, as_of=as_of, mapping=mapping, strict=strict, patient_id=patient_id)
    return load_input(
        record.text or b"",
        as_of=as_of,
        mapping=mapping,
        strict=strict,
        name=record.source,
        fmt=record.fmt,
        patient_id=patient_id,
    )


def evaluate_record(
    engine: Evaluator,
    index: int,
    record: Record,
    as_of: date | None,
    keep_patient: bool = False,
    patient_id: str | None = None,
) -> Result:
    """Load and evaluate one record; never raises for a bad record. ``patient_id``: which Patient of a FHIR
    record holding several (a patient-file record given one is invalid).

    Unexpected exceptions become a ``failed`` result naming only the exception type: its message
    could quote patient data.
    """
    from ivig_cds.inputs.fhir.integration import with_mapping

    try:
        patient, report = _load(record, engine, as_of, patient_id)
        evaluation = with_mapping(engine.evaluate(patient, as_of=as_of), report)
    except InputError as exc:
        return Result(index, record.source, failure=Failure(record.source, tuple(exc.errors), what=exc.what))
    except PluginError:
        raise  # only with strict_plugins: a plugin failure is fatal to the run, as asked
    except IvigCdsError as exc:
        fail = Failure(record.source, (FieldError("", str(exc), "engine"),), "failed")
        return Result(index, record.source, failure=fail)
    except Exception as exc:
        msg = f"internal error ({type(exc).__name__}); please report"
        return Result(
            index, record.source, failure=Failure(record.source, (FieldError("", msg, "internal"),), "failed")
        )
    return Result(index, record.source, evaluation=evaluation, patient=patient if keep_patient else None)
