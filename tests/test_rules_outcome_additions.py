"""Outcome rules added by issue 13 (rules/outcome.yaml): OUT-002 (weaning suggestion), OUT-006 (relapse:
review re-treatment), OUT-007 (seed denominators)."""

from __future__ import annotations

import pytest

from builders import (
    TIS_17_5,
    TIS_40,
    DualEngine,
    day,
    eligible,
    finding,
    findings,
    relapse_candidate,
    responder,
    with_response,
)


@pytest.fixture(scope="module")
def engine() -> DualEngine:
    return DualEngine()


# -- OUT-002: suggest weaning after the first phase ------------------------------------------------------------


@pytest.mark.parametrize(("n", "fires"), [(5, False), (6, True)])
def test_out002_responder_after_six_courses(engine: DualEngine, n: int, fires: bool) -> None:
    ev = engine.evaluate(with_response(eligible(), TIS_40, n_courses=n))
    assert ev.status.outcome == "on_treatment"
    assert bool(findings(ev, "OUT-002")) is fires
    if fires:
        f = finding(ev, "OUT-002")
        assert f.severity == "advisory" and "Responder after 6 courses: attempt IVIG weaning" in f.summary


def test_out002_silent_for_a_non_responder_or_after_stopping(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(with_response(eligible(), TIS_17_5, n_courses=6)), "OUT-002")
    stopped = with_response(eligible(), TIS_40, n_courses=6).discontinue(day(150)).as_of(day(160))
    assert not findings(engine.evaluate(stopped), "OUT-002")


def test_out002_silent_when_ivig_dependent(engine: DualEngine) -> None:
    b = eligible().courses(3).course(day(112)).course(day(168)).course(day(224)).course(day(252))
    b.assessment(day(-7), mmt8=50).assessment(day(70), mmt8=70)
    ev = engine.evaluate(b.assessment(day(100), mmt8=50).assessment(day(160), mmt8=50).as_of(day(260)))
    assert ev.status.outcome == "ivig_dependent"
    assert not findings(ev, "OUT-002")


# -- OUT-006: relapse -> review re-treatment -------------------------------------------------------------------


def test_out006_relapse_asks_for_a_re_treatment_review(engine: DualEngine) -> None:
    ev = engine.evaluate(relapse_candidate().assessment(day(150), mmt8=50).as_of(day(160)))
    assert ev.status.outcome == "relapse"
    f = finding(ev, "OUT-006")
    assert f.severity == "warning" and f.category == "relapse"
    assert f.summary.startswith("Relapse 2.0 months after a response to IVIG: specialist review")


def test_out006_silent_without_relapse(engine: DualEngine) -> None:
    ev = engine.evaluate(relapse_candidate().assessment(day(150), mmt8=70).as_of(day(160)))
    assert not findings(ev, "OUT-006")


# -- OUT-007: seed denominators --------------------------------------------------------------------------------


def test_out007_for_a_responder(engine: DualEngine) -> None:
    f = finding(engine.evaluate(responder()), "OUT-007")
    assert f.severity == "info" and "12 sustained remission (34% of all treated, 48% of responders" in f.summary


def test_out007_silent_for_a_non_responder(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(responder(TIS_17_5)), "OUT-007")
