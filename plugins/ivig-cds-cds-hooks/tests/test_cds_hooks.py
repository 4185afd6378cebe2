"""CDS Hooks cards: schema rules of CDS Hooks 2.0 that the output must keep."""

from __future__ import annotations

import json
from typing import Any

import ivig_cds_cds_hooks as cds
import pytest

from ivig_cds import Engine

PATIENT: dict[str, Any] = {
    "schema_version": 1,
    "patient_id": "cds-001",
    "as_of": "2024-06-01",
    "demographics": {
        "birth_date": "1950-01-01",
        "sex": "male",
        "weight_kg": 80,
        "height_cm": 178,
        "abo_group": "A",
    },
    "diagnosis": {"condition": "polymyositis", "diagnosed_on": "2020-01-01", "classification": "definite"},
    "therapies": [
        {"agent": "prednisone", "start": "2020-01-01", "stop": None, "outcome": "inadequate_response"},
        {"agent": "azathioprine", "start": "2020-02-01", "stop": "2021-01-01", "outcome": "intolerance"},
    ],
    "risk_factors": {"prior_ig_anaphylaxis": True, "diabetes": True},
}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(plugins=[("cds_hooks", cds)], entry_points=False)


def responses(engine: Engine, patient: dict[str, Any]) -> list[dict[str, Any]]:
    text = engine.format("cds-hooks", [engine.evaluate(patient)])
    return [json.loads(line) for line in text.splitlines()]


def walk(value: Any) -> list[Any]:
    out = [value]
    if isinstance(value, dict):
        for v in value.values():
            out += walk(v)
    elif isinstance(value, list):
        for v in value:
            out += walk(v)
    return out


def test_format_is_registered(engine: Engine) -> None:
    assert "cds-hooks" in engine.output_formats
    assert next(p for p in engine.plugins if p.name == "cds_hooks").formats == ["cds-hooks"]


def test_cards_follow_the_card_schema(engine: Engine) -> None:
    (resp,) = responses(engine, PATIENT)
    cards = resp["cards"]
    assert cards, "a contraindicated patient must produce cards"
    for card in cards:
        assert set(card) <= {"uuid", "summary", "detail", "indicator", "source", "suggestions", "links"}
        assert {"summary", "indicator", "source"} <= set(card)
        assert len(card["summary"]) <= 140
        assert card["indicator"] in ("info", "warning", "critical")
        assert card["source"]["label"]
    for value in walk(resp):
        assert value is not None and value != "" and value != {}, (
            "optional attributes are omitted, never null/empty"
        )
    critical = [c for c in cards if c["indicator"] == "critical"]
    assert any("SAFETY-001" in c["source"]["label"] for c in critical)
    assert all("**Evidence**" in c["detail"] for c in cards[1:])


def test_uuids_are_deterministic_and_unique(engine: Engine) -> None:
    first, second = responses(engine, PATIENT), responses(engine, PATIENT)
    assert first == second
    uuids = [c["uuid"] for c in first[0]["cards"]]
    assert len(set(uuids)) == len(uuids)


def test_long_summary_is_cut_on_a_word() -> None:
    text = "word " * 60
    cut = cds._summary(text.strip())
    assert len(cut) <= 140 and cut.endswith("…")


def test_no_advice_gives_empty_cards() -> None:
    class Quiet:
        findings: tuple[Any, ...] = ()

    assert cds.cards_for(Quiet()) == {"cards": []}  # type: ignore[arg-type]
