"""Steroid rules (rules/steroid.yaml): STER-001/001B/002/003/003-MEDIUM/003-HIGH.

:func:`builders.eligible` is on prednisone 20 mg/day since 2021, so the baseline dose at course 1 is 20.
"""

from __future__ import annotations

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
