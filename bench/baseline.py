"""The plain-Python floor a rule engine competes with: the status block as a hand-written if-chain.

:func:`plain_status` computes the ``Status`` block of an evaluation (``src/ivig_cds/model/evaluation.py``)
from the derived facts with ordinary ``if`` statements: every rule in ``rules/*.yaml`` that
concludes a status value (``sets:``) is written out here by hand, and the values are combined the
way ``rules/status.yaml`` says (``exclusive`` / ``precedence`` / ``collect``, ``fact`` fields rounded,
``reasons``, ``context``, ``when``), as :func:`ivig_cds.engine.status.assemble_status` does.

:func:`plain_evaluate` is the whole floor for one patient: the engine's own read + validate
(``load_input``), its ``as_of`` choice and ``Engine.derive``, then :func:`plain_status` - the
steps of ``bench/phases.py`` with the rules, findings, gap analysis and ``Evaluation`` replaced by
the if-chain. Every status field is covered (none is taken from the engine).

The semantics are the rule language's (:mod:`ivig_cds.rulebook.truth`): a missing field never
matches (``x < 3`` is false when ``x`` is ``None``), ``present: false`` is ``is None``, booleans
compare only with booleans. The thresholds are the engine's (site overrides included). Core rules
only: with plugins the chain would miss their rules. ``tests/test_bench_baseline.py`` and
``bench/run.py`` check it equals the engine's ``evaluation.status`` before any timing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from ivig_cds import Engine
from ivig_cds.errors import EngineError
from ivig_cds.facts.derive import Derived
from ivig_cds.inputs.fhir.integration import load_input
from ivig_cds.inputs.files import check_as_of
from ivig_cds.model.evaluation import Status

__all__ = ["STATUS_FIELDS", "check_against_engine", "plain_evaluate", "plain_status"]

STATUS_FIELDS = tuple(Status.model_fields)
"""The fields :func:`plain_status` computes itself: all of them."""

_SCREEN_ORDER = (
    "risk_factors.prior_ig_anaphylaxis",
    "risk_factors.iga_deficiency",
    "risk_factors.anti_iga_antibodies",
    "labs[creatinine_mg_dl]",
    "risk_factors.hyperprolinemia",
)
_ELIGIBILITY_ORDER = (
    "contraindicated",
    "not_eligible",
    "screen_incomplete",
    "eligible_with_precautions",
    "eligible",
)
_NOT_PRIMARY = (
    "dermatomyositis",
    "antisynthetase_syndrome",
    "overlap_myositis",
    "immune_mediated_necrotizing_myopathy",
)
_RF_THROMBOSIS = (
    "rf_immobilized",
    "rf_hypercoagulable_state",
    "rf_thrombosis_history",
    "rf_estrogen_therapy",
    "rf_central_venous_catheter",
    "rf_hyperviscosity",
    "rf_cardiovascular_disease",
    "rf_pregnant",
)
_RF_RENAL = ("rf_diabetes", "rf_volume_depletion", "rf_sepsis", "rf_nephrotoxic_drugs")


def _lt(v: Any, bound: float) -> bool:
    return v is not None and v < bound


def _le(v: Any, bound: float) -> bool:
    return v is not None and v <= bound


def _gt(v: Any, bound: float) -> bool:
    return v is not None and v > bound


def _ge(v: Any, bound: float) -> bool:
    return v is not None and v >= bound


def _one(field: str, got: Iterable[Any], default: Any) -> Any:
    """An ``exclusive`` status field: the one value concluded, the default if none, an error if two."""
    distinct = set(got)
    if len(distinct) > 1:
        raise EngineError(f"rules concluded conflicting values for status.{field}: {sorted(map(str, distinct))}")
    return next(iter(distinct)) if distinct else default


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def plain_status(derived: Derived, t: Mapping[str, Any], as_of_source: str) -> Status:
    """The status block from derived facts, by hand (``t``: the engine's threshold values)."""
    p = derived.patient
    therapies: list[dict[str, Any]] = []
    courses: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    for fact in derived.facts:
        kind = fact["t"]
        if kind == "course":
            courses.append(fact)
        elif kind == "therapy":
            therapies.append(fact)
        elif kind == "therapy_change":
            changes.append(fact)
    elig: list[tuple[str, str]] = []  # (value, rule id), as the rules conclude them
    missing: set[str] = set()

    # diagnosis
    age = p["age_years"]
    condition = p["condition"]
    if _lt(age, t["adult_age_years"]):
        elig.append(("not_eligible", "DX-001"))
    if p["ibm_features"] is True or condition == "inclusion_body_myositis":
        elig.append(("not_eligible", "DX-004"))
    if condition == "other":
        elig.append(("not_eligible", "DX-006"))
    if condition in _NOT_PRIMARY:
        elig.append(("not_eligible", "DX-101"))
    if p["classification"] in ("possible", "unknown"):
        elig.append(("not_eligible", "DX-102"))

    # dosing weight basis
    pct_ideal = p["weight_pct_of_ideal"]
    adjusted = _gt(pct_ideal, 100) and (_ge(p["bmi"], t["adjust_bmi"]) or _gt(pct_ideal, t["adjust_pct_of_ideal"]))

    # refractory
    refractory_got: list[bool] = []
    min_days = t["min_failed_drug_days"]
    failed = False
    for th in therapies:
        cls, outcome = th["agent_class"], th["outcome"]
        if cls in ("steroid_sparing", "procedure") and (
            outcome == "intolerance"
            or (outcome == "inadequate_response" and (cls == "procedure" or _ge(th["duration_days"], min_days)))
        ):
            failed = True
            break
    n_therapies = p["therapies_count"]
    if p["gc_ever_used"] is True and failed:
        refractory_got.append(True)
    if _ge(n_therapies, 1) and not failed:
        refractory_got.append(False)
        elig.append(("not_eligible", "REFRACTORY-101"))
    if _ge(n_therapies, 1) and p["gc_ever_used"] is False:
        refractory_got.append(False)
        elig.append(("not_eligible", "REFRACTORY-102"))
    if n_therapies is not None and n_therapies == 0:
        elig.append(("not_eligible", "REFRACTORY-103"))
    stability = t["stability_days"]
    for ch in changes:
        if (
            ch["agent_class"] in ("glucocorticoid", "steroid_sparing")
            and ch["after_first_course"] is False
            and _ge(ch["days_before_ref"], 0)
            and _lt(ch["days_before_ref"], stability)
        ):
            elig.append(("not_eligible", "REFRACTORY-005"))
            break

    # response
    n_courses = p["courses_count"]
    best = p["best_tis"]
    window = p["response_window_open"]
    deteriorated = p["deterioration_confirmed"]
    not_deteriorated = deteriorated is False or deteriorated is None
    enough = _ge(n_courses, t["response_min_courses"])
    resp: set[str] = set()
    outcome_got: list[str] = []
    if n_courses is not None and n_courses == 0:
        resp.add("not_started")
        outcome_got.append("not_started")
    if _ge(n_courses, 1) and (_lt(n_courses, t["response_min_courses"]) or window is False) and not_deteriorated:
        resp.add("too_early")
    if enough and window is True and not_deteriorated:
        if best is None:
            resp.add("insufficient_data")
        elif best >= t["tis_minimal"]:
            resp.add("responder")
    if enough and window is True and _lt(best, t["tis_minimal"]):
        resp.add("non_responder")
    discontinued = p["discontinued"]
    if discontinued is False and _ge(n_courses, 1) and deteriorated is True:
        resp.add("non_responder")
    response = _one("response", resp, "insufficient_data")
    responder = "responder" in resp

    level_got: list[str] = []
    if responder and best is not None:
        if t["tis_minimal"] <= best < t["tis_moderate"]:
            level_got.append("minimal")
        if t["tis_moderate"] <= best < t["tis_major"]:
            level_got.append("moderate")
        if best >= t["tis_major"]:
            level_got.append("major")

    # outcome
    relapse_alert = False
    if "non_responder" in resp:
        outcome_got.append("non_responder")
    dependent = responder and discontinued is False and _ge(p["weaning_failures"], t["ivig_dependence_failures"])
    if dependent:
        outcome_got.append("ivig_dependent")
    if resp & {"responder", "too_early", "insufficient_data"} and discontinued is False and not dependent:
        outcome_got.append("on_treatment")
    if resp & {"too_early", "insufficient_data"} and discontinued is True:
        outcome_got.append("follow_up")
    if responder and discontinued is True:
        relapsed = p["relapse_found"]
        if relapsed is True:
            outcome_got.append("relapse")
            relapse_alert = True
        elif relapsed is False:
            follow_up = t["follow_up_months"]
            since = p["months_since_discontinuation"]
            assessed = p["months_assessed_after_stop"]
            if _lt(since, follow_up):
                outcome_got.append("follow_up")  # OUT-104
            if _ge(since, follow_up):
                if assessed is None or assessed < follow_up:
                    outcome_got.append("follow_up")  # OUT-104B
                else:
                    other_ongoing = any(
                        th["ongoing"] is True
                        and th["agent_class"] is not None
                        and th["agent_class"] != "glucocorticoid"
                        for th in therapies
                    )
                    gc = p["gc_current_mg"]
                    low = t["low_dose_gc_mg"]
                    if gc is not None and gc == 0 and not other_ongoing:
                        outcome_got.append("remission_off_therapy")  # OUT-001
                    if _gt(gc, 0) and _le(gc, low) and not other_ongoing:
                        outcome_got.append("remission_low_dose_steroid")  # OUT-001B
                    if _gt(gc, low):
                        outcome_got.append("sustained_response_on_therapy")  # OUT-001C
                    if other_ongoing:
                        outcome_got.append("sustained_response_on_therapy")  # OUT-001D
    outcome = _one("outcome", outcome_got, "follow_up")

    # steroid taper
    taper_got: list[bool] = []
    if _ge(n_courses, 1):
        reduction = p["gc_reduction_pct"]
        if _gt(reduction, t["taper_target_pct"]):
            taper_got.append(True)
        if _le(reduction, t["taper_target_pct"]):
            taper_got.append(False)

    # safety
    iga = p["iga_mg_dl"]
    iga_deficient = p["rf_iga_deficiency"] is True or _lt(iga, t["iga_deficiency_mg_dl"])
    anti_iga = p["rf_anti_iga_antibodies"]
    if p["rf_prior_ig_anaphylaxis"] is True:
        elig.append(("contraindicated", "SAFETY-001"))
    if any(c["ae_anaphylaxis"] is True for c in courses):
        elig.append(("contraindicated", "SAFETY-001B"))
    if anti_iga is True and iga_deficient:
        elig.append(("contraindicated", "SAFETY-002"))
    if iga_deficient and anti_iga is not True:
        elig.append(("eligible_with_precautions", "SAFETY-002B"))
    if p["rf_hyperprolinemia"] is True:
        if p["product_proline"] is True:
            elig.append(("contraindicated", "SAFETY-003"))
        else:
            elig.append(("eligible_with_precautions", "SAFETY-003B"))
    if p["rf_corn_allergy"] is True and p["product_maltose"] is True:
        elig.append(("eligible_with_precautions", "SAFETY-004"))
    thrombotic = _ge(age, t["thrombosis_age_years"]) or any(p[k] is True for k in _RF_THROMBOSIS)
    if thrombotic:
        elig.append(("eligible_with_precautions", "SAFETY-006"))
    if any(c["ae_thrombosis"] is True for c in courses):
        elig.append(("eligible_with_precautions", "SAFETY-006B"))
    if p["rf_hyperviscosity"] is True:
        elig.append(("eligible_with_precautions", "SAFETY-007"))
    renal = (
        _lt(p["egfr_ml_min"], t["egfr_renal_risk_ml_min"])
        or _gt(p["creatinine_mg_dl"], t["creatinine_renal_risk_mg_dl"])
        or _gt(age, t["renal_age_years"])
        or any(p[k] is True for k in _RF_RENAL)
    )
    if renal:
        elig.append(("eligible_with_precautions", "SAFETY-008"))
        if p["product_sucrose"] is True:
            elig.append(("eligible_with_precautions", "SAFETY-008B"))
    if any(c["ae_renal_injury"] is True for c in courses):
        elig.append(("eligible_with_precautions", "SAFETY-008C"))
    if p["rf_heart_failure"] is True:
        elig.append(("eligible_with_precautions", "SAFETY-010B" if adjusted else "SAFETY-010"))
    if p["abo_group"] in ("A", "B", "AB") and _ge(p["course_plan_g_per_kg"], t["hemolysis_course_g_per_kg"]):
        elig.append(("eligible_with_precautions", "SAFETY-011"))
    if any(c["ae_hemolysis"] is True for c in courses):
        elig.append(("eligible_with_precautions", "SAFETY-011B"))
    if p["rf_pregnant"] is True:
        elig.append(("eligible_with_precautions", "SAFETY-012"))
    rise, times = t["creatinine_rise_48h_mg_dl"], t["creatinine_rise_x_baseline"]
    if any(_ge(c["creatinine_rise_48h_mg_dl"], rise) or _ge(c["creatinine_x_reference"], times) for c in courses):
        elig.append(("eligible_with_precautions", "SAFETY-009"))
    if _gt(p["rate_x_product_max"], 1):
        elig.append(("eligible_with_precautions", "SAFETY-013"))
    if (thrombotic or renal) and _gt(p["rate_mg_kg_min"], t["risk_max_rate_mg_kg_min"]):
        elig.append(("eligible_with_precautions", "SAFETY-013B"))

    # pre-IVIG screen
    if p["rf_prior_ig_anaphylaxis"] is None:
        elig.append(("screen_incomplete", "SCREEN-001"))
        missing.add("risk_factors.prior_ig_anaphylaxis")
    if p["rf_iga_deficiency"] is None and iga is None:
        elig.append(("screen_incomplete", "SCREEN-002"))
        missing.add("risk_factors.iga_deficiency")
    if anti_iga is None and iga_deficient:
        elig.append(("screen_incomplete", "SCREEN-003"))
        missing.add("risk_factors.anti_iga_antibodies")
    if p["renal_screen_recorded"] is False:
        elig.append(("screen_incomplete", "SCREEN-004"))
        missing.add("labs[creatinine_mg_dl]")
    if p["rf_hyperprolinemia"] is None and (p["product_proline"] is True or p["product_recognised"] is False):
        elig.append(("screen_incomplete", "SCREEN-005"))
        missing.add("risk_factors.hyperprolinemia")

    concluded = {v for v, _ in elig}
    eligibility = next((v for v in _ELIGIBILITY_ORDER if v in concluded), "eligible")
    return Status(
        refractory=_one("refractory", refractory_got, None),
        eligibility=eligibility,  # type: ignore[arg-type]
        eligibility_reasons=sorted({rid for v, rid in elig if v == eligibility}),
        missing_screen=[m for m in _SCREEN_ORDER if m in missing] if eligibility == "screen_incomplete" else [],
        response=response,
        response_level=_one("response_level", level_got, None),
        total_improvement_score=_round(best),
        latest_total_improvement_score=_round(p["latest_tis"]),
        steroid_reduction_pct=_round(p["gc_reduction_pct"]),
        steroid_taper_beyond_50=_one("steroid_taper_beyond_50", taper_got, None),
        outcome=outcome,
        relapse_alert=relapse_alert,
        months_to_relapse=_round(p["months_to_relapse"]) if outcome == "relapse" else None,
        as_of_source=as_of_source,  # type: ignore[arg-type]
    )


def plain_evaluate(engine: Engine, doc: Any, as_of: str | date | None = None) -> Status:
    """Read + validate + derive exactly as ``engine.trace`` does, then the hand-written status chain."""
    model, _ = load_input(doc, as_of=check_as_of(as_of, None) if as_of is not None else None)
    day, source = engine._as_of(as_of, model)
    derived = engine.derive(model, day, [])
    return plain_status(derived, engine._thresholds, source)


def check_against_engine(engine: Engine, docs: Iterable[Any], as_of: str | date | None = None) -> int:
    """Raise ``AssertionError`` naming the patient and fields where :func:`plain_evaluate` differs from
    ``engine.evaluate(doc).status``; return how many patients matched (all of them, or it raised)."""
    n = 0
    for doc in docs:
        want = engine.evaluate(doc, as_of=as_of).status
        got = plain_evaluate(engine, doc, as_of)
        if got != want:
            diff = {
                f: (getattr(got, f), getattr(want, f))
                for f in STATUS_FIELDS
                if getattr(got, f) != getattr(want, f)
            }
            pid = doc.get("patient_id") if isinstance(doc, Mapping) else "?"
            raise AssertionError(f"plain-Python status differs from the engine for {pid}: (plain, engine) {diff}")
        n += 1
    return n
