"""Relapse-watch schedule after discontinuation (OUT-005): next visit and missed visits."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from ivig_cds import Engine

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "remission-off-therapy.json"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(entry_points=False)


def patient(visits_months: list[float], as_of_months: float) -> dict[str, Any]:
    data = json.loads(EXAMPLE.read_text())
    stop = date.fromisoformat(data["ivig_discontinued_on"])
    before = [a for a in data["assessments"] if date.fromisoformat(a["date"]) <= stop]
    template = dict(before[-1])
    after = []
    for m in visits_months:
        visit = dict(template, date=(stop + timedelta(days=round(m * 30.4375))).isoformat())
        after.append(visit)
    data["assessments"] = before + after
    data["as_of"] = (stop + timedelta(days=round(as_of_months * 30.4375))).isoformat()
    return data


def facts(engine: Engine, data: dict[str, Any]) -> dict[str, Any]:
    from ivig_cds.inputs.files import load_patient

    model = load_patient(data)
    return engine.derive(model, model.as_of or date.today()).patient


def test_attended_visit_is_not_due_again(engine: Engine) -> None:
    # visits at 3..24 and 30 months, as of 30.8: the next due visit is month 36
    p = facts(engine, patient([3, 6, 9, 12, 15, 18, 21, 24, 30], 30.8))
    assert p["surveillance_missed"] == 0
    assert p["months_to_next_surveillance"] == pytest.approx(5.2, abs=0.1)


def test_missed_visits_are_counted(engine: Engine) -> None:
    p = facts(engine, patient([3, 6], 10.5))  # month 9 missed (beyond the 30-day grace)
    assert p["surveillance_missed"] == 1
    assert p["months_to_next_surveillance"] == pytest.approx(1.5, abs=0.1)


def test_out005_reports_next_visit(engine: Engine) -> None:
    ev = engine.evaluate(patient([3, 6], 10.5))
    f = next(f for f in ev.findings if f.rule_id == "OUT-005")
    assert "1 missed" in f.summary and f.facts["patient.surveillance_missed"] == 1
