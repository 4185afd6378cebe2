"""The evaluation pipeline (engine.py): data gaps, as_of, output shape and order, backends, thresholds, errors."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from builders import (
    AS_OF,
    C1,
    RISK_FACTORS,
    TIS_17_5,
    TIS_20,
    TIS_40,
    TIS_60,
    DualEngine,
    PatientBuilder,
    day,
    eligible,
    finding,
    findings,
    gaps_for,
    relapse_candidate,
    responder,
)
from contract_vocab import CATEGORIES
from ivig_cds import Engine, EngineError, Evaluation, PluginError, RuleFileError
from ivig_cds.inputs.files import load_patient
from ivig_cds.model.evaluation import SEVERITY_ORDER

CONTRACT_TOP_LEVEL = {"patient_id", "as_of", "engine", "status", "dose_plan", "findings", "ignored_after_as_of"}
CONTRACT_FINDING = {"rule_id", "category", "severity", "summary", "detail", "evidence", "facts"}
CONTRACT_DOSE_PLAN = {
    "weight_basis",
    "dosing_weight_kg",
    "grams_per_day",
    "days_per_course",
    "interval_weeks",
    "courses_in_first_phase",
}
CONTRACT_ENGINE = {"version", "rulesets", "plugins"}
FULL_VISIT = {
    "mmt8_max": 80,
    "ck_uln_u_per_l": 200,
    "haq": 1.0,
    "physician_global_cm": 5,
    "patient_global_cm": 5,
    "extramuscular_global_cm": 2,
    "dysphagia": "none",
}


@pytest.fixture(scope="module")
def engine() -> DualEngine:
    return DualEngine()


def catalog() -> dict[str, PatientBuilder]:
    """Patients covering every status value and most rules (also used for backend agreement)."""
    relapse = relapse_candidate().assessment(day(240), mmt8=50).as_of(day(250))
    dependent = eligible().courses(3).course(day(112)).course(day(168))
    dependent.assessment(day(-7), mmt8=50).assessment(day(70), mmt8=70)
    dependent.assessment(day(100), mmt8=50).assessment(day(160), mmt8=50).as_of(day(175))
    remission = relapse_candidate().gc(day(90), 0).stop_therapy("prednisone", day(90)).as_of(day(500))
    return {
        "eligible": eligible(),
        "minor": eligible().born("2010-01-01"),
        "anaphylaxis": eligible().risk(prior_ig_anaphylaxis=True),
        "iga": eligible().risk(iga_deficiency=True, anti_iga_antibodies=None),
        "unscreened": eligible().no_risk_factors(),
        "no_history": eligible().no_therapies().no_gc(),
        "short_trial": eligible()
        .no_therapies()
        .therapy("prednisone", "2020-01-01")
        .therapy("methotrexate", "2021-01-01", "2021-03-31"),
        "obese": eligible().demographics(weight_kg=110, abo_group="A").risk(heart_failure=True),
        "obese_other_sex": eligible().demographics(sex="other", weight_kg=130),
        "high_dose_course": eligible()
        .course(C1, days=3, dose=0.7, product="Privigen")
        .risk(hyperprolinemia=True)
        .as_of(day(10)),
        "unstable": eligible().course(C1).gc(day(-20), 30).as_of(day(10)),
        "escalated": eligible()
        .courses(2)
        .gc(day(30), 40)
        .therapy("azathioprine", "2022-01-01", None, outcome="ongoing", dose_changed_on=[day(31)])
        .as_of(day(40)),
        "too_early": eligible().courses(2).as_of(day(30)),
        "insufficient": responder(TIS_40, baseline_at=-120),
        "non_responder": responder(TIS_17_5, n_courses=6),
        "minimal": responder(TIS_20),
        "major": responder(TIS_60, as_of=200).gc(day(100), 5),
        "dependent": dependent,
        "relapse": relapse,
        "flare": relapse_candidate().assessment(day(200), mmt8=70, ck_u_per_l=500).as_of(day(210)),
        "remission": remission,
        "dysphagia": eligible()
        .assessment(day(-50, AS_OF), dysphagia="none")
        .assessment(day(-5, AS_OF), dysphagia="severe"),
    }


@pytest.fixture(scope="module")
def evaluated(engine: DualEngine) -> dict[str, Evaluation]:
    return {name: engine.evaluate(b) for name, b in catalog().items()}


# -- data gaps --------------------------------------------------------------------------------------------


def test_null_risk_factor_of_a_stop_rule_is_a_warning_gap(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().risk(prior_ig_anaphylaxis=None))
    assert not findings(ev, "SAFETY-001")
    (gap,) = gaps_for(ev, "SAFETY-001")
    assert gap.rule_id == "DATA-001"
    assert gap.category == "data"
    assert gap.severity == "warning"  # one step below the stop it could not check
    assert "SAFETY-001" in gap.summary
    assert "risk_factors.prior_ig_anaphylaxis" in gap.summary
    assert gap.sources == ["risk_factors.prior_ig_anaphylaxis"]
    assert gap.facts["missing"] == ["patient.rf_prior_ig_anaphylaxis"]
    assert gap.evidence
    assert all(f.severity in ("stop", "warning") for f in ev.findings[: ev.findings.index(gap)])


def test_absent_risk_factor_screen_reports_every_undecidable_stop_rule(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().no_risk_factors())
    gapped = {g.facts["rule"] for g in findings(ev, "DATA-001") if g.severity == "warning"}
    assert {"SAFETY-001", "SAFETY-002"} <= gapped


@pytest.mark.parametrize("factor", sorted(set(RISK_FACTORS) - {"anti_iga_antibodies", "corn_allergy"}))
def test_missing_risk_factor_is_never_silently_negative(engine: DualEngine, factor: str) -> None:
    ev = engine.evaluate(eligible().risk(**{factor: None}))
    named = [g for g in findings(ev, "DATA-001") if f"risk_factors.{factor}" in g.sources]
    assert named, f"risk_factors.{factor} = null produced no DATA-001"


def test_anti_iga_only_matters_with_iga_deficiency(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().risk(anti_iga_antibodies=None))
    assert not gaps_for(ev, "SAFETY-002")  # decided: no IgA deficiency
    ev = engine.evaluate(eligible().risk(iga_deficiency=True, anti_iga_antibodies=None))
    assert gaps_for(ev, "SAFETY-002")


def test_no_gap_for_a_rule_that_fired(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().risk(immobilized=True, thrombosis_history=None))
    assert findings(ev, "SAFETY-006")
    assert not gaps_for(ev, "SAFETY-006")


def test_fully_recorded_patients_have_no_data_gap(engine: DualEngine) -> None:
    on_ivig = eligible().courses(3).assessment(day(-7), mmt8=50, ck_u_per_l=1000, **FULL_VISIT)
    on_ivig.assessment(day(70), mmt8=66, ck_u_per_l=400, **FULL_VISIT).as_of(day(75))
    before = eligible().assessment(day(-30, AS_OF), mmt8=50, ck_u_per_l=1000, **FULL_VISIT)
    for b in (on_ivig, before):
        ev = engine.evaluate(b)
        assert not findings(ev, "DATA-001"), [g.summary for g in findings(ev, "DATA-001")]


def test_gap_findings_name_a_rule_and_patient_file_inputs(
    engine: DualEngine, evaluated: dict[str, Evaluation]
) -> None:
    for name, ev in evaluated.items():
        for gap in findings(ev, "DATA-001"):
            assert gap.facts["rule"] in engine.durable.rules, name
            assert gap.sources, (name, gap.summary)
            for source in gap.sources:
                assert not source.startswith("conclusion."), f"{name}: {gap.summary}"


# -- ignored_after_as_of ---------------------------------------------------------------------------------


def test_ignored_after_as_of_counts_every_later_record(engine: DualEngine) -> None:
    later = day(10, AS_OF)
    b = eligible()
    b.therapy("azathioprine", later)  # 1: starts after as_of
    b.therapy(
        "mycophenolate", "2022-01-01", later, outcome="intolerance", dose_changed_on=["2022-06-01", day(5, AS_OF)]
    )  # 2: stop and one dose change after
    b.gc(later, 5)  # 1
    b.assessment(later, mmt8=40).assessment(day(-10, AS_OF), mmt8=50)  # 1
    b.lab(later, "egfr_ml_min_1_73m2", 30)  # 1
    b.course(day(-20, AS_OF)).course(later)  # 1
    b.discontinue(later)  # 1
    ev = engine.evaluate(b)
    assert ev.ignored_after_as_of == 8
    assert not findings(ev, "SAFETY-008")  # the later eGFR is not used
    assert ev.status.outcome == "on_treatment"  # the later discontinuation is not used
    assert ev.status.steroid_reduction_pct == 0.0  # the later 5 mg step is not used


def test_therapy_stopping_after_as_of_is_ongoing(engine: DualEngine) -> None:
    b = eligible().therapy("azathioprine", "2022-01-01", day(10, AS_OF), outcome="intolerance")
    derived = engine.durable.derive(load_patient(b.build()), AS_OF)
    aza = next(f for f in derived.facts if f["t"] == "therapy" and f["agent"] == "azathioprine")
    assert aza["ongoing"] is True
    assert aza["duration_days"] == (AS_OF - date(2022, 1, 1)).days


def test_nothing_ignored_by_default(evaluated: dict[str, Evaluation]) -> None:
    assert evaluated["eligible"].ignored_after_as_of == 0


# -- as_of -------------------------------------------------------------------------------------------------


def test_as_of_argument_overrides_the_file(engine: DualEngine) -> None:
    b = eligible().born("2006-01-01")  # 18 at the file's as_of (2024-06-01)
    assert not findings(engine.evaluate(b), "DX-001")
    ev = engine.evaluate(b, as_of=date(2023, 12, 31))
    assert ev.as_of == "2023-12-31"
    assert finding(ev, "DX-001").facts["patient.age_years"] == 17
    assert all(f.dates.get("as_of", "2023-12-31") == "2023-12-31" for f in ev.findings)


def test_as_of_argument_truncates_records(engine: DualEngine) -> None:
    b = responder(TIS_40)  # as_of day 70 in the file
    ev = engine.evaluate(b, as_of=day(40))
    assert ev.status.response == "too_early"
    assert ev.ignored_after_as_of == 2  # course 3 and the day-70 visit


def test_as_of_argument_for_a_file_without_as_of(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().as_of(None), as_of=date(2024, 3, 1))
    assert ev.as_of == "2024-03-01"
    assert ev.status.eligibility == "eligible"


def test_as_of_from_the_file_when_no_argument(engine: DualEngine) -> None:
    assert engine.evaluate(eligible()).as_of == AS_OF.isoformat()


# -- output shape ---------------------------------------------------------------------------------------------


def test_top_level_keys_are_the_contract_plus_documented_extras(evaluated: dict[str, Evaluation]) -> None:
    for ev in evaluated.values():
        keys = set(json.loads(ev.to_json()))
        assert keys >= CONTRACT_TOP_LEVEL
        for extra in keys - CONTRACT_TOP_LEVEL:
            assert Evaluation.model_fields[extra].description, f"undocumented top-level key {extra!r}"


def test_nested_objects_carry_the_contract_fields(evaluated: dict[str, Evaluation]) -> None:
    data = json.loads(evaluated["obese"].to_json())
    assert set(data["engine"]) >= CONTRACT_ENGINE
    assert all({"name", "version", "sha256"} <= set(r) for r in data["engine"]["rulesets"])
    assert set(data["dose_plan"]) >= CONTRACT_DOSE_PLAN
    assert data["patient_id"] == "pt-001"
    for f in data["findings"]:
        assert set(f) >= CONTRACT_FINDING


def test_every_finding_is_complete(evaluated: dict[str, Evaluation]) -> None:
    for name, ev in evaluated.items():
        for f in ev.findings:
            assert f.rule_id and f.rule_version, name
            assert f.evidence and all(isinstance(e, str) and e for e in f.evidence), (name, f.rule_id)
            assert isinstance(f.facts, dict) and f.facts, (name, f.rule_id)
            assert f.severity in SEVERITY_ORDER
            assert f.category in CATEGORIES, (name, f.rule_id, f.category)
            assert f.summary and "{" not in f.summary, (name, f.summary)


def test_findings_sorted_by_severity_then_rule_id(evaluated: dict[str, Evaluation]) -> None:
    for name, ev in evaluated.items():
        keys = [(SEVERITY_ORDER[f.severity], f.rule_id) for f in ev.findings]
        assert keys == sorted(keys), name


def test_catalog_covers_every_severity(evaluated: dict[str, Evaluation]) -> None:
    seen = {f.severity for ev in evaluated.values() for f in ev.findings}
    assert seen == set(SEVERITY_ORDER)


def test_evaluate_accepts_a_file_path(engine: DualEngine, tmp_path: Path) -> None:
    b = responder(TIS_40)
    path = tmp_path / "patient.json"
    path.write_text(json.dumps(b.build()), encoding="utf-8")
    assert engine.durable.evaluate(path).to_json() == engine.durable.evaluate(b.build()).to_json()


# -- backends -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(catalog()))
def test_backends_agree(engine: DualEngine, name: str) -> None:
    b = catalog()[name].build()
    durable, reference = engine.durable.evaluate(b), engine.reference.evaluate(b)
    assert durable.engine.backend == "durable"
    assert reference.engine.backend == "reference"
    d, r = json.loads(durable.to_json()), json.loads(reference.to_json())
    d["engine"].pop("backend")
    r["engine"].pop("backend")
    assert d == r


def test_unknown_backend_is_an_engine_error() -> None:
    with pytest.raises(EngineError):
        Engine(backend="prolog")  # type: ignore[arg-type]


# -- thresholds -----------------------------------------------------------------------------------------


def test_threshold_override_changes_dx001() -> None:
    site = DualEngine(thresholds={"adult_age_years": 21})
    nineteen = eligible().born("2005-01-01")
    ev = site.evaluate(nineteen)
    f = finding(ev, "DX-001")
    assert f.thresholds["adult_age_years"] == 21
    assert "Age 19 is under 21" in f.summary
    assert ev.engine.thresholds_overridden == {"adult_age_years": 21}
    assert ev.status.eligibility == "not_eligible"
    default = Engine()
    assert not findings(default.evaluate(nineteen.build()), "DX-001")
    assert default.info.thresholds_overridden == {}
    assert ev.engine.ruleset_hash != default.info.ruleset_hash


@pytest.mark.parametrize(
    "overrides",
    [
        {"no_such_threshold": 1},
        {"adult_age_years": "eighteen"},
        {"adult_age_years": True},
        {"courses_in_first_phase": 4},
    ],
    ids=["unknown", "string_for_number", "bool_for_number", "number_for_string"],
)
def test_invalid_threshold_override_is_a_rule_file_error(overrides: dict[str, Any]) -> None:
    with pytest.raises(RuleFileError):
        Engine(thresholds=overrides)


# -- engine errors ------------------------------------------------------------------------------------------


def test_failing_rule_action_raises_engine_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from ivig_cds.backends import _durable

    original = _durable.DurableBackend._recorder

    def failing(self: Any, rule: Any, chain: bool) -> Callable[[Any], None]:
        record = original(self, rule, chain)

        def action(c: Any) -> None:
            if rule.id == "REFRACTORY-001":
                raise RuntimeError("action exploded")
            record(c)

        return action

    monkeypatch.setattr(_durable.DurableBackend, "_recorder", failing)
    broken = Engine()
    with pytest.raises(EngineError, match="action exploded"):
        broken.evaluate(eligible().build())
    # patients whose facts do not reach the failing action still evaluate
    assert broken.evaluate(eligible().no_therapies().no_gc().build()).status.refractory is None


@pytest.mark.parametrize("backend", ["durable", "reference"])
def test_backend_failure_is_an_engine_error_not_a_partial_result(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    eng = Engine(backend=backend)  # type: ignore[arg-type]

    def boom(*_: Any, **__: Any) -> Iterator[Any]:
        raise ValueError("backend exploded")

    monkeypatch.setattr(eng._backend, "run", boom)
    with pytest.raises(EngineError, match=f"^{backend} backend failed: ValueError$") as caught:
        eng.evaluate(eligible().build())
    assert "exploded" not in str(caught.value)  # a backend's message can quote the facts: never echoed


def test_a_plugin_rule_that_would_rewrite_a_core_conclusion_is_refused_and_isolated(tmp_path: Path) -> None:
    """A site rule may only make eligibility stricter: one setting ``refractory`` is a plugin failure.

    The core rules still run, untouched: the patient stays refractory and the site rule never loads.
    """
    rule_file = tmp_path / "site.yaml"
    rule_file.write_text(
        "family: site\nversion: 1.0.0\nrules:\n"
        "  - id: site:SITE-001\n    version: 1.0.0\n    title: Always not refractory\n    category: site\n"
        "    severity: info\n    evidence: [design_choice]\n"
        "    when: [{fact: patient, as: p, where: {therapies_count: {ge: 1}}}]\n"
        "    sets: {refractory: false}\n    summary: conflicting\n",
        encoding="utf-8",
    )
    eng = Engine(extra_rule_files=[(rule_file, "site")])
    failures = {f.plugin: f for f in eng.info.plugin_failures}
    assert "site" in failures and "may set only eligibility" in failures["site"].error
    assert not any(r.startswith("site:") for r in eng.rules)
    ev = eng.evaluate(eligible().build())
    assert ev.status.refractory is True
    assert "site:SITE-001" not in {f.rule_id for f in ev.findings}
    with pytest.raises(PluginError, match="may set only eligibility"):
        Engine(extra_rule_files=[(rule_file, "site")], strict_plugins=True)
