"""Safety rules (rules/safety.yaml): SAFETY-001/002/002B/003/003B/006/007/008/008B/010/011/012."""

from __future__ import annotations

import pytest

from builders import C1, DualEngine, PatientBuilder, day, eligible, finding, findings, gaps_for


@pytest.fixture(scope="module")
def engine() -> DualEngine:
    return DualEngine()


def with_product(product: str, **risk: bool | None) -> PatientBuilder:
    return eligible().risk(**risk).course(C1, product=product).as_of(day(14))


def test_fully_screened_patient_has_no_safety_finding(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible())
    assert not [f for f in ev.findings if f.category == "safety"]
    assert ev.status.eligibility == "eligible"


# -- SAFETY-001 ----------------------------------------------------------------------------------------


def test_safety001_prior_anaphylaxis_is_a_stop(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().risk(prior_ig_anaphylaxis=True))
    f = finding(ev, "SAFETY-001")
    assert f.severity == "stop"
    assert f.facts.items() >= {"patient.rf_prior_ig_anaphylaxis": True}.items()
    assert ev.status.eligibility == "contraindicated"
    assert "SAFETY-001" in ev.status.eligibility_reasons
    assert ev.findings[0].rule_id == "SAFETY-001"  # stop first


def test_safety001_silent_when_false(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().risk(prior_ig_anaphylaxis=False))
    assert not findings(ev, "SAFETY-001")
    assert not gaps_for(ev, "SAFETY-001")


# -- SAFETY-002 / -002B: IgA deficiency -----------------------------------------------------------------


def test_safety002_iga_deficiency_with_antibodies_is_a_stop(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().risk(iga_deficiency=True, anti_iga_antibodies=True))
    f = finding(ev, "SAFETY-002")
    assert f.severity == "stop"
    assert f.facts.items() >= {"patient.rf_iga_deficiency": True, "patient.rf_anti_iga_antibodies": True}.items()
    assert ev.status.eligibility == "contraindicated"
    assert not findings(ev, "SAFETY-002B")


@pytest.mark.parametrize("antibodies", [False, None])
def test_safety002b_iga_deficiency_without_known_antibodies(engine: DualEngine, antibodies: bool | None) -> None:
    ev = engine.evaluate(eligible().risk(iga_deficiency=True, anti_iga_antibodies=antibodies))
    f = finding(ev, "SAFETY-002B")
    assert f.severity == "warning"
    assert f.facts["patient.rf_iga_deficiency"] is True
    assert not findings(ev, "SAFETY-002")
    assert ev.status.eligibility == "eligible_with_precautions"
    assert "SAFETY-002B" in ev.status.eligibility_reasons
    if antibodies is None:  # the stop rule could not be decided: say so
        (gap,) = gaps_for(ev, "SAFETY-002")
        assert gap.severity == "warning"
        assert "risk_factors.anti_iga_antibodies" in gap.sources


@pytest.mark.parametrize(("iga", "fires"), [(6.9, True), (7, False)])
def test_safety002b_low_serum_iga_boundary(engine: DualEngine, iga: float, fires: bool) -> None:
    ev = engine.evaluate(eligible().lab("2024-05-01", "iga_mg_dl", iga))
    assert bool(findings(ev, "SAFETY-002B")) is fires
    if fires:
        f = finding(ev, "SAFETY-002B")
        assert f.facts["patient.iga_mg_dl"] == 6.9
        assert f.thresholds.items() >= {"iga_deficiency_mg_dl": 7}.items()


def test_safety002b_silent_with_normal_iga(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(eligible()), "SAFETY-002B")


# -- SAFETY-003 / -003B: hyperprolinemia ---------------------------------------------------------------


def test_safety003_hyperprolinemia_with_privigen_is_a_stop(engine: DualEngine) -> None:
    ev = engine.evaluate(with_product("Privigen", hyperprolinemia=True))
    f = finding(ev, "SAFETY-003")
    assert f.severity == "stop"
    assert f.facts["patient.product_stabilizer"] == "proline"
    assert "Privigen" in f.summary
    assert ev.status.eligibility == "contraindicated"
    assert not findings(ev, "SAFETY-003B")


def test_safety003_silent_for_privigen_without_hyperprolinemia(engine: DualEngine) -> None:
    ev = engine.evaluate(with_product("Privigen", hyperprolinemia=False))
    assert not findings(ev, "SAFETY-003")
    assert not findings(ev, "SAFETY-003B")


@pytest.mark.parametrize("courses", [0, 1])
def test_safety003b_hyperprolinemia_otherwise_is_a_warning(engine: DualEngine, courses: int) -> None:
    b = eligible().risk(hyperprolinemia=True)
    if courses:
        b.course(C1, product="Gamunex-C").as_of(day(14))
    ev = engine.evaluate(b)
    f = finding(ev, "SAFETY-003B")
    assert f.severity == "warning"
    assert not findings(ev, "SAFETY-003")
    assert ev.status.eligibility == "eligible_with_precautions"


# -- SAFETY-006: thrombosis -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "factor",
    [
        "immobilized",
        "hypercoagulable_state",
        "thrombosis_history",
        "estrogen_therapy",
        "central_venous_catheter",
        "hyperviscosity",
        "cardiovascular_disease",
    ],
)
def test_safety006_fires_for_each_risk_factor(engine: DualEngine, factor: str) -> None:
    ev = engine.evaluate(eligible().risk(**{factor: True}))
    f = finding(ev, "SAFETY-006")
    assert f.severity == "warning"
    assert f.facts[f"patient.rf_{factor}"] is True
    assert ev.status.eligibility == "eligible_with_precautions"
    assert "SAFETY-006" in ev.status.eligibility_reasons


@pytest.mark.parametrize(("born", "fires"), [("1959-06-01", True), ("1959-06-02", False)])
def test_safety006_age_65_boundary(engine: DualEngine, born: str, fires: bool) -> None:
    ev = engine.evaluate(eligible().born(born))
    assert bool(findings(ev, "SAFETY-006")) is fires
    if fires:
        assert finding(ev, "SAFETY-006").facts["patient.age_years"] == 65


# -- SAFETY-007 -------------------------------------------------------------------------------------------


def test_safety007_hyperviscosity(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().risk(hyperviscosity=True))
    f = finding(ev, "SAFETY-007")
    assert f.severity == "warning"
    assert f.facts.items() >= {"patient.rf_hyperviscosity": True}.items()
    assert ev.status.eligibility == "eligible_with_precautions"


def test_safety007_silent_when_false(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(eligible()), "SAFETY-007")


# -- SAFETY-008: renal risk ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("egfr", "fires"), [(59, True), (60, False)])
def test_safety008_egfr_boundary(engine: DualEngine, egfr: float, fires: bool) -> None:
    ev = engine.evaluate(eligible().lab("2024-05-01", "egfr_ml_min_1_73m2", egfr))
    assert bool(findings(ev, "SAFETY-008")) is fires
    if fires:
        f = finding(ev, "SAFETY-008")
        assert f.severity == "warning"
        assert f.facts["patient.egfr_ml_min"] == 59
        assert f.thresholds["egfr_renal_risk_ml_min"] == 60
        assert ev.status.eligibility == "eligible_with_precautions"
        assert "SAFETY-008" in ev.status.eligibility_reasons
    else:
        assert ev.status.eligibility == "eligible"


@pytest.mark.parametrize(("creatinine", "fires"), [(1.6, True), (1.5, False)])
def test_safety008_creatinine_boundary(engine: DualEngine, creatinine: float, fires: bool) -> None:
    ev = engine.evaluate(eligible().lab("2024-05-01", "creatinine_mg_dl", creatinine))
    assert bool(findings(ev, "SAFETY-008")) is fires


@pytest.mark.parametrize(("born", "fires"), [("1958-06-01", True), ("1958-06-02", False)])
def test_safety008_age_over_65_boundary(engine: DualEngine, born: str, fires: bool) -> None:
    ev = engine.evaluate(eligible().born(born))  # 66 vs 65
    assert bool(findings(ev, "SAFETY-008")) is fires


@pytest.mark.parametrize("factor", ["diabetes", "volume_depletion", "sepsis", "nephrotoxic_drugs"])
def test_safety008_risk_factors(engine: DualEngine, factor: str) -> None:
    f = finding(engine.evaluate(eligible().risk(**{factor: True})), "SAFETY-008")
    assert f.facts[f"patient.rf_{factor}"] is True


def test_safety008_uses_the_latest_lab(engine: DualEngine) -> None:
    b = eligible().no_labs().lab("2023-01-01", "egfr_ml_min_1_73m2", 40)
    b.lab("2024-01-01", "egfr_ml_min_1_73m2", 90)
    b.lab("2024-01-01", "creatinine_mg_dl", 0.8)
    assert not findings(engine.evaluate(b), "SAFETY-008")


# -- SAFETY-008B: sucrose product with renal risk --------------------------------------------------------


def test_safety008b_sucrose_product_with_renal_risk(engine: DualEngine) -> None:
    ev = engine.evaluate(with_product("Carimune NF", diabetes=True))
    f = finding(ev, "SAFETY-008B")
    assert f.severity == "warning"
    assert f.facts["patient.product_stabilizer"] == "sucrose"
    assert findings(ev, "SAFETY-008")


def test_safety008b_silent_for_sucrose_free_product(engine: DualEngine) -> None:
    ev = engine.evaluate(with_product("Gamunex-C", diabetes=True))
    assert findings(ev, "SAFETY-008")
    assert not findings(ev, "SAFETY-008B")


def test_safety008b_silent_without_renal_risk(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(with_product("Carimune NF")), "SAFETY-008B")


# -- SAFETY-010: heart failure -----------------------------------------------------------------------------


def test_safety010_heart_failure_reports_daily_volume(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().risk(heart_failure=True))
    f = finding(ev, "SAFETY-010")
    assert f.severity == "warning"
    assert f.facts["patient.rf_heart_failure"] is True
    assert f.facts["patient.daily_volume_ml"] == 640  # 64 kg x 1 g/kg at 10 %
    assert "about 640 mL at 10%" in f.summary
    assert ev.status.eligibility == "eligible_with_precautions"


def test_safety010_silent_without_heart_failure(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(eligible()), "SAFETY-010")


def test_safety010_volume_follows_the_dose_plan_weight(engine: DualEngine) -> None:
    b = eligible().demographics(weight_kg=110, height_cm=165).risk(heart_failure=True)
    ev = engine.evaluate(b)
    assert ev.dose_plan is not None
    assert ev.dose_plan.weight_basis == "adjusted"
    f = finding(ev, "SAFETY-010B")  # the adjusted-weight variant: the volume follows the dose plan
    assert f.facts["patient.daily_volume_adjusted_ml"] == round(ev.dose_plan.grams_per_day / 0.10)
    assert f.severity == "warning" and "SAFETY-010B" in ev.status.eligibility_reasons
    assert "SAFETY-010" not in [x.rule_id for x in ev.findings]
    actual = engine.evaluate(eligible().risk(heart_failure=True))
    assert actual.dose_plan is not None and actual.dose_plan.weight_basis == "actual"
    g = finding(actual, "SAFETY-010")
    assert g.facts["patient.daily_volume_ml"] == round(actual.dose_plan.grams_per_day / 0.10)


# -- SAFETY-011: haemolysis ------------------------------------------------------------------------------


@pytest.mark.parametrize("group", ["A", "B", "AB"])
def test_safety011_non_o_at_2_g_per_kg(engine: DualEngine, group: str) -> None:
    ev = engine.evaluate(eligible().demographics(abo_group=group))  # plan: 2 g/kg per course
    f = finding(ev, "SAFETY-011")
    assert f.severity == "warning"
    assert f.facts.items() >= {"patient.abo_group": group, "patient.course_plan_g_per_kg": 2.0}.items()
    assert f.thresholds.items() >= {"hemolysis_course_g_per_kg": 2.0}.items()
    assert ev.status.eligibility == "eligible_with_precautions"


def test_safety011_silent_for_group_o(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(eligible().demographics(abo_group="O")), "SAFETY-011")


def test_safety011_silent_below_2_g_per_kg(engine: DualEngine) -> None:
    b = eligible().demographics(abo_group="A").course(C1, days=2, dose=0.95).as_of(day(14))
    assert not findings(engine.evaluate(b), "SAFETY-011")


def test_safety011_unknown_group_is_a_data_gap(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().set("demographics.abo_group", PatientBuilder.DELETE))
    assert not findings(ev, "SAFETY-011")
    (gap,) = gaps_for(ev, "SAFETY-011")
    assert "demographics.abo_group" in gap.sources


# -- SAFETY-012: pregnancy -----------------------------------------------------------------------------------


def test_safety012_pregnancy(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().risk(pregnant=True))
    f = finding(ev, "SAFETY-012")
    assert f.severity == "warning"
    assert f.facts.items() >= {"patient.rf_pregnant": True}.items()
    assert ev.status.eligibility == "eligible_with_precautions"
    assert ev.status.eligibility_reasons == ["SAFETY-012"]


def test_safety012_silent_when_not_pregnant(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(eligible().risk(pregnant=False)), "SAFETY-012")
