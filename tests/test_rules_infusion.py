"""Safety during and around the infusion (rules/safety.yaml, issue 13): SAFETY-009/-009B (creatinine on IVIG),
SAFETY-013/-013B (rate caps), SAFETY-014/-014B (observation), SAFETY-015 (meningitis), SAFETY-016 (vaccines)."""

from __future__ import annotations

from typing import Any

import pytest

from builders import C1, DualEngine, PatientBuilder, day, eligible, finding, findings, gaps_for


@pytest.fixture(scope="module")
def engine() -> DualEngine:
    return DualEngine()


def on_ivig(*creatinine: tuple[int, float], courses: int = 1, as_of: int = 20) -> PatientBuilder:
    """Courses every 28 days from C1 (2 days each); creatinine 0.8 on day -6 plus ``(day, mg/dL)`` samples."""
    b = eligible().courses(courses)
    for offset, value in creatinine:
        b.lab(day(offset), "creatinine_mg_dl", value)
    return b.as_of(day(as_of))


# -- SAFETY-009: creatinine rise during a course ----------------------------------------------------------


@pytest.mark.parametrize(("value", "fires"), [(1.1, True), (1.09, False)])
def test_safety009_rise_of_0_3_within_48_hours(engine: DualEngine, value: float, fires: bool) -> None:
    ev = engine.evaluate(on_ivig((0, 0.8), (2, value)))
    assert bool(findings(ev, "SAFETY-009")) is fires
    if fires:
        f = finding(ev, "SAFETY-009")
        assert f.severity == "warning"
        assert f.facts["course.creatinine_rise_48h_mg_dl"] == 0.3  # exact: 1.1 - 0.8, no binary noise
        assert "discontinue IVIG per label" in f.summary
        assert ev.status.eligibility == "eligible_with_precautions"
        assert ev.status.eligibility_reasons == ["SAFETY-009"]


def test_safety009_the_48_hours_are_two_calendar_days(engine: DualEngine) -> None:
    # day 0 0.8 -> day 3 1.15: a rise of 0.35 but over 3 days, and 1.44 x the reference
    assert not findings(engine.evaluate(on_ivig((0, 0.8), (3, 1.15))), "SAFETY-009")


@pytest.mark.parametrize(("value", "fires"), [(1.2, True), (1.19, False)])
def test_safety009_one_and_a_half_times_the_reference(engine: DualEngine, value: float, fires: bool) -> None:
    ev = engine.evaluate(on_ivig((7, value)))  # reference 0.8 on day -6; no sample 1-2 days before day 7
    assert bool(findings(ev, "SAFETY-009")) is fires
    if fires:
        assert finding(ev, "SAFETY-009").facts["course.creatinine_x_reference"] == 1.5


@pytest.mark.parametrize(("offset", "fires"), [(8, True), (9, False)])
def test_safety009_window_ends_7_days_after_the_last_infusion_day(
    engine: DualEngine, offset: int, fires: bool
) -> None:
    assert bool(findings(engine.evaluate(on_ivig((offset, 1.3))), "SAFETY-009")) is fires


def test_safety009_reference_is_the_lowest_of_the_window_so_a_creep_is_seen(engine: DualEngine) -> None:
    # 0.8 before course 1, then 1.0 and 1.1 before courses 2 and 3, 1.2 after course 3: 1.09 x the value
    # before course 3, but 1.5 x the one before course 1 (both in the 180-day window)
    b = on_ivig((27, 1.0), (55, 1.1), (58, 1.2), courses=3, as_of=60)
    f = finding(engine.evaluate(b), "SAFETY-009")
    assert f.facts.items() >= {"course.number": 3, "course.creatinine_reference_mg_dl": 0.8}.items()


def test_safety009_silent_without_a_creatinine_after_the_course(engine: DualEngine) -> None:
    ev = engine.evaluate(on_ivig())
    assert not findings(ev, "SAFETY-009") and not gaps_for(ev, "SAFETY-009")


# -- SAFETY-009B: renal risk and no creatinine re-check -----------------------------------------------------


@pytest.mark.parametrize(
    ("courses", "samples", "fires"),
    [
        (2, [], True),  # only the pre-course-1 sample
        (2, [(27, 0.8)], False),  # drawn before course 2
        (1, [(0, 0.8)], True),  # on course 1's first day: before the infusion
        (1, [(1, 0.8)], False),
    ],
)
def test_safety009b_renal_risk_without_a_recheck(
    engine: DualEngine, courses: int, samples: list[tuple[int, float]], fires: bool
) -> None:
    ev = engine.evaluate(on_ivig(*samples, courses=courses, as_of=40).risk(diabetes=True))
    assert bool(findings(ev, "SAFETY-009B")) is fires
    if fires:
        assert finding(ev, "SAFETY-009B").severity == "advisory"


@pytest.mark.parametrize("edit", [lambda b: b, lambda b: b.risk(diabetes=True).discontinue(day(30))])
def test_safety009b_silent_without_risk_or_after_stopping(engine: DualEngine, edit: Any) -> None:
    assert not findings(engine.evaluate(edit(on_ivig(courses=2, as_of=40))), "SAFETY-009B")


# -- SAFETY-013 / -013B: infusion rate caps ------------------------------------------------------------------


def ordered(product: str | None, rate: float | None, **risk: bool) -> PatientBuilder:
    order = {"product": product, "dose_g_per_kg_per_day": 1.0, "days": 2, "max_rate_mg_kg_min": rate}
    return eligible().risk(**risk).set("ivig_order", {k: v for k, v in order.items() if v is not None})


@pytest.mark.parametrize(("rate", "fires"), [(4.0, False), (4.01, True)])
def test_safety013_above_the_labelled_maximum(engine: DualEngine, rate: float, fires: bool) -> None:
    ev = engine.evaluate(ordered("Octagam 10%", rate))
    assert bool(findings(ev, "SAFETY-013")) is fires
    if fires:
        f = finding(ev, "SAFETY-013")
        assert f.severity == "warning"
        assert "ivig_order rate 4.01 mg/kg/min is above Octagam's labelled maximum of 4 mg/kg/min" in f.summary
        assert ev.status.eligibility == "eligible_with_precautions"


def test_safety013_checks_the_latest_course_without_an_ordered_rate(engine: DualEngine) -> None:
    b = eligible().course(C1, product="Octagam 10%", max_rate=4.4).as_of(day(10))
    f = finding(engine.evaluate(b), "SAFETY-013")
    assert f.facts.items() >= {"patient.rate_from": "last course", "patient.rate_x_product_max": 1.1}.items()


@pytest.mark.parametrize("product", ["Octagam", "Octagam 5%", "Privigen", None])
def test_safety013_silent_when_the_maximum_is_not_known(engine: DualEngine, product: str | None) -> None:
    ev = engine.evaluate(ordered(product, 6))
    assert not findings(ev, "SAFETY-013") and not gaps_for(ev, "SAFETY-013")


@pytest.mark.parametrize(("rate", "fires"), [(3.3, False), (3.31, True)])
def test_safety013b_cap_at_thrombotic_risk(engine: DualEngine, rate: float, fires: bool) -> None:
    ev = engine.evaluate(ordered("Privigen", rate, thrombosis_history=True))
    assert bool(findings(ev, "SAFETY-013B")) is fires
    if fires:
        assert finding(ev, "SAFETY-013B").severity == "warning"
        assert "SAFETY-013B" in ev.status.eligibility_reasons


def test_safety013b_renal_and_thrombotic_risk_give_one_finding(engine: DualEngine) -> None:
    ev = engine.evaluate(ordered("Privigen", 3.5, thrombosis_history=True, diabetes=True))
    assert len(findings(ev, "SAFETY-013B")) == 1


def test_safety013b_silent_without_risk(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(ordered("Privigen", 3.5)), "SAFETY-013B")


# -- SAFETY-014 / -014B: post-infusion observation ------------------------------------------------------------


def next_course(order_day: int, product: str | None = "Gamunex-C") -> PatientBuilder:
    """Course 1 on C1 (Gamunex-C, 2 days: last infusion day 1); an order starting on ``order_day``."""
    order: dict[str, Any] = {"start": str(day(order_day))}
    if product is not None:
        order["product"] = product
    return eligible().course(C1).set("ivig_order", order).as_of(day(20))


def test_safety014_naive_candidate_observes_60_minutes(engine: DualEngine) -> None:
    f = finding(engine.evaluate(eligible()), "SAFETY-014")
    assert f.severity == "advisory"
    assert "for 60 minutes after (IVIG-naive)" in f.summary


@pytest.mark.parametrize(("order_day", "long"), [(57, False), (58, True)])  # 56 / 57 days since day 1
def test_safety014_long_gap(engine: DualEngine, order_day: int, long: bool) -> None:
    ev = engine.evaluate(next_course(order_day))
    assert bool(findings(ev, "SAFETY-014")) is long
    assert bool(findings(ev, "SAFETY-014B")) is not long
    rid = "SAFETY-014" if long else "SAFETY-014B"
    assert f"same product, {order_day - 1} days since the last infusion" in finding(ev, rid).summary


def test_safety014_product_switch(engine: DualEngine) -> None:
    ev = engine.evaluate(next_course(28, product="Privigen"))
    assert "product Gamunex-C -> Privigen" in finding(ev, "SAFETY-014").summary
    assert not findings(ev, "SAFETY-014B")


def test_safety014_order_without_a_product_is_a_gap(engine: DualEngine) -> None:
    ev = engine.evaluate(next_course(28, product=None))
    assert not findings(ev, "SAFETY-014") and not findings(ev, "SAFETY-014B")
    (gap,) = gaps_for(ev, "SAFETY-014")
    assert "ivig_order.product, ivig_courses[].product" in gap.sources


@pytest.mark.parametrize(
    "builder",
    [
        lambda: eligible().course(C1).as_of(day(20)),  # on treatment, nothing ordered
        lambda: eligible().risk(prior_ig_anaphylaxis=True),  # contraindicated
    ],
)
def test_safety014_silent_without_an_infusion_to_give(engine: DualEngine, builder: Any) -> None:
    ev = engine.evaluate(builder())
    assert not findings(ev, "SAFETY-014") and not findings(ev, "SAFETY-014B")


# -- SAFETY-015: aseptic meningitis counselling ----------------------------------------------------------------


def test_safety015_counsel_at_2_g_per_kg(engine: DualEngine) -> None:
    f = finding(engine.evaluate(eligible()), "SAFETY-015")
    assert f.severity == "info" and "2 g/kg per course from the plan" in f.summary


@pytest.mark.parametrize(("rate", "fires"), [(None, False), (4, False), (4.5, True)])
def test_safety015_at_a_lower_dose_only_when_fast(engine: DualEngine, rate: float | None, fires: bool) -> None:
    order = {"dose_g_per_kg_per_day": 0.5, "days": 2, "product": "Privigen"}
    if rate is not None:
        order["max_rate_mg_kg_min"] = rate
    ev = engine.evaluate(eligible().set("ivig_order", order))
    assert bool(findings(ev, "SAFETY-015")) is fires
    assert not gaps_for(ev, "SAFETY-015")


def test_safety015_silent_after_discontinuation(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().courses(3).discontinue(day(60)).as_of(day(90)))
    assert not findings(ev, "SAFETY-015")


# -- SAFETY-016: live vaccines --------------------------------------------------------------------------------


@pytest.mark.parametrize(("vaccine_day", "fires"), [(336, True), (337, False)])  # last infusion on day 1
def test_safety016_after_ivig(engine: DualEngine, vaccine_day: int, fires: bool) -> None:
    b = eligible().course(C1).as_of(day(20)).set("preventive_care.live_vaccine_on", str(day(vaccine_day)))
    ev = engine.evaluate(b)
    assert bool(findings(ev, "SAFETY-016")) is fires
    if fires:
        assert finding(ev, "SAFETY-016").facts["patient.live_vaccine_days_after_ivig"] == 335


@pytest.mark.parametrize(("gap", "fires"), [(14, True), (15, False)])
def test_safety016_before_ivig(engine: DualEngine, gap: int, fires: bool) -> None:
    b = eligible().set("ivig_order", {"start": str(day(0))}).set("preventive_care.live_vaccine_on", str(day(-gap)))
    ev = engine.evaluate(b.as_of(day(-30)))
    assert bool(findings(ev, "SAFETY-016")) is fires


def test_safety016_silent_without_a_vaccine(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().course(C1).as_of(day(20)))
    assert not findings(ev, "SAFETY-016") and not gaps_for(ev, "SAFETY-016")
