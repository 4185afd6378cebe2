"""The IVIG product table: names recognised anywhere in free text; what is not recognised stays unknown."""

from __future__ import annotations

from typing import Any

import pytest

from ivig_cds.errors import RuleFileError
from ivig_cds.model.terminology import ProductTable, load_product_table

TABLE = load_product_table()


@pytest.mark.parametrize(
    ("text", "name", "concentration", "origin"),
    [
        ("Privigen", "Privigen", 10, "product"),
        ("PRIVIGEN", "Privigen", 10, "product"),
        ("Immune globulin IV (Privigen) 10%", "Privigen", 10, "name"),
        ("privigen, 10 %", "Privigen", 10, "name"),
        ("Octagam 5%", "Octagam", 5, "name"),
        ("octagam 10% 200 mL", "Octagam", 10, "name"),
        ("Octagam", "Octagam", None, None),
        ("Gamunex-C", "Gamunex-C", 10, "product"),
        ("gamunex c", "Gamunex-C", 10, "product"),
        ("Gammagard Liquid", "Gammagard Liquid", 10, "product"),
        ("KIOVIG 100 mg/ml", "Gammagard Liquid", 10, "product"),
        ("Gammagard S/D", "Gammagard S/D", None, None),
        ("Carimune NF", "Carimune NF", None, None),
    ],
)
def test_recognised_anywhere_case_and_punctuation_insensitive(
    text: str, name: str, concentration: float | None, origin: str | None
) -> None:
    info = TABLE.lookup(text)
    assert info.status == "recognised"
    assert info.name == name
    assert info.concentration_pct == concentration
    assert info.concentration_from == origin


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("Gammagard", "unrecognised"),  # Liquid (glycine) or S/D (glucose): not guessed
        ("Brand X immune serum", "unrecognised"),
        ("IVIG", "generic"),
        ("Immune globulin 10%", "generic"),
        ("Privigen then Octagam", "ambiguous"),
    ],
)
def test_unknown_products_are_unknown_not_negative(text: str, status: str) -> None:
    info = TABLE.lookup(text)
    assert info.status == status
    assert info.product is None
    assert info.note
    for stabilizer in ("proline", "maltose", "sucrose"):
        assert info.contains(stabilizer) is None  # never "not proline"
    assert info.stabilizer is None


def test_stabilisers_of_recognised_products() -> None:
    assert TABLE.lookup("Privigen").contains("proline") is True
    assert TABLE.lookup("Privigen").contains("sucrose") is False
    assert TABLE.lookup("Octagam 10%").contains("maltose") is True
    assert TABLE.lookup("Carimune").contains("sucrose") is True
    assert TABLE.lookup("Gammaplex 5%").stabilizer == "sorbitol+glycine"


def test_a_concentration_the_product_is_not_marketed_at_is_unknown() -> None:
    info = TABLE.lookup("Privigen 5%")
    assert info.name == "Privigen" and info.concentration_pct is None
    assert info.note is not None and "not marketed at 5%" in info.note


def test_no_product() -> None:
    for text in (None, "", "   "):
        info = TABLE.lookup(text)
        assert info.status is None and info.product is None and info.contains("proline") is None


def _table(**entry: Any) -> dict[str, Any]:
    base = {"name": "P", "match": ["p"], "stabilizers": ["glycine"], "concentrations_pct": [10]}
    return {"products": [{**base, **entry}]}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"stabilizers": ["unicorn"]}, "stabilizers"),
        ({"match": []}, "match"),
        ({"concentrations_pct": [50]}, "concentrations_pct"),
        ({"colour": "red"}, "unknown key"),
    ],
)
def test_invalid_tables_are_rule_file_errors(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleFileError, match=message):
        ProductTable.from_mapping(_table(**entry), source="terminology.yaml")


def test_two_products_cannot_share_a_name() -> None:
    data = _table()
    data["products"].append({**data["products"][0], "name": "Q"})
    with pytest.raises(RuleFileError, match="also 'P'"):
        ProductTable.from_mapping(data, source="terminology.yaml")
