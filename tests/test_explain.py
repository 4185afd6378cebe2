"""Explain: a fired, a non-fired and an undecided rule; rule documents; rule-file linting."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from builders import eligible
from ivig_cds import Engine
from ivig_cds.console.reports import render_explanation
from ivig_cds.explain import (
    UnknownRuleError,
    close_rule_ids,
    explain_rule,
    lint_rules,
    rule_document,
    rule_rows,
)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(backend="reference")


def _text(x: Any) -> list[str]:
    buf = io.StringIO()
    render_explanation(x, Console(file=buf, width=100, color_system=None))
    return [line.rstrip() for line in buf.getvalue().splitlines()]


def test_a_fired_rule_shows_the_fact_that_matched(engine: Engine) -> None:
    x = explain_rule(engine, eligible().build(), "REFRACTORY-001")
    assert (x.fired, x.verdict, x.outcome) == (True, True, "fired")
    therapy = x.patterns[1]
    assert therapy.fact_type == "therapy" and therapy.holds is True
    (hit,) = [c for c in therapy.candidates if c.verdict is True]
    assert hit.ref == "therapies[1]" and hit.label == "methotrexate from 2020-03-01"
    assert [t.name for t in x.thresholds] == ["min_failed_drug_days"]
    lines = _text(x)
    assert "│ patient pt-001 as of 2024-06-01: FIRED" in [line.rstrip(" │") for line in lines]
    assert any("✓ duration_days ≥ 90 ($min_failed_drug_days)   saw 365" in line for line in lines)
    assert "Sets status: refractory=true" in lines


def test_a_rule_that_did_not_fire_shows_the_false_condition(engine: Engine) -> None:
    x = explain_rule(engine, eligible().build(), "RESP-003")
    assert (x.fired, x.verdict, x.outcome) == (False, False, "did not fire")
    assert x.patterns[0].holds is False
    lines = _text(x)
    assert any("✗ courses_count ≥ 3 ($response_min_courses)   saw 0" in line for line in lines)
    assert not x.findings


def test_an_undecided_rule_names_the_missing_data(engine: Engine, minimal_patient_dict: dict[str, Any]) -> None:
    x = explain_rule(engine, minimal_patient_dict, "SAFETY-006")
    assert (x.fired, x.verdict, x.outcome) == (False, None, "undecided (missing data)")
    assert "risk_factors.thrombosis_history" in x.missing_inputs
    assert "patient.rf_thrombosis_history" in x.missing
    assert x.gap_findings and x.gap_findings[0].facts["rule"] == "SAFETY-006"
    lines = _text(x)
    assert any("? rf_thrombosis_history = true   saw not recorded" in line for line in lines)
    assert any(line.startswith("Missing data kept it from deciding. Record: ") for line in lines)
    json.dumps(x.to_dict())  # JSON-ready


def test_rule_ids_are_case_insensitive_and_unknown_ids_suggest_close_ones(engine: Engine) -> None:
    assert explain_rule(engine, eligible().build(), "refractory-001").rule_id == "REFRACTORY-001"
    with pytest.raises(UnknownRuleError) as err:
        explain_rule(engine, eligible().build(), "RESP-03")
    assert "RESP-003" in err.value.suggestions
    assert close_rule_ids("SAFTEY-006", sorted(engine.rules))[0] == "SAFETY-006"


def test_rule_rows_and_document(engine: Engine) -> None:
    rows = rule_rows(engine.book)
    # the engine's own rules are documented beside the rule files'
    assert [r["id"] for r in rows] == sorted([*engine.rules, "DATA-001", "PLUGIN-001"])
    assert set(rows[0]) == {"id", "version", "severity", "category", "title", "origin"}
    doc = rule_document(engine.book, "RESP-003")
    assert list(doc)[:5] == ["id", "version", "title", "category", "severity"]
    assert doc["sets"] == {"response": "responder"}
    assert doc["thresholds"]["tis_minimal"]["value"] == 20
    assert doc["evidence"][0]["key"] == "acr_eular2016" and doc["evidence"][0]["citation"]


# -- rules validate ------------------------------------------------------------------------------


def _rule(rid: str, **over: Any) -> dict[str, Any]:
    rule = {
        "id": rid,
        "version": "1.0.0",
        "title": "Heavy patient",
        "category": "dosing",
        "severity": "info",
        "evidence": ["cherin2002"],
        "when": [{"fact": "patient", "as": "p", "where": {"weight_kg": {"gt": 100}}}],
        "summary": "Heavy: {p.weight_kg} kg",
    }
    rule.update(over)
    return rule


def _write(path: Path, *rules: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump({"family": "site", "version": "1.0.0", "rules": list(rules)}))
    return path


def test_lint_accepts_a_good_site_rule_file(tmp_path: Path) -> None:
    report = lint_rules(_write(tmp_path / "site.yaml", _rule("site:HEAVY-001")))
    assert report.errors == () and report.origin == "site"
    assert report.ok == ((str(tmp_path / "site.yaml"), 1),)


def test_lint_reports_every_broken_rule_with_file_and_id(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "site.yaml",
        _rule("site:HEAVY-001", when=[{"fact": "patient", "as": "p", "where": {"weight_kgs": {"gt": 1}}}]),
        _rule("site:HEAVY-002"),
        _rule("site:HEAVY-003", evidence=["nowhere2020"]),
    )
    report = lint_rules(path)
    assert report.ok == ()
    assert [(e.path, e.rule_id) for e in report.errors] == [
        (str(path), "site:HEAVY-001"),
        (str(path), "site:HEAVY-003"),
    ]
    assert "no field 'weight_kgs'" in report.errors[0].message


def test_lint_checks_duplicates_against_the_core_rules(tmp_path: Path) -> None:
    report = lint_rules(_write(tmp_path / "dup.yaml", _rule("RESP-003")))
    assert report.origin == "core"
    assert [e.rule_id for e in report.errors] == ["RESP-003"]
    assert "duplicate rule id" in report.errors[0].message


def test_lint_accepts_the_built_in_rules_directory() -> None:
    report = lint_rules(Path(__file__).resolve().parents[1] / "rules")
    assert report.errors == () and len(report.ok) >= 5


def test_a_fired_rule_shows_the_values_compared_behind_a_derived_flag(engine: Engine) -> None:
    """Was: only `relapse_found = true`; now the MMT-8 at the relapse visit against the best since course 1."""
    from builders import day, relapse_candidate

    data = relapse_candidate().assessment(day(150), mmt8=50, ck_u_per_l=900).as_of(day(160)).build()
    x = explain_rule(engine, data, "OUT-004")
    assert x.fired
    assert x.compared == (
        "relapse_found ← assessments[2] 2024-06-06: MMT-8 50/80, CK 900 U/L (ULN 200)",
        "  MMT-8 50/80 on 2024-06-06 is 71% of the best since course 1, 70/80 on 2024-03-18 (relapse at ≤ 80%)",
    )
    lines = _text(x)
    assert "Values compared:" in lines
    assert x.to_dict()["compared"] == list(x.compared)


def test_the_engines_own_rules_are_documented_and_explained(engine: Engine) -> None:
    rows = {r["id"]: r for r in rule_rows(engine.book)}
    assert rows["DATA-001"]["title"] == "Missing data kept a rule from deciding"
    assert rows["PLUGIN-001"]["severity"] == "warning"
    doc = rule_document(engine.book, "data-001")
    assert doc["file"] == "(written by the engine)" and "three-valued" in doc["detail"]
    x = explain_rule(engine, eligible().set("demographics.abo_group", None).build(), "DATA-001")
    assert x.fired and {f.facts["rule"] for f in x.findings} >= {"SAFETY-011"}
    lines = _text(x)
    assert "│ patient pt-001 as of 2024-06-01: FIRED" in [line.rstrip(" │") for line in lines]
    none = explain_rule(engine, eligible().build(), "PLUGIN-001")
    assert not none.fired and none.to_dict()["outcome"] == "did not fire"
    assert "No such finding for this patient." in _text(none)
