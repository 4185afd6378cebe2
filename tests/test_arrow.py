"""The Arrow core: a row out per row in, CLI-identical results and error records, one engine per process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import pytest

pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed (pip install '.[spark]' or '.[arrow]')")

from ivig_cds import EngineError, Evaluation, Status  # noqa: E402
from ivig_cds import arrow as core  # noqa: E402
from ivig_cds.arrow import FIXED_COLUMNS, as_of_date, cached_engine, evaluate_batches, output_schema  # noqa: E402
from ivig_cds.batch import EngineSpec  # noqa: E402
from scale_helpers import (  # noqa: E402
    AS_OF,
    BROKEN_LINES,
    SEED_FILES,
    cli_ndjson,
    counting_plugin,
    engines_per_pid,
    write_ndjson,
)
from strategies import cohort  # noqa: E402

SPEC = EngineSpec()


def _batch(docs: list[Any], **extra: list[Any]) -> Any:
    return pa.RecordBatch.from_pydict({"patient_json": docs, **extra})


def _rows(batches: Iterator[Any]) -> list[dict[str, Any]]:
    return [row for b in batches for row in b.to_pylist()]


def _line(row: dict[str, Any]) -> str:
    """The NDJSON line the CLI would print for this row: the result, or the error record."""
    return str(row["result_json"] if row["ok"] else row["error"])


# ---------------------------------------------------------------- import isolation and schema


def test_importing_ivig_cds_imports_neither_pyarrow_nor_pyspark() -> None:
    code = (
        "import sys, ivig_cds, ivig_cds.batch, ivig_cds.outputs, ivig_cds.cli\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('pyarrow', 'pyspark', 'pandas'))\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == ""


@pytest.mark.parametrize(("module", "extra"), [("ivig_cds.arrow", "[arrow]"), ("ivig_cds.spark", "[spark]")])
def test_without_pyarrow_the_scale_modules_name_the_extra_to_install(module: str, extra: str) -> None:
    code = (
        "import sys\n"
        "sys.modules['pyarrow'] = None  # any import of pyarrow now raises ImportError\n"
        f"try:\n    import {module}\nexcept ImportError as exc:\n    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert f"pip install 'ivig-cds{extra}'" in done.stdout


def test_every_status_field_has_a_column_and_the_columns_are_in_contract_order() -> None:
    names = output_schema().names
    assert names == ["patient_id", "ok", "error", *Status.model_fields, "engine_version", "ruleset_sha256",
                     "result_json"]  # fmt: skip
    assert set(FIXED_COLUMNS) | set(Status.model_fields) == set(names)


def test_status_types_map_to_arrow_types_including_the_coming_fields() -> None:
    class Source(StrEnum):
        ARGUMENT = "argument"

    kinds: dict[str, Any] = {
        "missing_screen": (list[str], pa.list_(pa.string())),
        "latest_total_improvement_score": (float | None, pa.float64()),
        "as_of_source": (Literal["argument", "file", "today"], pa.string()),
        "as_of_source_enum": (Source, pa.string()),
        "relapse_alert": (bool, pa.bool_()),
        "refractory": (bool | None, pa.bool_()),
        "count": (int, pa.int64()),
    }
    for name, (annotation, expected) in kinds.items():
        assert core._arrow_type(name, annotation) == expected, name


@pytest.mark.parametrize("annotation", [dict[str, int], Literal[1, 2], int | str, object])
def test_a_status_type_without_a_column_mapping_is_refused_by_name(annotation: Any) -> None:
    with pytest.raises(TypeError, match=r"Status\.new_field has a type with no Arrow column mapping"):
        core._arrow_type("new_field", annotation)


# ---------------------------------------------------------------- as_of and arguments


def _untouchable() -> Iterator[Any]:
    raise AssertionError("a batch was read before the arguments were checked")
    yield  # pragma: no cover


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "as_of is required"),
        ("2024-13-01", "not an ISO date"),
        ("20240601", "not an ISO date"),
        ("", "not an ISO date"),
        (datetime(2024, 6, 1, 12, 0), "not a datetime"),
        (20240601, "got int"),
    ],
)
def test_a_missing_or_invalid_as_of_is_refused_before_any_batch_is_read(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate_batches(_untouchable(), spec=SPEC, as_of=value)  # type: ignore[arg-type]


def test_as_of_is_a_required_keyword() -> None:
    with pytest.raises(TypeError, match="as_of"):
        evaluate_batches(_untouchable(), spec=SPEC)  # type: ignore[call-arg]


def test_as_of_accepts_a_date_or_an_iso_string() -> None:
    assert as_of_date("2024-06-01") == as_of_date(date(2024, 6, 1)) == date(2024, 6, 1)


def test_a_spec_that_is_not_an_engine_spec_is_refused() -> None:
    with pytest.raises(TypeError, match="EngineSpec"):
        evaluate_batches(_untouchable(), spec={"backend": "reference"}, as_of=AS_OF)  # type: ignore[arg-type]


def test_a_missing_or_non_text_column_fails_the_run_with_its_name() -> None:
    with pytest.raises(ValueError, match=r"document column 'patient_json' is not in the batch \(columns: doc\)"):
        list(evaluate_batches([pa.RecordBatch.from_pydict({"doc": ["{}"]})], spec=SPEC, as_of=AS_OF))
    with pytest.raises(ValueError, match="must hold JSON text"):
        list(evaluate_batches([_batch([1, 2])], spec=SPEC, as_of=AS_OF))


# ---------------------------------------------------------------- results identical to the CLI


def test_the_seed_cohort_gives_the_cli_ndjson_bytes_and_status_columns_match_the_result(tmp_path: Path) -> None:
    docs = [p.read_text(encoding="utf-8") for p in SEED_FILES]
    rows = _rows(evaluate_batches([_batch(docs)], spec=SPEC, as_of=AS_OF))
    expected = cli_ndjson(SEED_FILES[0].parent)
    assert len(rows) == len(expected) == 35
    assert [r["result_json"] for r in rows] == expected
    engine = cached_engine(SPEC)
    for row in rows:
        result = json.loads(row["result_json"])
        assert row["ok"] is True and row["error"] is None
        assert row["patient_id"] == result["patient_id"]
        assert {name: row[name] for name in Status.model_fields} == result["status"]
        assert (row["engine_version"], row["ruleset_sha256"]) == (engine.info.version, engine.fingerprint)


def test_generated_patients_in_binary_and_string_columns_match_the_api(tmp_path: Path) -> None:
    docs = cohort(200, seed=7)
    texts = [json.dumps(d) for d in docs]
    engine = cached_engine(SPEC)
    expected = [engine.evaluate(d, as_of=date(2024, 6, 1)).to_json(indent=None) for d in docs]
    as_text = _rows(evaluate_batches([_batch(texts)], spec=SPEC, as_of=AS_OF))
    as_bytes = _rows(evaluate_batches([_batch([t.encode() for t in texts])], spec=SPEC, as_of=date(2024, 6, 1)))
    assert [r["result_json"] for r in as_text] == [r["result_json"] for r in as_bytes] == expected


def test_broken_rows_become_the_cli_error_records_and_echo_no_patient_data(tmp_path: Path) -> None:
    good = json.dumps(json.loads(SEED_FILES[0].read_text(encoding="utf-8")))
    bad = dict(json.loads(good), patient_id="weight-5")
    bad["demographics"] = dict(bad["demographics"], weight_kg=5)
    lines = [good, *BROKEN_LINES, json.dumps(bad), good]
    path = write_ndjson(tmp_path / "mixed.ndjson", lines)
    sources = [f"{path}:{i}" for i in range(1, len(lines) + 1)]
    rows = _rows(evaluate_batches([_batch(lines, src=sources)], spec=SPEC, as_of=AS_OF, source_column="src"))
    assert [_line(r) for r in rows] == cli_ndjson(path)
    assert [r["ok"] for r in rows] == [True] + [False] * (len(lines) - 2) + [True]
    for row in rows[1:-1]:
        assert row["patient_id"] is None and row["result_json"] is None
        assert all(row[name] is None for name in Status.model_fields)
        assert "secret-id-123" not in row["error"] and "weight-5" not in row["error"]


def test_null_empty_and_undecodable_rows_are_error_rows_named_by_the_default_source() -> None:
    rows = _rows(evaluate_batches([_batch([None, "", b"\xff{}"])], spec=SPEC, as_of=AS_OF))
    errors = [json.loads(r["error"])["error"] for r in rows]
    assert [e["source"] for e in errors] == ["<row>"] * 3
    assert [e["errors"][0]["msg"] for e in errors] == [
        "no document (the value is null)",
        "empty document",
        "not valid UTF-8 (byte offset 0)",
    ]


def test_an_engine_failure_is_an_error_row_like_the_cli_and_an_unexpected_one_names_only_its_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = cached_engine(SPEC)
    doc = SEED_FILES[0].read_text(encoding="utf-8")

    def engine_error(patient: Any, *, as_of: date | None = None) -> Evaluation:
        raise EngineError("durable-rules failed in stratum 2")

    def internal(patient: Any, *, as_of: date | None = None) -> Evaluation:
        raise RuntimeError(f"bug while reading {patient.patient_id}")

    monkeypatch.setattr(engine, "evaluate", engine_error)
    (row,) = _rows(evaluate_batches([_batch([doc])], spec=SPEC, as_of=AS_OF))
    assert json.loads(row["error"])["error"]["errors"] == [
        {"loc": "", "msg": "durable-rules failed in stratum 2", "type": "engine"}
    ]
    monkeypatch.setattr(engine, "evaluate", internal)
    (row,) = _rows(evaluate_batches([_batch([doc])], spec=SPEC, as_of=AS_OF))
    assert json.loads(row["error"])["error"]["errors"] == [
        {"loc": "", "msg": "internal error (RuntimeError); please report", "type": "internal"}
    ]
    assert row["ok"] is False and row["engine_version"] == engine.info.version


# ---------------------------------------------------------------- rows in = rows out, order, batching


def test_row_count_and_order_are_kept_across_batches_and_output_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core, "MAX_OUTPUT_ROWS", 3)
    docs = cohort(11, seed=3)
    texts: list[Any] = [json.dumps(d) for d in docs]
    texts[4] = "{broken"
    batches = [_batch(texts[:7]), _batch([]), _batch(texts[7:])]
    out = list(evaluate_batches(batches, spec=SPEC, as_of=AS_OF))
    assert [b.num_rows for b in out] == [3, 3, 1, 0, 3, 1]
    assert all(b.schema == output_schema() for b in out)
    rows = _rows(iter(out))
    assert [r["patient_id"] for r in rows] == [d["patient_id"] if i != 4 else None for i, d in enumerate(docs)]


def test_source_column_of_integers_names_error_rows() -> None:
    rows = _rows(
        evaluate_batches([_batch(["{", "["], key=[41, None])], spec=SPEC, as_of=AS_OF, source_column="key")
    )
    assert [json.loads(r["error"])["error"]["source"] for r in rows] == ["41", "<row>"]


# ---------------------------------------------------------------- as_of policy


def test_as_of_applies_to_every_row_unless_the_file_date_is_preferred() -> None:
    with_date = json.loads(SEED_FILES[0].read_text(encoding="utf-8"))
    with_date["as_of"] = "2023-01-15"
    without = {k: v for k, v in with_date.items() if k != "as_of"}
    batch = _batch([json.dumps(with_date), json.dumps(without)])
    forced = _rows(evaluate_batches([batch], spec=SPEC, as_of=AS_OF))
    preferred = _rows(evaluate_batches([batch], spec=SPEC, as_of=AS_OF, prefer_file_as_of=True))
    assert [json.loads(r["result_json"])["as_of"] for r in forced] == [AS_OF, AS_OF]
    assert [json.loads(r["result_json"])["as_of"] for r in preferred] == ["2023-01-15", AS_OF]


# ---------------------------------------------------------------- one engine per process


def test_one_engine_per_process_and_spec(tmp_path: Path) -> None:
    plugin, side = counting_plugin(tmp_path)
    spec = EngineSpec(backend="reference", plugin_paths=(str(plugin),))
    doc = SEED_FILES[0].read_text(encoding="utf-8")
    for _ in range(3):
        rows = _rows(evaluate_batches([_batch([doc]), _batch([doc])], spec=spec, as_of=AS_OF))
        assert [r["ok"] for r in rows] == [True, True]
    assert list(engines_per_pid(side).values()) == [1]
    assert cached_engine(spec) is cached_engine(EngineSpec(backend="reference", plugin_paths=(str(plugin),)))
    other = EngineSpec(backend="durable", plugin_paths=(str(plugin),))
    list(evaluate_batches([_batch([doc])], spec=other, as_of=AS_OF))
    assert list(engines_per_pid(side).values()) == [2]


# ---------------------------------------------------------------- FHIR bundles


BUNDLE: dict[str, Any] = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {"resource": {"resourceType": "Patient", "id": "pm-9", "birthDate": "1970-03-02", "gender": "female"}},
        {
            "resource": {
                "resourceType": "Condition",
                "id": "pm-9-dx",
                "subject": {"reference": "Patient/pm-9"},
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "31384009"}]},
                "clinicalStatus": {"coding": [{"code": "active"}]},
                "verificationStatus": {"coding": [{"code": "confirmed"}]},
                "onsetDateTime": "2019-02-01",
            }
        },
    ],
}


class _RecordingEngine:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, date | None]] = []

    def evaluate(self, patient: Any, *, as_of: date | None = None) -> Any:
        self.calls.append((patient, as_of))
        raise EngineError("recorded")


def test_a_document_with_resource_type_goes_to_the_engine_as_a_dict_when_the_adapter_exists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(core, "_fhir_available", lambda: True)
    engine = _RecordingEngine()
    errors = core._evaluate_row(engine, json.dumps(BUNDLE), "<row>", date(2024, 6, 1), True)
    assert engine.calls == [(BUNDLE, date(2024, 6, 1))]
    assert errors == [core.FieldError("", "recorded", "engine")]
    core._evaluate_row(engine, SEED_FILES[0].read_text(encoding="utf-8"), "<row>", date(2024, 6, 1), False)
    assert type(engine.calls[1][0]).__name__ == "Patient"


def test_a_bundle_without_the_fhir_adapter_is_an_error_row_that_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core, "_fhir_available", lambda: False)
    (row,) = _rows(evaluate_batches([_batch([json.dumps(BUNDLE)])], spec=SPEC, as_of=AS_OF))
    (error,) = json.loads(row["error"])["error"]["errors"]
    assert error["loc"] == "resourceType" and error["type"] == "fhir_unavailable"
    assert "ivig_cds.fhir" in error["msg"] and "pm-9" not in row["error"]


def test_a_bundle_row_gives_the_cli_bytes_with_the_fhir_adapter(tmp_path: Path) -> None:
    pytest.importorskip(
        "ivig_cds.fhir", reason="ivig_cds.fhir (the FHIR adapter, branch fhir) is not in this build"
    )
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(BUNDLE), encoding="utf-8")
    (row,) = _rows(
        evaluate_batches(
            [_batch([json.dumps(BUNDLE)], src=[str(path)])], spec=SPEC, as_of=AS_OF, source_column="src"
        )
    )
    assert [_line(row)] == cli_ndjson(path)
