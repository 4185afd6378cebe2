"""Pure functions of derive.py: age, body weights, dose step function, truncation at as_of, months."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from builders import AS_OF, eligible
from ivig_cds import Engine
from ivig_cds.facts.derive import DAYS_PER_MONTH, age_years, body_weights, dose_in_effect, months_between, truncate
from ivig_cds.inputs.files import load_patient
from ivig_cds.model.patient import GlucocorticoidDose


@pytest.fixture(scope="module")
def thresholds() -> dict[str, Any]:
    return dict(Engine().book.threshold_values())


# -- age_years -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "on", "age"),
    [
        (date(2006, 6, 1), date(2024, 5, 31), 17),
        (date(2006, 6, 1), date(2024, 6, 1), 18),
        (date(2006, 6, 1), date(2024, 6, 2), 18),
        (date(1980, 12, 31), date(2024, 1, 1), 43),
        (date(2000, 2, 29), date(2018, 2, 28), 17),  # leap-day birthday: not 18 until 1 March
        (date(2000, 2, 29), date(2018, 3, 1), 18),
        (date(2000, 2, 29), date(2020, 2, 29), 20),
        (date(2024, 6, 1), date(2024, 6, 1), 0),
    ],
)
def test_age_years_counts_completed_years(birth: date, on: date, age: int) -> None:
    assert age_years(birth, on) == age


# -- body_weights ----------------------------------------------------------------------------------------


def test_body_weights_male(thresholds: dict[str, Any]) -> None:
    w = body_weights(100, 180, "male", thresholds)
    ideal = 50 + 2.3 * (180 / 2.54 - 60)  # 74.99
    # unrounded: rules compare the exact values, messages round them for display
    assert w["bmi"] == pytest.approx(100 / 1.8**2)
    assert w["ideal_weight_kg"] == pytest.approx(ideal)
    assert w["adjusted_weight_kg"] == pytest.approx(ideal + 0.4 * (100 - ideal))
    assert w["weight_pct_of_ideal"] == pytest.approx(100 / ideal * 100)
    assert w["ideal_weight_sex_assumed"] is False


def test_body_weights_female(thresholds: dict[str, Any]) -> None:
    w = body_weights(64, 165, "female", thresholds)
    ideal = 45.5 + 2.3 * (165 / 2.54 - 60)  # 56.91
    assert w["bmi"] == pytest.approx(23.5078, abs=1e-4)
    assert w["ideal_weight_kg"] == pytest.approx(ideal)
    assert w["adjusted_weight_kg"] == pytest.approx(ideal + 0.4 * (64 - ideal))
    assert w["weight_pct_of_ideal"] == pytest.approx(64 / ideal * 100)


def test_bmi_just_below_30_is_not_rounded_up(thresholds: dict[str, Any]) -> None:
    # 86.6 kg at 170 cm is BMI 29.965..., which one decimal would show as 30.0
    assert body_weights(86.6, 170, "female", thresholds)["bmi"] < 30


def test_body_weights_at_60_inches_is_the_base(thresholds: dict[str, Any]) -> None:
    assert body_weights(80, 152.4, "female", thresholds)["ideal_weight_kg"] == pytest.approx(45.5)
    assert body_weights(80, 152.4, "male", thresholds)["ideal_weight_kg"] == pytest.approx(50.0)


@pytest.mark.parametrize("sex", ["other", "unknown", None])
def test_body_weights_use_the_womens_formula_for_other_sexes(thresholds: dict[str, Any], sex: str | None) -> None:
    w = body_weights(90, 170, sex, thresholds)
    women = body_weights(90, 170, "female", thresholds)
    assert {k: w[k] for k in ("bmi", "ideal_weight_kg", "adjusted_weight_kg")} == {
        k: women[k] for k in ("bmi", "ideal_weight_kg", "adjusted_weight_kg")
    }
    assert w["ideal_weight_sex_assumed"] is True


@pytest.mark.parametrize(("weight", "height"), [(70, None), (None, 170)])
def test_body_weights_need_weight_and_height(thresholds: dict[str, Any], weight: Any, height: Any) -> None:
    assert set(body_weights(weight, height, "male", thresholds).values()) == {None}


def test_body_weights_follow_threshold_overrides() -> None:
    site = dict(Engine(thresholds={"adjbw_factor": 0.5, "ibw_male_base_kg": 52}).book.threshold_values())
    w = body_weights(100, 152.4, "male", site)
    assert w["ideal_weight_kg"] == pytest.approx(52.0)
    assert w["adjusted_weight_kg"] == pytest.approx(76.0)


def test_body_weights_below_60_inches_do_not_go_under_the_base(thresholds: dict[str, Any]) -> None:
    assert body_weights(70, 140, "female", thresholds)["ideal_weight_kg"] == 45.5
    assert body_weights(60, 100, "male", thresholds)["ideal_weight_kg"] == 50


# -- dose_in_effect ----------------------------------------------------------------------------------------


STEPS = [
    GlucocorticoidDose.model_validate({"date": "2024-01-01", "prednisone_mg_per_day": 60.0}),
    GlucocorticoidDose.model_validate({"date": "2024-02-01", "prednisone_mg_per_day": 40.0}),
    GlucocorticoidDose.model_validate({"date": "2024-03-01", "prednisone_mg_per_day": 0.0}),
    GlucocorticoidDose.model_validate({"date": "2024-04-01", "prednisone_mg_per_day": 5.0}),
]


@pytest.mark.parametrize(
    ("on", "mg"),
    [
        (date(2023, 12, 31), None),  # before the first step
        (date(2024, 1, 1), 60.0),  # a step holds from its own date
        (date(2024, 1, 31), 60.0),  # ... until the day before the next
        (date(2024, 2, 1), 40.0),
        (date(2024, 3, 15), 0.0),
        (date(2024, 4, 1), 5.0),
        (date(2030, 1, 1), 5.0),  # the last step holds for ever
    ],
)
def test_dose_in_effect_is_a_step_function(on: date, mg: float | None) -> None:
    assert dose_in_effect(STEPS, on) == mg


def test_dose_in_effect_without_steps() -> None:
    assert dose_in_effect([], date(2024, 1, 1)) is None


# -- truncate ----------------------------------------------------------------------------------------------


def test_truncate_keeps_records_up_to_as_of_and_counts_the_rest() -> None:
    later, same_day = "2024-06-02", AS_OF.isoformat()
    b = eligible()
    b.therapy("azathioprine", later)  # ignored (1)
    b.therapy("rituximab", "2022-01-01", later, outcome="intolerance", dose_changed_on=["2022-02-01", later])  # 2
    b.gc(later, 5).gc(same_day, 10)  # 1
    b.assessment(later, mmt8=40).assessment(same_day, mmt8=50)  # 1
    b.lab(later, "iga_mg_dl", 5)  # 1
    b.course("2024-05-01").course(later)  # 1
    b.discontinue(later)  # 1
    kept, ignored = truncate(load_patient(b.build()), AS_OF)
    assert ignored == 8
    agents = [t.agent for _, t, _, _ in kept["therapies"]]
    assert agents == ["prednisone", "methotrexate", "rituximab"]
    _, _, stop, changes = kept["therapies"][2]
    assert stop is None  # stops after as_of: ongoing at as_of
    assert changes == [date(2022, 2, 1)]
    assert [d.prednisone_mg_per_day for d in kept["gc"]] == [60, 20, 10]  # records on as_of are kept
    assert [a.mmt8 for _, a in kept["assessments"]] == [50]
    assert len(kept["labs"]) == 3
    assert [c.start for _, c in kept["courses"]] == [date(2024, 5, 1)]
    assert kept["discontinued_on"] is None


def test_truncate_sorts_by_date_and_keeps_file_indices() -> None:
    b = eligible().assessment("2024-03-01", mmt8=30).assessment("2024-01-01", mmt8=10)
    b.assessment("2024-02-01", mmt8=20)
    kept, ignored = truncate(load_patient(b.build()), AS_OF)
    assert ignored == 0
    assert [(i, a.mmt8) for i, a in kept["assessments"]] == [(1, 10), (2, 20), (0, 30)]


def test_truncate_counts_nothing_when_everything_is_known() -> None:
    _, ignored = truncate(load_patient(eligible().build()), AS_OF)
    assert ignored == 0


# -- months_between ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("days", [0, 30, 31, 45, 61, 179, 181, 182, 183, 365, 520])
def test_months_between_is_days_over_30_4375_unrounded(days: int) -> None:
    start = date(2023, 1, 1)
    end = date.fromordinal(start.toordinal() + days)
    assert months_between(start, end) == days / DAYS_PER_MONTH


def test_182_days_are_less_than_6_months() -> None:
    # one decimal would say 6.0: the contract compares unrounded values
    months = months_between(date(2023, 1, 1), date(2023, 7, 2))
    assert months == pytest.approx(5.98, abs=0.01)
    assert months < 6


def test_months_between_is_negative_backwards() -> None:
    assert months_between(date(2024, 3, 1), date(2024, 1, 1)) == -60 / 30.4375


def test_days_per_month_is_the_julian_year_over_12() -> None:
    assert DAYS_PER_MONTH == 365.25 / 12
