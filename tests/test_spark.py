"""Spark screening on a local[2] session: CLI-identical results, error rows, row counts, one engine per worker."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("pyarrow", reason="pyarrow is not installed: pip install '.[spark]' (CI installs it)")
pytest.importorskip("pyspark", reason="pyspark is not installed: pip install '.[spark]' (CI installs it)")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("no Java runtime (java on PATH or JAVA_HOME): Spark needs Java 17 or 21", allow_module_level=True)

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ivig_cds import Status
from ivig_cds.arrow import output_schema
from ivig_cds.batch import EngineSpec
from ivig_cds.spark import bundles_from_bulk_export, evaluate_dataframe, spark_schema
from scale_helpers import (
    AS_OF,
    BROKEN_LINES,
    REPO,
    SEED_FILES,
    cli_lines,
    cli_ndjson,
    counting_plugin,
    engines_per_pid,
    start_cli_ndjson,
    write_ndjson,
)
from strategies import cohort

pytestmark = pytest.mark.spark


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    """One local[2] session for every Spark test: no UI, loopback only, this interpreter in the workers."""
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"  # never look up this host's other addresses
    session = (
        SparkSession.builder.master("local[2]")
        .appName("ivig-cds-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.local.dir", str(tmp_path_factory.mktemp("spark-local")))
        .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("spark-warehouse")))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _docs(spark: SparkSession, texts: list[str | None], partitions: int = 2) -> DataFrame:
    return spark.createDataFrame([(t,) for t in texts], "patient_json string").repartition(partitions)


def _lines(rows: list[Any]) -> list[str]:
    """The NDJSON line the CLI would print for each row: the result, or the error record."""
    return [r["result_json"] if r["ok"] else r["error"] for r in rows]


def _job() -> ModuleType:
    path = REPO / "examples" / "spark" / "evaluate_job.py"
    spec = importlib.util.spec_from_file_location("evaluate_job", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- schema and arguments


def test_the_spark_schema_is_the_arrow_schema_with_a_column_per_status_field(spark: SparkSession) -> None:
    schema = spark_schema()
    assert schema.fieldNames() == output_schema().names
    assert set(Status.model_fields) <= set(schema.fieldNames())
    assert schema["eligibility_reasons"].dataType.simpleString() == "array<string>"
    assert not schema["ok"].nullable


def test_as_of_and_columns_are_checked_on_the_driver_before_any_job(spark: SparkSession) -> None:
    df = spark.createDataFrame([("{}", 1)], "patient_json string, n int")
    with pytest.raises(ValueError, match="as_of is required"):
        evaluate_dataframe(df, as_of=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not an ISO date"):
        evaluate_dataframe(df, as_of="06/01/2024")
    with pytest.raises(ValueError, match="must be string or binary, not int"):
        evaluate_dataframe(df, column="n", as_of=AS_OF)
    with pytest.raises(ValueError, match="'doc' is not in the DataFrame"):
        evaluate_dataframe(df, column="doc", as_of=AS_OF)
    with pytest.raises(TypeError, match="EngineSpec"):
        evaluate_dataframe(df, as_of=AS_OF, spec="durable")  # type: ignore[arg-type]


# ---------------------------------------------------------------- results identical to the CLI


def test_the_seed_cohort_gives_the_cli_ndjson_bytes(spark: SparkSession) -> None:
    texts: list[str | None] = [p.read_text(encoding="utf-8") for p in SEED_FILES]
    df = spark.createDataFrame([(t,) for t in texts], "patient_json string")
    rows = evaluate_dataframe(df, as_of=AS_OF).collect()
    assert [r["result_json"] for r in rows] == cli_ndjson(SEED_FILES[0].parent)
    for row in rows:
        status = json.loads(row["result_json"])["status"]
        assert {name: row[name] for name in Status.model_fields} == status


def test_ten_thousand_generated_patients_give_the_cli_bytes_in_order(spark: SparkSession, tmp_path: Path) -> None:
    path = write_ndjson(tmp_path / "cohort.ndjson", cohort(10_000, seed=20240601))
    cli = start_cli_ndjson(path)  # the reference run, beside Spark: it fills the cores Spark leaves idle
    df = spark.read.text(str(path)).withColumnRenamed("value", "patient_json")
    out = evaluate_dataframe(df, as_of=AS_OF)
    rows = out.select("ok", F.sha2(F.col("result_json"), 256).alias("sha")).collect()
    expected = cli_lines(cli)
    assert len(rows) == len(expected) == 10_000
    assert all(r["ok"] for r in rows)
    assert [r["sha"] for r in rows] == [hashlib.sha256(line.encode("utf-8")).hexdigest() for line in expected]


def test_broken_rows_become_the_cli_error_records(spark: SparkSession, tmp_path: Path) -> None:
    good = json.dumps(json.loads(SEED_FILES[3].read_text(encoding="utf-8")))
    lines = [good, *BROKEN_LINES, good]
    path = write_ndjson(tmp_path / "broken.ndjson", lines)
    named = [(text, f"{path}:{i}") for i, text in enumerate(lines, start=1)] + [(None, "null-row")]
    df = spark.createDataFrame(named, "patient_json string, src string").repartition(3)
    rows = evaluate_dataframe(df, as_of=AS_OF, source_column="src").collect()
    assert len(rows) == len(named)
    by_source = {json.loads(r["error"])["error"]["source"]: r for r in rows if not r["ok"]}
    assert sorted(_lines(rows)) == sorted([*cli_ndjson(path), by_source["null-row"]["error"]])
    assert (
        json.loads(by_source["null-row"]["error"])["error"]["errors"][0]["msg"]
        == "no document (the value is null)"
    )
    assert sum(r["ok"] for r in rows) == 2
    assert all(r["patient_id"] is None and r["result_json"] is None for r in by_source.values())
    assert not any("secret-id-123" in r["error"] for r in by_source.values())


# ---------------------------------------------------------------- one engine per worker process


def test_each_worker_process_builds_one_engine_for_all_its_tasks(spark: SparkSession, tmp_path: Path) -> None:
    plugin, side = counting_plugin(tmp_path)
    spec = EngineSpec(backend="reference", plugin_paths=(str(plugin),))
    texts: list[str | None] = [p.read_text(encoding="utf-8") for p in SEED_FILES] * 2
    df = _docs(spark, texts, partitions=8)
    for _ in range(2):  # two jobs, 16 tasks: the workers are reused and keep their engine
        assert evaluate_dataframe(df, as_of=AS_OF, spec=spec).where("ok").count() == 70
    per_pid = engines_per_pid(side)
    assert per_pid[os.getpid()] == 1  # the driver's check
    workers = {pid: n for pid, n in per_pid.items() if pid != os.getpid()}
    assert workers and set(workers.values()) == {1}


# ---------------------------------------------------------------- FHIR Bulk export


def _resource(rt: str, rid: str, **fields: Any) -> str:
    return json.dumps({"resourceType": rt, "id": rid, **fields})


def test_a_bulk_export_becomes_one_sorted_bundle_per_patient(spark: SparkSession) -> None:
    lines = [
        _resource("Observation", "o2", subject={"reference": "Patient/p1"}),
        _resource("Patient", "p1"),
        _resource("Condition", "c1", subject={"reference": "https://ehr.example/fhir/Patient/p1"}),
        _resource("AllergyIntolerance", "a1", patient={"reference": "Patient/p1"}),
        _resource("MedicationRequest", "mr1", subject={"reference": "Patient/p1"},
                  medicationReference={"reference": "Medication/m1"}),
        _resource("MedicationRequest", "mr2", subject={"reference": "Patient/p2"},
                  medicationReference={"reference": "Medication/m1"}),
        _resource("Medication", "m1"),
        _resource("Medication", "m-unused"),
        _resource("Patient", "p2"),
        _resource("Practitioner", "dr1"),
        _resource("Observation", "o9", subject={"reference": "Patient/p-missing"}),
        _resource("Encounter", "e1", subject={"reference": "Patient/p1"}),
    ]  # fmt: skip
    df = spark.createDataFrame([(line,) for line in lines], "value string").repartition(3)
    bundles = {r["patient_ref"]: json.loads(r["patient_json"]) for r in bundles_from_bulk_export(df).collect()}
    assert sorted(bundles) == ["p1", "p2"]
    keys = {
        p: [(e["resource"]["resourceType"], e["resource"]["id"]) for e in b["entry"]] for p, b in bundles.items()
    }
    assert keys["p1"] == [
        ("AllergyIntolerance", "a1"),
        ("Condition", "c1"),
        ("Medication", "m1"),
        ("MedicationRequest", "mr1"),
        ("Observation", "o2"),
        ("Patient", "p1"),
    ]
    assert keys["p2"] == [("Medication", "m1"), ("MedicationRequest", "mr2"), ("Patient", "p2")]
    assert all(b["resourceType"] == "Bundle" and b["type"] == "collection" for b in bundles.values())


def test_bundles_are_evaluated_or_become_error_rows_that_name_the_missing_adapter(spark: SparkSession) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Patient"}}]}
    rows = evaluate_dataframe(_docs(spark, [json.dumps(bundle)]), as_of=AS_OF).collect()
    assert len(rows) == 1
    if importlib.util.find_spec("ivig_cds.fhir") is None:
        (error,) = json.loads(rows[0]["error"])["error"]["errors"]
        assert (rows[0]["ok"], error["type"]) == (False, "fhir_unavailable")
    else:  # the adapter decides; the row is a result or that adapter's error record, never a failed job
        assert (rows[0]["result_json"] is None) == (not rows[0]["ok"])


# ---------------------------------------------------------------- the example job


def test_the_example_job_writes_parquet_from_raw_ndjson_and_from_a_parquet_column(
    spark: SparkSession, tmp_path: Path
) -> None:
    job = _job()
    texts = [json.dumps(json.loads(p.read_text(encoding="utf-8"))) for p in SEED_FILES[:5]]
    raw = tmp_path / "raw.ndjson"
    raw.write_text("\n".join([*texts[:3], "", "{broken", *texts[3:]]) + "\n", encoding="utf-8")
    counts = job.run(spark, ["--input", str(raw), "--as-of", AS_OF, "--output", str(tmp_path / "out1")])
    assert counts == {"rows": 6, "ok": 5, "errors": 1}
    written = spark.read.parquet(str(tmp_path / "out1"))
    assert [(f.name, f.dataType) for f in written.schema] == [(f.name, f.dataType) for f in spark_schema()]
    # raw lines carry no name: the error record says <row> where the CLI says raw.ndjson:5
    expected = [line.replace(f'"source": "{raw}:5"', '"source": "<row>"') for line in cli_ndjson(raw)]
    assert sorted(_lines(written.collect())) == sorted(expected)

    table = spark.createDataFrame([(t, f"k{i}") for i, t in enumerate([*texts, "[]"])], "doc string, key string")
    table.write.parquet(str(tmp_path / "in.parquet"))
    argv = ["--input", str(tmp_path / "in.parquet"), "--column", "doc", "--source-column", "key", "--as-of", AS_OF]
    argv += ["--output", str(tmp_path / "out2"), "--drop-result-json", "--backend", "reference"]
    counts = job.run(spark, argv)
    assert counts == {"rows": 6, "ok": 5, "errors": 1}
    out2 = spark.read.parquet(str(tmp_path / "out2"))
    assert "result_json" not in out2.columns
    (bad,) = out2.where("not ok").collect()
    assert json.loads(bad["error"])["error"]["source"] == "k5"


def test_the_example_job_reads_a_bulk_export_directory(spark: SparkSession, tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    (export / "Patient.ndjson").write_text(_resource("Patient", "p1") + "\n" + _resource("Patient", "p2") + "\n")
    (export / "Condition.ndjson").write_text(
        _resource("Condition", "c1", subject={"reference": "Patient/p1"}) + "\n"
    )
    argv = [
        "--input",
        str(export),
        "--input-format",
        "fhir-bulk",
        "--as-of",
        AS_OF,
        "--output",
        str(tmp_path / "o"),
    ]
    counts = _job().run(spark, argv)
    assert counts["rows"] == 2
    errors = spark.read.parquet(str(tmp_path / "o")).where("not ok").collect()
    assert {json.loads(r["error"])["error"]["source"] for r in errors} <= {"Patient/p1", "Patient/p2"}
    if importlib.util.find_spec("ivig_cds.fhir") is None:
        assert counts == {"rows": 2, "ok": 0, "errors": 2}


def test_the_example_job_refuses_to_run_without_as_of(tmp_path: Path) -> None:
    job = _job()
    with pytest.raises(SystemExit):
        job.build_parser().parse_args(["--input", "x.ndjson", "--output", str(tmp_path / "o")])
    with pytest.raises(SystemExit):
        job.build_parser().parse_args(["--input", "x.ndjson", "--output", "o", "--as-of", "2024-02-30"])
