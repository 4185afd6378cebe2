"""The cohort summary reproduces the seed study's arithmetic from evaluations."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from ivig_cds import Engine, Evaluation
from ivig_cds.cohort import Count, summarize
from ivig_cds.console.reports import render_cohort


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(backend="reference")


@pytest.fixture
def base(engine: Engine, minimal_patient_dict: dict[str, Any]) -> Evaluation:
    return engine.evaluate(minimal_patient_dict)


def _ev(base: Evaluation, *, courses: int = 4, **status: Any) -> Evaluation:
    patient = base.patient.model_copy(update={"courses_given": courses})
    return base.model_copy(update={"patient": patient, "status": base.status.model_copy(update=status)})


def _seed_cohort(base: Evaluation) -> list[Evaluation]:
    """35 treated patients shaped like Cherin et al. 2002, plus 2 never treated."""
    r = {"response": "responder", "steroid_taper_beyond_50": True}
    evs = [_ev(base, outcome="remission_off_therapy", **r) for _ in range(5)]
    evs += [_ev(base, outcome="remission_low_dose_steroid", **r) for _ in range(7)]
    evs += [_ev(base, outcome="ivig_dependent", **r) for _ in range(6)]
    months = [4.0, 10.0, 15.0, 18.0, 20.5, 22.2, 23.0]  # mean 16.1
    evs += [_ev(base, outcome="relapse", relapse_alert=True, months_to_relapse=m, **r) for m in months]
    evs += [_ev(base, response="non_responder", outcome="non_responder") for _ in range(10)]
    evs += [_ev(base, courses=0, response="not_started", outcome="not_started") for _ in range(2)]
    return evs


def test_counts_follow_the_seed_denominators(base: Evaluation) -> None:
    s = summarize(_seed_cohort(base))
    assert s.patients == 37
    assert s.treated == Count(35, 37)
    assert s.responders == Count(25, 35) and s.responders.pct == 71.4
    assert s.remission == Count(12, 25) and s.remission.pct == 48.0
    assert (s.remission_off_therapy.n, s.remission_low_dose_steroid.n) == (5, 7)
    assert s.ivig_dependent == Count(6, 25)
    assert s.relapses == Count(7, 25)
    assert s.relapse_mean_months == 16.1 and s.relapse_range_months == (4.0, 23.0)
    assert s.steroid_taper_beyond_50 == Count(25, 25)
    assert s.non_responders == Count(10, 35)


def test_to_dict_is_json_ready(base: Evaluation) -> None:
    d = summarize(_seed_cohort(base)).to_dict()
    assert d["responders"] == {"n": 25, "of": 35, "pct": 71.4}
    assert d["months_to_relapse"] == {"n": 7, "mean": 16.1, "min": 4.0, "max": 23.0}
    assert d["outcomes"]["relapse"] == 7
    assert d["eligibility"] == {"screen_incomplete": 37}  # the contract's minimal file lacks a renal lab


def test_empty_cohort_has_no_percentages() -> None:
    s = summarize([])
    assert s.responders == Count(0, 0) and s.responders.pct is None
    assert s.to_dict()["months_to_relapse"]["mean"] is None


def test_cohort_table_lines(base: Evaluation) -> None:
    buf = io.StringIO()
    render_cohort(summarize(_seed_cohort(base)), Console(file=buf, width=100, color_system=None))
    lines = [line.rstrip() for line in buf.getvalue().splitlines()]
    assert "│ Responders (TIS ≥ 20) of treated  │    25/35 (71.4%) │    25/35 (71.4%) │" in lines
    assert "│ Sustained remission of responders │      12/25 (48%) │      12/25 (48%) │" in lines
    assert "│   months to relapse               │ mean 16.1 (4–23) │ mean 17.1 (4–23) │" in lines
    assert lines[-1] == "Eligibility: pre-IVIG screen incomplete 37"
