"""Tests for ivig_cds.patient (the patient-file contract) and ivig_cds.patient_io (loading it)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any, Literal

import pydantic
import pytest
import yaml

from ivig_cds.errors import FieldError, InputError
from ivig_cds.inputs.files import (
    MAX_DOCUMENT_BYTES,
    MAX_NESTING_DEPTH,
    SCHEMA_TITLE,
    format_loc,
    iter_ndjson,
    load_patient,
    parse_document,
    patient_json_schema,
    validate_patient,
)
from ivig_cds.model.patient import AdverseEventType, Agent, Patient, RiskFactors, Sex

CONTRACT = Path(__file__).resolve().parents[1] / "docs" / "patient-file.md"  # a copy of the contract
DELETE = object()
Edit = tuple[tuple[str | int, ...], Any]
Fmt = Literal["json", "yaml"]


def apply(doc: dict[str, Any], edits: list[Edit]) -> dict[str, Any]:
    """Set (or delete, with ``DELETE``) the value at each path of ``doc``; return ``doc``."""
    for path, value in edits:
        *parents, last = path
        target: Any = doc
        for part in parents:
            target = target[part]
        if value is DELETE:
            del target[last]
        else:
            target[last] = value
    return doc


def error_locs(data: object) -> list[str]:
    """Validate ``data`` expecting failure; return the field paths of its errors."""
    with pytest.raises(InputError) as info:
        validate_patient(data, source="test")
    return [e.loc for e in info.value.errors]


# ---------------------------------------------------------------- valid files


def test_minimal_example_validates(minimal_patient_dict: dict[str, Any]) -> None:
    patient = validate_patient(minimal_patient_dict, source="test")
    assert patient.patient_id == "demo-001"
    assert patient.demographics.sex is Sex.FEMALE
    assert patient.therapies[0].stop is None
    assert patient.therapies[1].agent is Agent.METHOTREXATE
    assert patient.assessments[0].mmt8_max == 80
    assert patient.labs == []
    assert patient.risk_factors.iga_deficiency is False
    assert patient.risk_factors.pregnant is None


def test_minimal_example_matches_contract_page(minimal_patient_dict: dict[str, Any]) -> None:
    block = re.search(r"## A minimal file\s*```json\n(.*?)```", CONTRACT.read_text(), re.S)
    assert block is not None
    assert json.loads(block.group(1)) == minimal_patient_dict


def test_full_file_round_trips(full_patient_dict: dict[str, Any]) -> None:
    patient = validate_patient(full_patient_dict, source="test")
    assert patient.model_dump(mode="json") == full_patient_dict
    again = load_patient(json.dumps(patient.model_dump(mode="json")).encode())
    assert again == patient


def test_defaults_for_absent_optional_fields(minimal_patient_dict: dict[str, Any]) -> None:
    for key in ("as_of", "glucocorticoid_doses", "assessments", "ivig_courses", "risk_factors"):
        del minimal_patient_dict[key]
    minimal_patient_dict["therapies"] = []
    patient = validate_patient(minimal_patient_dict, source="test")
    assert patient.as_of is None
    assert not (patient.glucocorticoid_doses or patient.assessments or patient.labs or patient.ivig_courses)
    assert patient.ivig_discontinued_on is None
    assert patient.risk_factors == RiskFactors()
    assert all(value is None for value in patient.risk_factors.model_dump().values())


def test_null_means_not_recorded(full_patient_dict: dict[str, Any]) -> None:
    nulls: list[Edit] = [
        (("as_of",), None),
        (("labs",), None),
        (("risk_factors",), None),
        (("ivig_discontinued_on",), None),
        (("demographics", "height_cm"), None),
        (("demographics", "abo_group"), None),
        (("therapies", 0, "dose_changed_on"), None),
        (("assessments", 0, "mmt8_max"), None),
        (("assessments", 0, "ck_uln_u_per_l"), None),
        (("assessments", 0, "haq"), None),
        (("ivig_courses", 0, "adverse_events"), None),
        (("ivig_courses", 0, "product"), None),
    ]
    patient = validate_patient(apply(full_patient_dict, nulls), source="test")
    assert patient.labs == [] and patient.therapies[0].dose_changed_on == []
    assert patient.risk_factors == RiskFactors()
    assert patient.assessments[0].mmt8_max == 80 and patient.assessments[0].ck_uln_u_per_l == 200
    assert patient.ivig_courses[0].adverse_events == []


@pytest.mark.parametrize(
    "edits",
    [
        [(("demographics", "weight_kg"), 20), (("demographics", "height_cm"), 100)],
        [(("demographics", "weight_kg"), 350), (("demographics", "height_cm"), 250)],
        [(("glucocorticoid_doses", 0, "prednisone_mg_per_day"), 0)],
        [(("glucocorticoid_doses", 0, "prednisone_mg_per_day"), 2000)],
        [(("ivig_courses", 0, "days"), 1), (("ivig_courses", 0, "dose_g_per_kg_per_day"), 0.1)],
        [(("ivig_courses", 0, "dose_g_per_kg_per_day"), 2)],
        [(("assessments", 0, "physician_global_cm"), 0), (("assessments", 0, "patient_global_cm"), 10)],
        [(("assessments", 0, "haq"), 3), (("assessments", 0, "extramuscular_global_cm"), 10)],
        [(("assessments", 0, "mmt8"), 80)],
        [(("assessments", 0, "mmt8"), 0), (("assessments", 0, "ck_u_per_l"), 0)],
        [(("assessments", 0, "mmt8_max"), 150), (("assessments", 0, "mmt8"), 150)],
        [(("therapies", 1, "stop"), "2019-04-01"), (("therapies", 1, "dose_changed_on"), ["2019-04-01"])],
        [(("therapies", 1, "dose_changed_on"), ["2020-01-15"])],
        [(("ivig_discontinued_on",), "2024-01-10")],
        [(("labs", 0, "date"), "2024-07-01")],  # after as_of: ignored later, never an error
        [(("demographics", "birth_date"), "2019-02-01")],  # a date on the birth day is fine
        [(("therapies",), [])],
    ],
    ids=lambda edits: ",".join(format_loc(path) for path, _ in edits),
)
def test_boundaries_accepted(full_patient_dict: dict[str, Any], edits: list[Edit]) -> None:
    validate_patient(apply(full_patient_dict, edits), source="test")


def test_date_objects_accepted(minimal_patient_dict: dict[str, Any]) -> None:
    minimal_patient_dict["as_of"] = dt.date(2024, 6, 1)
    minimal_patient_dict["demographics"]["birth_date"] = dt.date(1978, 4, 12)
    patient = validate_patient(minimal_patient_dict, source="test")
    assert patient.as_of == dt.date(2024, 6, 1)


def test_models_are_frozen(minimal_patient_dict: dict[str, Any]) -> None:
    patient = validate_patient(minimal_patient_dict, source="test")
    with pytest.raises(pydantic.ValidationError):
        patient.patient_id = "other"


# ---------------------------------------------------------------- contract violations

VIOLATIONS: list[tuple[str, list[Edit], list[str]]] = [
    # missing required fields
    *[
        (f"missing {format_loc(path)}", [(path, DELETE)], [format_loc(path)])
        for path in [
            ("schema_version",),
            ("patient_id",),
            ("demographics",),
            ("diagnosis",),
            ("therapies",),
            ("demographics", "birth_date"),
            ("demographics", "sex"),
            ("demographics", "weight_kg"),
            ("diagnosis", "condition"),
            ("diagnosis", "diagnosed_on"),
            ("diagnosis", "classification"),
            ("therapies", 1, "agent"),
            ("therapies", 1, "start"),
            ("therapies", 1, "stop"),
            ("therapies", 1, "outcome"),
            ("glucocorticoid_doses", 1, "date"),
            ("glucocorticoid_doses", 1, "prednisone_mg_per_day"),
            ("assessments", 0, "date"),
            ("labs", 2, "date"),
            ("labs", 2, "test"),
            ("labs", 2, "value"),
            ("ivig_courses", 0, "start"),
            ("ivig_courses", 0, "days"),
            ("ivig_courses", 0, "dose_g_per_kg_per_day"),
            ("ivig_courses", 0, "adverse_events", 0, "type"),
            ("ivig_courses", 0, "adverse_events", 0, "severity"),
        ]
    ],
    # unknown fields at every level
    *[
        (f"unknown {format_loc(path)}", [(path, 1)], [format_loc(path)])
        for path in [
            ("weight_kg",),
            ("demographics", "weight_lb"),
            ("diagnosis", "subtype"),
            ("therapies", 0, "dose_mg"),
            ("glucocorticoid_doses", 0, "route"),
            ("assessments", 0, "mmt"),
            ("labs", 0, "unit"),
            ("ivig_courses", 0, "lot"),
            ("ivig_courses", 0, "adverse_events", 0, "onset"),
            ("risk_factors", "smoker"),
        ]
    ],
    # wrong vocabulary values (exact spelling required)
    *[
        (f"vocab {format_loc(path)}={value}", [(path, value)], [format_loc(path)])
        for path, value in [
            (("demographics", "sex"), "F"),
            (("demographics", "sex"), "Female"),
            (("demographics", "abo_group"), "0"),
            (("diagnosis", "condition"), "PM"),
            (("diagnosis", "classification"), "certain"),
            (("diagnosis", "criteria"), "acr"),
            (("therapies", 0, "agent"), "Prednisone"),
            (("therapies", 0, "outcome"), "failed"),
            (("assessments", 0, "dysphagia"), "moderate"),
            (("labs", 0, "test"), "creatinine"),
            (("ivig_courses", 0, "adverse_events", 0, "type"), "migraine"),
            (("ivig_courses", 0, "adverse_events", 0, "severity"), "life_threatening"),
        ]
    ],
    # numbers out of range, on every ranged field
    *[
        (f"range {format_loc(path)}={value}", [(path, value)], [format_loc(path)])
        for path, value in [
            (("demographics", "weight_kg"), 19.9),
            (("demographics", "weight_kg"), 350.5),
            (("demographics", "height_cm"), 99),
            (("demographics", "height_cm"), 251),
            (("glucocorticoid_doses", 0, "prednisone_mg_per_day"), -1),
            (("glucocorticoid_doses", 0, "prednisone_mg_per_day"), 2000.5),
            (("assessments", 0, "mmt8"), -1),
            (("assessments", 0, "mmt8_max"), 100),
            (("assessments", 0, "ck_u_per_l"), -1),
            (("assessments", 0, "ck_uln_u_per_l"), 0),
            (("assessments", 0, "physician_global_cm"), -0.1),
            (("assessments", 0, "physician_global_cm"), 10.1),
            (("assessments", 0, "patient_global_cm"), 11),
            (("assessments", 0, "extramuscular_global_cm"), 10.5),
            (("assessments", 0, "haq"), -0.1),
            (("assessments", 0, "haq"), 3.1),
            (("labs", 0, "value"), -0.5),
            (("ivig_courses", 0, "dose_g_per_kg_per_day"), 0.05),
            (("ivig_courses", 0, "dose_g_per_kg_per_day"), 2.1),
            (("ivig_courses", 0, "days"), 0),
            (("ivig_courses", 0, "days"), 6),
            (("schema_version",), 2),
            (("patient_id",), ""),
            (("patient_id",), "x" * 129),
        ]
    ],
    # wrong JSON types: strings as numbers, booleans as numbers, fractions as ints, non-strings as text
    *[
        (f"type {format_loc(path)}={value!r}", [(path, value)], [format_loc(path)])
        for path, value in [
            (("demographics", "weight_kg"), "64"),
            (("glucocorticoid_doses", 0, "prednisone_mg_per_day"), "60"),
            (("assessments", 0, "mmt8"), "48"),
            (("labs", 0, "value"), "0.8"),
            (("ivig_courses", 0, "days"), "2"),
            (("schema_version",), "1"),
            (("demographics", "weight_kg"), True),
            (("assessments", 0, "mmt8"), False),
            (("assessments", 0, "mmt8_max"), True),
            (("ivig_courses", 0, "days"), True),
            (("ivig_courses", 0, "dose_g_per_kg_per_day"), True),
            (("schema_version",), True),
            (("ivig_courses", 0, "days"), 2.5),
            (("demographics", "weight_kg"), float("nan")),
            (("demographics", "weight_kg"), float("inf")),
            (("risk_factors", "pregnant"), "true"),
            (("risk_factors", "iga_deficiency"), 1),
            (("risk_factors", "sepsis"), "yes"),
            (("diagnosis", "ibm_features"), "false"),
            (("patient_id",), 123),
            (("ivig_courses", 0, "product"), 42),
            (("demographics", "sex"), b"female"),
            (("therapies",), {}),
            (("therapies",), None),
            (("demographics",), None),
            (("risk_factors",), []),
        ]
    ],
    # dates: only YYYY-MM-DD strings or date objects
    *[
        (f"date {format_loc(path)}={value!r}", [(path, value)], [format_loc(path)])
        for path, value in [
            (("as_of",), 1717200000),
            (("demographics", "birth_date"), 19780412),
            (("as_of",), "2024/06/01"),
            (("diagnosis", "diagnosed_on"), "01/02/2019"),
            (("as_of",), "2024-6-1"),
            (("as_of",), "20240601"),
            (("as_of",), "2024-W22-6"),
            (("as_of",), "2024-02-30"),
            (("as_of",), "2024-06-01T00:00:00"),
            (("as_of",), "2024-06-01 10:00"),
            (("as_of",), "2024-06-01T00:00:00Z"),
            (("as_of",), "2024-06-01\n"),
            (("as_of",), dt.datetime(2024, 6, 1)),
            (("therapies", 0, "dose_changed_on", 0), "June 2020"),
            (("ivig_discontinued_on",), 0),
        ]
    ],
    # cross-field plausibility
    ("stop before start", [(("therapies", 1, "stop"), "2019-03-31")], ["therapies[1].stop"]),
    (
        "dose change after stop",
        [(("therapies", 1, "dose_changed_on"), ["2019-06-01", "2020-01-16"])],
        ["therapies[1].dose_changed_on[1]"],
    ),
    (
        "dose change before start",
        [(("therapies", 0, "dose_changed_on"), ["2019-01-31"])],
        ["therapies[0].dose_changed_on[0]"],
    ),
    ("as_of before birth", [(("as_of",), "1978-04-11")], ["as_of"]),
    ("diagnosed before birth", [(("diagnosis", "diagnosed_on"), "1977-01-01")], ["diagnosis.diagnosed_on"]),
    ("therapy before birth", [(("therapies", 0, "start"), "1977-01-01")], ["therapies[0].start"]),
    (
        "whole therapy before birth",
        [
            (("therapies", 1, "start"), "1970-01-01"),
            (("therapies", 1, "stop"), "1971-01-01"),
            (("therapies", 1, "dose_changed_on"), ["1970-06-01"]),
        ],
        ["therapies[1].start", "therapies[1].stop", "therapies[1].dose_changed_on[0]"],
    ),
    (
        "dose before birth",
        [(("glucocorticoid_doses", 0, "date"), "1970-01-01")],
        ["glucocorticoid_doses[0].date"],
    ),
    ("assessment before birth", [(("assessments", 0, "date"), "1970-01-01")], ["assessments[0].date"]),
    ("lab before birth", [(("labs", 3, "date"), "1970-01-01")], ["labs[3].date"]),
    ("course before birth", [(("ivig_courses", 0, "start"), "1970-01-01")], ["ivig_courses[0].start"]),
    (
        "discontinued before birth",
        [(("ivig_discontinued_on",), "1970-01-01")],
        ["ivig_discontinued_on", "ivig_discontinued_on"],  # before birth, and before the first course
    ),
    (
        "discontinued before first course",
        [(("ivig_discontinued_on",), "2024-01-09")],
        ["ivig_discontinued_on"],
    ),
    ("mmt8 above default max", [(("assessments", 0, "mmt8"), 80.5)], ["assessments[0].mmt8"]),
    (
        "mmt8 above max 150",
        [(("assessments", 0, "mmt8_max"), 150), (("assessments", 0, "mmt8"), 151)],
        ["assessments[0].mmt8"],
    ),
    (
        "two problems in two places",
        [(("therapies", 1, "stop"), "2019-01-01"), (("labs", 1, "value"), "95")],
        ["therapies[1].stop", "labs[1].value"],
    ),
]


@pytest.mark.parametrize(
    ("edits", "locs"), [(e, locs) for _, e, locs in VIOLATIONS], ids=[v[0] for v in VIOLATIONS]
)
def test_violation_names_the_field(full_patient_dict: dict[str, Any], edits: list[Edit], locs: list[str]) -> None:
    assert error_locs(apply(full_patient_dict, edits)) == locs


def test_unknown_field_message(minimal_patient_dict: dict[str, Any]) -> None:
    minimal_patient_dict["demographics"]["weight_lb"] = 141
    with pytest.raises(InputError) as info:
        validate_patient(minimal_patient_dict, source="file.json")
    assert info.value.errors == [
        FieldError(
            "demographics.weight_lb",
            "unknown field (not in patient-file contract v1); did you mean weight_kg?",
            "extra_forbidden",
        )
    ]
    assert str(info.value) == (
        "file.json: demographics.weight_lb: unknown field (not in patient-file contract v1);"
        " did you mean weight_kg?"
    )


def test_birth_after_as_of_is_reported_at_as_of(minimal_patient_dict: dict[str, Any]) -> None:
    minimal_patient_dict["demographics"]["birth_date"] = "2024-07-01"
    assert "as_of" in error_locs(minimal_patient_dict)


def test_discontinued_names_the_earliest_course(full_patient_dict: dict[str, Any]) -> None:
    course = dict(full_patient_dict["ivig_courses"][0], start="2023-11-01")
    full_patient_dict["ivig_courses"].append(course)
    full_patient_dict["ivig_discontinued_on"] = "2023-10-01"
    with pytest.raises(InputError) as info:
        validate_patient(full_patient_dict, source="test")
    [error] = info.value.errors
    assert error.loc == "ivig_discontinued_on" and "ivig_courses[1].start" in error.msg


def test_errors_do_not_leak_patient_data(minimal_patient_dict: dict[str, Any]) -> None:
    minimal_patient_dict["patient_id"] = "SECRET-MRN-778899"
    minimal_patient_dict["demographics"]["weight_kg"] = "64 kg SECRET"
    with pytest.raises(InputError) as info:
        validate_patient(minimal_patient_dict, source="test")
    assert "SECRET" not in str(info.value)
    assert all("SECRET" not in e.msg for e in info.value.errors)
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_not_an_object_at_all() -> None:
    assert error_locs([]) == [""]


# ---------------------------------------------------------------- JSON Schema


def test_json_schema_documents_every_field() -> None:
    schema = patient_json_schema()
    assert schema["title"] == SCHEMA_TITLE
    assert schema["$id"]
    models = [schema, *schema["$defs"].values()]
    for model in (m for m in models if "properties" in m):
        assert model.get("additionalProperties") is False, model["title"]
        for name, prop in model["properties"].items():
            assert prop.get("description"), f"{model['title']}.{name}"
    assert schema["properties"]["schema_version"]["const"] == 1
    assert set(schema["required"]) == {
        "schema_version",
        "patient_id",
        "demographics",
        "diagnosis",
        "therapies",
    }
    assert "null" in json.dumps(schema["properties"]["risk_factors"])
    assert set(schema["$defs"]["AdverseEventType"]["enum"]) == {t.value for t in AdverseEventType}


# ---------------------------------------------------------------- loading files


def parse_error(data: str | bytes, **kwargs: Any) -> FieldError:
    """Parse ``data`` expecting exactly one document-level error; return it."""
    with pytest.raises(InputError) as info:
        parse_document(data, source="doc", **kwargs)
    [error] = info.value.errors
    assert error.loc == ""
    assert info.value.source == "doc"
    return error


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".yml", ".txt"])
def test_load_file(tmp_path: Path, minimal_patient_dict: dict[str, Any], suffix: str) -> None:
    path = tmp_path / f"patient{suffix}"
    text = json.dumps(minimal_patient_dict) if suffix == ".json" else yaml.safe_dump(minimal_patient_dict)
    path.write_text(text, encoding="utf-8")
    expected = validate_patient(minimal_patient_dict, source="test")
    assert load_patient(path) == expected
    assert load_patient(str(path)) == expected


def test_load_yaml_with_unquoted_dates(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "schema_version: 1\npatient_id: y-1\nas_of: 2024-06-01\n"
        "demographics: {birth_date: 1978-04-12, sex: male, weight_kg: 80}\n"
        "diagnosis: {condition: polymyositis, diagnosed_on: 2019-02-01, classification: probable}\n"
        "therapies: []\n"
    )
    assert load_patient(path).as_of == dt.date(2024, 6, 1)


def test_yaml_timestamp_with_time_is_rejected(tmp_path: Path, minimal_patient_dict: dict[str, Any]) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        yaml.safe_dump(minimal_patient_dict).replace("as_of: '2024-06-01'", "as_of: 2024-06-01 10:00:00")
    )
    with pytest.raises(InputError) as info:
        load_patient(path)
    assert [e.loc for e in info.value.errors] == ["as_of"]


def test_yaml_unquoted_number_as_id_is_rejected(minimal_patient_dict: dict[str, Any]) -> None:
    text = yaml.safe_dump(minimal_patient_dict).replace("patient_id: demo-001", "patient_id: 001")
    with pytest.raises(InputError) as info:
        load_patient(text.encode(), name="p.yaml")
    assert [e.loc for e in info.value.errors] == ["patient_id"] and info.value.source == "p.yaml"


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_bom_is_stripped(tmp_path: Path, minimal_patient_dict: dict[str, Any], fmt: Fmt) -> None:
    path = tmp_path / f"p.{fmt}"
    text = json.dumps(minimal_patient_dict) if fmt == "json" else yaml.safe_dump(minimal_patient_dict)
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert load_patient(path).patient_id == "demo-001"
    assert parse_document("\ufeff" + text, source="s", fmt=fmt)["patient_id"] == "demo-001"  # type: ignore[index]


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_bytes('{"patient_id": "Müller"}'.encode("latin-1"))
    with pytest.raises(InputError) as info:
        load_patient(path)
    assert info.value.errors == [FieldError("", "not valid UTF-8 (byte offset 17)", "encoding")]
    assert info.value.source == str(path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(InputError) as info:
        load_patient(path)
    assert info.value.errors == [FieldError("", "file not found", "file")]
    assert info.value.source == str(path)


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_patient(tmp_path)
    assert info.value.errors[0].type == "file"


def test_file_too_large(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b" " * (MAX_DOCUMENT_BYTES + 1))
    with pytest.raises(InputError) as info:
        load_patient(path)
    assert info.value.errors[0].type == "too_large"
    assert parse_error("x" * (MAX_DOCUMENT_BYTES + 1)).type == "too_large"


@pytest.mark.parametrize(
    ("text", "fmt", "pattern"),
    [
        ('{"schema_version": 1,\n "patient_id": "a",', "json", r"invalid JSON at line 2, column \d+"),
        ('{"a": [1, 2}', "json", r"invalid JSON at line 1, column 12"),
        ("a: [1, 2\n", "yaml", r"invalid YAML at line 2, column 1"),
        ('{"patient_id": "a", "patient_id": "b"}', "json", r"duplicate key 'patient_id'"),
        ('{"demographics": {"sex": "male", "sex": "female"}}', "json", r"duplicate key 'sex'"),
        ("patient_id: a\npatient_id: b\n", "yaml", r"line 2, column 1: duplicate key 'patient_id'"),
        ("demographics:\n  sex: male\n  sex: female\n", "yaml", r"line 3, column 3: duplicate key 'sex'"),
        ('{"weight_kg": NaN}', "json", r"NaN is not a JSON number"),
        ('{"weight_kg": Infinity}', "json", r"Infinity is not a JSON number"),
        ('{"weight_kg": -Infinity}', "json", r"-Infinity is not a JSON number"),
        ('{"weight_kg": 1' + "0" * 5000 + "}", "json", r"number is too long"),
        ("", "json", r"empty document"),
        (" \n\t\n", "yaml", r"empty document"),
        ("\ufeff", None, r"empty document"),
        ("[]", "json", r"top level must be an object, got an array"),
        ("- a\n- b\n", "yaml", r"top level must be an object, got an array"),
        ('"text"', "json", r"top level must be an object, got a string"),
        ("null", "json", r"top level must be an object, got null"),
        ("# only a comment\n", "yaml", r"top level must be an object, got null"),
        ("a: &x 1\nb: *x\n", "yaml", r"line 1, column 4: anchors and aliases are not allowed"),
        ("1: a\n", "yaml", r"mapping keys must be strings"),
        ("a: !!binary aGVsbG8=\n", "yaml", r"could not determine a constructor"),
        ("a: !!python/object:os.system {}\n", "yaml", r"could not determine a constructor"),
        ("a: 1\n---\nb: 2\n", "yaml", r"expected a single document"),
    ],
)
def test_parse_errors(text: str, fmt: Fmt | None, pattern: str) -> None:
    error = parse_error(text, fmt=fmt)
    assert error.type == "parse"
    assert re.search(pattern, error.msg), error.msg


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_nesting_depth(fmt: Fmt) -> None:
    def nested(depth: int) -> str:  # an object holding depth - 1 nested arrays
        return '{"a": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"

    assert parse_document(nested(MAX_NESTING_DEPTH), source="doc", fmt=fmt) is not None
    assert parse_error(nested(MAX_NESTING_DEPTH + 1), fmt=fmt).msg == "nesting deeper than 64 levels"
    assert parse_error(nested(100_000), fmt=fmt).msg == "nesting deeper than 64 levels"


def test_parse_error_does_not_chain_the_document() -> None:
    with pytest.raises(InputError) as info:
        parse_document("patient_id: SECRET\npatient_id: again\n", source="doc", fmt="yaml")
    assert "SECRET" not in str(info.value) and info.value.__context__ is None


def test_format_is_sniffed_without_a_hint(minimal_patient_dict: dict[str, Any]) -> None:
    as_json = json.dumps(minimal_patient_dict)
    assert parse_document(as_json, source="s") == minimal_patient_dict
    assert parse_document(yaml.safe_dump(minimal_patient_dict), source="s") == minimal_patient_dict
    assert parse_error(as_json[:-1]).msg.startswith("invalid JSON")


def test_load_patient_sources(minimal_patient_dict: dict[str, Any]) -> None:
    patient = load_patient(minimal_patient_dict)
    assert load_patient(patient) is patient
    assert load_patient(json.dumps(minimal_patient_dict).encode()) == patient
    minimal_patient_dict["schema_version"] = 2
    with pytest.raises(InputError) as info:
        load_patient(minimal_patient_dict)
    assert info.value.source == "<dict>"
    with pytest.raises(InputError) as info:
        load_patient(minimal_patient_dict, name="ehr:42")
    assert info.value.source == "ehr:42"
    for wrong in (42, None, [minimal_patient_dict]):
        with pytest.raises(InputError) as info:
            load_patient(wrong)  # type: ignore[arg-type]
        assert "cannot read a patient from" in info.value.errors[0].msg
        assert "demo-001" not in str(info.value)  # the input is never echoed


def test_load_patient_reads_json_and_yaml_text(minimal_patient_dict: dict[str, Any]) -> None:
    patient = load_patient(minimal_patient_dict)
    assert load_patient(json.dumps(minimal_patient_dict)) == patient
    assert load_patient(json.dumps(minimal_patient_dict, indent=2)) == patient
    import yaml

    assert load_patient(yaml.safe_dump(minimal_patient_dict)) == patient
    broken = json.dumps(minimal_patient_dict)[:-1]
    with pytest.raises(InputError) as info:
        load_patient(broken)
    assert info.value.source == "<str>"
    assert "demo-001" not in str(info.value) and "1978-04-12" not in str(info.value)


def test_a_missing_file_is_named_but_long_text_is_not_echoed(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_patient(str(tmp_path / "absent.json"))
    assert info.value.source.endswith("absent.json") and info.value.errors[0].msg == "file not found"
    with pytest.raises(InputError) as info:
        load_patient("x" * 300)
    assert info.value.source == "<str>"


def test_format_loc() -> None:
    assert format_loc(("therapies", 1, "stop")) == "therapies[1].stop"
    assert format_loc(("demographics", "weight_kg")) == "demographics.weight_kg"
    assert format_loc(("ivig_courses", 0, "adverse_events", 2, "type")) == "ivig_courses[0].adverse_events[2].type"
    assert format_loc(()) == ""


# ---------------------------------------------------------------- NDJSON


@pytest.mark.parametrize("as_bytes", [False, True])
def test_ndjson_bad_line_does_not_stop_iteration(minimal_patient_dict: dict[str, Any], as_bytes: bool) -> None:
    good = json.dumps(minimal_patient_dict)
    bad_value = json.dumps(dict(minimal_patient_dict, schema_version=2))
    text = "\n".join([good, '{"truncated": ', "", bad_value, "   ", good + "\r", ""])
    records = list(iter_ndjson(text.encode() if as_bytes else text, source="<stdin>"))
    assert [name for name, _ in records] == ["<stdin>:1", "<stdin>:2", "<stdin>:4", "<stdin>:6"]
    kinds = [type(result) for _, result in records]
    assert kinds == [Patient, InputError, InputError, Patient]
    errors = [result for _, result in records if isinstance(result, InputError)]
    assert errors[0].source == "<stdin>:2" and errors[0].errors[0].type == "parse"
    assert errors[1].errors == [FieldError("schema_version", "Input should be 1", "literal_error")]


def test_ndjson_non_utf8_line_is_one_error(minimal_patient_dict: dict[str, Any]) -> None:
    good = json.dumps(minimal_patient_dict).encode()
    records = list(iter_ndjson(b"\n".join([good, b'{"a": "\xff"}', good]), source="batch"))
    assert [type(r) for _, r in records] == [Patient, InputError, Patient]
    assert records[1][1].errors[0].type == "encoding"  # type: ignore[union-attr]


def test_every_date_before_the_birth_date_is_reported_where_it_is(full_patient_dict: dict[str, Any]) -> None:
    """A birth date after every other date: each dated field of the file is named, none skipped."""
    patient = validate_patient(full_patient_dict, source="test")
    dated = {"as_of", "diagnosis.diagnosed_on"}
    dated |= {f"therapies[{i}].start" for i, _ in enumerate(patient.therapies)}
    dated |= {f"therapies[{i}].stop" for i, t in enumerate(patient.therapies) if t.stop is not None}
    dated |= {
        f"therapies[{i}].dose_changed_on[{j}]"
        for i, t in enumerate(patient.therapies)
        for j, _ in enumerate(t.dose_changed_on)
    }
    for key in ("glucocorticoid_doses", "assessments", "labs"):
        dated |= {f"{key}[{i}].date" for i, _ in enumerate(getattr(patient, key))}
    dated |= {f"ivig_courses[{i}].start" for i, _ in enumerate(patient.ivig_courses)}
    if patient.ivig_discontinued_on is not None:
        dated.add("ivig_discontinued_on")
    if patient.ivig_order is not None and patient.ivig_order.start is not None:
        dated.add("ivig_order.start")
    care = patient.preventive_care
    dated |= {
        f"preventive_care.{k}" for k in ("cancer_screening_on", "live_vaccine_on") if care and getattr(care, k)
    }
    assert len(dated) > 10
    full_patient_dict["demographics"]["birth_date"] = "2200-12-31"
    assert set(error_locs(full_patient_dict)) >= dated
