"""Diagnostic work-up rules (rules/diagnosis.yaml, issue 13): DX-002/-002B/-002C (Bohan & Peter items),
DX-003/-003B (EULAR/ACR 2017 score), DX-005 (finger-flexor weakness), DX-008 (mimics), DX-009 (malignancy)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from builders import AS_OF, DualEngine, PatientBuilder, eligible, finding, findings, gaps_for


@pytest.fixture(scope="module")
def engine() -> DualEngine:
    return DualEngine()


def with_items(**items: Any) -> PatientBuilder:
    full = {
        "symmetric_proximal_weakness": True,
        "biopsy_myositis": True,
        "raised_muscle_enzymes": True,
        "myopathic_emg": True,
        "rash": False,
    }
    return eligible().diagnosis(bohan_peter_items={**full, **items})


# -- DX-002 / -002B / -002C: Bohan & Peter items -----------------------------------------------------


@pytest.mark.parametrize(("items", "category"), [({}, "definite"), ({"myopathic_emg": False}, "probable")])
def test_dx002_items_give_definite_or_probable(engine: DualEngine, items: dict[str, Any], category: str) -> None:
    ev = engine.evaluate(with_items(**items))
    f = finding(ev, "DX-002")
    assert f.severity == "advisory"
    assert f.facts["patient.bohan_peter_category"] == category
    assert f"PM classification (Bohan & Peter items): {category}" in f.summary
    assert not findings(ev, "DX-002B")
    assert ev.status.eligibility == "eligible"


def test_dx002_rash_not_recorded_is_shown_as_such(engine: DualEngine) -> None:
    ev = engine.evaluate(with_items(rash=None))
    assert "(rash: not recorded)" in finding(ev, "DX-002").summary


@pytest.mark.parametrize(("false_items", "category"), [(2, "possible"), (3, "not_met")])
def test_dx002b_two_items_or_fewer_is_a_warning(engine: DualEngine, false_items: int, category: str) -> None:
    names = ["myopathic_emg", "biopsy_myositis", "raised_muscle_enzymes"][:false_items]
    ev = engine.evaluate(with_items(**dict.fromkeys(names, False)))
    f = finding(ev, "DX-002B")
    assert f.severity == "warning"
    assert f.facts["patient.bohan_peter_category"] == category
    assert "review the recorded classification (definite)" in f.summary
    assert not findings(ev, "DX-002")
    assert ev.status.eligibility == "eligible"  # eligibility follows the recorded classification (DX-102)


def test_dx002_silent_without_all_four_items_and_no_gap(engine: DualEngine) -> None:
    ev = engine.evaluate(with_items(myopathic_emg=None))
    assert not findings(ev, "DX-002") and not findings(ev, "DX-002B")
    assert not gaps_for(ev, "DX-002") and not gaps_for(ev, "DX-002B")
    ev = engine.evaluate(eligible())
    assert not [f for f in ev.findings if f.rule_id.startswith("DX-00")]


def test_dx002c_rash_with_polymyositis(engine: DualEngine) -> None:
    ev = engine.evaluate(with_items(rash=True))
    assert finding(ev, "DX-002C").severity == "warning"
    assert not findings(ev, "DX-002")
    assert not findings(engine.evaluate(with_items(rash=True).diagnosis(condition="dermatomyositis")), "DX-002C")


# -- DX-003 / -003B: EULAR/ACR 2017 ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "biopsy", "category"),
    [
        (7.5, False, "definite"),
        (7.49, False, "probable"),
        (5.5, False, "probable"),
        (5.49, False, "possible"),
        (5.3, False, "possible"),
        (5.29, False, "not_iim"),
        (8.7, True, "definite"),
        (6.7, True, "probable"),
        (6.69, True, "possible"),
        (6.5, True, "possible"),
        (6.49, True, "not_iim"),
    ],
)
def test_dx003_categories_at_the_cut_offs(engine: DualEngine, score: float, biopsy: bool, category: str) -> None:
    ev = engine.evaluate(eligible().diagnosis(eular_acr_score=score, eular_acr_with_biopsy=biopsy))
    f = finding(ev, "DX-003")
    assert f.severity == "advisory"
    assert f.facts["patient.eular_acr_category"] == category
    assert f"{category} IIM; subgroup (working diagnosis) polymyositis" in f.summary
    below = category in ("possible", "not_iim")
    assert bool(findings(ev, "DX-003B")) is below
    if below:
        assert finding(ev, "DX-003B").severity == "warning"


def test_dx003_silent_without_knowing_whether_a_biopsy_was_scored(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().diagnosis(eular_acr_score=9))
    assert not findings(ev, "DX-003") and not gaps_for(ev, "DX-003")


def test_dx003_cut_offs_are_thresholds(engine: DualEngine) -> None:
    site = DualEngine(thresholds={"eular_acr_probable": 6.0})
    ev = site.evaluate(eligible().diagnosis(eular_acr_score=5.9, eular_acr_with_biopsy=False))
    assert finding(ev, "DX-003").facts["patient.eular_acr_category"] == "possible"


# -- DX-005: treatment failure + finger-flexor weakness -----------------------------------------------


def test_dx005_refractory_with_finger_flexor_weakness(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().diagnosis(finger_flexor_weakness=True))
    f = finding(ev, "DX-005")
    assert f.severity == "warning"
    assert "consider inclusion body myositis" in f.summary
    assert ev.status.eligibility == "eligible"  # ibm_features (DX-004) is the contract's not_eligible input


@pytest.mark.parametrize(
    "edit",
    [
        lambda b: b.diagnosis(finger_flexor_weakness=False),
        lambda b: b.diagnosis(finger_flexor_weakness=True, ibm_features=True),  # DX-004 says it
        lambda b: b.diagnosis(finger_flexor_weakness=True).stop_therapy("methotrexate", "2020-04-01"),  # 31 days
    ],
)
def test_dx005_silent(engine: DualEngine, edit: Any) -> None:
    ev = engine.evaluate(edit(eligible()))
    assert not findings(ev, "DX-005")


def test_dx005_not_recorded_is_no_gap(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible())
    assert not findings(ev, "DX-005") and not gaps_for(ev, "DX-005")


# -- DX-008: drug, toxic or endocrine myopathy ----------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "fires"),
    [
        ({"myotoxic_exposure": True, "thyroid_function_normal": True}, True),
        ({"myotoxic_exposure": False, "thyroid_function_normal": False}, True),
        ({"myotoxic_exposure": False, "thyroid_function_normal": True}, False),
        ({"thyroid_function_normal": True}, False),
        ({}, False),
    ],
)
def test_dx008(engine: DualEngine, fields: dict[str, bool], fires: bool) -> None:
    ev = engine.evaluate(eligible().diagnosis(**fields))
    assert bool(findings(ev, "DX-008")) is fires
    assert not gaps_for(ev, "DX-008")
    if fires:
        assert finding(ev, "DX-008").severity == "advisory"


# -- DX-009: malignancy screening in the first 3 years ---------------------------------------------------


@pytest.mark.parametrize(
    ("days", "fires"), [(1095, True), (1096, False), (0, True), (-1, False)]
)  # 36 mo = 1095.75 d
def test_dx009_within_36_months_of_diagnosis(engine: DualEngine, days: int, fires: bool) -> None:
    ev = engine.evaluate(eligible().diagnosis(diagnosed_on=AS_OF - timedelta(days=days)))
    assert bool(findings(ev, "DX-009")) is fires
    if fires:
        f = finding(ev, "DX-009")
        assert f.severity == "advisory"
        assert "(latest: not recorded)" in f.summary


@pytest.mark.parametrize(("before_dx", "fires"), [(91, False), (92, True), (-30, False)])  # 3 months = 91.3 days
def test_dx009_a_screening_counts_from_3_months_before_diagnosis(
    engine: DualEngine, before_dx: int, fires: bool
) -> None:
    dx = AS_OF - timedelta(days=400)
    b = (
        eligible()
        .diagnosis(diagnosed_on=dx)
        .set("preventive_care.cancer_screening_on", str(dx - timedelta(before_dx)))
    )
    ev = engine.evaluate(b)
    assert bool(findings(ev, "DX-009")) is fires


def test_dx009_a_screening_after_as_of_is_not_known_yet(engine: DualEngine) -> None:
    dx = AS_OF - timedelta(days=400)
    b = eligible().diagnosis(diagnosed_on=dx).set("preventive_care.cancer_screening_on", "2024-07-01")
    ev = engine.evaluate(b)
    assert findings(ev, "DX-009")
    assert ev.ignored_after_as_of == 1
