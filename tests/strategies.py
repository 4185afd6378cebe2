"""Random but clinically plausible patient files (contract v1), for hypothesis and for seeded loops.

One generator, two sources of randomness:

* :func:`patients` - a hypothesis strategy (shrinks towards a short, sparse history);
* :func:`cohort` / :func:`random_patient` - a ``random.Random`` with a seed: fast and
  reproducible, for the 1,000-patient differential loop and the benchmark cohort.

A generated patient has a story: diagnosis, a glucocorticoid with a taper (and flares), steroid-
sparing trials (short and long, with outcomes), then perhaps IVIG courses every ~4-8 weeks with
occasional weaning gaps, assessments (MMT-8 on the 0-80 or 0-150 scale, CK with the lab's ULN,
globals, HAQ, dysphagia) that improve, stay flat or relapse after discontinuation, safety labs,
a risk-factor screen with nulls, and ``as_of`` before, within or after the history. Then the
issue-13 additions, drawn last so the history of every seed is unchanged: work-up fields (finger
flexors, mimics, Bohan & Peter items, EULAR/ACR scores on the cut-offs), preventive care (screening,
bone protection, live vaccines), infusion rates around the caps, creatinine drawn at and after
courses (sometimes rising), a draft order, and now and then one MMT-8 on the other scale. Every file
is valid against the contract (``Patient.model_validate`` accepts it).

:func:`mutations` turns a valid file into invalid ones, each with the field path the
:class:`~ivig_cds.InputError` must name.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from typing import Any, Protocol, TypeVar

from hypothesis import strategies as st

__all__ = [
    "AGENTS",
    "RISK_FACTORS",
    "Draw",
    "HypothesisDraw",
    "RandomDraw",
    "cohort",
    "generate_patient",
    "mutations",
    "patients",
    "random_patient",
]

T = TypeVar("T")

RISK_FACTORS = (
    "prior_ig_anaphylaxis",
    "iga_deficiency",
    "anti_iga_antibodies",
    "hyperprolinemia",
    "corn_allergy",
    "thrombosis_history",
    "hypercoagulable_state",
    "immobilized",
    "estrogen_therapy",
    "central_venous_catheter",
    "cardiovascular_disease",
    "hyperviscosity",
    "diabetes",
    "heart_failure",
    "volume_depletion",
    "sepsis",
    "nephrotoxic_drugs",
    "pregnant",
)
GLUCOCORTICOIDS = ("prednisone", "prednisolone", "methylprednisolone")
SPARING = (
    "methotrexate",
    "azathioprine",
    "mycophenolate",
    "cyclophosphamide",
    "cyclosporine",
    "tacrolimus",
    "chlorambucil",
    "rituximab",
)
PROCEDURES = ("plasmapheresis", "lymphopheresis", "total_body_irradiation")
AGENTS = (*GLUCOCORTICOIDS, *SPARING, *PROCEDURES, "other")
CONDITIONS = (
    "polymyositis",
    "dermatomyositis",
    "inclusion_body_myositis",
    "immune_mediated_necrotizing_myopathy",
    "antisynthetase_syndrome",
    "overlap_myositis",
    "other",
)
OUTCOMES = ("inadequate_response", "intolerance", "adequate_response", "ongoing", "unknown")
PRODUCTS = (
    "Privigen",
    "Octagam 10%",
    "Gamunex-C",
    "Kiovig",
    "Panzyga",
    "Flebogamma DIF",
    "Gammagard S/D",
    "Carimune NF",
    "Hizentra",
    "Intratect",
    "local hospital product",
    "",
)
AE_TYPES = (
    "headache",
    "aseptic_meningitis",
    "thrombosis",
    "renal_injury",
    "hemolysis",
    "anaphylaxis",
    "infusion_reaction",
    "rash",
    "fever",
    "other",
)
LAB_TESTS = ("creatinine_mg_dl", "egfr_ml_min_1_73m2", "iga_mg_dl", "hemoglobin_g_dl")
_LATEST = date(2035, 12, 31)


class Draw(Protocol):
    """The randomness the generator needs; shrinking (for hypothesis) goes towards ``lo`` / False."""

    def int(self, lo: int, hi: int) -> int: ...

    def float(self, lo: float, hi: float) -> float: ...

    def chance(self, p: float) -> bool: ...

    def pick(self, items: Sequence[T]) -> T: ...


class RandomDraw:
    """:class:`Draw` over ``random.Random`` (fast, seeded)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def int(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def float(self, lo: float, hi: float) -> float:
        return self.rng.uniform(lo, hi)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, items: Sequence[T]) -> T:
        return items[self.rng.randrange(len(items))]


class HypothesisDraw:
    """:class:`Draw` over a hypothesis ``draw`` function."""

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any]) -> None:
        self.draw = draw

    def int(self, lo: int, hi: int) -> int:
        return int(self.draw(st.integers(lo, hi)))

    def float(self, lo: float, hi: float) -> float:
        return float(self.draw(st.floats(lo, hi, allow_nan=False, allow_infinity=False)))

    def chance(self, p: float) -> bool:
        if p <= 0:
            return False
        if p >= 1:
            return True
        return bool(self.draw(st.integers(0, 999)) >= 1000 - round(p * 1000))

    def pick(self, items: Sequence[T]) -> T:
        return items[int(self.draw(st.integers(0, len(items) - 1)))]


# ---------------------------------------------------------------- helpers


def _iso(d: date) -> str:
    return d.isoformat()


def _clamp_day(d: date, lo: date, hi: date) -> date:
    return max(lo, min(hi, d))


def _weighted(r: Draw, table: Sequence[tuple[T, int]]) -> T:
    """Pick from ``(value, weight)``; the first entry is where hypothesis shrinks to."""
    total = sum(w for _, w in table)
    x = r.int(0, total - 1)
    for value, weight in table:
        if x < weight:
            return value
        x -= weight
    return table[-1][0]


def _num(r: Draw, lo: float, hi: float, step: float | None = None) -> float | int:
    """A number in [lo, hi]: often a round value (as clinicians record), sometimes an int."""
    x = r.float(lo, hi)
    if step is not None and r.chance(0.7):
        x = round(x / step) * step
        x = min(hi, max(lo, x))
        if float(x).is_integer() and r.chance(0.5):
            return int(x)
        return round(x, 6)
    return round(x, r.pick((1, 2, 3, 6)))


def _maybe_bool(r: Draw, p_true: float = 0.15, p_null: float = 0.2) -> bool | None:
    if r.chance(p_null):
        return None
    return r.chance(p_true)


# ---------------------------------------------------------------- the generator


def generate_patient(r: Draw, patient_id: str = "gen-0") -> dict[str, Any]:
    """One valid, plausible patient file."""
    age_at_dx = _weighted(r, [(r.int(30, 70), 80), (r.int(18, 29), 10), (r.int(8, 17), 5), (r.int(71, 88), 5)])
    birth = date(1935, 1, 1) + timedelta(days=r.int(0, 365 * 80))
    diagnosed = birth + timedelta(days=int(age_at_dx * 365.25) + r.int(0, 364))
    if diagnosed > date(2033, 1, 1):
        diagnosed = date(2033, 1, 1) - timedelta(days=r.int(0, 3000))
        birth = min(birth, diagnosed - timedelta(days=365 * 10))
    sex = _weighted(r, [("female", 60), ("male", 35), ("other", 3), ("unknown", 2)])
    height = _num(r, 145, 200, 1) if r.chance(0.85) else None
    bmi = _weighted(r, [(r.float(19, 29.9), 65), (r.float(30, 45), 30), (r.float(15, 19), 5)])
    if height is not None:
        weight: float | int = round(min(350, max(20, bmi * (float(height) / 100) ** 2)), r.pick((0, 1, 2)))
    else:
        weight = _num(r, 40, 150, 0.5)
    if r.chance(0.01):
        weight = r.pick((20, 350, 20.0, 349.9))
    demographics: dict[str, Any] = {"birth_date": _iso(birth), "sex": sex, "weight_kg": weight}
    if height is not None or r.chance(0.05):
        demographics["height_cm"] = height
    if r.chance(0.6):
        demographics["abo_group"] = r.pick(("O", "A", "B", "AB"))
    elif r.chance(0.1):
        demographics["abo_group"] = None

    condition = _weighted(r, [("polymyositis", 70), *((c, 5) for c in CONDITIONS[1:])])
    diagnosis: dict[str, Any] = {
        "condition": condition,
        "diagnosed_on": _iso(diagnosed),
        "classification": _weighted(r, [("definite", 50), ("probable", 30), ("possible", 10), ("unknown", 10)]),
    }
    if r.chance(0.5):
        diagnosis["criteria"] = r.pick(("bohan_peter", "eular_acr_2017"))
    flags = (("ibm_features", 0.05), ("statin_exposure", 0.15), ("anti_hmgcr", 0.05), ("anti_srp", 0.05))
    for key, p_true in flags:
        if r.chance(0.5):
            diagnosis[key] = _maybe_bool(r, p_true)

    # -- glucocorticoid, taper and flares --------------------------------------------------------
    therapies: list[dict[str, Any]] = []
    gc_doses: list[dict[str, Any]] = []
    t = diagnosed
    if r.chance(0.9):
        agent = _weighted(r, [("prednisone", 80), ("prednisolone", 12), ("methylprednisolone", 8)])
        dose = float(r.pick((40, 50, 60, 60, 75, 80, 100, 1000)))
        gc_start = diagnosed + timedelta(days=r.int(0, 30))
        day = gc_start
        changes: list[date] = []
        for _ in range(r.int(0, 14)):
            gc_doses.append({"date": _iso(day), "prednisone_mg_per_day": _gc_value(r, dose)})
            day = day + timedelta(days=r.int(14, 120))
            if r.chance(0.15):
                dose = min(2000.0, dose * r.float(1.2, 2.0))  # flare: back up
            else:
                dose = max(0.0, dose * r.float(0.5, 0.9) - r.pick((0, 0, 2.5, 5)))
            if dose < 2.5 and r.chance(0.5):
                dose = 0.0
            changes.append(day)
        if not gc_doses and r.chance(0.5):
            gc_doses.append({"date": _iso(gc_start), "prednisone_mg_per_day": _gc_value(r, dose)})
        stopped = r.chance(0.25)
        stop = changes[-1] if stopped and changes else None
        th: dict[str, Any] = {
            "agent": agent,
            "start": _iso(gc_start),
            "stop": _iso(stop) if stop else None,
            "outcome": _weighted(
                r,
                [
                    ("inadequate_response", 60),
                    ("ongoing", 20),
                    ("adequate_response", 10),
                    ("intolerance", 5),
                    ("unknown", 5),
                ],
            ),
        }
        inside = [d for d in changes if stop is None or d <= stop]
        if inside and r.chance(0.6):
            th["dose_changed_on"] = [_iso(d) for d in inside[: r.int(1, len(inside))]]
        therapies.append(th)
        if r.chance(0.1):  # a second, overlapping glucocorticoid course (pulse)
            pulse = gc_start + timedelta(days=r.int(0, 400))
            therapies.append(
                {
                    "agent": "methylprednisolone",
                    "start": _iso(pulse),
                    "stop": _iso(pulse + timedelta(days=r.int(0, 5))),
                    "outcome": "unknown",
                }
            )
    elif r.chance(0.3):
        gc_doses.append({"date": _iso(diagnosed), "prednisone_mg_per_day": _num(r, 0, 60, 2.5)})

    # -- steroid-sparing trials and procedures ---------------------------------------------------
    t = diagnosed + timedelta(days=r.int(14, 200))
    for _ in range(_weighted(r, [(0, 15), (1, 35), (2, 30), (3, 15), (4, 5)])):
        kind = _weighted(r, [("sparing", 85), ("procedure", 10), ("other", 5)])
        agent = r.pick(SPARING) if kind == "sparing" else r.pick(PROCEDURES) if kind == "procedure" else "other"
        length = _weighted(r, [(r.int(90, 700), 60), (r.int(7, 89), 30), (r.int(85, 95), 10)])
        start = t
        ongoing = r.chance(0.25)
        stop = None if ongoing else start + timedelta(days=0 if kind == "procedure" and r.chance(0.5) else length)
        outcome = _weighted(
            r,
            [
                ("inadequate_response", 60),
                ("intolerance", 20),
                ("ongoing", 5),
                ("adequate_response", 8),
                ("unknown", 7),
            ],
        )
        if kind == "sparing" and outcome == "inadequate_response" and not ongoing and r.chance(0.3):
            stop = start + timedelta(days=r.int(90, 400))
        th = {"agent": agent, "start": _iso(start), "stop": _iso(stop) if stop else None, "outcome": outcome}
        if r.chance(0.3):
            end = stop or start + timedelta(days=length)
            span = max(0, (end - start).days)
            picked = {_iso(start + timedelta(days=r.int(0, span))) for _ in range(r.int(1, 3))}
            th["dose_changed_on"] = sorted(picked)
        therapies.append(th)
        t = (stop or start) + timedelta(days=r.int(-30, 120))
        t = max(t, diagnosed)

    # -- IVIG courses ----------------------------------------------------------------------------
    courses: list[dict[str, Any]] = []
    first: date | None = None
    if r.chance(0.8):
        first = max(t, diagnosed) + timedelta(days=r.int(0, 365))
        last_change = max([date.fromisoformat(g["date"]) for g in gc_doses] + [diagnosed])
        if r.chance(0.5):  # a stable background for the seed's 2 months before course 1
            first = max(first, last_change + timedelta(days=r.int(61, 200)))
        day = first
        n = _weighted(r, [(r.int(3, 8), 50), (r.int(1, 2), 25), (r.int(9, 18), 20), (r.int(19, 40), 5)])
        regimen = _weighted(r, [((2, 1.0), 70), ((5, 0.4), 15), ((1, 2.0), 5), ((3, 0.8), 5), ((4, 0.7), 5)])
        for _ in range(n):
            days, per_day = regimen
            if r.chance(0.05):
                days, per_day = r.int(1, 5), _num(r, 0.1, 2.0, 0.1)
            course: dict[str, Any] = {"start": _iso(day), "days": days, "dose_g_per_kg_per_day": per_day}
            if r.chance(0.8):
                course["product"] = r.pick(PRODUCTS)
            if r.chance(0.15):
                course["adverse_events"] = [
                    {"type": r.pick(AE_TYPES), "severity": r.pick(("mild", "moderate", "severe"))}
                    for _ in range(r.int(1, 2))
                ]
            courses.append(course)
            gap = _weighted(
                r, [(r.int(26, 32), 60), (r.int(33, 42), 15), (r.int(43, 70), 20), (r.int(71, 200), 5)]
            )
            day = day + timedelta(days=gap)
        if r.chance(0.05):  # unsorted records happen in real exports
            courses.reverse()
    last_course = max((date.fromisoformat(c["start"]) for c in courses), default=None)
    discontinued: date | None = None
    if first is not None and last_course is not None and r.chance(0.35):
        discontinued = last_course + timedelta(days=r.int(0, 60))

    # -- assessments: a trajectory --------------------------------------------------------------
    assessments = _assessments(r, diagnosed, first, last_course, discontinued)
    labs = _labs(r, diagnosed, first, last_course)

    risk: dict[str, Any] = {}
    for key in RISK_FACTORS:
        if r.chance(0.75):
            risk[key] = _maybe_bool(r, 0.04 if key in ("prior_ig_anaphylaxis", "anti_iga_antibodies") else 0.1)

    # -- as_of: before, within or after the history ---------------------------------------------
    events = [date.fromisoformat(x) for x in _all_dates(therapies, gc_doses, assessments, labs, courses)]
    end = max([*events, diagnosed])
    where = _weighted(r, [("after", 55), ("within", 30), ("before_first", 8), ("far_after", 5), ("absent", 2)])
    as_of: date | None
    if where == "after":
        as_of = end + timedelta(days=r.int(0, 120))
    elif where == "within":
        as_of = diagnosed + timedelta(days=r.int(0, max(0, (end - diagnosed).days)))
    elif where == "before_first":
        as_of = (first or diagnosed) - timedelta(days=r.int(0, 200))
    elif where == "far_after":
        as_of = end + timedelta(days=r.int(365, 3650))
    else:
        as_of = None
    if as_of is not None:
        as_of = _clamp_day(as_of, birth, _LATEST)

    doc: dict[str, Any] = {
        "schema_version": 1,
        "patient_id": patient_id,
        "demographics": demographics,
        "diagnosis": diagnosis,
        "therapies": therapies,
    }
    if as_of is not None:
        doc["as_of"] = _iso(as_of)
    if gc_doses or r.chance(0.2):
        doc["glucocorticoid_doses"] = gc_doses
    if assessments or r.chance(0.2):
        doc["assessments"] = assessments
    if labs or r.chance(0.2):
        doc["labs"] = labs
    if courses or r.chance(0.7):
        doc["ivig_courses"] = courses
    if discontinued is not None:
        doc["ivig_discontinued_on"] = _iso(discontinued)
    elif r.chance(0.1):
        doc["ivig_discontinued_on"] = None
    if risk or r.chance(0.3):
        doc["risk_factors"] = risk
    # drawn last, so the history above stays what it was for every seed
    _additions(r, doc, birth, diagnosed, as_of)
    return doc


BOHAN_PETER_ITEMS = ("symmetric_proximal_weakness", "biopsy_myositis", "raised_muscle_enzymes", "myopathic_emg")
# rates around the caps: 3.3 at renal/thrombotic risk, 4 for Octagam 10 % in DM
RATES = (1, 2, 3.3, 3.31, 4, 4.01, 4.8, 6, 8)
ORDER_DOSES = (0.4, 0.5, 0.6, 1.0, 1.0, 2.0)


def _additions(r: Draw, doc: dict[str, Any], birth: date, diagnosed: date, as_of: date | None) -> None:
    """The issue-13 data: work-up fields, preventive care, infusion rates, creatinine around courses, an order."""
    dx = doc["diagnosis"]
    for key, p_true in (
        ("finger_flexor_weakness", 0.15),
        ("myotoxic_exposure", 0.1),
        ("thyroid_function_normal", 0.85),
    ):
        if r.chance(0.3):
            dx[key] = _maybe_bool(r, p_true)
    if r.chance(0.25):
        items = {k: _maybe_bool(r, 0.75, 0.1) for k in BOHAN_PETER_ITEMS}
        items["rash"] = _maybe_bool(r, 0.1)
        dx["bohan_peter_items"] = {k: v for k, v in items.items() if v is not None or r.chance(0.5)}
    if r.chance(0.25):  # often exactly on a cut-off
        dx["eular_acr_score"] = r.pick((5.3, 5.5, 6.5, 6.7, 7.5, 8.7)) if r.chance(0.4) else _num(r, 2, 14, 0.1)
        dx["eular_acr_with_biopsy"] = _maybe_bool(r, 0.5, 0.15)
    courses: list[dict[str, Any]] = doc.get("ivig_courses", [])
    starts = sorted(date.fromisoformat(c["start"]) for c in courses)
    care: dict[str, Any] = {}
    if r.chance(0.35):
        care["cancer_screening_on"] = _iso(
            _clamp_day(diagnosed + timedelta(days=r.int(-200, 900)), birth, _LATEST)
        )
    if r.chance(0.4):
        care["bone_protection"] = _maybe_bool(r, 0.6, 0.15)
    if r.chance(0.15):
        anchor = starts[-1] if starts else diagnosed
        care["live_vaccine_on"] = _iso(_clamp_day(anchor + timedelta(days=r.int(-40, 500)), birth, _LATEST))
    if care or r.chance(0.05):
        doc["preventive_care"] = care
    for c in courses:
        if r.chance(0.25):
            c["max_rate_mg_kg_min"] = r.pick(RATES) if r.chance(0.7) else _num(r, 0.5, 10, 0.1)
    if starts and r.chance(0.4):  # creatinine drawn at courses and after them, sometimes rising
        labs = doc.setdefault("labs", [])
        value = _weighted(r, [(r.float(0.5, 1.3), 85), (r.float(1.3, 2.5), 15)])
        for start in starts[: r.int(1, len(starts))]:
            if r.chance(0.7):
                labs.append({"date": _iso(start), "test": "creatinine_mg_dl", "value": round(value, 2)})
            for _ in range(r.int(0, 2)):
                rise = r.pick((1.0, 1.1, 1.3, 1.5, 2.0)) if r.chance(0.6) else 1 + r.pick((0.2, 0.3, 0.4)) / value
                day = start + timedelta(days=r.int(1, 10))
                labs.append({"date": _iso(day), "test": "creatinine_mg_dl", "value": round(value * rise, 2)})
    if r.chance(0.2):
        anchor = as_of or (starts[-1] if starts else diagnosed)
        order: dict[str, Any] = {}
        if r.chance(0.8):  # half the time the latest course's product (no switch)
            order["product"] = (
                courses[-1].get("product", "Privigen") if courses and r.chance(0.5) else r.pick(PRODUCTS)
            )
        if r.chance(0.8):
            order["dose_g_per_kg_per_day"] = r.pick(ORDER_DOSES)
        if r.chance(0.7):
            order["days"] = r.int(1, 5)
        if r.chance(0.7):  # the next course on schedule, or around as_of
            if starts and r.chance(0.5):
                planned = starts[-1] + timedelta(days=r.int(21, 70))
            else:
                planned = anchor + timedelta(days=r.int(-10, 90))
            order["start"] = _iso(_clamp_day(planned, birth, _LATEST))
        if r.chance(0.5):
            order["max_rate_mg_kg_min"] = r.pick(RATES)
        doc["ivig_order"] = order
    scored = [a for a in doc.get("assessments", []) if "mmt8" in a]
    if scored and r.chance(0.08):  # one visit on the other MMT-8 scale
        a = r.pick(scored)
        old = a.get("mmt8_max", 80)
        a["mmt8_max"] = 150 if old == 80 else 80
        a["mmt8"] = min(a["mmt8_max"], round(a["mmt8"] * a["mmt8_max"] / old, 1))


def _gc_value(r: Draw, dose: float) -> float | int:
    value = round(dose / 2.5) * 2.5 if r.chance(0.8) else round(dose, 2)
    value = min(2000.0, max(0.0, value))
    return int(value) if float(value).is_integer() and r.chance(0.6) else value


def _assessments(
    r: Draw, diagnosed: date, first: date | None, last_course: date | None, stopped: date | None
) -> list[dict[str, Any]]:
    scale = _weighted(r, [(80, 75), (150, 25)])
    write_scale = scale == 150 or r.chance(0.3)
    uln = _weighted(r, [(200, 50), (r.pick((145, 170, 190, 308)), 40), (r.int(100, 400), 10)])
    write_uln = uln != 200 or r.chance(0.3)
    trajectory = _weighted(r, [("improve", 45), ("flat", 25), ("relapse", 15), ("worsen", 10), ("noisy", 5)])
    base_pct = r.float(0.35, 0.85)
    ck0 = _weighted(r, [(r.float(2, 30), 70), (r.float(0.2, 1.5), 25), (r.float(30, 150), 5)]) * uln
    anchor = first or diagnosed + timedelta(days=r.int(30, 400))
    start = anchor - timedelta(days=_weighted(r, [(r.int(0, 60), 70), (r.int(61, 90), 10), (r.int(91, 400), 20)]))
    end = max(anchor, last_course or anchor, stopped or anchor) + timedelta(days=r.int(0, 900))
    if start < diagnosed:
        start = diagnosed
    visits: list[date] = []
    day = start
    while day <= end and len(visits) < 40:
        visits.append(day)
        day = day + timedelta(days=_weighted(r, [(r.int(25, 45), 50), (r.int(46, 100), 35), (r.int(7, 24), 15)]))
    if r.chance(0.1):
        visits = visits[: r.int(0, 2)]
    out: list[dict[str, Any]] = []
    for i, v in enumerate(visits):
        progress = min(1.0, i / 6)
        if trajectory == "improve":
            pct = base_pct + (0.97 - base_pct) * progress
        elif trajectory == "flat":
            pct = base_pct + r.float(-0.04, 0.04)
        elif trajectory == "worsen":
            pct = base_pct * (1 - 0.4 * progress)
        elif trajectory == "relapse":
            pct = base_pct + (0.95 - base_pct) * progress
            if stopped is not None and v > stopped + timedelta(days=90):
                pct *= r.float(0.55, 0.85)
        else:
            pct = r.float(0.1, 1.0)
        pct = max(0.0, min(1.0, pct + r.float(-0.03, 0.03)))
        a: dict[str, Any] = {"date": _iso(v)}
        if r.chance(0.85):
            mmt = pct * scale
            a["mmt8"] = round(mmt) if r.chance(0.7) else round(mmt, 1)
        if write_scale:
            a["mmt8_max"] = scale
        if r.chance(0.75):
            ck_factor = (1 - pct) / (1 - base_pct + 1e-9) if trajectory != "noisy" else r.float(0, 2)
            a["ck_u_per_l"] = round(max(0.0, ck0 * ck_factor * r.float(0.7, 1.3)), r.pick((0, 1)))
            if write_uln:
                a["ck_uln_u_per_l"] = uln
        for key, lo, hi in (
            ("physician_global_cm", 0, 10),
            ("patient_global_cm", 0, 10),
            ("extramuscular_global_cm", 0, 10),
        ):
            if r.chance(0.6):
                a[key] = round(min(hi, max(lo, (1 - pct) * 12 + r.float(-1.5, 1.5))), 1)
        if r.chance(0.5):
            a["haq"] = round(min(3.0, max(0.0, (1 - pct) * 3.5 + r.float(-0.4, 0.4))) * 8) / 8
        if r.chance(0.45):
            a["dysphagia"] = "none" if pct > 0.75 else _weighted(r, [("mild", 60), ("none", 25), ("severe", 15)])
        out.append(a)
    if out and r.chance(0.05):
        out.reverse()
    return out


def _labs(r: Draw, diagnosed: date, first: date | None, last_course: date | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    anchor = first or diagnosed
    for _ in range(_weighted(r, [(r.int(1, 6), 60), (0, 30), (r.int(7, 16), 10)])):
        when = anchor + timedelta(days=r.int(-200, 400 + ((last_course - anchor).days if last_course else 0)))
        when = max(when, diagnosed)
        test = r.pick(LAB_TESTS)
        if test == "creatinine_mg_dl":
            value: float | int = _weighted(r, [(r.float(0.5, 1.4), 80), (r.float(1.5, 4), 20)])
        elif test == "egfr_ml_min_1_73m2":
            value = _weighted(r, [(r.float(60, 120), 75), (r.float(10, 59), 25)])
        elif test == "iga_mg_dl":
            value = _weighted(r, [(r.float(70, 400), 85), (r.float(0, 6.9), 10), (r.int(7, 69), 5)])
        else:
            value = r.float(8, 16)
        out.append({"date": _iso(when), "test": test, "value": round(float(value), r.pick((0, 1, 2)))})
    return out


def _all_dates(*groups: list[dict[str, Any]]) -> Iterator[str]:
    for group in groups:
        for rec in group:
            for key in ("date", "start", "stop"):
                if rec.get(key):
                    yield rec[key]


# ---------------------------------------------------------------- public entry points


def random_patient(seed: int, patient_id: str | None = None) -> dict[str, Any]:
    """The patient for ``seed`` (deterministic across runs and platforms)."""
    return generate_patient(RandomDraw(random.Random(seed)), patient_id or f"gen-{seed}")


def cohort(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` patients from one seeded stream (ids ``gen-<seed>-<i>``)."""
    rng = random.Random(seed)
    return [generate_patient(RandomDraw(rng), f"gen-{seed}-{i}") for i in range(n)]


@st.composite
def patients(draw: Callable[[st.SearchStrategy[Any]], Any]) -> dict[str, Any]:
    """Hypothesis strategy of valid, plausible patient files."""
    return generate_patient(HypothesisDraw(draw), "hyp-" + str(draw(st.integers(0, 10**6))))


# ---------------------------------------------------------------- invalid files


Mutation = tuple[str, dict[str, Any], str]  # (what was done, document, field path the error must name)


def _set(doc: dict[str, Any], path: Sequence[str | int], value: Any) -> None:
    target: Any = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


def _delete(doc: dict[str, Any], path: Sequence[str | int]) -> None:
    target: Any = doc
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]


def _loc(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_WRONG_TYPES: tuple[Any, ...] = ("12", True, [1], {"a": 1}, None)


def mutations(valid: dict[str, Any], r: Draw) -> Iterator[Mutation]:
    """Invalid variants of a valid file, each with the path its InputError must name.

    Yields one mutation per kind that applies to this file (so callers can pick or loop).
    """

    def variant(
        path: Sequence[str | int], value: Any, what: str, loc: Sequence[str | int] | None = None
    ) -> Mutation:
        doc = copy.deepcopy(valid)
        _set(doc, path, value)
        return what, doc, _loc(loc if loc is not None else path)

    def removed(path: Sequence[str | int], what: str) -> Mutation:
        doc = copy.deepcopy(valid)
        _delete(doc, path)
        return what, doc, _loc(path)

    for path in (
        ["schema_version"],
        ["patient_id"],
        ["demographics"],
        ["diagnosis"],
        ["therapies"],
        ["demographics", "birth_date"],
        ["demographics", "sex"],
        ["demographics", "weight_kg"],
        ["diagnosis", "condition"],
        ["diagnosis", "diagnosed_on"],
        ["diagnosis", "classification"],
    ):
        yield removed(path, f"missing {_loc(path)}")
    yield variant(["schema_version"], r.pick((2, 0, "1", True, 1.5)), "bad schema_version")
    yield variant(["patient_id"], r.pick(("", "x" * 129, 42, None)), "bad patient_id")
    yield variant(["demographics", "weight_kg"], r.pick((19.99, 350.01, -1, "64", True, None)), "bad weight")
    yield variant(["demographics", "height_cm"], r.pick((99.9, 250.5, "165", False)), "bad height")
    yield variant(["demographics", "sex"], r.pick(("f", "F", "Female", 1, None)), "bad sex")
    yield variant(
        ["demographics", "birth_date"],
        r.pick(("1978-02-30", "1978-13-01", "78-01-01", "1978/01/01", "2024-01-01T00:00:00", "", 19780101, None)),
        "bad birth_date",
    )
    yield variant(["diagnosis", "condition"], r.pick(("myositis", "Polymyositis", "", 3)), "bad condition")
    yield variant(["diagnosis", "ibm_features"], r.pick(("true", 1, "yes")), "bad ibm_features")
    yield variant(["as_of"], r.pick(("2024-02-30", "2023-02-29", "0000-01-01", "2024-1-1", 2024)), "bad as_of")
    yield variant(["unexpected_field"], 1, "unknown top-level field")
    yield variant(["demographics", "shoe_size"], 42, "unknown nested field")
    yield variant(["risk_factors"], r.pick(([], "none", 1)), "bad risk_factors")
    yield variant(
        ["risk_factors"], {r.pick(RISK_FACTORS): r.pick(("yes", 1, 0, "false"))}, "bad risk flag", ["risk_factors"]
    )
    yield variant(["therapies"], r.pick(({}, "none", None)), "bad therapies")
    if valid["therapies"]:
        i = r.int(0, len(valid["therapies"]) - 1)
        th = valid["therapies"][i]
        yield removed(["therapies", i, "stop"], "therapy without stop key")
        yield removed(["therapies", i, "agent"], "therapy without agent")
        yield variant(["therapies", i, "agent"], r.pick(("aspirin", "Prednisone", "", None)), "bad agent")
        yield variant(["therapies", i, "outcome"], r.pick(("failed", "", 0)), "bad outcome")
        start = date.fromisoformat(th["start"])
        if start > date(1, 1, 2):
            before = _iso(start - timedelta(days=r.int(1, 400)))
            yield variant(["therapies", i, "stop"], before, "stop before start")
        yield variant(
            ["therapies", i, "dose_changed_on"],
            [_iso(start - timedelta(days=1))] if start > date(1, 1, 2) else ["0001-13-01"],
            "dose change before start",
            ["therapies", i, "dose_changed_on", 0],
        )
    if valid.get("glucocorticoid_doses"):
        i = r.int(0, len(valid["glucocorticoid_doses"]) - 1)
        yield variant(
            ["glucocorticoid_doses", i, "prednisone_mg_per_day"],
            r.pick((-0.5, 2000.5, "10", None)),
            "bad prednisone dose",
        )
    if valid.get("assessments"):
        i = r.int(0, len(valid["assessments"]) - 1)
        yield variant(["assessments", i, "mmt8_max"], r.pick((100, 0, "80", True)), "bad mmt8_max")
        yield variant(["assessments", i, "mmt8"], 150.5, "mmt8 above any scale")
        yield variant(["assessments", i, "ck_u_per_l"], r.pick((-1, "high")), "bad CK")
        yield variant(["assessments", i, "ck_uln_u_per_l"], r.pick((0, -200)), "bad CK ULN")
        yield variant(["assessments", i, "physician_global_cm"], r.pick((10.5, -0.1)), "bad VAS")
        yield variant(["assessments", i, "haq"], r.pick((3.25, -1)), "bad HAQ")
        yield variant(["assessments", i, "dysphagia"], r.pick(("moderate", True)), "bad dysphagia")
        yield variant(["assessments", i, "date"], r.pick(("2023-04-31", None, "yesterday")), "bad assessment date")
    if valid.get("labs"):
        i = r.int(0, len(valid["labs"]) - 1)
        yield variant(["labs", i, "test"], r.pick(("ck", "IgA", "")), "bad lab test")
        yield variant(["labs", i, "value"], r.pick((-0.1, "7", None)), "bad lab value")
    if valid.get("ivig_courses"):
        i = r.int(0, len(valid["ivig_courses"]) - 1)
        yield variant(["ivig_courses", i, "days"], r.pick((0, 6, 2.5, "2", True)), "bad course days")
        yield variant(["ivig_courses", i, "dose_g_per_kg_per_day"], r.pick((0.05, 2.01, "1")), "bad course dose")
        yield variant(["ivig_courses", i, "product"], r.pick((5, ["Privigen"])), "bad product")
        yield variant(
            ["ivig_courses", i, "adverse_events"],
            [{"type": "itch", "severity": "mild"}],
            "bad adverse event",
            ["ivig_courses", i, "adverse_events", 0, "type"],
        )
        first = min(date.fromisoformat(c["start"]) for c in valid["ivig_courses"])
        birth = date.fromisoformat(valid["demographics"]["birth_date"])
        if (first - birth).days > 2:
            early = _iso(first - timedelta(days=1))
            yield variant(["ivig_discontinued_on"], early, "discontinued before course 1")
    birth = date.fromisoformat(valid["demographics"]["birth_date"])
    if birth > date(1, 1, 2):
        yield variant(["diagnosis", "diagnosed_on"], _iso(birth - timedelta(days=1)), "diagnosed before birth")
    # the issue-13 additions
    yield variant(["diagnosis", "eular_acr_score"], r.pick((30.5, -1, "7", True)), "bad eular_acr_score")
    yield variant(
        ["diagnosis", "bohan_peter_items"],
        {"rash": r.pick(("yes", 1))},
        "bad Bohan & Peter item",
        ["diagnosis", "bohan_peter_items", "rash"],
    )
    yield variant(
        ["preventive_care"],
        {"bone_protection": r.pick(("yes", 1, "true"))},
        "bad bone_protection",
        ["preventive_care", "bone_protection"],
    )
    if birth > date(1800, 1, 2):
        yield variant(
            ["preventive_care"],
            {"live_vaccine_on": _iso(birth - timedelta(days=1))},
            "live vaccine before birth",
            ["preventive_care", "live_vaccine_on"],
        )


WRONG_TYPE_VALUES = _WRONG_TYPES
