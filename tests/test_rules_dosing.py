"""Dosing rules (rules/dosing.yaml): DOSE-001, -002, -003 (+C, D), -004, the ordered course and the dose plan."""

from __future__ import annotations

from typing import Any

import pytest

from builders import C1, DualEngine, day, eligible, finding, findings, gaps_for


@pytest.fixture(scope="module")
def engine() -> DualEngine:
    return DualEngine()


@pytest.fixture(scope="module")
def lenient_pct_engine() -> DualEngine:
    """Weight-%-of-ideal trigger out of the way, so only the BMI trigger of DOSE-003 can fire."""
    return DualEngine(thresholds={"adjust_pct_of_ideal": 200})


# -- DOSE-001: course above 2 g/kg ----------------------------------------------------------------------


def test_dose001_fires_at_2_1_g_per_kg(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().course(C1, days=3, dose=0.7).as_of(day(14)))
    f = finding(ev, "DOSE-001")
    assert f.severity == "warning"
    assert f.category == "dosing"
    assert f.facts["course.course_g_per_kg"] == 2.1
    assert f.facts["course.number"] == 1
    assert f.thresholds["max_course_g_per_kg"] == 2.0
    assert f.summary.startswith(f"Course 1 on {C1.isoformat()} gave 2.1 g/kg (> 2 g/kg per course)")
    assert f.sources == ["ivig_courses[0]"]


@pytest.mark.parametrize(("days", "dose"), [(2, 1.0), (5, 0.4), (1, 2.0)])
def test_dose001_silent_at_2_g_per_kg(engine: DualEngine, days: int, dose: float) -> None:
    ev = engine.evaluate(eligible().course(C1, days=days, dose=dose).as_of(day(14)))
    assert not findings(ev, "DOSE-001")


def test_dose001_one_finding_per_course_over_the_maximum(engine: DualEngine) -> None:
    b = eligible().course(C1, days=3, dose=0.7).course(day(28)).course(day(56), days=5, dose=0.5).as_of(day(60))
    ev = engine.evaluate(b)
    assert [f.facts["course.number"] for f in findings(ev, "DOSE-001")] == [1, 3]


# -- DOSE-003: adjusted body weight ---------------------------------------------------------------------


def test_dose003_fires_above_120_pct_of_ideal(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().demographics(weight_kg=69))  # 121.2 % of 56.9 kg, BMI 25.3
    f = finding(ev, "DOSE-003")
    assert f.severity == "advisory"
    assert f.facts["patient.weight_pct_of_ideal"] == pytest.approx(121.245, abs=1e-3)
    assert f.facts["patient.adjusted_weight_kg"] == pytest.approx(61.7, abs=0.05)
    assert f.facts["patient.ideal_weight_kg"] == pytest.approx(56.9, abs=0.05)
    assert "ideal 56.91 kg" in f.summary  # messages round to 2 decimals, rules compared the exact values
    assert f.thresholds["adjust_bmi"] == 30
    assert f.thresholds["adjust_pct_of_ideal"] == 120
    plan = ev.dose_plan
    assert plan is not None
    assert plan.weight_basis == "adjusted"
    assert plan.basis_rule == "DOSE-003"
    assert plan.dosing_weight_kg == 61.7
    assert plan.grams_per_day == 61.7
    assert plan.days_per_course == 2
    assert plan.interval_weeks == 4
    assert plan.courses_in_first_phase == "4-6"


def test_dose003_silent_at_119_5_pct_of_ideal(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().demographics(weight_kg=68))
    assert not findings(ev, "DOSE-003")
    assert ev.dose_plan is not None
    assert ev.dose_plan.weight_basis == "actual"
    assert ev.dose_plan.dosing_weight_kg == 68
    assert ev.dose_plan.grams_per_day == 68
    assert ev.dose_plan.basis_rule is None


def test_dose003_fires_at_bmi_30(lenient_pct_engine: DualEngine) -> None:
    ev = lenient_pct_engine.evaluate(eligible().demographics(weight_kg=120, height_cm=200))
    f = finding(ev, "DOSE-003")
    assert f.facts["patient.bmi"] == pytest.approx(30.0)
    assert ev.dose_plan is not None
    assert ev.dose_plan.weight_basis == "adjusted"
    assert ev.dose_plan.dosing_weight_kg == 101.2


def test_dose003_compares_the_unrounded_bmi(lenient_pct_engine: DualEngine) -> None:
    # BMI 29.96 (119.85 kg at 200 cm) is below 30, although one decimal would show 30.0
    ev = lenient_pct_engine.evaluate(eligible().demographics(weight_kg=119.85, height_cm=200))
    assert not findings(ev, "DOSE-003")


def test_dose003_silent_at_bmi_29_9(lenient_pct_engine: DualEngine) -> None:
    ev = lenient_pct_engine.evaluate(eligible().demographics(weight_kg=119.6, height_cm=200))
    assert not findings(ev, "DOSE-003")
    assert ev.dose_plan is not None
    assert ev.dose_plan.weight_basis == "actual"


def test_dose003_male_devine_weight(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().demographics(sex="male", height_cm=180, weight_kg=100))
    f = finding(ev, "DOSE-003")
    assert f.facts["patient.ideal_weight_kg"] == pytest.approx(75.0, abs=0.01)  # 50 + 2.3 x (70.87 - 60)
    assert f.facts["patient.adjusted_weight_kg"] == pytest.approx(85.0, abs=0.01)  # 75 + 0.4 x 25


# -- DOSE-003C: sex other / unknown; DOSE-003D: height missing in a heavy patient ------------------------


@pytest.mark.parametrize("sex", ["other", "unknown"])
def test_dose003c_womens_formula_for_other_sexes(engine: DualEngine, sex: str) -> None:
    ev = engine.evaluate(eligible().demographics(sex=sex, weight_kg=120, height_cm=200))
    note = finding(ev, "DOSE-003C")
    assert note.severity == "advisory"
    assert note.facts["patient.ideal_weight_sex_assumed"] is True
    women = engine.evaluate(eligible().demographics(sex="female", weight_kg=120, height_cm=200))
    assert ev.dose_plan is not None and women.dose_plan is not None
    assert ev.dose_plan.weight_basis == "adjusted"  # obese: the adjusted weight, on the women's ideal weight
    assert ev.dose_plan.dosing_weight_kg == women.dose_plan.dosing_weight_kg


@pytest.mark.parametrize("sex", ["female", "male"])
def test_dose003c_silent_for_women_and_men(engine: DualEngine, sex: str) -> None:
    assert not findings(engine.evaluate(eligible().demographics(sex=sex)), "DOSE-003C")


@pytest.mark.parametrize(("weight", "fires"), [(100, True), (99.9, False)])
def test_dose003d_height_missing_at_100_kg(engine: DualEngine, weight: float, fires: bool) -> None:
    ev = engine.evaluate(eligible().set("demographics.height_cm", None).demographics(weight_kg=weight))
    assert bool(findings(ev, "DOSE-003D")) is fires
    if fires:
        f = finding(ev, "DOSE-003D")
        assert f.severity == "warning" and "may overestimate the dose" in f.summary
        assert f.thresholds["height_missing_weight_kg"] == 100


def test_missing_height_is_a_data_gap_for_the_dosing_weight(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().set("demographics.height_cm", None))
    assert not findings(ev, "DOSE-003")
    gaps = gaps_for(ev, "DOSE-003")
    assert gaps, "an unknown BMI must not be read as 'not obese'"
    assert any("height_cm" in source for g in gaps for source in g.sources)


# -- the ordered course (ivig_order) against the plan ------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ({"dose_g_per_kg_per_day": 1.0, "days": 2}, set()),  # the seed regimen
        ({"dose_g_per_kg_per_day": 1.1, "days": 2}, {"DOSE-011", "DOSE-012"}),  # 2.2 g/kg
        ({"dose_g_per_kg_per_day": 2.0, "days": 1}, {"DOSE-011", "DOSE-013"}),  # 2 g/kg in one day
        ({"dose_g_per_kg_per_day": 0.4, "days": 5}, {"DOSE-011B", "DOSE-013"}),  # the labelled 5-day split
        ({"dose_g_per_kg_per_day": 0.7, "days": 3}, {"DOSE-011B", "DOSE-012", "DOSE-013"}),  # 2.1 g/kg
    ],
)
def test_order_checked_against_the_plan(engine: DualEngine, order: dict[str, object], expected: set[str]) -> None:
    ev = engine.evaluate(eligible().set("ivig_order", order))
    got = {f.rule_id for f in ev.findings if f.rule_id.startswith("DOSE-01")}
    assert got == expected
    for rid in got:
        assert finding(ev, rid).sources == ["ivig_order"]


def test_order_severities(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().set("ivig_order", {"dose_g_per_kg_per_day": 1.1, "days": 2}))
    assert finding(ev, "DOSE-011").severity == "warning"
    assert finding(ev, "DOSE-012").severity == "warning"
    assert "2.2 g/kg" in finding(ev, "DOSE-012").summary


@pytest.mark.parametrize(("gap_days", "fires"), [(20, True), (21, False)])
def test_dose014_interval_since_the_last_course(engine: DualEngine, gap_days: int, fires: bool) -> None:
    b = eligible().course(C1).as_of(day(gap_days)).set("ivig_order", {"start": day(gap_days).isoformat()})
    ev = engine.evaluate(b)
    assert bool(findings(ev, "DOSE-014")) is fires
    if fires:
        f = finding(ev, "DOSE-014")
        assert f.severity == "warning" and f.facts["patient.order_interval_days"] == 20


def test_no_order_no_order_checks_and_no_gaps(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible())
    assert not [f for f in ev.findings if f.rule_id.startswith("DOSE-01")]
    assert not [g for g in ev.findings if g.rule_id == "DATA-001" and str(g.facts["rule"]).startswith("DOSE-01")]


def test_an_order_without_a_dose_is_a_gap_for_the_dose_checks(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().set("ivig_order", {"product": "Privigen"}))
    assert gaps_for(ev, "DOSE-011") and gaps_for(ev, "DOSE-012")


# -- DOSE-002: split and maintenance regimens -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("dose", "days", "fires"),
    [
        (0.4, 5, True),  # 2 g/kg over 5 days: the labelled DM split
        (0.6, 3, True),  # 1.8 g/kg over 3 days
        (0.5, 2, True),  # 1 g/kg: maintenance
        (1.0, 2, False),  # the seed regimen
        (0.7, 3, False),  # 2.1 g/kg: above the course maximum (DOSE-012 says so)
    ],
)
def test_dose002_alternative_regimen_ordered(engine: DualEngine, dose: float, days: int, fires: bool) -> None:
    ev = engine.evaluate(eligible().set("ivig_order", {"dose_g_per_kg_per_day": dose, "days": days}))
    assert bool(findings(ev, "DOSE-002")) is fires
    if fires:
        f = finding(ev, "DOSE-002")
        assert f.severity == "info"
        assert "in polymyositis these regimens are off-label" in f.detail


def test_dose002_silent_without_an_order(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(eligible()), "DOSE-002")


# -- DOSE-004: the first-phase plan --------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "fires"), [(0, True), (5, True), (6, False)])
def test_dose004_plan_until_course_6(engine: DualEngine, n: int, fires: bool) -> None:
    b = eligible().courses(n).as_of(day(max(0, 28 * (n - 1)) + 10)) if n else eligible()
    ev = engine.evaluate(b)
    assert bool(findings(ev, "DOSE-004")) is fires
    if fires:
        f = finding(ev, "DOSE-004")
        assert f.severity == "info"
        assert f"Plan: {n} course(s) given - reassess the response at course 3" in f.summary


@pytest.mark.parametrize(
    "builder",
    [
        lambda: eligible().courses(2).discontinue(day(40)).as_of(day(60)),
        lambda: eligible().risk(prior_ig_anaphylaxis=True),
    ],
)
def test_dose004_silent_after_stopping_or_when_contraindicated(engine: DualEngine, builder: Any) -> None:
    assert not findings(engine.evaluate(builder()), "DOSE-004")
