"""Input limits: document size and nesting give a clear InputError at the limit, not past it.

* :data:`ivig_cds.patient_io.MAX_DOCUMENT_BYTES` (10 MiB): a document of exactly that many bytes
  is read; one byte more is refused (file, bytes and str inputs; NDJSON lines; the CLI);
* :data:`ivig_cds.patient_io.MAX_NESTING_DEPTH` (64): nesting to that depth parses (and then
  fails on the unknown field), one level more is refused, in JSON and YAML;
* large but legitimate histories evaluate;
* the batch record-count limit (owned by the console engineer) - reported missing below.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from builders import eligible
from ivig_cds import Engine, InputError, batch
from ivig_cds.inputs.files import MAX_DOCUMENT_BYTES, MAX_NESTING_DEPTH, iter_ndjson, load_patient


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(entry_points=False)


def padded(doc: dict[str, Any], size: int) -> bytes:
    """The document as JSON, padded with trailing whitespace to exactly ``size`` bytes."""
    raw = json.dumps(doc).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def assert_too_large(exc: InputError) -> None:
    assert len(exc.errors) == 1
    err = exc.errors[0]
    assert err.loc == ""
    assert err.type == "too_large"
    assert f"larger than {MAX_DOCUMENT_BYTES // 2**20} MiB" in err.msg


def test_limit_is_ten_mebibytes() -> None:
    assert MAX_DOCUMENT_BYTES == 10 * 1024 * 1024
    assert MAX_NESTING_DEPTH == 64


def test_a_file_of_exactly_the_limit_is_read(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(padded(eligible().build(), MAX_DOCUMENT_BYTES))
    assert path.stat().st_size == MAX_DOCUMENT_BYTES
    assert engine.evaluate(path).patient_id == "pt-001"


@pytest.mark.parametrize("kind", ["file", "bytes", "str"])
def test_one_byte_over_the_limit_is_refused(engine: Engine, tmp_path: Path, kind: str) -> None:
    raw = padded(eligible().build(), MAX_DOCUMENT_BYTES + 1)
    source: Any
    if kind == "file":
        source = tmp_path / "too_big.json"
        source.write_bytes(raw)
    elif kind == "bytes":
        source = raw
    else:
        source = raw.decode()
    with pytest.raises(InputError) as info:
        if kind == "str":
            from ivig_cds.inputs.files import parse_document

            parse_document(source, source="<str>")
        else:
            engine.evaluate(source)
    assert_too_large(info.value)


def test_multibyte_text_is_measured_in_bytes() -> None:
    from ivig_cds.inputs.files import parse_document

    text = '{"patient_id": "' + "é" * (MAX_DOCUMENT_BYTES // 2) + '"}'  # fewer chars than the limit
    assert len(text) < MAX_DOCUMENT_BYTES < len(text.encode())
    with pytest.raises(InputError) as info:
        parse_document(text, source="<str>")
    assert_too_large(info.value)


def test_an_oversized_ndjson_line_fails_alone() -> None:
    good = json.dumps(eligible().build()).encode()
    big = padded(eligible().id("big").build(), MAX_DOCUMENT_BYTES + 1)
    got = list(iter_ndjson(b"\n".join([good, big, good]), source="c.ndjson"))
    assert [name for name, _ in got] == ["c.ndjson:1", "c.ndjson:2", "c.ndjson:3"]
    assert not isinstance(got[0][1], InputError) and not isinstance(got[2][1], InputError)
    assert isinstance(got[1][1], InputError)
    assert_too_large(got[1][1])


def test_the_cli_refuses_an_oversized_file_with_exit_code_2(tmp_path: Path) -> None:
    path = tmp_path / "too_big.json"
    path.write_bytes(padded(eligible().build(), MAX_DOCUMENT_BYTES + 1))
    proc = subprocess.run(
        [sys.executable, "-m", "ivig_cds.cli", "evaluate", str(path), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"IVIG_CDS_LOAD_PLUGINS": "", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 2, proc.stderr
    assert "larger than 10 MiB" in proc.stderr + proc.stdout


def _nested(depth: int) -> str:
    """A patient document whose deepest value is at ``depth`` (a flat object is depth 1)."""
    doc = eligible().build()
    text = json.dumps(doc)
    inner = "[" * (depth - 1) + "]" * (depth - 1)
    return text[:-1] + ', "x": ' + inner + "}"


def test_nesting_to_the_limit_parses_and_one_more_level_is_refused() -> None:
    with pytest.raises(InputError) as at_limit:
        load_patient(_nested(MAX_NESTING_DEPTH).encode())
    assert [e.loc for e in at_limit.value.errors] == ["x"]  # parsed; then the unknown field
    with pytest.raises(InputError) as over:
        load_patient(_nested(MAX_NESTING_DEPTH + 1).encode())
    too_deep = [("", f"nesting deeper than {MAX_NESTING_DEPTH} levels")]
    assert [(e.loc, e.msg) for e in over.value.errors] == too_deep


def test_yaml_nesting_limit() -> None:
    ok = "schema_version: 1\nx: " + "[" * (MAX_NESTING_DEPTH - 1) + "]" * (MAX_NESTING_DEPTH - 1) + "\n"
    too_deep = "schema_version: 1\nx: " + "[" * MAX_NESTING_DEPTH + "]" * MAX_NESTING_DEPTH + "\n"
    with pytest.raises(InputError) as info:
        load_patient(ok.encode())
    assert "nesting" not in str(info.value)
    with pytest.raises(InputError) as info:
        load_patient(too_deep.encode())
    assert "nesting deeper" in info.value.errors[0].msg


def test_a_deep_python_dict_is_refused_without_recursion_error(engine: Engine) -> None:
    doc = eligible().build()
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    doc["x"] = deep
    with pytest.raises(InputError) as info:
        engine.evaluate(doc)
    assert [e.loc for e in info.value.errors] == ["x"]


def test_a_long_but_legitimate_history_evaluates(engine: Engine) -> None:
    """Ten years of monthly visits and courses, hundreds of labs: well under the size limit."""
    doc = eligible().build()
    months = [f"{2014 + m // 12}-{m % 12 + 1:02d}" for m in range(120)]
    doc["ivig_courses"] = [{"start": f"{ym}-08", "days": 2, "dose_g_per_kg_per_day": 1.0} for ym in months]
    doc["assessments"] += [
        {"date": f"{ym}-20", "mmt8": 60 + i % 15, "ck_u_per_l": 300 + i} for i, ym in enumerate(months)
    ]
    doc["labs"] = [{"date": f"{ym}-21", "test": "creatinine_mg_dl", "value": 0.9} for ym in months]
    doc["demographics"]["birth_date"] = "1960-01-01"
    doc["diagnosis"]["diagnosed_on"] = "2013-01-01"
    for th in doc["therapies"]:
        th["start"] = "2013-01-15"
        th["dose_changed_on"] = []
    doc["glucocorticoid_doses"] = [{"date": "2013-01-15", "prednisone_mg_per_day": 40}]
    assert len(json.dumps(doc)) < MAX_DOCUMENT_BYTES
    ev = engine.evaluate(doc)
    assert ev.patient.courses_given == 120


def test_batch_has_a_record_count_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(batch.MAX_RECORDS, int) and batch.MAX_RECORDS >= 100_000
    monkeypatch.setattr(batch.runner, "MAX_RECORDS", 5)
    line = json.dumps(eligible().build())
    path = tmp_path / "cohort.ndjson"
    path.write_text("\n".join([line] * 8))
    items = batch.collect_records([str(path)])
    assert len(items) == 6, "5 records and one error record for the refused remainder: nothing silent"
    assert all(isinstance(i, batch.Record) for i in items[:5])
    last = items[5]
    assert isinstance(last, batch.Failure) and last.source.endswith("cohort.ndjson:6")
    assert "record limit reached (5 per run): this and 2 later record(s)" in last.errors[0].msg
