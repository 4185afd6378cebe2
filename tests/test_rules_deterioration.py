"""Relative change from baseline (rules/response.yaml, issue 13): RESP-007 (ProDERM confirmed deterioration)
and its status, STER-005C (tapering meanwhile), RESP-001 (MMT-8 scales), RESP-002/-002B (IMACS DOI), RESP-009."""

from __future__ import annotations

from typing import Any

import pytest

from builders import TIS_40, DualEngine, PatientBuilder, day, eligible, finding, findings, gaps_for, responder

BASE = {
    "mmt8": 50,
    "physician_global_cm": 5,
    "patient_global_cm": 5,
    "haq": 1.0,
    "extramuscular_global_cm": 1,
    "ck_u_per_l": 1000,
}
BEST = {**BASE, "mmt8": 75, "physician_global_cm": 2, "patient_global_cm": 2}  # TIS well above 20


@pytest.fixture(scope="module")
def engine() -> DualEngine:
    return DualEngine()


def deteriorating(*visits: dict[str, Any], courses: int = 5) -> PatientBuilder:
    """A responder (best visit on day 70) on monthly IVIG, then visits on days 98, 126, ... (each vs BASE)."""
    b = eligible().courses(courses).assessment(day(-7), **BASE).assessment(day(70), **BEST)
    for k, visit in enumerate(visits):
        b.assessment(day(98 + 28 * k), **{**BASE, **visit})
    return b.as_of(day(98 + 28 * max(0, len(visits) - 1) + 2))


WORSE_A = {"physician_global_cm": 7, "mmt8": 40}  # +2 cm and -20 % of MMT-8


# -- RESP-007 --------------------------------------------------------------------------------------------------


def test_resp007_two_consecutive_visits_and_the_status(engine: DualEngine) -> None:
    ev = engine.evaluate(deteriorating(WORSE_A, WORSE_A))
    f = finding(ev, "RESP-007")
    assert f.severity == "warning"
    assert f.facts["patient.deterioration_criteria"] == "physician global and MMT-8"
    assert f"on {day(98)} and {day(126)} vs baseline" in f.summary
    # the old best score no longer makes a responder
    assert (ev.status.response, ev.status.outcome, ev.status.response_level) == (
        "non_responder",
        "non_responder",
        None,
    )
    assert ev.status.total_improvement_score is not None and ev.status.total_improvement_score >= 20
    assert not findings(ev, "RESP-003") and not findings(ev, "RESP-005") and not findings(ev, "OUT-007")


def test_resp007_a_single_worse_visit_is_not_confirmed(engine: DualEngine) -> None:
    ev = engine.evaluate(deteriorating({}, WORSE_A))
    assert not findings(ev, "RESP-007")
    assert ev.status.response == "responder" and ev.status.outcome == "on_treatment"


def test_resp007_is_judged_on_the_latest_two_visits(engine: DualEngine) -> None:
    ev = engine.evaluate(deteriorating(WORSE_A, WORSE_A, {}))  # recovered at the latest visit
    assert not findings(ev, "RESP-007") and ev.status.response == "responder"


@pytest.mark.parametrize(
    ("visit", "fires"),
    [
        (WORSE_A, True),
        ({"physician_global_cm": 7, "mmt8": 40.1}, False),  # MMT-8 19.8 % worse
        ({"physician_global_cm": 6.9, "mmt8": 40}, False),  # physician global +1.9 cm
        ({"extramuscular_global_cm": 3}, True),  # +2 cm
        ({"extramuscular_global_cm": 2.9}, False),
        ({"patient_global_cm": 6.5, "haq": 1.3, "extramuscular_global_cm": 1.3}, True),  # 3 of 5 worse >= 30 %
        ({"patient_global_cm": 6.5, "haq": 1.29, "extramuscular_global_cm": 1.3}, False),
    ],
)
def test_resp007_criteria_boundaries(engine: DualEngine, visit: dict[str, Any], fires: bool) -> None:
    ev = engine.evaluate(deteriorating(visit, visit))
    assert bool(findings(ev, "RESP-007")) is fires
    assert ev.status.response == ("non_responder" if fires else "responder")


def test_resp007_baseline_zero_uses_the_range(engine: DualEngine) -> None:
    # extramuscular 0 at baseline: 30 % of 10 cm is 3 cm, with patient global and HAQ 30 % worse
    base = {"extramuscular_global_cm": 0}
    b = eligible().courses(5).assessment(day(-7), **{**BASE, **base}).assessment(day(70), **{**BEST, **base})
    visit = {**BASE, "patient_global_cm": 6.5, "haq": 1.3, "extramuscular_global_cm": 1.9}  # +1.9 cm: not 2
    b.assessment(day(98), **visit).assessment(day(126), **{**visit, "extramuscular_global_cm": 1.8})
    assert not findings(engine.evaluate(b.as_of(day(128))), "RESP-007")  # 1.9 and 1.8 cm are < 3 cm of 10
    b.assessment(day(154), **{**visit, "extramuscular_global_cm": 3}).assessment(
        day(182), **{**visit, "extramuscular_global_cm": 3}
    )
    assert findings(engine.evaluate(b.as_of(day(184))), "RESP-007")


def test_resp007_undecided_by_missing_measures_is_a_gap(engine: DualEngine) -> None:
    # MMT-8 only at the latest visits: the extramuscular and 3-of-5 criteria stay open
    b = eligible().courses(5).assessment(day(-7), **BASE).assessment(day(70), **BEST)
    b.assessment(day(98), mmt8=50).assessment(day(126), mmt8=50).as_of(day(128))
    ev = engine.evaluate(b)
    assert not findings(ev, "RESP-007")
    (gap,) = gaps_for(ev, "RESP-007")
    assert gap.severity == "advisory"
    assert ev.status.response == "responder"  # an undecided deterioration does not override the response


def test_resp007_overrides_too_early(engine: DualEngine) -> None:
    b = eligible().courses(2).assessment(day(-7), **BASE)
    b.assessment(day(20), **{**BASE, **WORSE_A}).assessment(day(40), **{**BASE, **WORSE_A}).as_of(day(42))
    ev = engine.evaluate(b)
    assert finding(ev, "RESP-007") and ev.status.response == "non_responder"
    assert "counted as no response while it holds (best TIS not recorded" in finding(ev, "RESP-007").summary


def test_resp007_overrides_insufficient_data(engine: DualEngine) -> None:
    # no baseline MMT-8 (RESP-103: insufficient data), but the extramuscular global is 2 cm worse twice
    base = {k: v for k, v in BASE.items() if k != "mmt8"}
    b = eligible().courses(3).assessment(day(-7), **base)
    b.assessment(day(70), **{**base, "extramuscular_global_cm": 3}).assessment(
        day(98), **{**base, "extramuscular_global_cm": 3}
    )
    ev = engine.evaluate(b.as_of(day(100)))
    assert findings(ev, "RESP-007") and not findings(ev, "RESP-103")
    assert ev.status.response == "non_responder"


def test_resp007_replaces_the_non_response_advice(engine: DualEngine) -> None:
    # 7 courses, deteriorating: RESP-006 ("no response after 6 courses") would mislead for a former responder
    ev = engine.evaluate(deteriorating(WORSE_A, WORSE_A, courses=7).as_of(day(170)))
    assert findings(ev, "RESP-007")
    assert not findings(ev, "RESP-006") and not findings(ev, "RESP-004B")


def test_resp007_silent_after_discontinuation(engine: DualEngine) -> None:
    ev = engine.evaluate(deteriorating(WORSE_A, WORSE_A).discontinue(day(90)))
    assert not findings(ev, "RESP-007") and not gaps_for(ev, "RESP-007")


# -- STER-005C: tapering during a confirmed deterioration ------------------------------------------------------


@pytest.mark.parametrize(("on", "fires"), [(98, True), (97, False)])
def test_ster005c_taper_on_or_after_the_first_deteriorating_visit(
    engine: DualEngine, on: int, fires: bool
) -> None:
    ev = engine.evaluate(deteriorating(WORSE_A, WORSE_A).gc(day(on), 15))
    assert bool(findings(ev, "STER-005C")) is fires
    if fires:
        f = finding(ev, "STER-005C")
        assert f.severity == "warning" and "20 -> 15 mg/day" in f.summary


def test_ster005c_silent_without_deterioration(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(deteriorating({}, {}).gc(day(100), 15)), "STER-005C")


# -- RESP-001: MMT-8 scales ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("scale", "fires"), [(150, True), (80, False)])
def test_resp001_scale_differs_from_the_baseline(engine: DualEngine, scale: int, fires: bool) -> None:
    b = (
        eligible()
        .courses(3)
        .assessment(day(-7), mmt8=50)
        .assessment(day(70), mmt8=100 if scale == 150 else 66, mmt8_max=scale)
    )
    ev = engine.evaluate(b.as_of(day(72)))
    assert bool(findings(ev, "RESP-001")) is fires
    if fires:
        assert finding(ev, "RESP-001").severity == "info"
        assert ev.status.total_improvement_score == 0  # the MMT-8 scored 0: the reason is now shown


# -- RESP-002 / -002B: IMACS definition of improvement ---------------------------------------------------------


def doi(latest: dict[str, Any]) -> PatientBuilder:
    return (
        eligible().courses(3).assessment(day(-7), **BASE).assessment(day(70), **{**BASE, **latest}).as_of(day(72))
    )


@pytest.mark.parametrize(
    ("latest", "met", "improved"),
    [
        ({"physician_global_cm": 4, "patient_global_cm": 4, "mmt8": 60}, True, 3),  # 3 of 6 by 20 %
        ({"physician_global_cm": 4.01, "patient_global_cm": 4, "mmt8": 60}, False, 2),
        ({"physician_global_cm": 4, "patient_global_cm": 4, "mmt8": 59.9}, False, 2),
        # 3 improved but 3 worse by >= 25 %
        (
            {
                "physician_global_cm": 4,
                "patient_global_cm": 4,
                "mmt8": 60,
                "haq": 1.25,
                "extramuscular_global_cm": 1.25,
                "ck_u_per_l": 1250,
            },
            False,
            3,
        ),
        # 4 improved, MMT-8 worse by 25 %
        (
            {"physician_global_cm": 4, "patient_global_cm": 4, "haq": 0.8, "ck_u_per_l": 800, "mmt8": 37.5},
            False,
            4,
        ),
    ],
)
def test_resp002_imacs_doi(engine: DualEngine, latest: dict[str, Any], met: bool, improved: int) -> None:
    ev = engine.evaluate(doi(latest))
    rid = "RESP-002" if met else "RESP-002B"
    f = finding(ev, rid)
    assert f.severity == "info"
    assert f.facts["patient.imacs_doi_improved"] == improved
    assert not findings(ev, "RESP-002B" if met else "RESP-002")


def test_resp002_undecided_says_nothing(engine: DualEngine) -> None:
    b = eligible().courses(3).assessment(day(-7), mmt8=50).assessment(day(70), mmt8=66).as_of(day(72))
    ev = engine.evaluate(b)
    assert not findings(ev, "RESP-002") and not findings(ev, "RESP-002B")
    assert not gaps_for(ev, "RESP-002") and not gaps_for(ev, "RESP-002B")


# -- RESP-009: benchmarks --------------------------------------------------------------------------------------


def test_resp009_beside_a_judged_response(engine: DualEngine) -> None:
    f = finding(engine.evaluate(responder(TIS_40)), "RESP-009")
    assert f.severity == "info"
    assert (
        "(this patient after 3 course(s): best TIS 40, latest 40)" in f.summary
        and "71.4%" in f.summary
        and "78.7% vs 43.8%" in f.summary
    )


def test_resp009_silent_before_ivig(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(eligible()), "RESP-009")
