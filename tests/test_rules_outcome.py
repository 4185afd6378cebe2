"""Outcome rules (rules/outcome.yaml): OUT-001/001B/001C/001D/003/004/004B/005/101/102/103/104.

:func:`builders.relapse_candidate` is a responder (MMT-8 50 -> 70 on day 70, CK 6 -> 0.75 x ULN,
TIS 40) whose IVIG stopped on day 90 (days counted from course 1).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from builders import (
    TIS_17_5,
    TIS_40,
    DualEngine,
    PatientBuilder,
    day,
    eligible,
    finding,
    findings,
    relapse_candidate,
    responder,
)

STOP = 90  # relapse_candidate's discontinuation day


@pytest.fixture(scope="module")
def engine() -> DualEngine:
    return DualEngine()


def after_stop(days: int, **visit: float) -> PatientBuilder:
    """relapse_candidate with one post-stop visit ``days`` after discontinuation; as_of 10 days later."""
    b = relapse_candidate()
    return b.assessment(day(STOP + days), **visit).as_of(day(STOP + days + 10))


# -- OUT-101 / OUT-102 / OUT-103: status-only outcomes -------------------------------------------------------


def test_out101_non_responder(engine: DualEngine) -> None:
    ev = engine.evaluate(responder(TIS_17_5))
    assert ev.status.outcome == "non_responder"
    assert not findings(ev, "OUT-101")  # emit: false
    assert any(s.rule_id == "OUT-101" for s in ev.status_sources)


@pytest.mark.parametrize(
    ("builder", "response"),
    [(lambda: responder(TIS_40), "responder"), (lambda: eligible().courses(2).as_of(day(30)), "too_early")],
    ids=["responder", "too_early"],
)
def test_out102_on_treatment(engine: DualEngine, builder: Callable[[], PatientBuilder], response: str) -> None:
    ev = engine.evaluate(builder())
    assert ev.status.response == response
    assert ev.status.outcome == "on_treatment"
    assert not findings(ev, "OUT-102")
    assert any(s.rule_id == "OUT-102" for s in ev.status_sources)


def test_out102_silent_after_discontinuation(engine: DualEngine) -> None:
    ev = engine.evaluate(relapse_candidate())
    assert ev.status.outcome != "on_treatment"


def test_out103_too_early_then_stopped_is_follow_up(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().courses(2).discontinue(day(40)).as_of(day(300)))
    assert ev.status.response == "too_early"
    assert ev.status.outcome == "follow_up"
    assert any(s.rule_id == "OUT-103" for s in ev.status_sources)
    assert not findings(ev, "OUT-103")


# -- OUT-003: IVIG dependence ------------------------------------------------------------------------------------


def weaning(first_low: float, second_low: float, *, best: float = 70, baseline: float = 50) -> PatientBuilder:
    """Courses on days 0, 28, 56, then 112 and 168 (two 56-day weaning intervals), low visits in each."""
    b = eligible().courses(3).course(day(112)).course(day(168))
    b.assessment(day(-7), mmt8=baseline).assessment(day(70), mmt8=best)
    return b.assessment(day(100), mmt8=first_low).assessment(day(160), mmt8=second_low).as_of(day(175))


def test_out003_two_failures_at_exactly_80_pct_of_best(engine: DualEngine) -> None:
    ev = engine.evaluate(weaning(56, 56))  # 56 / 70 = 80 %
    f = finding(ev, "OUT-003")
    assert f.severity == "advisory"
    assert f.facts["patient.weaning_failures"] == 2
    assert f.facts["patient.discontinued"] is False
    assert f.thresholds["ivig_dependence_failures"] == 2
    assert "<= 80% of best in 2 intervals longer than 42 days" in f.summary
    assert ev.status.outcome == "ivig_dependent"


def test_out003_silent_just_above_80_pct(engine: DualEngine) -> None:
    ev = engine.evaluate(weaning(56.5, 56.5))
    assert not findings(ev, "OUT-003")
    assert ev.status.outcome == "on_treatment"


def test_out003_one_failure_is_not_dependence(engine: DualEngine) -> None:
    ev = engine.evaluate(weaning(56, 60))
    assert not findings(ev, "OUT-003")
    assert ev.status.outcome == "on_treatment"


@pytest.mark.parametrize(("gap", "dependent"), [(42, False), (43, True)])
def test_out003_weaning_interval_must_exceed_42_days(engine: DualEngine, gap: int, dependent: bool) -> None:
    b = eligible().courses(3).course(day(56 + gap)).course(day(56 + 2 * gap))
    b.assessment(day(-7), mmt8=50).assessment(day(70), mmt8=70)
    b.assessment(day(56 + gap - 2), mmt8=50).assessment(day(56 + 2 * gap - 2), mmt8=50)
    b.as_of(day(56 + 2 * gap + 5))
    ev = engine.evaluate(b)
    assert bool(findings(ev, "OUT-003")) is dependent


def test_out003_counts_the_interval_after_the_last_course(engine: DualEngine) -> None:
    b = eligible().courses(3).course(day(112))
    b.assessment(day(-7), mmt8=50).assessment(day(70), mmt8=70)
    b.assessment(day(100), mmt8=50).assessment(day(165), mmt8=50).as_of(day(170))
    assert finding(engine.evaluate(b), "OUT-003").facts["patient.weaning_failures"] == 2


def test_out003_silent_once_discontinued(engine: DualEngine) -> None:
    ev = engine.evaluate(weaning(56, 56).discontinue(day(168)))
    assert not findings(ev, "OUT-003")
    assert ev.status.outcome == "follow_up"


def test_out003_silent_for_non_responder(engine: DualEngine) -> None:
    ev = engine.evaluate(weaning(40, 40, best=52))  # MMT +4 % -> TIS 10
    assert ev.status.response == "non_responder"
    assert not findings(ev, "OUT-003")
    assert ev.status.outcome == "non_responder"


# -- OUT-004 / OUT-004B: relapse after stopping ----------------------------------------------------------------


def test_out004_relapse_at_exactly_80_pct_of_best(engine: DualEngine) -> None:
    ev = engine.evaluate(after_stop(300, mmt8=56))
    f = finding(ev, "OUT-004")
    assert f.severity == "warning"
    assert f.category == "relapse"
    assert f.facts["patient.relapse_found"] is True
    assert f.facts["patient.months_to_relapse"] == pytest.approx(300 / 30.4375)  # 9.86, unrounded
    assert f.facts["patient.relapse_kind"] == "strength"
    assert "9.9 months after IVIG was stopped (strength)" in f.summary
    assert ev.status.outcome == "relapse"
    assert ev.status.relapse_alert is True
    assert ev.status.months_to_relapse == 9.9


def test_out004_silent_just_above_80_pct(engine: DualEngine) -> None:
    ev = engine.evaluate(after_stop(300, mmt8=56.5))
    assert not findings(ev, "OUT-004")
    assert ev.status.relapse_alert is False
    assert ev.status.months_to_relapse is None


def test_out004_relapse_by_strength_and_ck(engine: DualEngine) -> None:
    ev = engine.evaluate(after_stop(200, mmt8=63, ck_u_per_l=300))  # 90 % of best, CK 1.5 x ULN = 2 x nadir
    f = finding(ev, "OUT-004")
    assert f.facts["patient.relapse_kind"] == "strength_and_ck"
    assert not findings(ev, "OUT-004B")


@pytest.mark.parametrize(
    "visit",
    [{"mmt8": 63.5, "ck_u_per_l": 300}, {"mmt8": 63, "ck_u_per_l": 290}],
    ids=["strength_above_90_pct", "ck_below_2x_nadir"],
)
def test_out004_ck_criterion_boundaries(engine: DualEngine, visit: dict[str, float]) -> None:
    ev = engine.evaluate(after_stop(200, **visit))
    assert not findings(ev, "OUT-004")


def test_out004_ck_must_be_above_uln(engine: DualEngine) -> None:
    b = relapse_candidate(best_ck=80)  # nadir 0.4 x ULN: 2 x nadir is below the ULN
    at_uln = b.copy().assessment(day(STOP + 200), mmt8=63, ck_u_per_l=200).as_of(day(STOP + 210))
    above = b.copy().assessment(day(STOP + 200), mmt8=63, ck_u_per_l=210).as_of(day(STOP + 210))
    assert not findings(engine.evaluate(at_uln), "OUT-004")
    assert findings(engine.evaluate(above), "OUT-004")


def test_out004_first_relapse_visit_counts(engine: DualEngine) -> None:
    b = after_stop(150, mmt8=50).assessment(day(STOP + 300), mmt8=40).as_of(day(STOP + 310))
    ev = engine.evaluate(b)
    assert ev.status.months_to_relapse == 4.9  # 150 / 30.4375


def test_out004_silent_for_non_responder(engine: DualEngine) -> None:
    b = relapse_candidate(best_mmt8=52, best_ck=1150)  # MMT +4 %, CK -4 %: TIS 10
    b.assessment(day(STOP + 100), mmt8=30).as_of(day(STOP + 110))
    ev = engine.evaluate(b)
    assert ev.status.response == "non_responder"
    assert not findings(ev, "OUT-004")
    assert ev.status.outcome == "non_responder"
    assert ev.status.relapse_alert is False


def test_out004_low_visit_before_stopping_is_not_a_relapse(engine: DualEngine) -> None:
    b = relapse_candidate().assessment(day(STOP - 5), mmt8=40).as_of(day(STOP + 20))
    assert not findings(engine.evaluate(b), "OUT-004")


def test_out004b_ck_flare_without_weakness(engine: DualEngine) -> None:
    ev = engine.evaluate(after_stop(200, mmt8=70, ck_u_per_l=400))
    f = finding(ev, "OUT-004B")
    assert f.severity == "advisory"
    assert f.facts["patient.ck_flare_only"] is True
    assert f.facts["patient.relapse_found"] is False
    assert not findings(ev, "OUT-004")
    assert ev.status.relapse_alert is False


def test_out004b_silent_without_ck_rise(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(after_stop(200, mmt8=70, ck_u_per_l=250)), "OUT-004B")


@pytest.mark.parametrize("kind", ["relapse", "weaning"])
def test_exactly_80_pct_of_best_counts_without_float_error(engine: DualEngine, kind: str) -> None:
    if kind == "relapse":
        b = relapse_candidate(baseline_mmt8=40, best_mmt8=55)  # MMT +37.5 %: a responder
        ev = engine.evaluate(b.assessment(day(STOP + 200), mmt8=44).as_of(day(STOP + 210)))
        assert ev.status.response == "responder"
        assert ev.status.outcome == "relapse"
    else:
        ev = engine.evaluate(weaning(44, 44, best=55, baseline=40))
        assert ev.status.response == "responder"
        assert ev.status.outcome == "ivig_dependent"


# -- OUT-104 vs OUT-001*: 6 months after stopping -----------------------------------------------------------------


def stopped_for(days_after_stop: int, last_visit: int | None = None) -> PatientBuilder:
    """Stopped on STOP, assessed 3 months after and on ``last_visit`` days after (default: as_of)."""
    visit = days_after_stop if last_visit is None else last_visit
    b = relapse_candidate().assessment(day(STOP + 91), mmt8=70)
    if visit > 91:
        b.assessment(day(STOP + visit), mmt8=70)
    return b.as_of(day(STOP + days_after_stop))


def test_out104_follow_up_at_5_9_months(engine: DualEngine) -> None:
    ev = engine.evaluate(stopped_for(181))  # 5.95 months
    f = finding(ev, "OUT-104")
    assert f.severity == "info"
    assert f.facts["patient.months_since_discontinuation"] == pytest.approx(181 / 30.4375)
    assert f.thresholds["follow_up_months"] == 6
    assert "stopped 5.9 months ago" in f.summary
    assert ev.status.outcome == "follow_up"
    assert not [f for f in ev.findings if f.rule_id.startswith("OUT-001")]


def test_out104_at_182_days_is_under_6_months(engine: DualEngine) -> None:
    # 182 days are 5.98 months: one decimal would show 6.0, the rule compares the exact value
    ev = engine.evaluate(stopped_for(182))
    assert finding(ev, "OUT-104").facts["patient.months_since_discontinuation"] < 6
    assert ev.status.outcome == "follow_up"


def test_out104_silent_at_6_months(engine: DualEngine) -> None:
    ev = engine.evaluate(stopped_for(183))  # 6.01 months, assessed that day
    assert not findings(ev, "OUT-104")
    f = finding(ev, "OUT-001C")  # still on 20 mg/day prednisone
    assert f.facts["patient.months_since_discontinuation"] == pytest.approx(183 / 30.4375)
    assert f.facts["patient.months_assessed_after_stop"] == pytest.approx(183 / 30.4375)
    assert ev.status.outcome == "sustained_response_on_therapy"


@pytest.mark.parametrize(("last_visit", "classified"), [(182, False), (183, True), (91, False)])
def test_out104b_remission_needs_an_assessment_6_months_after_stopping(
    engine: DualEngine, last_visit: int, classified: bool
) -> None:
    ev = engine.evaluate(
        stopped_for(400, last_visit=last_visit).gc(day(STOP), 0).stop_therapy("prednisone", day(STOP))
    )
    if classified:
        assert ev.status.outcome == "remission_off_therapy"
        assert not findings(ev, "OUT-104B")
    else:
        f = finding(ev, "OUT-104B")
        assert f.severity == "advisory" and "not declared on missing follow-up" in f.summary
        assert ev.status.outcome == "follow_up"
        assert not findings(ev, "OUT-001")


def off_prednisone(mg: float, days_after_stop: int = 183) -> PatientBuilder:
    b = stopped_for(days_after_stop).gc(day(STOP), mg)
    if mg == 0:
        b.stop_therapy("prednisone", day(STOP))
    return b


def test_out001_remission_off_therapy(engine: DualEngine) -> None:
    ev = engine.evaluate(off_prednisone(0))
    f = finding(ev, "OUT-001")
    assert f.severity == "info"
    assert f.facts["patient.gc_current_mg"] == 0
    assert ev.status.outcome == "remission_off_therapy"


def test_out001_silent_with_another_therapy_ongoing(engine: DualEngine) -> None:
    b = off_prednisone(0).therapy("azathioprine", "2022-06-01", None, outcome="ongoing")
    ev = engine.evaluate(b)
    assert not findings(ev, "OUT-001")
    f = finding(ev, "OUT-001D")
    assert f.severity == "info"
    assert f.facts["therapy.agent"] == "azathioprine"
    assert "still on azathioprine" in f.summary
    assert ev.status.outcome == "sustained_response_on_therapy"


@pytest.mark.parametrize("mg", [5, 7.5])
def test_out001b_remission_on_low_dose_steroid(engine: DualEngine, mg: float) -> None:
    ev = engine.evaluate(off_prednisone(mg))
    f = finding(ev, "OUT-001B")
    assert f.facts["patient.gc_current_mg"] == mg
    assert f.thresholds["low_dose_gc_mg"] == 7.5
    assert ev.status.outcome == "remission_low_dose_steroid"
    assert not findings(ev, "OUT-001C")


def test_out001b_silent_with_another_therapy_ongoing(engine: DualEngine) -> None:
    b = off_prednisone(5).therapy("azathioprine", "2022-06-01", None, outcome="ongoing")
    ev = engine.evaluate(b)
    assert not findings(ev, "OUT-001B")
    assert findings(ev, "OUT-001D")
    assert ev.status.outcome == "sustained_response_on_therapy"


def test_out001c_sustained_response_above_low_dose(engine: DualEngine) -> None:
    ev = engine.evaluate(off_prednisone(7.6))
    f = finding(ev, "OUT-001C")
    assert f.facts["patient.gc_current_mg"] == 7.6
    assert ev.status.outcome == "sustained_response_on_therapy"
    assert not findings(ev, "OUT-001B")


def test_out001d_silent_without_other_therapy(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(off_prednisone(0)), "OUT-001D")


def test_out001_silent_after_a_relapse(engine: DualEngine) -> None:
    b = off_prednisone(0).assessment(day(STOP + 150), mmt8=50)
    ev = engine.evaluate(b)
    assert ev.status.outcome == "relapse"
    assert not [f for f in ev.findings if f.rule_id.startswith("OUT-001")]


# -- OUT-005: relapse watch ---------------------------------------------------------------------------------------


def test_out005_relapse_watch_after_stopping(engine: DualEngine) -> None:
    ev = engine.evaluate(relapse_candidate())  # as_of 30 days after stopping
    f = finding(ev, "OUT-005")
    assert f.severity == "advisory"
    assert f.facts["patient.months_to_next_surveillance"] == pytest.approx(3 - 30 / 30.4375)  # month 3 visit
    assert f.facts["patient.surveillance_missed"] == 0
    assert "next MMT-8 + CK visit due in 2.0 months; 0 missed" in f.summary


@pytest.mark.parametrize(("visit_at", "missed"), [(None, 1), (91, 0)])
def test_out005_counts_missed_visits(engine: DualEngine, visit_at: int | None, missed: int) -> None:
    b = relapse_candidate().as_of(day(STOP + 200))  # 6.6 months: the month-3 visit is due
    if visit_at is not None:
        b.assessment(day(STOP + visit_at), mmt8=70)
    assert finding(engine.evaluate(b), "OUT-005").facts["patient.surveillance_missed"] == missed


def test_out005_silent_after_the_surveillance_schedule(engine: DualEngine) -> None:
    ev = engine.evaluate(relapse_candidate().as_of(day(STOP + 38 * 31)))
    assert not findings(ev, "OUT-005")


def test_out005_silent_for_non_responder(engine: DualEngine) -> None:
    b = relapse_candidate(best_mmt8=52, best_ck=1150)
    assert not findings(engine.evaluate(b), "OUT-005")


def test_out005_silent_while_on_ivig(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(responder(TIS_40)), "OUT-005")


# -- re-treatment: a course after ivig_discontinued_on restarts the episode -------------------------------------


def restarted(relapse: bool = True) -> PatientBuilder:
    """Relapsed 150 days after stopping (if ``relapse``), then IVIG restarted 160 days after stopping."""
    b = relapse_candidate()
    if relapse:
        b.assessment(day(STOP + 150), mmt8=50)
    b.course(day(STOP + 160))
    return b.as_of(day(STOP + 170))


def test_a_restart_describes_the_new_episode(engine: DualEngine) -> None:
    ev = engine.evaluate(restarted())
    assert ev.status.outcome == "on_treatment"  # on treatment again, not "relapse"
    assert ev.status.response == "too_early"  # 1 course of the new episode
    assert ev.status.relapse_alert is False
    assert ev.patient.courses_given == 1 and ev.patient.restarted_on == day(STOP + 160).isoformat()
    note = finding(ev, "OUT-106")
    assert note.severity == "info" and day(STOP + 160).isoformat() in note.summary


def test_the_earlier_relapse_stays_visible(engine: DualEngine) -> None:
    ev = engine.evaluate(restarted())
    f = finding(ev, "OUT-004C")
    assert f.severity == "advisory"
    assert f.facts["patient.previous_months_to_relapse"] == pytest.approx(150 / 30.4375)
    assert "Relapse 4.9 months after IVIG was stopped" in f.summary
    assert not findings(ev, "OUT-004")


def test_a_restart_without_a_relapse_reports_the_restart_only(engine: DualEngine) -> None:
    ev = engine.evaluate(restarted(relapse=False))
    assert findings(ev, "OUT-106") and not findings(ev, "OUT-004C")


def test_relapse_uses_the_ck_threshold_not_a_hard_coded_1(engine: DualEngine) -> None:
    # MMT-8 at 87.5 % of best (not <= 80 %), CK 2.5 x ULN and >= 2 x its nadir: relapse with CK ...
    b = relapse_candidate().assessment(day(STOP + 150), mmt8=61.25, ck_u_per_l=500).as_of(day(STOP + 160))
    assert engine.evaluate(b).status.outcome == "relapse"
    # ... unless the site's CK threshold is higher than that CK
    strict = DualEngine(thresholds={"ck_normal_x_uln": 3})
    assert strict.evaluate(b).status.outcome != "relapse"
