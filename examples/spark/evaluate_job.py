"""Screen every myositis patient of a health system on Spark: documents in, a Parquet table of statuses out.

Run it with ``spark-submit`` (or ``python`` where pyspark is installed: a local session)::

    spark-submit examples/spark/evaluate_job.py --input cohort.ndjson --as-of 2024-06-01 --output statuses.parquet
    spark-submit examples/spark/evaluate_job.py --input /lake/fhir/export-2024-06-01/ --input-format fhir-bulk \\
        --as-of 2024-06-01 --output /lake/ivig/statuses/2024-06-01

Inputs (``--input-format``; guessed from a ``.parquet``, ``.ndjson`` or ``.jsonl`` suffix):

* ``parquet``: a table with a string column of JSON documents (``--column``, default ``patient_json``);
* ``json``: JSON lines whose records hold that string column;
* ``ndjson``: raw NDJSON, one document per line (a patient file or a FHIR Bundle; blank lines are
  skipped, as the CLI skips them);
* ``fhir-bulk``: a FHIR Bulk Data export directory (one resource per line in ``*.ndjson`` files),
  grouped into one Bundle per Patient; error records name the row ``Patient/<id>``.

The output has one row per document (``ivig_cds.spark.spark_schema``): ``ok``/``error``, the status
columns, the engine version and ruleset hash, and ``result_json`` (the CLI's NDJSON line; leave it
out with ``--drop-result-json``). The job prints only counts, never an identifier.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ivig_cds.arrow import as_of_date
from ivig_cds.batch import EngineSpec
from ivig_cds.spark import bundles_from_bulk_export, evaluate_dataframe

FORMATS = ("parquet", "json", "ndjson", "fhir-bulk")
_SUFFIXES = {".parquet": "parquet", ".ndjson": "ndjson", ".jsonl": "ndjson"}


def _threshold(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        raise argparse.ArgumentTypeError(
            f"the value of {name} is not JSON (a number, true/false, a string)"
        ) from None


def _as_of(text: str) -> str:
    try:
        return as_of_date(text).isoformat()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    """The job's command line."""
    p = argparse.ArgumentParser(prog="evaluate_job.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--input", required=True, help="a file, directory or glob that Spark can read")
    p.add_argument("--input-format", choices=FORMATS, help="default: from the suffix of --input")
    p.add_argument("--column", default="patient_json", help="parquet/json: the column of JSON documents")
    p.add_argument("--source-column", help="parquet/json: a column naming each row in its error record")
    p.add_argument("--as-of", required=True, type=_as_of, metavar="YYYY-MM-DD", help="the evaluation date")
    p.add_argument(
        "--prefer-file-as-of", action="store_true", help="a patient file's own as_of wins (else --as-of for all)"
    )
    p.add_argument("--output", required=True, help="the Parquet directory to write")
    p.add_argument("--mode", choices=("errorifexists", "overwrite"), default="errorifexists")
    p.add_argument("--partitions", type=int, help="repartition the documents first (spread the work evenly)")
    p.add_argument("--drop-result-json", action="store_true", help="write the status columns only")
    p.add_argument("--backend", choices=("durable", "reference"), default="durable")
    p.add_argument("--threshold", type=_threshold, action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--plugin", action="append", default=[], metavar="PATH", help="a plugin file on every node")
    p.add_argument("--strict-plugins", action="store_true")
    p.add_argument("--mapping", metavar="FILE", help="FHIR: a site mapping table (a file on every node)")
    p.add_argument("--strict-fhir", action="store_true", help="FHIR: validate Bundles with the R4B models first")
    return p


def _format(args: argparse.Namespace) -> str:
    if args.input_format:
        return str(args.input_format)
    for suffix, fmt in _SUFFIXES.items():
        if args.input.rstrip("/").endswith(suffix):
            return fmt
    raise SystemExit(f"evaluate_job.py: say --input-format ({', '.join(FORMATS)}) for {args.input}")


def read_documents(spark: SparkSession, args: argparse.Namespace) -> tuple[DataFrame, str, str | None]:
    """The documents to evaluate, their column and the column naming rows in error records."""
    fmt = _format(args)
    if fmt == "ndjson":
        lines = spark.read.text(args.input)
        return (
            lines.where(F.trim(F.col("value")) != "").withColumnRenamed("value", "patient_json"),
            "patient_json",
            None,
        )
    if fmt == "fhir-bulk":
        # the export's *.ndjson files, compressed or not (Spark reads .gz text as it is)
        path = args.input if ".ndjson" in args.input else args.input.rstrip("/") + "/*.ndjson*"
        bundles = bundles_from_bulk_export(spark.read.text(path))
        named = bundles.withColumn("patient_ref", F.concat(F.lit("Patient/"), F.col("patient_ref")))
        return named, "patient_json", "patient_ref"
    df = spark.read.parquet(args.input) if fmt == "parquet" else spark.read.json(args.input)
    return df, args.column, args.source_column


def run(spark: SparkSession, argv: Sequence[str]) -> dict[str, int]:
    """Read, evaluate and write; return the counts (``rows``, ``ok``, ``errors``) of what was written."""
    args = build_parser().parse_args(argv)
    df, column, source = read_documents(spark, args)
    if args.partitions:
        df = df.repartition(args.partitions)
    spec = EngineSpec(
        backend=args.backend,
        thresholds=tuple(sorted(dict(args.threshold).items())),
        plugin_paths=tuple(args.plugin),
        strict_plugins=args.strict_plugins,
        fhir_mapping=args.mapping,
        strict_fhir=args.strict_fhir,
    )
    out = evaluate_dataframe(
        df,
        column=column,
        as_of=args.as_of,
        spec=spec,
        source_column=source,
        prefer_file_as_of=args.prefer_file_as_of,
    )
    if args.drop_result_json:
        out = out.drop("result_json")
    out.write.mode(args.mode).parquet(args.output)
    counts = {
        bool(r["ok"]): int(r["count"]) for r in spark.read.parquet(args.output).groupBy("ok").count().collect()
    }
    return {"rows": sum(counts.values()), "ok": counts.get(True, 0), "errors": counts.get(False, 0)}


def main(argv: Sequence[str] | None = None) -> int:
    """``spark-submit`` entry: 0 once the table is written (error rows are data, counted on stdout)."""
    spark = SparkSession.builder.appName("ivig-cds screening").getOrCreate()
    try:
        counts = run(spark, sys.argv[1:] if argv is None else argv)
    finally:
        spark.stop()
    print(f"ivig-cds: {counts['rows']} rows written: {counts['ok']} evaluated, {counts['errors']} error rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
