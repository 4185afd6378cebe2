"""Fact derivation: pure functions from a patient snapshot to the facts the rules test.

Nothing here decides anything clinical: it measures (ages, weights, doses in effect, scores,
intervals) and hands numbers to the rules, which hold the decisions and their thresholds.
Every function is deterministic and reads no clock: ``as_of`` is always passed in.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from ivig_cds.facts.scoring import TisResult, TisTable, total_improvement_score
from ivig_cds.model.patient import Assessment, GlucocorticoidDose, IvigCourse, Patient, Therapy
from ivig_cds.model.terminology import ProductTable

__all__ = [
    "DAYS_PER_MONTH",
    "Derived",
    "age_years",
    "body_weights",
    "derive",
    "dose_in_effect",
    "months_between",
    "truncate",
]

DAYS_PER_MONTH = 30.4375
GLUCOCORTICOIDS = frozenset(
    {"prednisone", "prednisolone", "methylprednisolone", "dexamethasone", "hydrocortisone", "deflazacort"}
)


@dataclass
class Derived:
    """The derived facts of one patient, plus the context used to assemble status and dose plan.

    Attributes:
        facts: Fact dicts (``t`` = fact type), in a deterministic order; ``None`` fields kept.
        refs: For each fact, the patient-file path it came from (``therapies[2]``), or ``""``.
        context: Values the status block, dose plan and messages use (dates, TIS details, ...).
        ignored_after_as_of: Records dated after ``as_of`` that were left out.
    """

    facts: list[dict[str, Any]] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    ignored_after_as_of: int = 0

    def add(self, fact: dict[str, Any], ref: str = "") -> None:
        self.facts.append(fact)
        self.refs.append(ref)

    @property
    def patient(self) -> dict[str, Any]:
        return self.facts[0]


def months_between(start: date, end: date) -> float:
    """Months (of 30.4375 days) from ``start`` to ``end``, one decimal."""
    return round((end - start).days / DAYS_PER_MONTH, 1)


def age_years(birth: date, on: date) -> int:
    """Age in completed years on a date."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def body_weights(
    weight_kg: float | None, height_cm: float | None, sex: str | None, t: Mapping[str, Any]
) -> dict[str, float | None]:
    """BMI, Devine ideal weight, adjusted weight and weight as % of ideal (``None`` where not computable).

    Devine: 50 kg (men) / 45.5 kg (women) + 2.3 kg per inch over 60 in (none below 60 in); adjusted = ideal +
    factor × (actual − ideal). Sex other than female/male leaves the ideal weight unknown.
    """
    out: dict[str, float | None] = dict.fromkeys(
        ("bmi", "ideal_weight_kg", "adjusted_weight_kg", "weight_pct_of_ideal")
    )
    if weight_kg is None or height_cm is None:
        return out
    out["bmi"] = round(weight_kg / (height_cm / 100) ** 2, 1)
    base = {"male": t["ibw_male_base_kg"], "female": t["ibw_female_base_kg"]}.get(sex or "")
    if base is None:
        return out
    # "+ 2.3 kg per inch over 60 in": shorter patients keep the base weight (never below it)
    ideal = base + t["ibw_kg_per_inch_over_60"] * max(0.0, height_cm / 2.54 - 60)
    if ideal <= 0:
        return out
    out["ideal_weight_kg"] = round(ideal, 1)
    out["adjusted_weight_kg"] = round(ideal + t["adjbw_factor"] * (weight_kg - ideal), 1)
    out["weight_pct_of_ideal"] = round(weight_kg / ideal * 100, 1)
    return out


def dose_in_effect(doses: Sequence[GlucocorticoidDose], on: date) -> float | None:
    """Prednisone-equivalent mg/day in effect on a date (step function), or ``None`` before any entry."""
    current: float | None = None
    for d in doses:  # sorted by date
        if d.date <= on:
            current = float(d.prednisone_mg_per_day)
        else:
            break
    return current


def truncate(patient: Patient, as_of: date) -> tuple[dict[str, Any], int]:
    """The records known at ``as_of`` (sorted by date), and how many were ignored.

    A therapy that started before ``as_of`` but stopped after it is kept as ongoing; its stop
    date counts as one ignored record, as does each dose change or discontinuation after ``as_of``.
    """
    ignored = 0
    therapies: list[tuple[int, Therapy, date | None, list[date]]] = []
    for i, t in enumerate(patient.therapies):
        if t.start > as_of:
            ignored += 1
            continue
        stop = t.stop
        if stop is not None and stop > as_of:
            ignored += 1
            stop = None
        changes = sorted(d for d in (t.dose_changed_on or []) if d <= as_of)
        ignored += len(t.dose_changed_on or []) - len(changes)
        therapies.append((i, t, stop, changes))

    def keep(items: Iterable[Any], key: str) -> list[tuple[int, Any]]:
        nonlocal ignored
        kept = []
        for i, x in enumerate(items):
            if getattr(x, key) > as_of:
                ignored += 1
            else:
                kept.append((i, x))
        return sorted(kept, key=lambda ix: (getattr(ix[1], key), ix[0]))

    gc = [d for _, d in keep(patient.glucocorticoid_doses, "date")]
    assessments = keep(patient.assessments, "date")
    labs = keep(patient.labs, "date")
    courses = keep(patient.ivig_courses, "start")
    stopped = patient.ivig_discontinued_on
    if stopped is not None and stopped > as_of:
        ignored += 1
        stopped = None
    return (
        {
            "therapies": therapies,
            "gc": gc,
            "assessments": assessments,
            "labs": labs,
            "courses": courses,
            "discontinued_on": stopped,
        },
        ignored,
    )


def _pct(a: Assessment) -> float | None:
    """MMT-8 as % of its scale maximum, so 0–80 and 0–150 scores compare."""
    return None if a.mmt8 is None else a.mmt8 / a.mmt8_max * 100


def _at_most_pct(score: float, best: float, pct: float) -> bool:
    """``score <= pct % of best``, exact at the boundary (44/80 is exactly 80% of 55/80)."""
    return score * 100 <= best * pct + 1e-9 * max(1.0, best * pct)


def _ck_x_uln(a: Assessment) -> float | None:
    if a.ck_u_per_l is None:
        return None
    ratio = a.ck_u_per_l / a.ck_uln_u_per_l
    # a huge CK over a tiny ULN overflows: keep it the largest finite number (inf - inf is NaN)
    return ratio if math.isfinite(ratio) else sys.float_info.max


def _agent_class(agent: str, terminology: Mapping[str, Any]) -> str:
    classes: Mapping[str, Sequence[str]] = terminology.get("agent_classes", {})
    for cls, agents in classes.items():
        if agent in agents:
            return str(cls)
    return "other"


_TABLES: dict[int, tuple[Mapping[str, Any], ProductTable]] = {}


def product_table(terminology: Mapping[str, Any]) -> ProductTable:
    """The product table of a terminology mapping, built once per mapping."""
    hit = _TABLES.get(id(terminology))
    if hit is None or hit[0] is not terminology:
        if len(_TABLES) > 256:
            _TABLES.clear()
        table = ProductTable.from_mapping(terminology, source="terminology.yaml")
        hit = _TABLES[id(terminology)] = (terminology, table)
    return hit[1]


def _stabilizer(product: str | None, terminology: Mapping[str, Any]) -> str:
    info = product_table(terminology).lookup(product)
    return info.product.stabilizers[0] if info.product is not None else "unknown"


def derive(
    patient: Patient,
    as_of: date,
    thresholds: Mapping[str, Any],
    terminology: Mapping[str, Any],
    tis: TisTable,
) -> Derived:
    """Derive every fact the rules use from a validated patient snapshot, as of a date."""
    t = thresholds
    kept, ignored = truncate(patient, as_of)
    out = Derived(ignored_after_as_of=ignored)
    demo, dx = patient.demographics, patient.diagnosis
    courses: list[tuple[int, IvigCourse]] = kept["courses"]
    assessments: list[tuple[int, Assessment]] = kept["assessments"]
    gc: list[GlucocorticoidDose] = kept["gc"]
    stopped: date | None = kept["discontinued_on"]
    first = courses[0][1].start if courses else None
    ref_date = first or as_of

    p: dict[str, Any] = {"t": "patient", "age_years": age_years(demo.birth_date, as_of)}
    p["sex"] = str(demo.sex) if demo.sex is not None else None
    p["weight_kg"], p["height_cm"] = demo.weight_kg, demo.height_cm
    p.update(body_weights(demo.weight_kg, demo.height_cm, p["sex"], t))
    p["abo_group"] = str(demo.abo_group) if demo.abo_group is not None else None
    p["condition"], p["classification"] = str(dx.condition), str(dx.classification)
    for key in ("ibm_features", "statin_exposure", "anti_hmgcr", "anti_srp"):
        p[key] = getattr(dx, key)
    for key, value in patient.risk_factors.model_dump().items():
        p[f"rf_{key}"] = value

    # therapies and stability
    therapy_facts: list[tuple[dict[str, Any], str]] = []
    changes: list[tuple[dict[str, Any], str]] = []
    gc_used = any(d.prednisone_mg_per_day > 0 for d in gc)
    for i, th, stop, dose_changes in kept["therapies"]:
        agent = str(th.agent)
        cls = _agent_class(agent, terminology)
        gc_used = gc_used or cls == "glucocorticoid"
        end = stop or as_of
        therapy_facts.append(
            (
                {
                    "t": "therapy",
                    "agent": agent,
                    "agent_class": cls,
                    "outcome": str(th.outcome),
                    "duration_days": (end - th.start).days,
                    "ongoing": stop is None,
                    "start": th.start.isoformat(),
                },
                f"therapies[{i}]",
            )
        )
        events = [("start", th.start, "unknown")] + [("dose_change", d, "unknown") for d in dose_changes]
        if stop is not None:
            events.append(("stop", stop, "decrease"))
        for kind, day, direction in events:
            changes.append(
                (
                    _change(agent, cls, kind, day, "increase" if kind == "start" else direction, ref_date, first),
                    f"therapies[{i}]",
                )
            )
    previous: float | None = None
    for d in gc:
        dose = float(d.prednisone_mg_per_day)
        if previous is not None and dose != previous:
            direction = "increase" if dose > previous else "decrease"
            changes.append(
                (
                    _change(
                        "prednisone_equivalent",
                        "glucocorticoid",
                        "dose_change",
                        d.date,
                        direction,
                        ref_date,
                        first,
                    ),
                    "glucocorticoid_doses",
                )
            )
        previous = dose
    p["therapies_count"] = len(therapy_facts)
    p["gc_ever_used"] = gc_used if (therapy_facts or gc) else None

    # labs: latest value of each test
    latest: dict[str, float] = {}
    for _, lab in kept["labs"]:
        latest[str(lab.test)] = float(lab.value)
    p["egfr_ml_min"] = latest.get("egfr_ml_min_1_73m2")
    p["creatinine_mg_dl"] = latest.get("creatinine_mg_dl")
    p["iga_mg_dl"] = latest.get("iga_mg_dl")
    ck_seen = [(a.date, _ck_x_uln(a)) for _, a in assessments if a.ck_u_per_l is not None]
    p["latest_ck_x_uln"] = round(ck_seen[-1][1], 2) if ck_seen and ck_seen[-1][1] is not None else None

    # courses and dose plan inputs
    course_facts = []
    for n, (i, c) in enumerate(courses, start=1):
        course_facts.append(
            (
                {
                    "t": "course",
                    "number": n,
                    "start": c.start.isoformat(),
                    "days": c.days,
                    "dose_g_per_kg_per_day": c.dose_g_per_kg_per_day,
                    "course_g_per_kg": round(c.days * c.dose_g_per_kg_per_day, 3),
                    "product": c.product,
                    "product_stabilizer": _stabilizer(c.product, terminology),
                },
                f"ivig_courses[{i}]",
            )
        )
    p["courses_count"] = len(courses)
    p["months_since_first_course"] = months_between(first, as_of) if first else None
    plan_g_per_kg = t["dose_g_per_kg_per_day"] * t["days_per_course"]
    p["course_plan_g_per_kg"] = course_facts[-1][0]["course_g_per_kg"] if course_facts else plan_g_per_kg
    p["product"] = course_facts[-1][0]["product"] if course_facts else None
    p["product_stabilizer"] = course_facts[-1][0]["product_stabilizer"] if course_facts else "unknown"
    p["discontinued"] = stopped is not None
    p["months_since_discontinuation"] = months_between(stopped, as_of) if stopped else None

    # glucocorticoids
    baseline_gc = dose_in_effect(gc, first) if first else None
    current_gc = dose_in_effect(gc, as_of)
    if current_gc is None and not any(
        f["agent_class"] == "glucocorticoid" and f["ongoing"] for f, _ in therapy_facts
    ):
        current_gc = 0.0 if therapy_facts or gc else None  # no glucocorticoid ongoing: none in effect
    p["gc_baseline_mg"], p["gc_current_mg"] = baseline_gc, current_gc
    reduction = pct_of_baseline = math.nan
    if baseline_gc and current_gc is not None:
        reduction = (baseline_gc - current_gc) / baseline_gc * 100
        pct_of_baseline = current_gc / baseline_gc * 100
    if math.isfinite(reduction) and math.isfinite(pct_of_baseline):  # a near-0 baseline overflows
        p["gc_reduction_pct"] = round(reduction, 1)
        p["gc_current_pct_of_baseline"] = round(pct_of_baseline, 1)
    else:
        p["gc_reduction_pct"] = p["gc_current_pct_of_baseline"] = None

    out.context.update(first_course=first, discontinued_on=stopped, as_of=as_of, ref_date=ref_date)
    _response(p, out, courses, assessments, stopped, as_of, t, tis)
    _dysphagia(p, assessments)
    _weaning(p, courses, assessments, stopped, as_of, t)
    _relapse(p, out, assessments, first, stopped, as_of, t)

    ml_per_kg = t["dose_g_per_kg_per_day"] / (t["product_concentration_pct"] / 100)
    p["daily_volume_ml"] = round(demo.weight_kg * ml_per_kg, 0) if demo.weight_kg is not None else None
    adjusted = p.get("adjusted_weight_kg")
    p["daily_volume_adjusted_ml"] = round(adjusted * ml_per_kg, 0) if adjusted is not None else None

    out.add(p, "")
    for fact, ref in therapy_facts + changes + course_facts:
        out.add(fact, ref)
    return out


def _change(
    agent: str, cls: str, kind: str, day: date, direction: str, ref_date: date, first: date | None
) -> dict[str, Any]:
    return {
        "t": "therapy_change",
        "agent": agent,
        "agent_class": cls,
        "kind": kind,
        "direction": direction,
        "date": day.isoformat(),
        "days_before_ref": (ref_date - day).days,
        "after_first_course": first is not None and day > first,
    }


def _response(
    p: dict[str, Any],
    out: Derived,
    courses: Sequence[tuple[int, IvigCourse]],
    assessments: Sequence[tuple[int, Assessment]],
    stopped: date | None,
    as_of: date,
    t: Mapping[str, Any],
    tis: TisTable,
) -> None:
    first = courses[0][1].start if courses else None
    baseline: Assessment | None = None
    if first is not None:
        window_start = first - timedelta(days=int(t["baseline_window_days"]))
        before = [a for _, a in assessments if window_start <= a.date <= first]
        baseline = before[-1] if before else None
    p["baseline_mmt8"] = baseline.mmt8 if baseline is not None else None
    out.context["baseline_date"] = baseline.date if baseline else None
    p["baseline_ck_x_uln"] = _round(_ck_x_uln(baseline)) if baseline is not None else None
    n_min = int(t["response_min_courses"])
    p["response_window_open"] = False
    p["best_tis"] = None
    p["ck_by_course4_x_uln"] = p["ck_fall_by_course4_pct"] = None
    if len(courses) < n_min:
        return
    third = courses[n_min - 1][1].start
    opens = third + timedelta(days=int(t["response_assessment_delay_days"]))
    closes = as_of
    if stopped is not None:
        closes = min(as_of, stopped + timedelta(days=int(t["post_discontinuation_window_days"])))
    window = [a for _, a in assessments if opens <= a.date <= closes]
    p["response_window_open"] = any(a.date >= opens for _, a in assessments)
    if baseline is not None and baseline.mmt8 is not None and window:
        scored: list[tuple[float, date, TisResult]] = []
        for a in window:
            result = total_improvement_score(baseline, a, tis)
            scored.append((result.score, a.date, result))
        best = max(scored, key=lambda s: (s[0], -s[1].toordinal()))
        p["best_tis"] = best[0]
        out.context["best_tis_date"] = best[1]
        out.context["best_tis_result"] = best[2]
    # CK before course 4 (or latest after course 3 when course 4 has not started)
    fourth = courses[n_min][1].start if len(courses) > n_min else as_of
    ck_after = [a for _, a in assessments if third < a.date <= fourth and a.ck_u_per_l is not None]
    base_ck = [
        a
        for _, a in assessments
        if first is not None
        and a.date <= first
        and a.ck_u_per_l is not None
        and a.date >= first - timedelta(days=int(t["baseline_window_days"]))
    ]
    if ck_after and base_ck:
        ck_before, ck_after4 = _ck_x_uln(base_ck[-1]), _ck_x_uln(ck_after[-1])
        if ck_before is not None and ck_after4 is not None:
            p["baseline_ck_x_uln"] = _round(ck_before)
            p["ck_by_course4_x_uln"] = _round(ck_after4)
            p["ck_fall_by_course4_pct"] = (
                round((ck_before - ck_after4) / ck_before * 100, 1) if ck_before > 0 else None
            )


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


_DYSPHAGIA = {"none": 0, "mild": 1, "severe": 2}


def _dysphagia(p: dict[str, Any], assessments: Sequence[tuple[int, Assessment]]) -> None:
    graded = [str(a.dysphagia) for _, a in assessments if a.dysphagia is not None]
    p["dysphagia_latest"] = graded[-1] if graded else None
    p["dysphagia_previous"] = graded[-2] if len(graded) > 1 else None
    if len(graded) > 1:
        p["dysphagia_worsened"] = _DYSPHAGIA[graded[-1]] > _DYSPHAGIA[graded[-2]]
    elif graded:
        p["dysphagia_worsened"] = graded[-1] != "none"  # new dysphagia at the first graded visit
    else:
        p["dysphagia_worsened"] = None


def _weaning(
    p: dict[str, Any],
    courses: Sequence[tuple[int, IvigCourse]],
    assessments: Sequence[tuple[int, Assessment]],
    stopped: date | None,
    as_of: date,
    t: Mapping[str, Any],
) -> None:
    """Count intervals longer than the weaning gap in which MMT-8 fell to ≤ the weaning % of its best."""
    if not courses:
        p["weaning_failures"] = None
        return
    first = courses[0][1].start
    starts = [c.start for _, c in courses]
    ends = starts[1:] + ([] if stopped is not None else [as_of])
    gap, pct = int(t["weaning_gap_days"]), float(t["weaning_mmt8_pct_of_best"])
    failures = 0
    for begin, end in zip(starts, ends, strict=False):
        if (end - begin).days <= gap:
            continue
        best: float | None = None
        failed = False
        for _, a in assessments:
            score = _pct(a)
            if score is None or a.date < first:
                continue
            if begin < a.date <= end and best is not None and _at_most_pct(score, best, pct):
                failed = True
            best = score if best is None else max(best, score)
        failures += failed
    p["weaning_failures"] = failures


def _relapse(
    p: dict[str, Any],
    out: Derived,
    assessments: Sequence[tuple[int, Assessment]],
    first: date | None,
    stopped: date | None,
    as_of: date,
    t: Mapping[str, Any],
) -> None:
    """Find the first post-discontinuation assessment meeting the relapse criteria; plan surveillance."""
    p["relapse_found"] = p["ck_flare_only"] = None
    p["relapse_kind"] = p["months_to_relapse"] = None
    p["surveillance_missed"] = p["months_to_next_surveillance"] = None
    if first is None or stopped is None:
        return
    p["relapse_found"] = p["ck_flare_only"] = False
    best: float | None = None
    nadir: float | None = None
    for _, a in assessments:
        if a.date < first:
            continue
        score, ck = _pct(a), _ck_x_uln(a)
        if a.date > stopped and best is not None:
            strength = score is not None and _at_most_pct(score, best, float(t["relapse_mmt8_pct_of_best"]))
            ck_rise = (
                ck is not None and ck > 1 and nadir is not None and ck >= nadir * float(t["relapse_ck_x_nadir"])
            )
            softer = score is not None and _at_most_pct(score, best, float(t["relapse_ck_mmt8_pct_of_best"]))
            if strength or (softer and ck_rise):
                p["relapse_found"] = True
                p["relapse_kind"] = "strength" if strength else "strength_and_ck"
                p["months_to_relapse"] = months_between(stopped, a.date)
                out.context["relapse_date"] = a.date
                break
            if ck_rise:
                p["ck_flare_only"] = True
                out.context["ck_flare_date"] = a.date
        if score is not None:
            best = score if best is None else max(best, score)
        if ck is not None:
            nadir = ck if nadir is None else min(nadir, ck)
    # relapse-watch visits: every N months to month M, then every K months to month L
    due: list[float] = []
    m = float(t["surveillance_interval_months"])
    while m <= float(t["surveillance_until_months"]):
        due.append(m)
        m += float(t["surveillance_interval_months"])
    m = due[-1] + float(t["surveillance_late_interval_months"]) if due else 0.0
    while m <= float(t["surveillance_late_until_months"]):
        due.append(m)
        m += float(t["surveillance_late_interval_months"])
    elapsed = (as_of - stopped).days / DAYS_PER_MONTH
    grace = float(t["surveillance_grace_days"]) / DAYS_PER_MONTH
    visits = [(a.date - stopped).days / DAYS_PER_MONTH for _, a in assessments if a.date > stopped]

    def attended(d: float) -> bool:
        return any(abs(v - d) <= grace for v in visits)

    p["surveillance_missed"] = sum(1 for d in due if d + grace < elapsed and not attended(d))
    upcoming = [d for d in due if d + grace >= elapsed and not attended(d)]
    p["months_to_next_surveillance"] = round(max(upcoming[0] - elapsed, 0.0), 1) if upcoming else None
