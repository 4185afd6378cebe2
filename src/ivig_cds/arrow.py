"""Evaluate Arrow record batches of patient documents: the engine-agnostic core of Spark, Dask and Ray runs.

Each input row holds one document as JSON text (a string or binary column): a patient file, or a
FHIR Bundle (recognised by its ``resourceType``), which goes to ``Engine.evaluate`` as a dict for
the FHIR adapter to map. Each output row is the row's evaluation, flattened: ``patient_id``,
``ok``, ``error``, one column per field of :class:`~ivig_cds.evaluation.Status`,
``engine_version``, ``ruleset_sha256`` and ``result_json`` (byte-identical to the line
``ivig-cds evaluate FILE --format ndjson --as-of DATE`` prints). A row that cannot be evaluated
becomes an error row whose ``error`` is the CLI's JSON error record; it never fails the run.

One engine is built per process and per :class:`~ivig_cds.batch.EngineSpec`, on first use, and
reused by every later batch and task that process runs.
"""

from __future__ import annotations

import enum
import importlib.util
import json
import threading
import types
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any, Literal, Union, get_args, get_origin

try:
    import pyarrow as pa
    import pyarrow.compute as pc
except ImportError as exc:  # an optional extra: say which
    raise ImportError(f"ivig_cds.arrow needs pyarrow ({exc}): pip install 'ivig-cds[arrow]'") from None

from ivig_cds import Engine, Evaluation, FieldError, InputError, IvigCdsError, Status
from ivig_cds.batch import EngineSpec
from ivig_cds.inputs.files import parse_document, validate_patient
from ivig_cds.outputs import error_record

__all__ = [
    "DEFAULT_SOURCE",
    "FIXED_COLUMNS",
    "MAX_OUTPUT_ROWS",
    "as_of_date",
    "cached_engine",
    "evaluate_batches",
    "output_schema",
    "status_columns",
]

DEFAULT_SOURCE = "<row>"
"""The ``source`` of an error record when the run names no source column (the CLI names the file)."""
MAX_OUTPUT_ROWS = 1000
"""Rows per output batch at most: a result is ~15 KB, so a 10,000-row input batch is cut in ten."""
FIXED_COLUMNS = ("patient_id", "ok", "error", "engine_version", "ruleset_sha256", "result_json")
"""The output columns that are not status fields, in the order they take around the status columns."""

_ENGINES: dict[EngineSpec, Engine] = {}
_ENGINES_LOCK = threading.Lock()
_FHIR_UNAVAILABLE = (
    "a FHIR resource (resourceType present) needs the FHIR adapter ivig_cds.fhir, which this ivig-cds"
    " version does not have; give a patient file instead"
)
_fhir_present: bool | None = None


# ---------------------------------------------------------------- schema


def _arrow_type(name: str, annotation: Any) -> pa.DataType:
    """The Arrow type of one status field, from its annotation; unknown shapes are refused, never guessed."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _arrow_type(name, args[0])
    elif origin is Literal:
        if all(isinstance(v, str) for v in get_args(annotation)):
            return pa.string()
    elif origin is list:
        (item,) = get_args(annotation)
        return pa.list_(_arrow_type(name, item))
    elif isinstance(annotation, type):
        if issubclass(annotation, bool):
            return pa.bool_()
        if issubclass(annotation, enum.Enum):
            if all(isinstance(m.value, str) for m in annotation):
                return pa.string()
        elif issubclass(annotation, int):
            return pa.int64()
        elif issubclass(annotation, float):
            return pa.float64()
        elif issubclass(annotation, str):
            return pa.string()
    raise TypeError(f"Status.{name} has a type with no Arrow column mapping: {annotation!r}")


def status_columns() -> list[pa.Field]:
    """One Arrow field per :class:`Status` field, in the model's order.

    Raises:
        TypeError: A status field's type has no column mapping, or its name is a fixed column's.
    """
    fields = []
    for name, info in Status.model_fields.items():
        if name in FIXED_COLUMNS:
            raise TypeError(f"Status.{name} collides with the fixed output column of the same name")
        fields.append(pa.field(name, _arrow_type(name, info.annotation)))
    return fields


def output_schema() -> pa.Schema:
    """The schema of every batch :func:`evaluate_batches` yields (``ok`` is the only non-null column)."""
    return pa.schema(
        [
            pa.field("patient_id", pa.string()),
            pa.field("ok", pa.bool_(), nullable=False),
            pa.field("error", pa.string()),
            *status_columns(),
            pa.field("engine_version", pa.string()),
            pa.field("ruleset_sha256", pa.string()),
            pa.field("result_json", pa.string()),
        ]
    )


# ---------------------------------------------------------------- arguments and engine


def as_of_date(value: object) -> date:
    """Check the evaluation date of a run: a :class:`datetime.date` or an ISO ``YYYY-MM-DD`` string.

    Workers' clocks and time zones differ, so a distributed run never falls back to "today".

    Raises:
        ValueError: Missing (``None``), a ``datetime`` (its time zone would decide the day), or not a date.
    """
    if isinstance(value, datetime):
        raise ValueError("as_of must be a date (YYYY-MM-DD), not a datetime: a time zone would decide the day")
    if isinstance(value, date):
        return value
    if value is None:
        raise ValueError(
            "as_of is required for a distributed run (each worker's clock and time zone differ): "
            "give the evaluation date, e.g. as_of='2024-06-01'"
        )
    if not isinstance(value, str):
        raise ValueError(f"as_of must be a date (YYYY-MM-DD), got {type(value).__name__}")
    day: date | None = None
    if len(value) == 10:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            day = None
    if day is None:
        raise ValueError(f"as_of is not an ISO date (YYYY-MM-DD): {value[:40]!r}")
    return day


def _check_spec(spec: object) -> EngineSpec:
    if not isinstance(spec, EngineSpec):
        raise TypeError(f"spec must be an ivig_cds.batch.EngineSpec, got {type(spec).__name__}")
    try:
        hash(spec)
    except TypeError:
        raise TypeError("spec.thresholds values must be hashable (numbers, strings, tuples)") from None
    return spec


def cached_engine(spec: EngineSpec) -> Engine:
    """This process's engine for ``spec``: built on first use, then reused (at most one per spec).

    Raises:
        IvigCdsError: The engine cannot be built (an invalid rule file, a strict plugin failing):
            a configuration error, which fails the run rather than every row.
    """
    engine = _ENGINES.get(spec)
    if engine is not None:
        return engine
    with _ENGINES_LOCK:
        engine = _ENGINES.get(spec)
        if engine is None:
            built = spec()
            if not isinstance(built, Engine):
                raise TypeError(f"EngineSpec built a {type(built).__name__}, not an Engine")
            engine = _ENGINES[spec] = built
    return engine


def _fhir_available() -> bool:
    global _fhir_present
    if _fhir_present is None:
        _fhir_present = importlib.util.find_spec("ivig_cds.fhir") is not None
    return _fhir_present


# ---------------------------------------------------------------- rows


def _evaluate_row(
    engine: Any, raw: str | bytes | None, source: str, as_of: date, prefer_file_as_of: bool
) -> Evaluation | list[FieldError]:
    """One row's evaluation, or the errors of its error record (as the CLI words them); never raises.

    Unexpected exceptions are named by type only: their message could quote patient data.
    """
    result: Evaluation
    try:
        if raw is None:
            raise InputError(source, [FieldError("", "no document (the value is null)", "parse")])
        doc: Any = parse_document(raw, source=source, fmt="json")  # always a dict: it refuses the rest
        if "resourceType" in doc:
            if not _fhir_available():
                raise InputError(source, [FieldError("resourceType", _FHIR_UNAVAILABLE, "fhir_unavailable")])
            result = engine.evaluate(doc, as_of=as_of)
            return result
        patient = validate_patient(doc, source=source)
        day = None if prefer_file_as_of and patient.as_of is not None else as_of
        result = engine.evaluate(patient, as_of=day)
        return result
    except InputError as exc:
        return list(exc.errors)
    except IvigCdsError as exc:
        return [FieldError("", str(exc), "engine")]
    except Exception as exc:
        return [FieldError("", f"internal error ({type(exc).__name__}); please report", "internal")]


def _column(batch: pa.RecordBatch, column: str, role: str) -> pa.Array:
    names = batch.schema.names
    if column not in names:
        raise ValueError(f"{role} column {column!r} is not in the batch (columns: {', '.join(names)})")
    return batch.column(names.index(column))


def _documents(batch: pa.RecordBatch, column: str) -> list[Any]:
    array = _column(batch, column, "document")
    kind = array.type
    if pa.types.is_string_view(kind) or pa.types.is_binary_view(kind):
        array, kind = pc.cast(array, pa.large_binary()), pa.large_binary()
    text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
    if not (text or pa.types.is_null(kind) or pa.types.is_binary(kind) or pa.types.is_large_binary(kind)):
        raise ValueError(f"document column {column!r} must hold JSON text (string or binary), not {kind}")
    return array.to_pylist()  # type: ignore[no-any-return]


def _sources(batch: pa.RecordBatch, column: str | None) -> list[Any]:
    if column is None:
        return [None] * batch.num_rows
    array = _column(batch, column, "source")
    try:
        return pc.cast(array, pa.string()).to_pylist()  # type: ignore[no-any-return]
    except pa.ArrowException:
        raise ValueError(f"source column {column!r} cannot be read as text ({array.type})") from None


def _rows_to_batch(
    schema: pa.Schema, engine: Engine, outcomes: Sequence[tuple[str, Evaluation | list[FieldError]]]
) -> pa.RecordBatch:
    status_names = list(Status.model_fields)
    cols: dict[str, list[Any]] = {name: [] for name in schema.names}
    version, fingerprint = engine.info.version, engine.fingerprint
    for source, outcome in outcomes:
        if isinstance(outcome, Evaluation):
            status = outcome.status.model_dump(mode="json")
            cols["patient_id"].append(outcome.patient_id)
            cols["ok"].append(True)
            cols["error"].append(None)
            for name in status_names:
                cols[name].append(status[name])
            cols["engine_version"].append(outcome.engine.version)
            cols["ruleset_sha256"].append(outcome.engine.ruleset_hash)
            cols["result_json"].append(outcome.to_json(indent=None))
        else:
            cols["patient_id"].append(None)
            cols["ok"].append(False)
            cols["error"].append(json.dumps(error_record(source, outcome), ensure_ascii=False))
            for name in status_names:
                cols[name].append(None)
            cols["engine_version"].append(version)
            cols["ruleset_sha256"].append(fingerprint)
            cols["result_json"].append(None)
    arrays = [pa.array(cols[f.name], type=f.type) for f in schema]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def evaluate_batches(
    batches: Iterable[pa.RecordBatch],
    *,
    spec: EngineSpec,
    column: str = "patient_json",
    as_of: date | str,
    source_column: str | None = None,
    prefer_file_as_of: bool = False,
) -> Iterator[pa.RecordBatch]:
    """Evaluate every row of every batch: one output row per input row, in input order.

    Args:
        batches: Record batches with a text column of JSON documents (patient files or FHIR Bundles).
        spec: How to build the engine; this process builds it once and keeps it (:func:`cached_engine`).
        column: The column holding the documents (string or binary, UTF-8).
        as_of: The evaluation date (``date`` or ``YYYY-MM-DD``), required: workers' clocks differ.
        source_column: A column (text or integer) naming each row in its error record, as the CLI
            names ``file:line``; without it, error records say :data:`DEFAULT_SOURCE`.
        prefer_file_as_of: A patient file's own ``as_of`` wins and ``as_of`` serves only files
            without one (the CLI without ``--as-of``, minus the clock). Off: ``as_of`` applies to
            every row, as ``--as-of`` does. FHIR Bundles always use ``as_of``.

    Returns:
        An iterator of batches with :func:`output_schema`, at most :data:`MAX_OUTPUT_ROWS` rows each.

    Raises:
        ValueError: ``as_of`` is missing or invalid (raised here, before any batch is read); later,
            while iterating, a batch lacks ``column`` or it holds no text.
        TypeError: ``spec`` is not an :class:`EngineSpec`.
        IvigCdsError: While iterating, the engine cannot be built (a configuration error).
    """
    day = as_of_date(as_of)
    checked = _check_spec(spec)
    if not isinstance(column, str) or not column:
        raise ValueError("column must name the column that holds the documents")
    return _evaluate(batches, checked, column, day, source_column, prefer_file_as_of)


def _evaluate(
    batches: Iterable[pa.RecordBatch],
    spec: EngineSpec,
    column: str,
    as_of: date,
    source_column: str | None,
    prefer_file_as_of: bool,
) -> Iterator[pa.RecordBatch]:
    schema = output_schema()
    engine: Engine | None = None
    for batch in batches:
        docs = _documents(batch, column)
        names = _sources(batch, source_column)
        if engine is None:
            engine = cached_engine(spec)
        if not docs:
            yield _rows_to_batch(schema, engine, [])
        for start in range(0, len(docs), MAX_OUTPUT_ROWS):
            outcomes = []
            for raw, name in zip(
                docs[start : start + MAX_OUTPUT_ROWS], names[start : start + MAX_OUTPUT_ROWS], strict=True
            ):
                source = name if isinstance(name, str) and name else DEFAULT_SOURCE
                outcomes.append((source, _evaluate_row(engine, raw, source, as_of, prefer_file_as_of)))
            yield _rows_to_batch(schema, engine, outcomes)
