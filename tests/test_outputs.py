"""The output-format registry: built-ins, plugin extras, and what each built-in writes."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import pytest

from ivig_cds import Engine, Evaluation
from ivig_cds.errors import FieldError
from ivig_cds.outputs import (
    OutputFormat,
    available_formats,
    builtin_formats,
    error_record,
    render_json,
    render_markdown,
    render_ndjson,
)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(backend="reference")


@pytest.fixture
def evaluations(engine: Engine, minimal_patient_dict: dict[str, Any]) -> list[Evaluation]:
    second = dict(minimal_patient_dict, patient_id="demo-002")
    return [engine.evaluate(minimal_patient_dict), engine.evaluate(second)]


def _csv(evaluations: Sequence[Evaluation]) -> str:
    return "id\n" + "".join(f"{e.patient_id}\n" for e in evaluations)


def test_builtin_formats_are_the_five_documented_ones() -> None:
    formats = builtin_formats()
    assert list(formats) == ["rich", "json", "ndjson", "markdown", "cds-hooks"]
    assert {f.media_type for f in formats.values()} == {
        "text/plain",
        "application/json",
        "application/x-ndjson",
        "text/markdown",
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        formats["json"].name = "other"  # type: ignore[misc]


def test_available_formats_adds_extras_sorted_and_protects_builtins() -> None:
    csv = OutputFormat("csv", "one id per line", _csv, "text/csv")
    names = list(available_formats({"csv": csv}))
    assert names == ["cds-hooks", "csv", "json", "markdown", "ndjson", "rich"]
    with pytest.raises(ValueError, match="built in"):
        available_formats({"json": OutputFormat("json", "x", _csv, "text/plain")})
    with pytest.raises(ValueError, match="named"):
        available_formats({"tsv": csv})


def test_available_formats_accepts_a_plugin_spec_with_the_same_fields() -> None:
    @dataclasses.dataclass(frozen=True)
    class Spec:
        name: str
        description: str
        render: Any
        media_type: str = "text/plain"

    got = available_formats({"ids": Spec("ids", "ids", _csv)})["ids"]
    assert isinstance(got, OutputFormat)
    assert got.error is None and got.media_type == "text/plain"


def test_json_writes_one_contract_object_per_patient(evaluations: list[Evaluation]) -> None:
    text = render_json(evaluations)
    decoder, pos, ids = json.JSONDecoder(), 0, []
    while pos < len(text):
        obj, end = decoder.raw_decode(text, pos)
        ids.append(obj["patient_id"])
        pos = end + 1
    assert ids == ["demo-001", "demo-002"]
    assert [json.loads(line)["patient_id"] for line in render_ndjson(evaluations).splitlines()] == ids


def test_error_records_have_the_documented_shape() -> None:
    record = error_record("cohort.ndjson:2", [FieldError("demographics.weight_kg", "too low", "greater_than")])
    assert record == {
        "error": {
            "source": "cohort.ndjson:2",
            "errors": [{"loc": "demographics.weight_kg", "msg": "too low", "type": "greater_than"}],
        }
    }
    fmt = builtin_formats()["ndjson"]
    assert fmt.error is not None
    assert json.loads(fmt.error(record)) == record


def test_markdown_has_a_section_per_patient_with_status_and_findings(evaluations: list[Evaluation]) -> None:
    text = render_markdown(evaluations)
    lines = text.splitlines()
    assert "## Patient demo-001" in lines and "## Patient demo-002" in lines
    assert "| eligibility | pre-IVIG screen incomplete (SCREEN-004, SCREEN-005) |" in lines
    assert "| — record first | creatinine or eGFR (within 180 days); hyperprolinemia (yes/no) |" in lines
    # the verdict first, in words
    assert (
        lines[4]
        == "- **IVIG** not yet: record creatinine or eGFR (within 180 days), hyperprolinemia (yes/no) first"
    )
    assert any(line.startswith("- **WARNING** `RESP-008`") for line in lines)
    assert "### Data gaps (missing is not “no”: record and re-evaluate)" in lines
    # a finding cites its keys; each citation is written once, in the patient's evidence list
    assert "  - evidence: [cherin2002]" in lines
    section = text.split("## Patient demo-002")[0]
    assert section.count("Cherin P et al.") == 1


def test_rich_format_is_plain_text_without_escape_codes(evaluations: list[Evaluation]) -> None:
    text = builtin_formats()["rich"].render(evaluations[:1])
    assert "\x1b[" not in text
    assert "│ IVIG            not yet: record creatinine or eGFR" in text
    assert max(len(line) for line in text.splitlines()) <= 100
