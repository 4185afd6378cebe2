"""Safety rules (rules/safety.yaml) and the pre-IVIG screen (rules/screen.yaml), contract 1.1."""

from __future__ import annotations

import pytest

from builders import AS_OF, C1, DualEngine, PatientBuilder, day, eligible, finding, findings, gaps_for


@pytest.fixture(scope="module")
def engine() -> DualEngine:
    return DualEngine()


def with_product(product: str | None, **risk: bool | None) -> PatientBuilder:
    return eligible().risk(**risk).course(C1, product=product).as_of(day(14))


def with_order(product: str | None = None, **order: object) -> PatientBuilder:
    """An order considered before course 1 (``ivig_order``)."""
    fields = {"product": product, **order}
    return eligible().set("ivig_order", {k: v for k, v in fields.items() if v is not None})


def test_fully_screened_patient_has_only_the_infusion_advice(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible())
    # before the first course only the infusion advice: 60-minute observation (naive), meningitis counselling
    assert sorted((f.rule_id, f.severity) for f in ev.findings if f.category == "safety") == [
        ("SAFETY-014", "advisory"),
        ("SAFETY-015", "info"),
    ]
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
    if antibodies is None:  # the stop rule could not be decided: say so, and the screen is incomplete
        (gap,) = gaps_for(ev, "SAFETY-002")
        assert gap.severity == "warning"
        assert "risk_factors.anti_iga_antibodies" in gap.sources
        assert ev.status.eligibility == "screen_incomplete"
        assert ev.status.missing_screen == ["risk_factors.anti_iga_antibodies"]
    else:
        assert ev.status.eligibility == "eligible_with_precautions"
        assert "SAFETY-002B" in ev.status.eligibility_reasons


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
    assert f.facts["patient.product_proline"] is True
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
    assert f.facts["patient.product_sucrose"] is True
    assert findings(ev, "SAFETY-008")


def test_safety008b_silent_for_sucrose_free_product(engine: DualEngine) -> None:
    ev = engine.evaluate(with_product("Gamunex-C", diabetes=True))
    assert findings(ev, "SAFETY-008")
    assert not findings(ev, "SAFETY-008B")


def test_safety008b_silent_without_renal_risk(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(with_product("Carimune NF")), "SAFETY-008B")


# -- SAFETY-010: heart failure -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "volume", "words"),
    [
        ({"product": "Privigen"}, 640, "about 640 mL a day at 10% (Privigen)"),  # 64 kg x 1 g/kg at 10 %
        ({"product": "Octagam 5%"}, 1280, "about 1280 mL a day at 5% (Octagam)"),  # a 5 % product: twice
        ({"product": "Octagam"}, 1280, "at 5% assumed"),  # 5 or 10 %: not known, the larger volume assumed
        ({}, 1280, "at 5% assumed"),  # no product named
        ({"product": "Privigen", "dose_g_per_kg_per_day": 0.4}, 256, "0.4 g/kg/day"),  # the ordered dose
    ],
)
def test_safety010_volume_from_the_products_concentration(
    engine: DualEngine, order: dict[str, object], volume: float, words: str
) -> None:
    ev = engine.evaluate(with_order(**order).risk(heart_failure=True))  # type: ignore[arg-type]
    f = finding(ev, "SAFETY-010")
    assert f.severity == "warning"
    assert f.facts["patient.rf_heart_failure"] is True
    assert f.facts["patient.daily_volume_ml"] == pytest.approx(volume)
    assert words in f.summary
    assert ev.status.eligibility == "eligible_with_precautions"


def test_safety010_without_an_order_uses_the_last_courses_product(engine: DualEngine) -> None:
    ev = engine.evaluate(with_product("Gamunex-C", heart_failure=True))
    assert "about 640 mL a day at 10% (Gamunex-C)" in finding(ev, "SAFETY-010").summary


def test_safety010_silent_without_heart_failure(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(eligible()), "SAFETY-010")


def test_safety010_volume_follows_the_dose_plan_weight(engine: DualEngine) -> None:
    b = eligible().demographics(weight_kg=110, height_cm=165).risk(heart_failure=True)
    ev = engine.evaluate(b)
    assert ev.dose_plan is not None
    assert ev.dose_plan.weight_basis == "adjusted"
    f = finding(ev, "SAFETY-010B")  # the adjusted-weight variant: the volume follows the dose plan
    assumed = 0.05  # no product named: 5 % assumed
    assert f.facts["patient.daily_volume_adjusted_ml"] == pytest.approx(ev.dose_plan.grams_per_day / assumed, 0.01)
    assert f.severity == "warning" and "SAFETY-010B" in ev.status.eligibility_reasons
    assert "SAFETY-010" not in [x.rule_id for x in ev.findings]
    actual = engine.evaluate(eligible().risk(heart_failure=True))
    assert actual.dose_plan is not None and actual.dose_plan.weight_basis == "actual"
    g = finding(actual, "SAFETY-010")
    assert g.facts["patient.daily_volume_ml"] == pytest.approx(actual.dose_plan.grams_per_day / assumed)


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


@pytest.mark.parametrize(
    ("order", "fires"),
    [
        ({"dose_g_per_kg_per_day": 0.95, "days": 2}, False),  # 1.9 g/kg ordered
        ({"dose_g_per_kg_per_day": 0.4, "days": 5}, True),  # 2 g/kg over 5 days
        ({"days": 2}, True),  # the plan's 1 g/kg/day for the missing dose
    ],
)
def test_safety011_uses_the_ordered_dose(engine: DualEngine, order: dict[str, object], fires: bool) -> None:
    b = eligible().demographics(abo_group="A").set("ivig_order", order)
    assert bool(findings(engine.evaluate(b), "SAFETY-011")) is fires


def test_safety011_uses_the_plan_not_the_last_course_given(engine: DualEngine) -> None:
    # the last course gave 1.9 g/kg; without an order the next course is the plan's 2 g/kg
    b = eligible().demographics(abo_group="A").course(C1, days=2, dose=0.95).as_of(day(14))
    f = finding(engine.evaluate(b), "SAFETY-011")
    assert f.facts["patient.course_plan_g_per_kg"] == 2.0
    assert "(plan)" in f.summary


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
    # pregnancy is also a thrombosis risk factor
    assert ev.status.eligibility_reasons == ["SAFETY-006", "SAFETY-012"]
    assert finding(ev, "SAFETY-006").facts["patient.rf_pregnant"] is True
    assert not findings(ev, "SAFETY-012B")


@pytest.mark.parametrize("sex", ["male", "other", "unknown"])
def test_safety012_pregnancy_whatever_the_recorded_sex(engine: DualEngine, sex: str) -> None:
    ev = engine.evaluate(eligible().demographics(sex=sex).risk(pregnant=True))
    assert finding(ev, "SAFETY-012").severity == "warning"
    assert ev.status.eligibility == "eligible_with_precautions"
    consistency = findings(ev, "SAFETY-012B")  # a data-consistency advisory, for male only
    assert [(c.severity, c.category) for c in consistency] == ([("advisory", "data")] if sex == "male" else [])


def test_safety012_silent_when_not_pregnant(engine: DualEngine) -> None:
    assert not findings(engine.evaluate(eligible().risk(pregnant=False)), "SAFETY-012")


# -- adverse events of earlier courses (contract 1.1) -------------------------------------------------------


def _course_with(event: str, severity: str = "severe") -> PatientBuilder:
    b = eligible().course(C1, adverse_events=[{"type": event, "severity": severity}]).as_of(day(28))
    return b.set("risk_factors.prior_ig_anaphylaxis", None)  # the flag not recorded: the event still counts


def test_anaphylaxis_on_an_earlier_course_is_a_contraindication(engine: DualEngine) -> None:
    ev = engine.evaluate(_course_with("anaphylaxis"))
    f = finding(ev, "SAFETY-001B")
    assert f.severity == "stop" and "course 1 (2024-01-08)" in f.summary
    assert f.facts == {"course.ae_anaphylaxis": True, "course.number": 1, "course.start": "2024-01-08"}
    assert f.sources == ["ivig_courses[0]"]
    assert ev.status.eligibility == "contraindicated"
    assert ev.status.eligibility_reasons == ["SAFETY-001B"]


@pytest.mark.parametrize(("event", "rule"), [("thrombosis", "SAFETY-006B"), ("renal_injury", "SAFETY-008C"),
                                             ("hemolysis", "SAFETY-011B")])  # fmt: skip
def test_serious_events_on_an_earlier_course_are_precautions(engine: DualEngine, event: str, rule: str) -> None:
    ev = engine.evaluate(_course_with(event).risk(prior_ig_anaphylaxis=False))
    f = finding(ev, rule)
    assert f.severity == "warning"
    assert ev.status.eligibility == "eligible_with_precautions"
    assert rule in ev.status.eligibility_reasons


@pytest.mark.parametrize("event", ["headache", "fever", "rash", "infusion_reaction", "aseptic_meningitis"])
def test_other_events_change_no_eligibility(engine: DualEngine, event: str) -> None:
    ev = engine.evaluate(_course_with(event, "mild").risk(prior_ig_anaphylaxis=False))
    assert ev.status.eligibility == "eligible"


# -- IgA deficiency: the flag or the latest IgA < 7 mg/dL ---------------------------------------------------


@pytest.mark.parametrize("flag", [False, None])
def test_low_iga_with_antibodies_is_contraindicated_whatever_the_flag(
    engine: DualEngine, flag: bool | None
) -> None:
    b = eligible().lab("2024-05-01", "iga_mg_dl", 3).risk(iga_deficiency=flag, anti_iga_antibodies=True)
    ev = engine.evaluate(b)
    f = finding(ev, "SAFETY-002")
    assert f.severity == "stop" and f.facts["patient.iga_mg_dl"] == 3
    assert ev.status.eligibility == "contraindicated"


@pytest.mark.parametrize(("iga", "stop"), [(6.99, True), (7, False)])
def test_iga_boundary_with_antibodies(engine: DualEngine, iga: float, stop: bool) -> None:
    b = eligible().lab("2024-05-01", "iga_mg_dl", iga).risk(anti_iga_antibodies=True)
    assert bool(findings(engine.evaluate(b), "SAFETY-002")) is stop


# -- products: recognised anywhere in the name; unknown is unknown ------------------------------------------


@pytest.mark.parametrize("name", ["Immune globulin IV (Privigen) 10%", "PRIVIGEN", "privigen."])
def test_product_names_are_recognised_in_free_text(engine: DualEngine, name: str) -> None:
    ev = engine.evaluate(with_product(name, hyperprolinemia=True))
    assert finding(ev, "SAFETY-003").severity == "stop"


@pytest.mark.parametrize("name", ["BrandX 10%", "IVIG", "Privigen or Octagam"])
def test_an_unrecognised_product_is_a_data_gap_never_not_proline(engine: DualEngine, name: str) -> None:
    ev = engine.evaluate(with_product(name, hyperprolinemia=True))
    assert not findings(ev, "SAFETY-003")
    (gap,) = gaps_for(ev, "SAFETY-003")
    assert gap.severity == "warning"
    assert "ivig_order.product / ivig_courses[].product" in gap.sources
    assert finding(ev, "SAFETY-003B").severity == "warning"  # hyperprolinemia: avoid proline, whatever the product
    assert ev.status.eligibility == "eligible_with_precautions"


def test_an_unrecognised_product_with_renal_risk_is_a_sucrose_gap(engine: DualEngine) -> None:
    ev = engine.evaluate(with_product("BrandX", diabetes=True))
    assert findings(ev, "SAFETY-008") and not findings(ev, "SAFETY-008B")
    assert gaps_for(ev, "SAFETY-008B")


def test_the_order_s_product_is_checked_before_course_1(engine: DualEngine) -> None:
    ev = engine.evaluate(with_order("Privigen").risk(hyperprolinemia=True))
    f = finding(ev, "SAFETY-003")
    assert f.sources == ["ivig_order", "risk_factors.hyperprolinemia"]
    assert ev.status.eligibility == "contraindicated"


def test_the_order_s_product_wins_over_the_last_course_s(engine: DualEngine) -> None:
    b = with_product("Privigen", hyperprolinemia=True).set("ivig_order", {"product": "Gamunex-C"})
    assert not findings(engine.evaluate(b), "SAFETY-003")


# -- SAFETY-004 / -005: maltose ------------------------------------------------------------------------------


@pytest.mark.parametrize(("product", "fires"), [("Octagam 10%", True), ("Privigen", False)])
def test_safety004_corn_allergy_with_maltose(engine: DualEngine, product: str, fires: bool) -> None:
    ev = engine.evaluate(with_order(product).risk(corn_allergy=True))
    assert bool(findings(ev, "SAFETY-004")) is fires
    if fires:
        f = finding(ev, "SAFETY-004")
        assert f.severity == "warning" and "maltose" in f.summary
        assert ev.status.eligibility == "eligible_with_precautions"


def test_safety004_unknown_product_is_a_gap(engine: DualEngine) -> None:
    ev = engine.evaluate(with_order("BrandX").risk(corn_allergy=True))
    assert not findings(ev, "SAFETY-004") and gaps_for(ev, "SAFETY-004")


@pytest.mark.parametrize(("diabetes", "fires"), [(True, True), (False, False)])
def test_safety005_maltose_and_glucose_monitoring(engine: DualEngine, diabetes: bool, fires: bool) -> None:
    ev = engine.evaluate(with_order("Octagam 5%").risk(diabetes=diabetes))
    assert bool(findings(ev, "SAFETY-005")) is fires
    if fires:
        assert finding(ev, "SAFETY-005").severity == "advisory"


# -- the renal screen: a creatinine or eGFR within 180 days before the reference date ----------------------


@pytest.mark.parametrize(("age_days", "recorded"), [(180, True), (181, False)])
def test_renal_labs_older_than_180_days_are_a_gap(engine: DualEngine, age_days: int, recorded: bool) -> None:
    b = eligible().no_labs().lab("2024-05-01", "iga_mg_dl", 200)
    b.lab(day(-age_days, AS_OF), "creatinine_mg_dl", 0.8)
    ev = engine.evaluate(b)
    assert (ev.status.eligibility == "eligible") is recorded
    if not recorded:
        assert ev.status.eligibility == "screen_incomplete"
        assert ev.status.missing_screen == ["labs[creatinine_mg_dl]"]
        assert "SCREEN-004" in ev.status.eligibility_reasons


def test_a_stale_abnormal_egfr_is_not_evidence(engine: DualEngine) -> None:
    b = eligible().no_labs().lab("2022-01-01", "egfr_ml_min_1_73m2", 30).lab("2024-05-01", "iga_mg_dl", 200)
    ev = engine.evaluate(b)
    assert not findings(ev, "SAFETY-008")
    assert gaps_for(ev, "SAFETY-008")  # the renal risk could not be checked


def test_the_renal_screen_is_judged_before_course_1(engine: DualEngine) -> None:
    # on treatment, the reference date is course 1: a lab 100 days before it counts
    b = eligible().no_labs().lab(day(-100), "egfr_ml_min_1_73m2", 90).lab(day(-100), "iga_mg_dl", 200)
    b.courses(2).as_of(day(300))
    assert engine.evaluate(b).status.eligibility == "eligible"


# -- the minimum screen (screen_incomplete) -----------------------------------------------------------------


def test_no_risk_factors_is_never_eligible(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().no_risk_factors())
    assert ev.status.eligibility == "screen_incomplete"
    assert ev.status.missing_screen == ["risk_factors.prior_ig_anaphylaxis", "risk_factors.hyperprolinemia"]
    assert all(finding(ev, rid).severity == "warning" for rid in ev.status.eligibility_reasons)


@pytest.mark.parametrize(
    ("builder", "missing"),
    [
        (lambda: eligible().risk(prior_ig_anaphylaxis=None), ["risk_factors.prior_ig_anaphylaxis"]),
        (lambda: eligible().risk(iga_deficiency=None).no_labs().lab("2024-05-01", "creatinine_mg_dl", 0.8),
         ["risk_factors.iga_deficiency"]),
        (lambda: eligible().risk(iga_deficiency=True, anti_iga_antibodies=None),
         ["risk_factors.anti_iga_antibodies"]),
        (lambda: eligible().risk(hyperprolinemia=None), ["risk_factors.hyperprolinemia"]),  # no product named
        (lambda: with_order("Privigen").risk(hyperprolinemia=None), ["risk_factors.hyperprolinemia"]),
        (lambda: with_order("BrandX").risk(hyperprolinemia=None), ["risk_factors.hyperprolinemia"]),
    ],
)  # fmt: skip
def test_each_missing_screen_item(engine: DualEngine, builder: object, missing: list[str]) -> None:
    ev = engine.evaluate(builder())  # type: ignore[operator]
    assert ev.status.eligibility == "screen_incomplete"
    assert ev.status.missing_screen == missing


@pytest.mark.parametrize(
    "builder",
    [
        lambda: eligible().risk(iga_deficiency=None),  # the IgA lab settles it
        lambda: with_order("Gamunex-C").risk(hyperprolinemia=None),  # a recognised, proline-free product
        lambda: eligible().risk(iga_deficiency=False, anti_iga_antibodies=None),  # not deficient
    ],
)
def test_screen_complete_when_the_item_is_not_needed(engine: DualEngine, builder: object) -> None:
    ev = engine.evaluate(builder())  # type: ignore[operator]
    assert ev.status.eligibility == "eligible"
    assert ev.status.missing_screen == []
