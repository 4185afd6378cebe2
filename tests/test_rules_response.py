"""Response rules (rules/response.yaml): RESP-101/102/103, RESP-003/003B and levels, RESP-004/004B/005/006/008."""

from __future__ import annotations

from typing import Any

import pytest

from builders import (
    TIS_17_5,
    TIS_20,
    TIS_37_5,
    TIS_40,
    TIS_57_5,
    TIS_60,
    DualEngine,
    day,
    eligible,
    finding,
    findings,
    responder,
    with_response,
)


@pytest.fixture(scope="module")
def engine() -> DualEngine:
    return DualEngine()


# -- RESP-101: not started ----------------------------------------------------------------------------


def test_resp101_no_course_is_not_started_without_a_finding(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible())
    assert ev.status.response == "not_started"
    assert ev.status.outcome == "not_started"
    assert not findings(ev, "RESP-101")  # status-only rule (emit: false)
    assert any(s.rule_id == "RESP-101" and s.field == "response" for s in ev.status_sources)


def test_resp101_silent_once_a_course_is_given(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().course(day(0)).as_of(day(1)))
    assert ev.status.response != "not_started"
    assert not any(s.rule_id == "RESP-101" for s in ev.status_sources)


# -- RESP-102: too early ------------------------------------------------------------------------------


def test_resp102_fires_before_three_courses(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().courses(2).assessment(day(-7), mmt8=50).as_of(day(40)))
    f = finding(ev, "RESP-102")
    assert f.severity == "info"
    assert f.facts["patient.courses_count"] == 2
    assert f.thresholds["response_min_courses"] == 3
    assert ev.status.response == "too_early"


def test_resp102_fires_13_days_after_course3(engine: DualEngine) -> None:
    ev = engine.evaluate(responder(TIS_40, assessed_at=56 + 13))
    assert finding(ev, "RESP-102").facts["patient.response_window_open"] is False
    assert ev.status.response == "too_early"
    assert ev.status.total_improvement_score is None


def test_resp102_silent_14_days_after_course3(engine: DualEngine) -> None:
    ev = engine.evaluate(responder(TIS_40, assessed_at=56 + 14))
    assert not findings(ev, "RESP-102")
    assert ev.status.response == "responder"


# -- RESP-103: insufficient data ------------------------------------------------------------------------


def test_resp103_fires_without_baseline_mmt8(engine: DualEngine) -> None:
    b = eligible().courses(3).assessment(day(-7), ck_u_per_l=1200).assessment(day(70), mmt8=66).as_of(day(70))
    ev = engine.evaluate(b)
    f = finding(ev, "RESP-103")
    assert f.severity == "advisory"
    assert f.category == "data"
    assert ev.status.response == "insufficient_data"
    assert ev.status.total_improvement_score is None


@pytest.mark.parametrize(("baseline_at", "fires"), [(-90, False), (-91, True)])
def test_resp103_baseline_window_is_90_days(engine: DualEngine, baseline_at: int, fires: bool) -> None:
    ev = engine.evaluate(responder(TIS_40, baseline_at=baseline_at))
    assert bool(findings(ev, "RESP-103")) is fires
    assert ev.status.response == ("insufficient_data" if fires else "responder")


def test_resp103_silent_for_a_scored_response(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(responder()), "RESP-103")


# -- RESP-003 / RESP-003B at the TIS 20 boundary --------------------------------------------------------


def test_resp003_fires_at_tis_exactly_20(engine: DualEngine) -> None:
    ev = engine.evaluate(responder(TIS_20))
    f = finding(ev, "RESP-003")
    assert f.severity == "info"
    assert f.facts["patient.best_tis"] == 20.0
    assert f.thresholds["tis_minimal"] == 20
    assert not findings(ev, "RESP-003B")
    assert ev.status.response == "responder"
    assert ev.status.response_level == "minimal"
    assert ev.status.total_improvement_score == 20.0


def test_resp003b_fires_at_tis_17_5(engine: DualEngine) -> None:
    ev = engine.evaluate(responder(TIS_17_5))
    f = finding(ev, "RESP-003B")
    assert f.severity == "info"
    assert f.facts["patient.best_tis"] == 17.5
    assert "17.5 is below 20" in f.summary
    assert not findings(ev, "RESP-003")
    assert ev.status.response == "non_responder"
    assert ev.status.response_level is None


def test_resp003_uses_the_best_visit_in_the_window(engine: DualEngine) -> None:
    b = responder(TIS_17_5).assessment(day(84), **TIS_40[1]).assessment(day(98), **TIS_17_5[1]).as_of(day(98))
    ev = engine.evaluate(b)
    assert ev.status.total_improvement_score == 40.0


def test_resp003_ignores_visits_after_the_post_discontinuation_window(engine: DualEngine) -> None:
    b = responder(TIS_17_5).discontinue(day(70)).assessment(day(101), **TIS_60[1]).as_of(day(110))
    ev = engine.evaluate(b)  # day 101 is 31 days after discontinuation
    assert ev.status.total_improvement_score == 17.5
    assert ev.status.response == "non_responder"


# -- response levels (RESP-003-MINIMAL / -MODERATE / -MAJOR; status only) ---------------------------------


@pytest.mark.parametrize(
    ("pair", "tis", "level"),
    [
        (TIS_37_5, 37.5, "minimal"),
        (TIS_40, 40.0, "moderate"),
        (TIS_57_5, 57.5, "moderate"),
        (TIS_60, 60.0, "major"),
    ],
)
def test_response_level_boundaries(engine: DualEngine, pair: Any, tis: float, level: str) -> None:
    ev = engine.evaluate(responder(pair))
    assert ev.status.total_improvement_score == tis
    assert ev.status.response_level == level
    source = next(s for s in ev.status_sources if s.field == "response_level")
    assert source.rule_id == f"RESP-003-{level.upper()}"
    for rid in ("RESP-003-MINIMAL", "RESP-003-MODERATE", "RESP-003-MAJOR"):
        assert not findings(ev, rid)  # emit: false


# -- RESP-004 / RESP-004B: CK before course 4 -------------------------------------------------------------


def _ck(pair: Any, base_ck: float, ck_day63: float, n_courses: int = 3) -> Any:
    """Baseline CK on the baseline visit; the CK before course 4 on a CK-only visit on day 63.

    The scored follow-up visit carries no CK, so the enzyme measure adds nothing to the TIS.
    """
    baseline, follow = pair
    b = with_response(eligible(), ({**baseline, "ck_u_per_l": base_ck}, follow), n_courses=n_courses)
    return b.assessment(day(63), ck_u_per_l=ck_day63)


def test_resp004_fires_when_ck_fell(engine: DualEngine) -> None:
    ev = engine.evaluate(_ck(TIS_40, 1200, 600))
    f = finding(ev, "RESP-004")
    assert f.severity == "info"
    assert f.facts["patient.ck_fall_by_course4_pct"] == 50.0
    assert f.thresholds["ck_fall_pct"] == 0
    assert "6 -> 3 x ULN" in f.summary
    assert not findings(ev, "RESP-004B")  # a responder


@pytest.mark.parametrize("ck_day63", [1200, 1500])
def test_resp004_silent_when_ck_did_not_fall(engine: DualEngine, ck_day63: float) -> None:
    ev = engine.evaluate(_ck(TIS_40, 1200, ck_day63))
    assert not findings(ev, "RESP-004")


def test_resp004_judged_before_course4(engine: DualEngine) -> None:
    b = _ck(TIS_40, 1200, 200, n_courses=4)  # course 4 on day 84
    b.assessment(day(90), ck_u_per_l=100).as_of(day(90))
    f = finding(engine.evaluate(b), "RESP-004")
    assert f.facts["patient.ck_by_course4_x_uln"] == 1.0  # day 63, not the day-90 value after course 4
    assert f.facts["patient.ck_fall_by_course4_pct"] == pytest.approx(500 / 6)  # 83.33 %, unrounded


def test_resp004b_biochemical_only_response(engine: DualEngine) -> None:
    ev = engine.evaluate(_ck(TIS_17_5, 1200, 300))
    f = finding(ev, "RESP-004B")
    assert f.severity == "advisory"
    assert f.facts["patient.courses_count"] == 3
    assert "TIS 17.5" in f.summary
    assert findings(ev, "RESP-004")
    assert ev.status.response == "non_responder"


def test_resp004b_silent_without_ck_fall(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(_ck(TIS_17_5, 1200, 1300)), "RESP-004B")


# -- RESP-005 / RESP-006: non-response after 3 / 6 courses -------------------------------------------------


@pytest.mark.parametrize(
    ("n", "rid", "other"), [(3, "RESP-005", "RESP-006"), (5, "RESP-005", "RESP-006"), (6, "RESP-006", "RESP-005")]
)
def test_non_response_by_course_count(engine: DualEngine, n: int, rid: str, other: str) -> None:
    ev = engine.evaluate(responder(TIS_17_5, n_courses=n))
    f = finding(ev, rid)
    assert f.severity == ("advisory" if rid == "RESP-005" else "warning")
    assert f.facts["patient.courses_count"] == n
    assert not findings(ev, other)


@pytest.mark.parametrize("n", [3, 6])
def test_resp005_and_006_silent_for_responders(engine: DualEngine, n: int) -> None:
    ev = engine.evaluate(responder(TIS_20, n_courses=n))
    assert not findings(ev, "RESP-005")
    assert not findings(ev, "RESP-006")


# -- RESP-008: dysphagia ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grades", "fires"),
    [
        (["none", "mild"], True),
        (["mild", "severe"], True),
        (["mild"], True),
        (["mild", "mild"], False),
        (["severe", "mild"], False),
        (["none"], False),
    ],
)
def test_resp008_new_or_worse_dysphagia(engine: DualEngine, grades: list[str], fires: bool) -> None:
    b = eligible()
    for i, grade in enumerate(grades):
        b.assessment(day(-60 + 10 * i), dysphagia=grade)
    ev = engine.evaluate(b)
    assert bool(findings(ev, "RESP-008")) is fires
    if fires:
        f = finding(ev, "RESP-008")
        assert f.severity == "warning"
        assert f.facts["patient.dysphagia_worsened"] is True
        assert f.facts["patient.dysphagia_latest"] == grades[-1]
        previous = grades[-2] if len(grades) > 1 else "not recorded"
        assert f"Dysphagia {grades[-1]} (before: {previous})" in f.summary
