"""The example site plugin: its rules, deriver and threshold override, registered like any plugin."""

from __future__ import annotations

import copy
from typing import Any

import ivig_cds_site_example as site
import pytest

from ivig_cds import Engine

PATIENT: dict[str, Any] = {
    "schema_version": 1,
    "patient_id": "site-001",
    "as_of": "2024-06-01",
    "demographics": {"birth_date": "1970-01-01", "sex": "female", "weight_kg": 70, "height_cm": 165},
    "diagnosis": {"condition": "polymyositis", "diagnosed_on": "2020-01-01", "classification": "definite"},
    "therapies": [
        {"agent": "prednisone", "start": "2020-01-01", "stop": None, "outcome": "inadequate_response"},
        {"agent": "methotrexate", "start": "2020-02-01", "stop": "2021-01-01", "outcome": "inadequate_response"},
    ],
    "glucocorticoid_doses": [{"date": "2020-01-01", "prednisone_mg_per_day": 20}],
    "labs": [],
    "risk_factors": {"diabetes": True},
}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(plugins=[("site_example", site)], entry_points=False)


def ids(ev: Any) -> list[str]:
    return [f.rule_id for f in ev.findings]


def with_iga(days_before: int) -> dict[str, Any]:
    p = copy.deepcopy(PATIENT)
    from datetime import date, timedelta

    p["labs"] = [
        {"date": (date(2024, 6, 1) - timedelta(days=days_before)).isoformat(), "test": "iga_mg_dl", "value": 150}
    ]
    return p


def test_rules_are_namespaced_and_recorded(engine: Engine) -> None:
    info = next(p for p in engine.plugins if p.name == "site_example")
    assert info.rules == ["site_example:IGA-001", "site_example:PRODUCT-001"]
    assert sorted(info.hooks) == ["provide_thresholds", "register_fact_derivers", "register_rules"]
    ev = engine.evaluate(PATIENT)
    assert "site_example==0.1.0" in ev.engine.plugins
    assert any(r.origin == "site_example" for r in ev.engine.rulesets)


def test_iga_rule_fires_without_recent_iga(engine: Engine) -> None:
    ev = engine.evaluate(PATIENT)
    f = next(f for f in ev.findings if f.rule_id == "site_example:IGA-001")
    assert f.severity == "advisory" and f.category == "data" and f.origin == "site_example"
    assert f.facts == {"patient.site_iga_days_before_anchor": None}
    assert f.thresholds == {"site_iga_max_age_days": 365}


@pytest.mark.parametrize(("days", "fires"), [(365, False), (366, True), (10, False)])
def test_iga_rule_threshold_boundary(engine: Engine, days: int, fires: bool) -> None:
    assert ("site_example:IGA-001" in ids(engine.evaluate(with_iga(days)))) is fires


def test_sucrose_free_preference_chains_on_core_renal_rule(engine: Engine) -> None:
    ev = engine.evaluate(PATIENT)  # diabetes -> core SAFETY-008 fires
    assert "SAFETY-008" in ids(ev) and "site_example:PRODUCT-001" in ids(ev)
    p = copy.deepcopy(PATIENT)
    p["risk_factors"] = {"diabetes": False}
    assert "site_example:PRODUCT-001" not in ids(engine.evaluate(p))


def test_low_dose_threshold_is_overridden(engine: Engine) -> None:
    assert engine.info.thresholds_overridden == {"low_dose_gc_mg": 5}
    assert Engine(
        plugins=[("site_example", site)], entry_points=False, thresholds={"low_dose_gc_mg": 6}
    ).info.thresholds_overridden == {"low_dose_gc_mg": 6}


def test_plugin_off_means_core_only() -> None:
    ev = Engine(entry_points=False).evaluate(PATIENT)
    assert not [f for f in ev.findings if f.rule_id.startswith("site_example:")]
    assert ev.engine.plugins == []
