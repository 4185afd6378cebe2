"""Diagnosis rules (rules/diagnosis.yaml): DX-001, DX-004, DX-006, DX-007, DX-007B, DX-101, DX-102."""

from __future__ import annotations

import pytest

from builders import DualEngine, PatientBuilder, eligible, finding, findings, gaps_for


@pytest.fixture(scope="module")
def engine() -> DualEngine:
    return DualEngine()


def test_baseline_patient_is_eligible_with_no_diagnosis_finding(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible())
    assert ev.status.eligibility == "eligible"
    assert ev.status.eligibility_reasons == []
    assert not [f for f in ev.findings if f.category == "diagnosis"]


# -- DX-001: age < 18 -----------------------------------------------------------------------------


def test_dx001_fires_at_17(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().born("2006-06-02"))  # 18th birthday is the day after as_of
    f = finding(ev, "DX-001")
    assert f.severity == "warning"
    assert f.category == "diagnosis"
    assert f.facts.items() >= {"patient.age_years": 17}.items()
    assert f.thresholds.items() >= {"adult_age_years": 18}.items()
    assert "Age 17 is under 18" in f.summary
    assert ev.status.eligibility == "not_eligible"
    assert "DX-001" in ev.status.eligibility_reasons


def test_dx001_silent_on_18th_birthday(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().born("2006-06-01"))
    assert not findings(ev, "DX-001")
    assert ev.status.eligibility == "eligible"


# -- DX-004: inclusion body myositis features -----------------------------------------------------


@pytest.mark.parametrize(
    "diagnosis",
    [{"ibm_features": True}, {"condition": "inclusion_body_myositis"}],
    ids=["ibm_features", "condition_ibm"],
)
def test_dx004_fires(engine: DualEngine, diagnosis: dict[str, object]) -> None:
    ev = engine.evaluate(eligible().diagnosis(**diagnosis))
    f = finding(ev, "DX-004")
    assert f.severity == "warning"
    assert f.codes == ["ICD-10-CM|G72.41"]
    assert set(f.facts) == {"patient.ibm_features", "patient.condition"}
    assert ev.status.eligibility == "not_eligible"
    assert "DX-004" in ev.status.eligibility_reasons


def test_dx004_silent_without_ibm_features(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().diagnosis(ibm_features=False))
    assert not findings(ev, "DX-004")
    assert not gaps_for(ev, "DX-004")


def test_dx004_unrecorded_ibm_features_is_a_data_gap(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().diagnosis(ibm_features=None))
    assert not findings(ev, "DX-004")
    (gap,) = gaps_for(ev, "DX-004")
    assert "diagnosis.ibm_features" in gap.sources


# -- DX-006: working diagnosis "other" ------------------------------------------------------------


def test_dx006_fires_for_other(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().diagnosis(condition="other"))
    f = finding(ev, "DX-006")
    assert f.severity == "warning"
    assert f.facts.items() >= {"patient.condition": "other"}.items()
    assert ev.status.eligibility == "not_eligible"
    assert "DX-006" in ev.status.eligibility_reasons


def test_dx006_silent_for_polymyositis(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(eligible()), "DX-006")


# -- DX-007: anti-HMGCR / anti-SRP ---------------------------------------------------------------


@pytest.mark.parametrize("antibody", ["anti_hmgcr", "anti_srp"])
def test_dx007_fires(engine: DualEngine, antibody: str) -> None:
    ev = engine.evaluate(eligible().diagnosis(**{antibody: True}))
    f = finding(ev, "DX-007")
    assert f.severity == "advisory"  # reconsider the diagnosis: never a reason for not_eligible (contract 1.1)
    assert "reconsider the diagnosis" in f.summary
    assert f.facts[f"patient.{antibody}"] is True
    assert ev.status.eligibility == "eligible"
    assert "DX-007" not in ev.status.eligibility_reasons


def test_dx007_silent_when_both_negative(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().diagnosis(anti_hmgcr=False, anti_srp=False))
    assert not findings(ev, "DX-007")
    assert not gaps_for(ev, "DX-007")


# -- DX-007B: statin exposure, CK above ULN, anti-HMGCR not tested --------------------------------


def _statin(ck: float, anti_hmgcr: bool | None) -> PatientBuilder:
    return (
        eligible()
        .diagnosis(statin_exposure=True, anti_hmgcr=anti_hmgcr)
        .assessment("2024-05-01", ck_u_per_l=ck, ck_uln_u_per_l=200)
    )


def test_dx007b_fires_when_ck_above_uln_and_antibody_untested(engine: DualEngine) -> None:
    ev = engine.evaluate(_statin(ck=400, anti_hmgcr=None))
    f = finding(ev, "DX-007B")
    assert f.severity == "warning"
    assert f.facts["patient.latest_ck_x_uln"] == 2.0
    assert f.facts["patient.statin_exposure"] is True
    assert f.thresholds.items() >= {"ck_normal_x_uln": 1}.items()
    assert "2 x ULN" in f.summary


def test_dx007b_silent_when_ck_exactly_at_uln(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(_statin(ck=200, anti_hmgcr=None)), "DX-007B")


def test_dx007b_silent_when_anti_hmgcr_tested(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(_statin(ck=400, anti_hmgcr=False)), "DX-007B")


def test_dx007b_silent_without_statin(engine: DualEngine) -> None:
    ev = engine.evaluate(_statin(ck=400, anti_hmgcr=None).diagnosis(statin_exposure=False))
    assert not findings(ev, "DX-007B")


# -- DX-101: another myositis ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "condition",
    ["dermatomyositis", "antisynthetase_syndrome", "overlap_myositis", "immune_mediated_necrotizing_myopathy"],
)
def test_dx101_fires_for_other_myositis(engine: DualEngine, condition: str) -> None:
    ev = engine.evaluate(eligible().diagnosis(condition=condition))
    f = finding(ev, "DX-101")
    assert f.severity == "warning"
    assert f.facts.items() >= {"patient.condition": condition}.items()
    assert condition in f.summary
    assert ev.status.eligibility == "not_eligible"
    assert "DX-101" in ev.status.eligibility_reasons


def test_dx101_silent_for_polymyositis(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(eligible()), "DX-101")


# -- DX-102: classification possible / unknown -----------------------------------------------------


@pytest.mark.parametrize("classification", ["possible", "unknown"])
def test_dx102_fires(engine: DualEngine, classification: str) -> None:
    ev = engine.evaluate(eligible().diagnosis(classification=classification))
    f = finding(ev, "DX-102")
    assert f.severity == "warning"
    assert f.facts.items() >= {"patient.classification": classification}.items()
    assert ev.status.eligibility == "not_eligible"
    assert "DX-102" in ev.status.eligibility_reasons


@pytest.mark.parametrize("classification", ["definite", "probable"])
def test_dx102_silent_for_definite_or_probable(engine: DualEngine, classification: str) -> None:
    ev = engine.evaluate(eligible().diagnosis(classification=classification))
    assert not findings(ev, "DX-102")
    assert ev.status.eligibility == "eligible"
