"""Dosing rules (rules/dosing.yaml): DOSE-001, DOSE-003, DOSE-003B, and the dose plan they shape."""

from __future__ import annotations

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
    assert f.facts["patient.weight_pct_of_ideal"] == 121.2
    assert f.facts["patient.adjusted_weight_kg"] == 61.7
    assert f.facts["patient.ideal_weight_kg"] == 56.9
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
    assert f.facts["patient.bmi"] == 30.0
    assert ev.dose_plan is not None
    assert ev.dose_plan.weight_basis == "adjusted"
    assert ev.dose_plan.dosing_weight_kg == 101.2


def test_dose003_silent_at_bmi_29_9(lenient_pct_engine: DualEngine) -> None:
    ev = lenient_pct_engine.evaluate(eligible().demographics(weight_kg=119.6, height_cm=200))
    assert not findings(ev, "DOSE-003")
    assert ev.dose_plan is not None
    assert ev.dose_plan.weight_basis == "actual"


def test_dose003_male_devine_weight(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().demographics(sex="male", height_cm=180, weight_kg=100))
    f = finding(ev, "DOSE-003")
    assert f.facts["patient.ideal_weight_kg"] == 75.0  # 50 + 2.3 x (70.87 - 60)
    assert f.facts["patient.adjusted_weight_kg"] == 85.0  # 75 + 0.4 x 25


# -- DOSE-003B: obese, no ideal weight -----------------------------------------------------------------------


@pytest.mark.parametrize("sex", ["other", "unknown"])
def test_dose003b_fires_at_bmi_30_without_sex_for_devine(engine: DualEngine, sex: str) -> None:
    ev = engine.evaluate(eligible().demographics(sex=sex, weight_kg=120, height_cm=200))
    f = finding(ev, "DOSE-003B")
    assert f.severity == "warning"
    assert f.facts["patient.bmi"] == 30.0
    assert f.facts["patient.sex"] == sex
    assert f.thresholds["adjust_bmi"] == 30
    assert not findings(ev, "DOSE-003")
    assert ev.dose_plan is not None
    assert ev.dose_plan.weight_basis == "actual"
    assert ev.dose_plan.dosing_weight_kg == 120


def test_dose003b_silent_at_bmi_29_9(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().demographics(sex="other", weight_kg=119.6, height_cm=200))
    assert not findings(ev, "DOSE-003B")


def test_dose003b_silent_when_ideal_weight_is_computable(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().demographics(weight_kg=120, height_cm=200))
    assert not findings(ev, "DOSE-003B")
    assert findings(ev, "DOSE-003")


def test_missing_height_is_a_data_gap_for_the_dosing_weight(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().set("demographics.height_cm", None))
    assert not findings(ev, "DOSE-003")
    gaps = gaps_for(ev, "DOSE-003") + gaps_for(ev, "DOSE-003B")
    assert gaps, "an unknown BMI must not be read as 'not obese'"
    assert any("height_cm" in source for g in gaps for source in g.sources)
