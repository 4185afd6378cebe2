"""Patient-file errors a new user makes, and the hints that say how to fix them (never the value itself)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from builders import eligible
from ivig_cds import InputError
from ivig_cds.inputs.files import load_patient


def _errors(source: Any) -> dict[str, str]:
    with pytest.raises(InputError) as caught:
        load_patient(source)
    return {e.loc: e.msg for e in caught.value.errors}


def _yaml(tmp_path: Path, **replace: str) -> Path:
    text = yaml.safe_dump(eligible(patient_id="pt-001").build(), sort_keys=False)
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "patient.yaml"
    path.write_text(text)
    return path


def test_a_yaml_id_with_leading_zeros_is_quoted_and_the_line_named(tmp_path: Path) -> None:
    msg = _errors(_yaml(tmp_path, **{"patient_id: pt-001": "patient_id: 00123"}))["patient_id"]
    assert msg == (
        'Input should be a valid string; quote it (patient_id: "…"): YAML reads unquoted digits as a number'
        " and drops leading zeros (line 2)"
    )
    assert "123" not in msg and "83" not in msg  # the value (YAML reads 00123 as octal 83) is never echoed


def test_a_weight_in_pounds_hints_at_kilograms(tmp_path: Path) -> None:
    msg = _errors(_yaml(tmp_path, **{"weight_kg: 64": "weight_kg: 150 lb"}))["demographics.weight_kg"]
    assert msg == "Input should be a valid number; give the weight in kg as a number (1 lb = 0.4536 kg) (line 7)"
    assert "150" not in msg


def test_a_number_with_its_unit_hints_that_the_unit_is_in_the_name() -> None:
    data = eligible().build()
    data["demographics"]["height_cm"] = "165 cm"
    msg = _errors(data)["demographics.height_cm"]
    assert (
        msg == "Input should be a valid number; give a number without its unit: the unit (cm) is in the field name"
    )


def test_an_unknown_field_suggests_the_close_contract_field(tmp_path: Path) -> None:
    errors = _errors(_yaml(tmp_path, **{"  weight_kg: 64": "  weight: 64"}))
    assert errors["demographics.weight"] == (
        "unknown field (not in patient-file contract v1); did you mean weight_kg? (line 7)"
    )
    # a list item's field: the model of the item is found through the list
    data = eligible().build()
    data["therapies"][0]["stopp"] = None
    assert _errors(data)["therapies[0].stopp"].endswith("; did you mean stop?")


def test_a_vocabulary_word_in_another_case_is_refused_with_the_spelling() -> None:
    """The contract's words are exact (a hint, never a silent acceptance): documented in docs/console.md."""
    data = eligible().build()
    data["diagnosis"]["condition"] = "Polymyositis"
    msg = _errors(data)["diagnosis.condition"]
    assert msg.endswith("; the words are lower case with underscores: write polymyositis")
    data["diagnosis"]["condition"] = "Inclusion body myositis"
    assert _errors(data)["diagnosis.condition"].endswith("write inclusion_body_myositis")
    data["diagnosis"]["condition"] = "myositis"  # no member spelled so: no guess
    assert "write" not in _errors(data)["diagnosis.condition"]


def test_json_errors_carry_hints_but_no_lines() -> None:
    msg = _errors(json.dumps({**eligible().build(), "patient_id": 123}))["patient_id"]
    assert msg == "Input should be a valid string; write it as a string, in quotes"


def test_a_missing_field_names_the_line_of_its_parent(tmp_path: Path) -> None:
    path = _yaml(tmp_path, **{"  classification: definite\n": ""})
    assert _errors(path)["diagnosis.classification"] == "Field required (line 10)"  # the `diagnosis:` key
