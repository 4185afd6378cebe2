"""The status block (contract/evaluation.md, "status" and "Definitions"): one case per value of every field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from builders import (
    AS_OF,
    TIS_17_5,
    TIS_20,
    TIS_37_5,
    TIS_40,
    TIS_60,
    DualEngine,
    PatientBuilder,
    day,
    eligible,
    relapse_candidate,
    responder,
)
from contract_vocab import STATUS_VALUES as CONTRACT_VALUES  # the contract's enumerated status values

STOP = 90


@pytest.fixture(scope="module")
def engine() -> DualEngine:
    return DualEngine()


def _discontinued(
    days_after: int, gc_mg: float | None = None, other: bool = False, visit: int = 200
) -> PatientBuilder:
    """Stopped on STOP; assessed 3 months and ``visit`` days after (a remission needs one at >= 6 months)."""
    b = relapse_candidate().assessment(day(STOP + 91), mmt8=70).assessment(day(STOP + visit), mmt8=70)
    b.as_of(day(STOP + days_after))
    if gc_mg is not None:
        b.gc(day(STOP), gc_mg)
        if gc_mg == 0:
            b.stop_therapy("prednisone", day(STOP))
    if other:
        b.therapy("azathioprine", "2022-06-01", None, outcome="ongoing")
    return b


def _relapse_after(days: int) -> PatientBuilder:
    """A responder whose first post-stop visit, ``days`` after discontinuation, is a relapse."""
    return relapse_candidate().assessment(day(STOP + days), mmt8=50).as_of(day(STOP + days + 10))


def _dependent() -> PatientBuilder:
    b = eligible().courses(3).course(day(112)).course(day(168))
    b.assessment(day(-7), mmt8=50).assessment(day(70), mmt8=70)
    return b.assessment(day(100), mmt8=50).assessment(day(160), mmt8=50).as_of(day(175))


def _failed_drug(days: int) -> PatientBuilder:
    stop = AS_OF - timedelta(days=365)
    b = eligible().no_therapies().therapy("prednisone", "2020-01-01")
    return b.therapy("methotrexate", stop - timedelta(days=days), stop)


Case = tuple[str, Callable[[], PatientBuilder], dict[str, Any]]
CASES: list[Case] = [
    # refractory
    ("refractory_true", eligible, {"refractory": True}),
    ("refractory_false", lambda: _failed_drug(89), {"refractory": False}),
    ("refractory_null", lambda: eligible().no_therapies().no_gc(), {"refractory": None}),
    # eligibility (+ eligibility_reasons)
    ("eligible", eligible, {"eligibility": "eligible", "eligibility_reasons": []}),
    (
        "eligible_with_precautions",
        lambda: eligible().risk(pregnant=True, diabetes=True),
        # pregnancy is also a thrombosis risk factor (contract 1.1)
        {
            "eligibility": "eligible_with_precautions",
            "eligibility_reasons": ["SAFETY-006", "SAFETY-008", "SAFETY-012"],
        },
    ),
    (
        "not_eligible_age",
        lambda: eligible().born("2006-06-02"),
        {"eligibility": "not_eligible", "eligibility_reasons": ["DX-001"]},
    ),
    (
        "not_eligible_not_refractory",
        lambda: _failed_drug(89),
        {"eligibility": "not_eligible", "eligibility_reasons": ["REFRACTORY-101"]},
    ),
    (
        "not_eligible_unstable",
        lambda: eligible().gc(day(-30, AS_OF), 15),
        {"eligibility": "not_eligible", "eligibility_reasons": ["REFRACTORY-005"]},
    ),
    (
        "contraindicated",
        lambda: eligible().risk(prior_ig_anaphylaxis=True),
        {"eligibility": "contraindicated", "eligibility_reasons": ["SAFETY-001"]},
    ),
    (
        "contraindicated_wins",
        lambda: eligible().risk(prior_ig_anaphylaxis=True, pregnant=True).born("2006-06-02"),
        {"eligibility": "contraindicated", "eligibility_reasons": ["SAFETY-001"]},  # only the level shown
    ),
    (
        "not_eligible_beats_precautions",
        lambda: eligible().risk(pregnant=True).diagnosis(condition="dermatomyositis"),
        {"eligibility": "not_eligible", "eligibility_reasons": ["DX-101"]},
    ),
    (
        "screen_incomplete",
        lambda: eligible().no_risk_factors(),
        {
            "eligibility": "screen_incomplete",
            "eligibility_reasons": ["SCREEN-001", "SCREEN-005"],
            "missing_screen": ["risk_factors.prior_ig_anaphylaxis", "risk_factors.hyperprolinemia"],
        },
    ),
    (
        "screen_incomplete_every_item",
        lambda: eligible().no_risk_factors().no_labs(),
        {
            "eligibility": "screen_incomplete",
            "missing_screen": [
                "risk_factors.prior_ig_anaphylaxis",
                "risk_factors.iga_deficiency",
                "labs[creatinine_mg_dl]",
                "risk_factors.hyperprolinemia",
            ],
        },
    ),
    (
        "not_eligible_beats_screen_incomplete",
        lambda: eligible().no_risk_factors().born("2006-06-02"),
        {"eligibility": "not_eligible", "eligibility_reasons": ["DX-001"], "missing_screen": []},
    ),
    ("as_of_from_the_file", eligible, {"as_of_source": "file"}),
    # response, response_level, total_improvement_score
    (
        "not_started",
        eligible,
        {"response": "not_started", "response_level": None, "total_improvement_score": None},
    ),
    (
        "too_early",
        lambda: eligible().courses(2).as_of(day(30)),
        {"response": "too_early", "response_level": None, "total_improvement_score": None},
    ),
    (
        "insufficient_data",
        lambda: responder(TIS_40, baseline_at=-91),
        {"response": "insufficient_data", "response_level": None, "total_improvement_score": None},
    ),
    (
        "non_responder",
        lambda: responder(TIS_17_5),
        {"response": "non_responder", "response_level": None, "total_improvement_score": 17.5},
    ),
    (
        "responder_minimal_at_20",
        lambda: responder(TIS_20),
        {"response": "responder", "response_level": "minimal", "total_improvement_score": 20.0},
    ),
    (
        "responder_minimal",
        lambda: responder(TIS_37_5),
        {"response": "responder", "response_level": "minimal", "total_improvement_score": 37.5},
    ),
    (
        "responder_moderate",
        lambda: responder(TIS_40),
        {"response": "responder", "response_level": "moderate", "total_improvement_score": 40.0},
    ),
    (
        "responder_major",
        lambda: responder(TIS_60),
        {"response": "responder", "response_level": "major", "total_improvement_score": 60.0},
    ),
    # steroid taper
    (
        "taper_beyond_50",
        lambda: responder(TIS_40).gc(day(60), 9.8),
        {"steroid_taper_beyond_50": True, "steroid_reduction_pct": 51.0},
    ),
    (
        "taper_at_50",
        lambda: responder(TIS_40).gc(day(60), 10),
        {"steroid_taper_beyond_50": False, "steroid_reduction_pct": 50.0},
    ),
    ("taper_none", lambda: responder(TIS_40), {"steroid_taper_beyond_50": False, "steroid_reduction_pct": 0.0}),
    ("taper_null_no_course", eligible, {"steroid_taper_beyond_50": None, "steroid_reduction_pct": None}),
    (
        "taper_null_no_baseline_dose",
        lambda: eligible().no_gc().courses(1).as_of(day(14)),
        {"steroid_taper_beyond_50": None, "steroid_reduction_pct": None},
    ),
    # outcome, relapse_alert, months_to_relapse
    ("outcome_not_started", eligible, {"outcome": "not_started", "relapse_alert": False}),
    ("outcome_on_treatment", lambda: responder(TIS_40), {"outcome": "on_treatment"}),
    ("outcome_on_treatment_too_early", lambda: eligible().courses(1).as_of(day(10)), {"outcome": "on_treatment"}),
    ("outcome_non_responder", lambda: responder(TIS_17_5), {"outcome": "non_responder"}),
    ("outcome_ivig_dependent", _dependent, {"outcome": "ivig_dependent", "relapse_alert": False}),
    ("outcome_follow_up", lambda: _discontinued(181), {"outcome": "follow_up", "months_to_relapse": None}),
    (
        "outcome_follow_up_without_a_6_month_visit",
        lambda: _discontinued(400, gc_mg=0, visit=170),
        {"outcome": "follow_up"},  # 170 days = 5.6 months: a remission is never declared on missing follow-up
    ),
    ("outcome_remission_off_therapy", lambda: _discontinued(400, gc_mg=0), {"outcome": "remission_off_therapy"}),
    (
        "outcome_remission_low_dose_steroid",
        lambda: _discontinued(400, gc_mg=7.5),
        {"outcome": "remission_low_dose_steroid"},
    ),
    (
        "outcome_sustained_on_steroid",
        lambda: _discontinued(400, gc_mg=10),
        {"outcome": "sustained_response_on_therapy"},
    ),
    (
        "outcome_sustained_on_other_therapy",
        lambda: _discontinued(400, gc_mg=0, other=True),
        {"outcome": "sustained_response_on_therapy"},
    ),
    (
        "outcome_relapse",
        lambda: _relapse_after(150),
        {"outcome": "relapse", "relapse_alert": True, "months_to_relapse": 4.9},
    ),  # 150 / 30.4375 = 4.93
    (
        "relapse_at_seed_mean",
        lambda: _relapse_after(520),
        {"outcome": "relapse", "relapse_alert": True, "months_to_relapse": 17.1},
    ),  # 520 / 30.4375 = 17.08
    (
        "relapse_at_4_1_months",
        lambda: _relapse_after(125),
        {"outcome": "relapse", "months_to_relapse": 4.1},
    ),  # 125 / 30.4375 = 4.1068
    ("no_relapse_alert", lambda: _discontinued(400, gc_mg=0), {"relapse_alert": False, "months_to_relapse": None}),
]


def test_as_of_source_argument_and_today() -> None:
    from datetime import date

    fixed = DualEngine(clock=lambda: date(2024, 6, 1))
    argued = fixed.evaluate(eligible(), as_of="2024-05-01").status
    assert argued.as_of_source == "argument"
    today = fixed.evaluate(eligible().as_of(None))
    assert today.status.as_of_source == "today" and today.as_of == "2024-06-01"


@pytest.mark.parametrize(("builder", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_status_value(engine: DualEngine, builder: Callable[[], PatientBuilder], expected: dict[str, Any]) -> None:
    status = engine.evaluate(builder()).status.model_dump()
    assert {k: status[k] for k in expected} == expected


def test_every_contract_value_has_a_case() -> None:
    covered: dict[str, set[Any]] = {name: set() for name in CONTRACT_VALUES}
    for _, _, expected in CASES:
        for name, value in expected.items():
            if name in covered:
                covered[name].add(value)
    covered["as_of_source"] |= {"argument", "today"}  # test_as_of_source_argument_and_today
    assert covered == CONTRACT_VALUES


def test_status_has_exactly_the_contract_fields(engine: DualEngine) -> None:
    status = engine.evaluate(eligible()).status.model_dump()
    assert list(status) == [  # the contract's table, in its order
        "refractory",
        "eligibility",
        "eligibility_reasons",
        "missing_screen",
        "response",
        "response_level",
        "total_improvement_score",
        "latest_total_improvement_score",
        "steroid_reduction_pct",
        "steroid_taper_beyond_50",
        "outcome",
        "relapse_alert",
        "months_to_relapse",
        "as_of_source",
    ]


@pytest.mark.parametrize("days", [1, 15, 30, 31, 61, 182, 183, 304, 365, 700])
def test_months_to_relapse_is_days_over_30_4375_to_one_decimal(engine: DualEngine, days: int) -> None:
    b = relapse_candidate().assessment(day(STOP + days), mmt8=50).as_of(day(STOP + days + 1))
    status = engine.evaluate(b).status
    assert status.outcome == "relapse"
    assert status.months_to_relapse == round(days / 30.4375, 1)


def test_months_to_relapse_only_with_a_relapse(engine: DualEngine) -> None:
    b = relapse_candidate().assessment(day(STOP + 150), mmt8=50).as_of(day(STOP + 160))
    assert engine.evaluate(b).status.months_to_relapse is not None
    assert engine.evaluate(relapse_candidate()).status.months_to_relapse is None


def test_total_improvement_score_is_the_best_in_range(engine: DualEngine) -> None:
    for case in (TIS_17_5, TIS_20, TIS_60):
        tis = engine.evaluate(responder(case)).status.total_improvement_score
        assert tis is not None
        assert 0 <= tis <= 100


def test_steroid_reduction_pct_uses_the_dose_in_effect_at_as_of(engine: DualEngine) -> None:
    b = responder(TIS_40).gc(day(30), 15).gc(day(60), 5).gc(day(100), 8).as_of(day(90))
    assert engine.evaluate(b).status.steroid_reduction_pct == 75.0  # 20 -> 5; the day-100 step is after as_of


# -- eligibility follows the findings (contract: "Eligibility") ----------------------------------------------

SAFETY_WARNINGS: list[Callable[[], PatientBuilder]] = [
    lambda: eligible().risk(thrombosis_history=True),
    lambda: eligible().born("1950-01-01"),
    lambda: eligible().lab("2024-05-01", "egfr_ml_min_1_73m2", 45),
    lambda: eligible().risk(heart_failure=True),
    lambda: eligible().demographics(abo_group="B"),
    lambda: eligible().risk(hyperviscosity=True),
    lambda: eligible().risk(pregnant=True),
    lambda: eligible().risk(iga_deficiency=True),
    lambda: eligible().risk(hyperprolinemia=True),
    lambda: eligible().risk(sepsis=True).course(day(0), product="Carimune").as_of(day(10)),
]


@pytest.mark.parametrize("builder", SAFETY_WARNINGS)
def test_any_safety_warning_gives_precautions(engine: DualEngine, builder: Callable[[], PatientBuilder]) -> None:
    ev = engine.evaluate(builder())
    warnings = sorted({f.rule_id for f in ev.findings if f.category == "safety" and f.severity == "warning"})
    assert warnings
    assert ev.status.eligibility == "eligible_with_precautions"
    assert ev.status.eligibility_reasons == warnings


@pytest.mark.parametrize("builder", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_eligibility_is_consistent_with_findings(
    engine: DualEngine, builder: Callable[[], PatientBuilder]
) -> None:
    ev = engine.evaluate(builder())
    stops = [f for f in ev.findings if f.severity == "stop"]
    safety_warnings = [f for f in ev.findings if f.category == "safety" and f.severity == "warning"]
    assert (ev.status.eligibility == "contraindicated") == bool(stops)
    if ev.status.eligibility == "eligible":
        assert not safety_warnings
        assert ev.status.eligibility_reasons == []
    for rid in ev.status.eligibility_reasons:
        assert rid in {f.rule_id for f in ev.findings}, f"{rid} set eligibility but has no finding"
