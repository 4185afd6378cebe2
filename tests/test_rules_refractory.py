"""Refractory rules (rules/refractory.yaml): REFRACTORY-001/002/003/004/005/006/006B/101/102/103."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from builders import AS_OF, C1, DualEngine, PatientBuilder, day, eligible, finding, findings, gaps_for


@pytest.fixture(scope="module")
def engine() -> DualEngine:
    return DualEngine()


def with_drug(
    agent: str = "methotrexate", days: int = 365, outcome: str = "inadequate_response"
) -> PatientBuilder:
    """Prednisone (ongoing) plus one other agent taken ``days`` days, ending a year before ``as_of``."""
    stop = AS_OF - timedelta(days=365)
    return (
        eligible()
        .no_therapies()
        .therapy("prednisone", "2020-01-01")
        .therapy(agent, stop - timedelta(days=days), stop, outcome=outcome)
    )


# -- REFRACTORY-001 / -003 / -101 at the 90-day boundary ----------------------------------------------


def test_drug_taken_90_days_counts_as_failed(engine: DualEngine) -> None:
    ev = engine.evaluate(with_drug(days=90))
    f = finding(ev, "REFRACTORY-001")
    assert f.severity == "info"
    assert f.facts["therapy.duration_days"] == 90
    assert f.facts["therapy.agent"] == "methotrexate"
    assert f.facts["therapy.outcome"] == "inadequate_response"
    assert f.facts["patient.gc_ever_used"] is True
    assert f.thresholds.items() >= {"min_failed_drug_days": 90}.items()
    assert "methotrexate (inadequate_response, 90 days)" in f.summary
    assert not findings(ev, "REFRACTORY-003")
    assert not findings(ev, "REFRACTORY-101")
    assert ev.status.refractory is True
    assert ev.status.eligibility == "eligible"


def test_drug_taken_89_days_is_too_short(engine: DualEngine) -> None:
    ev = engine.evaluate(with_drug(days=89))
    short = finding(ev, "REFRACTORY-003")
    assert short.severity == "advisory"
    assert short.facts["therapy.duration_days"] == 89
    assert short.thresholds.items() >= {"min_failed_drug_days": 90}.items()
    assert "89 days (< 90)" in short.summary
    not_refractory = finding(ev, "REFRACTORY-101")
    assert not_refractory.severity == "warning"
    assert not findings(ev, "REFRACTORY-001")
    assert ev.status.refractory is False
    assert ev.status.eligibility == "not_eligible"
    assert "REFRACTORY-101" in ev.status.eligibility_reasons


@pytest.mark.parametrize(("days", "failed"), [(89, False), (90, True)])
def test_ongoing_drug_duration_runs_to_as_of(engine: DualEngine, days: int, failed: bool) -> None:
    b = eligible().no_therapies().therapy("prednisone", "2020-01-01")
    b.therapy("azathioprine", AS_OF - timedelta(days=days), None, outcome="inadequate_response")
    ev = engine.evaluate(b)
    assert ev.status.refractory is failed
    assert bool(findings(ev, "REFRACTORY-001")) is failed
    assert bool(findings(ev, "REFRACTORY-003")) is not failed


def test_intolerance_counts_at_any_duration(engine: DualEngine) -> None:
    ev = engine.evaluate(with_drug(days=10, outcome="intolerance"))
    f = finding(ev, "REFRACTORY-001")
    assert f.facts["therapy.outcome"] == "intolerance"
    assert f.facts["therapy.duration_days"] == 10
    assert not findings(ev, "REFRACTORY-003")  # REFRACTORY-003 is about inadequate response only
    assert ev.status.refractory is True


@pytest.mark.parametrize("procedure", ["plasmapheresis", "lymphopheresis", "total_body_irradiation"])
def test_procedure_counts_when_done(engine: DualEngine, procedure: str) -> None:
    ev = engine.evaluate(with_drug(procedure, days=0))
    f = finding(ev, "REFRACTORY-001")
    assert f.facts["therapy.agent_class"] == "procedure"
    assert not findings(ev, "REFRACTORY-003")
    assert ev.status.refractory is True


@pytest.mark.parametrize(
    "agent",
    [
        "methotrexate",
        "azathioprine",
        "mycophenolate",
        "cyclophosphamide",
        "cyclosporine",
        "tacrolimus",
        "chlorambucil",
        "rituximab",
    ],
)
def test_every_seed_steroid_sparing_agent_counts(engine: DualEngine, agent: str) -> None:
    ev = engine.evaluate(with_drug(agent, days=120))
    assert finding(ev, "REFRACTORY-001").facts["therapy.agent"] == agent
    assert ev.status.refractory is True


@pytest.mark.parametrize("outcome", ["adequate_response", "ongoing", "unknown"])
def test_non_failure_outcomes_do_not_count(engine: DualEngine, outcome: str) -> None:
    ev = engine.evaluate(with_drug(days=365, outcome=outcome))
    assert not findings(ev, "REFRACTORY-001")
    assert finding(ev, "REFRACTORY-101").severity == "warning"
    assert ev.status.refractory is False


def test_agent_other_does_not_count(engine: DualEngine) -> None:
    ev = engine.evaluate(with_drug("other", days=365, outcome="intolerance"))
    assert not findings(ev, "REFRACTORY-001")
    assert findings(ev, "REFRACTORY-101")
    assert ev.status.refractory is False


def test_refractory001_reports_once_for_several_failures(engine: DualEngine) -> None:
    b = with_drug(days=200).therapy("azathioprine", "2021-06-01", "2022-06-01", outcome="intolerance")
    ev = engine.evaluate(b)
    assert len(findings(ev, "REFRACTORY-001")) == 1


# -- REFRACTORY-102: no glucocorticoid ------------------------------------------------------------------


def test_refractory102_fires_without_glucocorticoid(engine: DualEngine) -> None:
    b = eligible().no_therapies().no_gc().therapy("methotrexate", "2020-03-01", "2021-03-01")
    ev = engine.evaluate(b)
    f = finding(ev, "REFRACTORY-102")
    assert f.severity == "warning"
    assert f.facts["patient.gc_ever_used"] is False
    assert not findings(ev, "REFRACTORY-001")
    assert ev.status.refractory is False
    assert ev.status.eligibility == "not_eligible"
    assert "REFRACTORY-102" in ev.status.eligibility_reasons


def test_glucocorticoid_dose_steps_alone_count_as_glucocorticoid_use(engine: DualEngine) -> None:
    b = eligible().no_therapies().therapy("methotrexate", "2020-03-01", "2021-03-01")  # gc steps kept
    ev = engine.evaluate(b)
    assert not findings(ev, "REFRACTORY-102")
    assert ev.status.refractory is True


# -- REFRACTORY-103: empty therapy history ------------------------------------------------------------


def test_refractory103_fires_on_empty_history(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().no_therapies().no_gc())
    f = finding(ev, "REFRACTORY-103")
    assert f.severity == "warning"
    assert f.category == "data"
    assert f.facts.items() >= {"patient.therapies_count": 0}.items()
    assert ev.status.refractory is None
    assert ev.status.eligibility == "not_eligible"
    assert "REFRACTORY-103" in ev.status.eligibility_reasons
    assert not findings(ev, "REFRACTORY-101")
    assert not findings(ev, "REFRACTORY-102")


def test_refractory103_counts_only_therapies_known_at_as_of(engine: DualEngine) -> None:
    b = eligible().no_therapies().therapy("prednisone", day(1, AS_OF))
    ev = engine.evaluate(b)
    assert findings(ev, "REFRACTORY-103")
    assert ev.status.refractory is None


def test_refractory103_silent_with_history(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(eligible()), "REFRACTORY-103")


# -- REFRACTORY-005: change in the 60 days before course 1 ---------------------------------------------


def _course_after_change(days_before: int, kind: str) -> PatientBuilder:
    b = eligible().course(C1).as_of(day(14))
    change = day(-days_before)
    if kind == "start":
        b.therapy("azathioprine", change, None, outcome="ongoing")
    elif kind == "stop":
        b.therapy("azathioprine", "2022-01-01", change, outcome="intolerance")
    elif kind == "dose_change":
        b.therapy("azathioprine", "2022-01-01", None, outcome="ongoing", dose_changed_on=[change])
    else:  # glucocorticoid step
        b.gc(change, 15)
    return b


@pytest.mark.parametrize("kind", ["start", "stop", "dose_change", "gc_step"])
def test_refractory005_fires_59_days_before_course1(engine: DualEngine, kind: str) -> None:
    ev = engine.evaluate(_course_after_change(59, kind))
    f = finding(ev, "REFRACTORY-005")
    assert f.severity == "warning"  # it sets not_eligible: --fail-on warning catches it
    assert f.facts["therapy_change.days_before_ref"] == 59
    assert f.facts["therapy_change.after_first_course"] is False
    assert f.facts["therapy_change.kind"] == ("dose_change" if kind == "gc_step" else kind)
    assert f.thresholds.items() >= {"stability_days": 60}.items()
    assert "59 days before IVIG (< 60)" in f.summary
    assert ev.status.eligibility == "not_eligible"
    assert "REFRACTORY-005" in ev.status.eligibility_reasons


@pytest.mark.parametrize("kind", ["start", "stop", "dose_change", "gc_step"])
def test_refractory005_silent_61_days_before_course1(engine: DualEngine, kind: str) -> None:
    ev = engine.evaluate(_course_after_change(61, kind))
    assert not findings(ev, "REFRACTORY-005")
    assert ev.status.eligibility == "eligible"


@pytest.mark.parametrize("kind", ["start", "gc_step"])
def test_refractory005_change_exactly_60_days_before_is_stable(engine: DualEngine, kind: str) -> None:
    # Decided (see report): "in the 60 days before" excludes day -60, i.e. days_before < stability_days.
    ev = engine.evaluate(_course_after_change(60, kind))
    assert not findings(ev, "REFRACTORY-005")


def test_refractory005_change_on_course1_day_counts(engine: DualEngine) -> None:
    ev = engine.evaluate(_course_after_change(0, "gc_step"))
    assert finding(ev, "REFRACTORY-005").facts["therapy_change.days_before_ref"] == 0


def test_refractory005_judged_against_as_of_before_any_course(engine: DualEngine) -> None:
    b = eligible().therapy("azathioprine", day(-30, AS_OF), None, outcome="ongoing")
    ev = engine.evaluate(b)
    assert finding(ev, "REFRACTORY-005").facts["therapy_change.days_before_ref"] == 30
    assert ev.status.eligibility == "not_eligible"


def test_refractory005_ignores_procedures(engine: DualEngine) -> None:
    b = eligible().course(C1).as_of(day(14)).therapy("plasmapheresis", day(-10), day(-10), outcome="unknown")
    assert not findings(engine.evaluate(b), "REFRACTORY-005")


# -- REFRACTORY-006 / -006B: escalation during IVIG -----------------------------------------------------


def test_refractory006_fires_on_glucocorticoid_increase_after_course1(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().courses(2).gc(day(30), 30).as_of(day(40)))
    f = finding(ev, "REFRACTORY-006")
    assert f.severity == "advisory"
    assert f.facts["therapy_change.direction"] == "increase"
    assert f.facts["therapy_change.after_first_course"] is True
    assert not findings(ev, "REFRACTORY-005")


def test_refractory006_fires_on_new_agent_after_course1(engine: DualEngine) -> None:
    b = eligible().courses(2).therapy("azathioprine", day(30), None, outcome="ongoing").as_of(day(40))
    f = finding(engine.evaluate(b), "REFRACTORY-006")
    assert f.facts["therapy_change.kind"] == "start"
    assert f.facts["therapy_change.agent"] == "azathioprine"


def test_refractory006_silent_on_taper(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().courses(2).gc(day(30), 10).as_of(day(40)))
    assert not findings(ev, "REFRACTORY-006")


def test_refractory006b_fires_on_dose_change_of_unknown_direction(engine: DualEngine) -> None:
    b = eligible().courses(2).as_of(day(40))
    b.therapy("azathioprine", "2022-01-01", None, outcome="ongoing", dose_changed_on=[day(30)])
    f = finding(engine.evaluate(b), "REFRACTORY-006B")
    assert f.severity == "advisory"
    assert f.facts["therapy_change.direction"] == "unknown"
    assert f.facts["therapy_change.kind"] == "dose_change"


def test_refractory006b_silent_for_dose_change_before_course1(engine: DualEngine) -> None:
    b = eligible().courses(2).as_of(day(40))
    b.therapy("azathioprine", "2022-01-01", None, outcome="ongoing", dose_changed_on=[day(-100)])
    ev = engine.evaluate(b)
    assert not findings(ev, "REFRACTORY-006B")
    assert not findings(ev, "REFRACTORY-005")


# -- REFRACTORY-002: the external definition ----------------------------------------------------------------


def test_refractory002_glucocorticoid_failure_and_one_agent(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible())
    f = finding(ev, "REFRACTORY-002")
    assert f.severity == "info"
    assert (
        f.facts.items()
        >= {"patient.gc_failure": "inadequate_response", "patient.failed_sparing_agents": 1}.items()
    )
    assert ev.status.refractory is True  # the seed definition sets it (REFRACTORY-001)


def test_refractory002_strict_mode_needs_two_agents() -> None:
    strict = DualEngine(thresholds={"refractory_external_min_agents": 2})
    assert not findings(strict.evaluate(eligible()), "REFRACTORY-002")
    two = eligible().therapy("azathioprine", "2021-04-01", "2021-05-01", outcome="intolerance")
    assert finding(strict.evaluate(two), "REFRACTORY-002").facts["patient.failed_sparing_agents"] == 2


def test_refractory002_flare_on_taper_is_a_glucocorticoid_failure(engine: DualEngine) -> None:
    b = eligible().no_therapies().therapy("prednisone", "2020-01-01", outcome="ongoing")
    b.therapy("methotrexate", "2020-03-01", "2021-03-01").gc("2022-01-01", 30)  # 20 -> 30: a flare
    f = finding(engine.evaluate(b), "REFRACTORY-002")
    assert f.facts["patient.gc_failure"] == "flare_on_taper"


@pytest.mark.parametrize("outcome", ["ongoing", "unknown"])
def test_refractory002_silent_without_a_glucocorticoid_failure(engine: DualEngine, outcome: str) -> None:
    b = eligible().no_therapies().therapy("prednisone", "2020-01-01", outcome=outcome)
    ev = engine.evaluate(b.therapy("methotrexate", "2020-03-01", "2021-03-01"))
    assert not findings(ev, "REFRACTORY-002")
    assert not gaps_for(ev, "REFRACTORY-002")  # unknown outcome: nothing to add, no gap


# -- REFRACTORY-004: steroid-resistant (> 50 mg/day for > 4 weeks without gain) ------------------------------


def _high_dose(days: int, mg: float = 60) -> PatientBuilder:
    return eligible().no_gc().gc("2020-01-01", mg).gc(date(2020, 1, 1) + timedelta(days=days), 20)


@pytest.mark.parametrize(("days", "fires"), [(28, False), (29, True)])
def test_refractory004_more_than_4_weeks(engine: DualEngine, days: int, fires: bool) -> None:
    ev = engine.evaluate(_high_dose(days))
    assert bool(findings(ev, "REFRACTORY-004")) is fires
    if fires:
        f = finding(ev, "REFRACTORY-004")
        assert f.severity == "info"
        assert f.facts.items() >= {"patient.gc_high_dose_days": 29, "patient.gc_inadequate": True}.items()


def test_refractory004_needs_more_than_50_mg(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(_high_dose(60, mg=50)), "REFRACTORY-004")


@pytest.mark.parametrize(("mmt8_after", "fires"), [(50, True), (52, False)])
def test_refractory004_strength_gain_from_mmt8(engine: DualEngine, mmt8_after: float, fires: bool) -> None:
    b = _high_dose(60).no_therapies().therapy("prednisone", "2020-01-01", outcome="ongoing")
    b.therapy("methotrexate", "2020-03-01", "2021-03-01")  # no glucocorticoid outcome: MMT-8 decides
    b.assessment("2019-12-20", mmt8=50).assessment("2020-02-15", mmt8=mmt8_after)
    ev = engine.evaluate(b)
    assert bool(findings(ev, "REFRACTORY-004")) is fires
