"""Evaluate a Spark DataFrame of patient documents with ``mapInArrow`` (classic Spark and Spark Connect).

:func:`evaluate_dataframe` runs the Arrow core (:mod:`ivig_cds.arrow`) in the Python workers: each
worker process builds one engine per spec and keeps it for every task it runs.
:func:`bundles_from_bulk_export` turns the NDJSON lines of a FHIR Bulk Data export (one resource
per line) into one FHIR Bundle per patient, ready to evaluate.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import date

try:
    import pyarrow as pa
    from pyspark.sql import Column, DataFrame
    from pyspark.sql import functions as F
    from pyspark.sql import types as T
except ImportError as exc:  # an optional extra: say which
    raise ImportError(f"ivig_cds.spark needs pyspark and pyarrow ({exc}): pip install 'ivig-cds[spark]'") from None

from ivig_cds.arrow import as_of_date, cached_engine, evaluate_batches, output_schema
from ivig_cds.batch import EngineSpec

__all__ = ["BULK_RESOURCE_TYPES", "bundles_from_bulk_export", "evaluate_dataframe", "spark_schema"]

BULK_RESOURCE_TYPES = (
    "AllergyIntolerance",
    "Condition",
    "Medication",
    "MedicationAdministration",
    "MedicationRequest",
    "MedicationStatement",
    "Observation",
    "Patient",
    "Procedure",
)
"""The resource types the FHIR mapping reads (``docs/fhir-mapping.md``); other lines are left out."""

_DOC = "patient_json"
_SOURCE = "source"


def _spark_type(kind: pa.DataType) -> T.DataType:
    if pa.types.is_string(kind):
        return T.StringType()
    if pa.types.is_boolean(kind):
        return T.BooleanType()
    if pa.types.is_float64(kind):
        return T.DoubleType()
    if pa.types.is_int64(kind):
        return T.LongType()
    if pa.types.is_list(kind):
        return T.ArrayType(_spark_type(kind.value_type), containsNull=True)
    raise TypeError(f"no Spark type for the Arrow type {kind}")


def spark_schema() -> T.StructType:
    """The output schema of :func:`evaluate_dataframe`: :func:`ivig_cds.arrow.output_schema` in Spark types."""
    return T.StructType([T.StructField(f.name, _spark_type(f.type), f.nullable) for f in output_schema()])


def _evaluate_partition(
    batches: Iterator[pa.RecordBatch], *, spec: EngineSpec, as_of: date, sourced: bool, prefer_file_as_of: bool
) -> Iterator[pa.RecordBatch]:
    yield from evaluate_batches(
        batches,
        spec=spec,
        column=_DOC,
        as_of=as_of,
        source_column=_SOURCE if sourced else None,
        prefer_file_as_of=prefer_file_as_of,
    )


def evaluate_dataframe(
    df: DataFrame,
    *,
    column: str = "patient_json",
    as_of: date | str,
    spec: EngineSpec = EngineSpec(),  # noqa: B008  # frozen, so one shared default is safe
    source_column: str | None = None,
    prefer_file_as_of: bool = False,
) -> DataFrame:
    """Evaluate every row of ``df``: one output row per input row, with the schema :func:`spark_schema`.

    Checks run here, on the driver, before any task: ``as_of``, the columns and their types, and
    the engine itself (built once in this process, so a bad rule file or strict plugin fails now).

    Args:
        df: A DataFrame with a string or binary column of JSON documents (patient files or FHIR Bundles).
        column: That column.
        as_of: The evaluation date (``date`` or ``YYYY-MM-DD``), required: executors' clocks differ.
        spec: The engine recipe; each Python worker builds one engine from it and reuses it.
        source_column: A column naming each row in its error record (cast to string), as the CLI
            names ``file:line``; default ``<row>``.
        prefer_file_as_of: A patient file's own ``as_of`` wins over ``as_of`` (see
            :func:`ivig_cds.arrow.evaluate_batches`).

    Returns:
        The lazy DataFrame of results (nothing runs until an action).

    Raises:
        ValueError: ``as_of`` is missing or invalid, or a column is missing or of the wrong type.
        TypeError: ``spec`` is not an :class:`EngineSpec`.
        IvigCdsError: The engine cannot be built from ``spec``.
    """
    day = as_of_date(as_of)
    if not isinstance(spec, EngineSpec):
        raise TypeError(f"spec must be an ivig_cds.batch.EngineSpec, got {type(spec).__name__}")
    fields = {f.name: f.dataType for f in df.schema.fields}
    if column not in fields:
        raise ValueError(f"document column {column!r} is not in the DataFrame (columns: {', '.join(fields)})")
    if not isinstance(fields[column], T.StringType | T.BinaryType):
        raise ValueError(
            f"document column {column!r} must be string or binary, not {fields[column].simpleString()}"
        )
    selected: list[Column] = [F.col(column).alias(_DOC)]
    if source_column is not None:
        if source_column not in fields:
            raise ValueError(f"source column {source_column!r} is not in the DataFrame")
        selected.append(F.col(source_column).cast("string").alias(_SOURCE))
    cached_engine(spec)
    func = functools.partial(
        _evaluate_partition,
        spec=spec,
        as_of=day,
        sourced=source_column is not None,
        prefer_file_as_of=prefer_file_as_of,
    )
    return df.select(*selected).mapInArrow(func, spark_schema())


def _ref_id(path: str, resource_type: str) -> Column:
    """The id in ``<resource_type>/<id>`` (relative or absolute reference) at ``path``, else null."""
    ref = F.get_json_object(F.col("value"), path)
    found = F.regexp_extract(ref, rf"(?:^|/){resource_type}/([^/]+)$", 1)
    return F.when(found != "", found)


def bundles_from_bulk_export(lines: DataFrame) -> DataFrame:
    """Group FHIR Bulk Data NDJSON lines into one ``collection`` Bundle per Patient.

    A resource belongs to the patient its ``subject`` or ``patient`` reference names (a ``Patient``
    to itself); a ``Medication`` joins every patient whose ``medicationReference`` names it. Entries
    are sorted by resource type and id, so the same export gives the same bundles. Lines of other
    resource types, and resources that name no patient, are left out (count them with
    ``lines.count()`` before and after if needed).

    Args:
        lines: A DataFrame with a string column ``value``, one resource per row (``spark.read.text``).

    Returns:
        Columns ``patient_ref`` (the Patient id) and ``patient_json`` (the Bundle as JSON text).
    """
    res = lines.select(
        F.col("value"),
        F.get_json_object(F.col("value"), "$.resourceType").alias("rt"),
        F.get_json_object(F.col("value"), "$.id").alias("rid"),
    ).where(F.col("rt").isin(*BULK_RESOURCE_TYPES))
    owned = res.select(
        "value",
        "rt",
        "rid",
        F.when(F.col("rt") == "Patient", F.col("rid"))
        .otherwise(
            F.coalesce(_ref_id("$.subject.reference", "Patient"), _ref_id("$.patient.reference", "Patient"))
        )
        .alias("patient_ref"),
        _ref_id("$.medicationReference.reference", "Medication").alias("med_ref"),
    ).where(F.col("patient_ref").isNotNull())
    meds = res.where(F.col("rt") == "Medication").select(
        F.col("rid").alias("med_id"), F.col("value").alias("med_value")
    )
    med_rows = (
        owned.where(F.col("med_ref").isNotNull())
        .join(meds, F.col("med_ref") == F.col("med_id"))
        .select(
            F.col("med_value").alias("value"),
            F.lit("Medication").alias("rt"),
            F.col("med_id").alias("rid"),
            "patient_ref",
        )
        .distinct()
    )
    entries = owned.select("value", "rt", "rid", "patient_ref").unionByName(med_rows)
    patients = entries.where(F.col("rt") == "Patient").select("patient_ref").distinct()
    grouped = entries.groupBy("patient_ref").agg(
        F.array_sort(F.collect_list(F.struct("rt", "rid", "value"))).alias("items")
    )
    entry_json = F.transform(F.col("items"), lambda x: F.concat(F.lit('{"resource":'), x["value"], F.lit("}")))
    bundle = F.concat(
        F.lit('{"resourceType":"Bundle","type":"collection","entry":['),
        F.array_join(entry_json, ","),
        F.lit("]}"),
    )
    return grouped.join(patients, "patient_ref").select("patient_ref", bundle.alias("patient_json"))
