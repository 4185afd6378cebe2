"""Steroid rules (rules/steroid.yaml): STER-001/001B/002/003/003-MEDIUM/003-HIGH/004/004B/005/005B/006/007
(STER-005C, tapering during a deterioration, is in test_rules_deterioration.py).

:func:`builders.eligible` is on prednisone 20 mg/day since 2021, so the baseline dose at course 1 is 20.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from builders import (
    AS_OF,
    TIS_17_5,
    TIS_40,
    DualEngine,
    PatientBuilder,
    day,
    eligible,
    finding,
    findings,
    gaps_for,
    responder,
)


@pytest.fixture(scope="module")
def engine() -> DualEngine:
    return DualEngine()


def tapered(mg: float) -> PatientBuilder:
    """Three courses from course 1, prednisone cut from 20 to ``mg`` on day 60, as_of day 70."""
    return eligible().courses(3).gc(day(60), mg).as_of(day(70))


# -- STER-001 / STER-001B: reduction beyond 50 % --------------------------------------------------------


def test_ster001_fires_above_50_pct(engine: DualEngine) -> None:
    ev = engine.evaluate(tapered(9.8))
    f = finding(ev, "STER-001")
    assert f.severity == "info"
    assert f.facts["patient.gc_reduction_pct"] == 51.0
    assert f.facts["patient.gc_baseline_mg"] == 20.0
    assert f.facts["patient.gc_current_mg"] == 9.8
    assert f.thresholds["taper_target_pct"] == 50
    assert not findings(ev, "STER-001B")
    assert ev.status.steroid_taper_beyond_50 is True
    assert ev.status.steroid_reduction_pct == 51.0


def test_ster001b_fires_at_exactly_50_pct(engine: DualEngine) -> None:
    ev = engine.evaluate(tapered(10))
    f = finding(ev, "STER-001B")
    assert f.severity == "info"
    assert f.facts["patient.gc_reduction_pct"] == 50.0
    assert not findings(ev, "STER-001")
    assert ev.status.steroid_taper_beyond_50 is False
    assert ev.status.steroid_reduction_pct == 50.0


def test_ster001_increase_is_a_negative_reduction(engine: DualEngine) -> None:
    ev = engine.evaluate(tapered(30))
    assert finding(ev, "STER-001B").facts["patient.gc_reduction_pct"] == -50.0
    assert ev.status.steroid_taper_beyond_50 is False


def test_ster001_and_001b_silent_before_course1(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible())
    assert not findings(ev, "STER-001")
    assert not findings(ev, "STER-001B")
    assert ev.status.steroid_taper_beyond_50 is None
    assert ev.status.steroid_reduction_pct is None


# -- STER-002: responder still above half the baseline at 6 months ---------------------------------------


def test_ster002_fires_for_responder_at_6_months(engine: DualEngine) -> None:
    ev = engine.evaluate(responder(TIS_40, as_of=183))  # 183 / 30.4375 = 6.01 months
    f = finding(ev, "STER-002")
    assert f.severity == "advisory"
    assert f.facts["patient.months_since_first_course"] == pytest.approx(183 / 30.4375)
    assert f.facts["patient.gc_reduction_pct"] == 0.0
    assert f.thresholds["taper_check_months"] == 6
    assert f.thresholds["taper_target_pct"] == 50


def test_ster002_silent_at_5_9_months(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(responder(TIS_40, as_of=180)), "STER-002")


@pytest.mark.parametrize(("mg", "fires"), [(12, True), (10, False)])
def test_ster002_half_dose_boundary(engine: DualEngine, mg: float, fires: bool) -> None:
    ev = engine.evaluate(responder(TIS_40, as_of=183).gc(day(100), mg))  # 40 % vs 50 % reduction
    assert bool(findings(ev, "STER-002")) is fires


def test_ster002_silent_for_non_responder(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(responder(TIS_17_5, as_of=183)), "STER-002")


# -- STER-003 bands -----------------------------------------------------------------------------------------


BAND_EDGE = {
    "STER-003": "low_dose_gc_mg",
    "STER-003-MEDIUM": "medium_dose_gc_mg",
    "STER-003-HIGH": "medium_dose_gc_mg",
}


def at_dose(mg: float) -> PatientBuilder:
    return eligible().gc(day(-100, AS_OF), mg)


@pytest.mark.parametrize(
    ("mg", "band"),
    [
        (7.5, "STER-003"),
        (0.5, "STER-003"),
        (7.6, "STER-003-MEDIUM"),
        (30, "STER-003-MEDIUM"),
        (30.5, "STER-003-HIGH"),
        (250, "STER-003-HIGH"),
    ],
)
def test_ster003_dose_bands(engine: DualEngine, mg: float, band: str) -> None:
    ev = engine.evaluate(at_dose(mg))
    f = finding(ev, band)
    assert f.severity == "info"
    assert f.facts["patient.gc_current_mg"] == mg
    edge = BAND_EDGE[band]
    assert f.thresholds[edge] == {"low_dose_gc_mg": 7.5, "medium_dose_gc_mg": 30}[edge]
    others = {"STER-003", "STER-003-MEDIUM", "STER-003-HIGH"} - {band}
    assert not [rid for rid in others if findings(ev, rid)]


def test_ster003_no_band_at_zero(engine: DualEngine) -> None:
    ev = engine.evaluate(at_dose(0))
    assert not [f for f in ev.findings if f.rule_id.startswith("STER-003")]


def test_ster003_no_band_when_glucocorticoid_stopped(engine: DualEngine) -> None:
    b = eligible().no_gc().stop_therapy("prednisone", "2023-01-01")
    ev = engine.evaluate(b)
    assert not [f for f in ev.findings if f.rule_id.startswith("STER-003")]


# -- STER-004 / -004B: steroid dependence ----------------------------------------------------------------------


def doses(*steps: tuple[int, float]) -> PatientBuilder:
    """Prednisone steps ``(days before as_of, mg/day)``, nothing else recorded about the dose."""
    b = eligible().no_gc()
    for before, mg in steps:
        b.gc(AS_OF - timedelta(days=before), mg)
    return b


def test_ster004_still_above_low_dose_months_into_the_taper(engine: DualEngine) -> None:
    f = finding(engine.evaluate(eligible()), "STER-004")  # 60 -> 20 mg in 2021, unchanged since
    assert f.severity == "advisory"
    assert f.summary.startswith("Steroid-dependent: still 20 mg/day 41.0 months into the taper")


@pytest.mark.parametrize(("since", "fires"), [(91, False), (92, True)])  # 3 months = 91.3 days
def test_ster004_three_months_of_trying(engine: DualEngine, since: int, fires: bool) -> None:
    ev = engine.evaluate(doses((400, 40), (since, 20)))
    assert bool(findings(ev, "STER-004")) is fires


@pytest.mark.parametrize(
    "steps",
    [
        ((400, 40), (200, 7.5)),  # reached the low dose
        ((400, 40), (300, 20), (200, 30)),  # the last change was an increase: no taper in progress
        ((400, 20),),  # never tapered
    ],
)
def test_ster004_silent(engine: DualEngine, steps: tuple[tuple[int, float], ...]) -> None:
    ev = engine.evaluate(doses(*steps))
    assert not findings(ev, "STER-004") and not gaps_for(ev, "STER-004")


@pytest.mark.parametrize(
    ("steps", "flares"),
    [(((400, 40), (300, 20), (200, 30)), 1), (((400, 20), (300, 40), (200, 30)), 0)],  # escalation first: no flare
)
def test_ster004b_flare_on_taper(engine: DualEngine, steps: tuple[tuple[int, float], ...], flares: int) -> None:
    ev = engine.evaluate(doses(*steps))
    assert len(findings(ev, "STER-004B")) == flares
    if flares:
        f = finding(ev, "STER-004B")
        assert f.severity == "advisory" and f.facts["patient.gc_flares_on_taper"] == 1


# -- STER-005 / -005B: taper pace ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "fires_high", "fires_low"),
    [
        (40, 30, True, False),  # 10 mg in 2 weeks above 25 mg
        (40, 35, False, False),  # 5 mg in 2 weeks: the reference pace
        (25, 20, False, True),  # at 25 mg the slow pace applies: 5 > 2.5
        (20, 17.5, False, False),  # 2.5 mg in 2 weeks
        (20, 17, False, True),
    ],
)
def test_ster005_pace_of_the_latest_decrease(
    engine: DualEngine, before: float, after: float, fires_high: bool, fires_low: bool
) -> None:
    ev = engine.evaluate(doses((400, 60), (24, before), (10, after)))  # held 14 days, changed 10 days ago
    assert bool(findings(ev, "STER-005")) is fires_high
    assert bool(findings(ev, "STER-005B")) is fires_low


@pytest.mark.parametrize(("ago", "fires"), [(28, True), (29, False)])
def test_ster005_only_a_recent_decrease(engine: DualEngine, ago: int, fires: bool) -> None:
    ev = engine.evaluate(doses((400, 60), (ago + 14, 40), (ago, 30)))
    assert bool(findings(ev, "STER-005")) is fires
    if fires:
        assert "40 -> 30 mg/day" in finding(ev, "STER-005").summary


# -- STER-006: bone protection ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("protected", "fires"), [(True, False), (False, True), (None, True)])
def test_ster006_bone_protection_recorded(engine: DualEngine, protected: bool | None, fires: bool) -> None:
    ev = engine.evaluate(eligible().set("preventive_care.bone_protection", protected))
    assert bool(findings(ev, "STER-006")) is fires
    if fires:
        f = finding(ev, "STER-006")
        assert f.severity == "advisory"
        assert f"bone protection recorded: {'no' if protected is False else 'not recorded'}" in f.summary


@pytest.mark.parametrize(
    ("steps", "fires"),
    [
        (((400, 5), (91, 7.5)), False),  # 2.99 months at >= 7.5
        (((400, 5), (92, 7.5)), True),
        (((400, 10), (30, 5)), False),  # below it now
    ],
)
def test_ster006_more_than_3_months_at_7_5(engine: DualEngine, steps: Any, fires: bool) -> None:
    ev = engine.evaluate(doses(*steps).set("preventive_care", None))
    assert bool(findings(ev, "STER-006")) is fires


# -- STER-007: response confounded by a glucocorticoid increase ------------------------------------------------


@pytest.mark.parametrize(("on", "fires"), [(30, True), (70, True), (71, False)])  # best TIS on day 70
def test_ster007_increase_before_the_best_response(engine: DualEngine, on: int, fires: bool) -> None:
    ev = engine.evaluate(responder().gc(day(on), 30).as_of(day(75)))
    assert bool(findings(ev, "STER-007")) is fires
    assert findings(ev, "REFRACTORY-006")  # the protocol deviation is reported either way
    if fires:
        assert finding(ev, "STER-007").severity == "advisory"


def test_ster007_silent_for_a_non_responder(engine: DualEngine) -> None:
    ev = engine.evaluate(responder(TIS_17_5).gc(day(30), 30).as_of(day(75)))
    assert not findings(ev, "STER-007")
