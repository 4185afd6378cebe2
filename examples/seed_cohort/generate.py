"""Generate 35 synthetic patient files shaped like the seed study (Cherin et al., Arthritis Rheum 2002).

The seed (``shared/seeds/000_aea43c194eb9d5ed.txt``) treated 35 adults with refractory polymyositis
with IVIG 1 g/kg/day x 2 days monthly. This script writes one patient file per patient whose
*histories* reproduce the published cohort: sex and age, prior therapies, a stable background for
2 months before IVIG, 4-6 monthly courses, a CK fall before course 4 in everyone, and the long-term
course of the 25 responders (5 remission off drugs, 7 remission on low-dose prednisone, 6
IVIG-dependent, 7 relapses). It writes no outcome: ``compare.py`` asks the engine to classify each
file and compares the engine's counts with the paper's.

Deterministic (``random.Random(2002)``, no clock): the same command writes the same bytes.

Usage::

    python examples/seed_cohort/generate.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from ivig_cds import facts

SEED = 2002
N_PATIENTS = 35
N_FEMALE = 20
AGE_MEAN, AGE_SD = 43.5, 16.8
DAYS_PER_MONTH = 30.4375  # the engine's month
DEFAULT_OUT = Path(__file__).resolve().parent / "patients"

#: Prior steroid-sparing drugs and procedures (n), in the usual order of use. Prednisone: all 35.
PRIOR_THERAPY_COUNTS: dict[str, int] = {
    "methotrexate": 24,
    "azathioprine": 13,
    "plasmapheresis": 8,
    "cyclosporine": 7,
    "cyclophosphamide": 4,
    "lymphopheresis": 1,
    "chlorambucil": 1,
    "total_body_irradiation": 1,
}
PROCEDURES = frozenset({"plasmapheresis", "lymphopheresis", "total_body_irradiation"})

#: Long-term course of the 35 patients (seed: 10 non-responders; 25 responders split 5/7/6/7).
GROUPS: dict[str, int] = {
    "non_responder": 10,
    "remission_off_therapy": 5,
    "remission_low_dose_steroid": 7,
    "ivig_dependent": 6,
    "relapse": 7,
}
#: Months from stopping IVIG to the relapse visit. The seed gives mean 17.1, range 4-23. These seven
#: values are exactly representable as whole days / 30.4375 rounded to 1 decimal (the engine's
#: ``months_to_relapse``) and average exactly 17.1 (sum 119.7) with min 4 and max 23.
RELAPSE_MONTHS: tuple[float, ...] = (4.0, 12.0, 16.0, 20.0, 22.0, 22.7, 23.0)
N_WITH_SIDE_EFFECTS = 6
RISK_FACTORS = facts.RISK_FACTORS
#: Share of improvement reached at each assessment after course 1 (responders).
PROGRESS = (0.25, 0.5, 0.7, 0.85, 0.95, 1.0)


def iso(d: date) -> str:
    return d.isoformat()


def days(n: int) -> timedelta:
    return timedelta(days=n)


def months(m: float) -> timedelta:
    return timedelta(days=round(m * DAYS_PER_MONTH))


def age_on(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def floor_to(x: float, step: float) -> float:
    return math.floor(x / step + 1e-9) * step


def vas(x: float) -> float:
    """A 0-10 cm VAS rounded to 0.5 cm."""
    return min(10.0, max(0.0, round(x * 2) / 2))


def haq(x: float) -> float:
    """A HAQ disability index rounded to 1/8."""
    return min(3.0, max(0.0, round(x * 8) / 8))


# ---------------------------------------------------------------- cohort-level draws


def draw_ages(rng: random.Random) -> list[int]:
    """35 adult ages whose mean and SD round to the seed's 43.5 and 16.8.

    With every patient >= 18, that mean and SD need a wide, nearly flat spread: Beta(0.9, 1.2) on
    18-78 years has about that shape. The draws are rescaled to the seed's mean and SD, then nudged
    a year at a time until both round to the published values.
    """
    raw = [rng.betavariate(0.9, 1.2) for _ in range(N_PATIENTS)]
    m, s = statistics.mean(raw), statistics.stdev(raw)
    ages = [min(78, max(18, round(AGE_MEAN + AGE_SD * (x - m) / s))) for x in raw]

    def error(a: Sequence[int]) -> float:
        return abs(statistics.mean(a) - AGE_MEAN) + abs(statistics.stdev(a) - AGE_SD)

    def ok(a: Sequence[int]) -> bool:
        return round(statistics.mean(a), 1) == AGE_MEAN and round(statistics.stdev(a), 1) == AGE_SD

    for _ in range(10_000):  # nudge one age by one year at a time, always the best single move
        if ok(ages):
            return ages
        moves = [(i, d) for i in range(len(ages)) for d in (-1, 1) if 18 <= ages[i] + d <= 78]
        i, d = min(moves, key=lambda m: (error([*ages[: m[0]], ages[m[0]] + m[1], *ages[m[0] + 1 :]]), m))
        ages[i] += d
    raise RuntimeError("could not fit the ages to the seed's mean and SD")


def assign_prior_therapies(rng: random.Random) -> list[set[str]]:
    """Give each patient prior agents so every seed count is met and everyone failed at least one."""
    agents: list[set[str]] = [set() for _ in range(N_PATIENTS)]
    order = list(range(N_PATIENTS))
    rng.shuffle(order)
    mtx = order[: PRIOR_THERAPY_COUNTS["methotrexate"]]
    without_mtx = order[PRIOR_THERAPY_COUNTS["methotrexate"] :]
    for i in mtx:
        agents[i].add("methotrexate")
    # azathioprine covers everyone without methotrexate, so every patient has a failed agent
    extra_aza = PRIOR_THERAPY_COUNTS["azathioprine"] - len(without_mtx)
    for i in without_mtx + rng.sample(sorted(mtx), extra_aza):
        agents[i].add("azathioprine")
    for agent, n in PRIOR_THERAPY_COUNTS.items():
        if agent in ("methotrexate", "azathioprine"):
            continue
        for i in rng.sample(range(N_PATIENTS), n):
            agents[i].add(agent)
    return agents


# ---------------------------------------------------------------- one patient


@dataclass
class Story:
    """Everything drawn for one patient before it is written out."""

    number: int
    sex: str
    age: int
    group: str
    agents: set[str]
    relapse_months: float | None = None
    side_effect: dict[str, str] | None = None
    doc: dict[str, Any] = field(default_factory=dict)


def build_patient(story: Story, rng: random.Random) -> dict[str, Any]:
    """Draw one patient's full history and return it as a patient-file dict."""
    female = story.sex == "female"
    height = round(rng.gauss(163 if female else 176, 6))
    weight = round(rng.gauss(63 if female else 78, 8))
    abo = rng.choices(["O", "A", "B", "AB"], weights=[43, 45, 9, 3])[0]

    # --- before IVIG: prednisone, then steroid-sparing agents and procedures, one after the other
    dx = date(1986, 1, 6) + days(rng.randint(0, 5 * 365))
    therapies: list[dict[str, Any]] = []
    t = dx + days(rng.randint(30, 90))
    order = [a for a in PRIOR_THERAPY_COUNTS if a in story.agents]
    # drugs in the usual order; procedures slotted in after the first drug
    drugs = [a for a in order if a not in PROCEDURES]
    procs = [a for a in order if a in PROCEDURES]
    sequence = drugs[:1] + procs + drugs[1:]
    last_stop = t
    for agent in sequence:
        if agent in PROCEDURES:
            length = 0 if agent == "total_body_irradiation" else rng.randint(21, 42)
            therapies.append(
                {"agent": agent, "start": iso(t), "stop": iso(t + days(length)), "outcome": "inadequate_response"}
            )
            last_stop = t + days(length)
        else:
            intolerant = rng.random() < 0.2
            length = rng.randint(28, 80) if intolerant else rng.randint(150, 420)
            entry: dict[str, Any] = {
                "agent": agent,
                "start": iso(t),
                "stop": iso(t + days(length)),
                "outcome": "intolerance" if intolerant else "inadequate_response",
            }
            if not intolerant:  # dose escalated once or twice while on the drug
                entry["dose_changed_on"] = [iso(t + days(d)) for d in sorted(rng.sample(range(35, 120), 2))]
            therapies.append(entry)
            last_stop = t + days(length)
        t = last_stop + days(rng.randint(14, 60))

    baseline_mg = rng.choice([15.0, 20.0, 20.0, 25.0, 30.0, 40.0])
    gc_steps: list[tuple[date, float]] = [
        (dx, 60.0),
        (dx + days(rng.randint(45, 75)), 40.0),
        (dx + days(rng.randint(150, 200)), 30.0),
    ]
    if baseline_mg != 30.0:
        gc_steps.append((max(gc_steps[-1][0] + days(60), last_stop - days(rng.randint(0, 60))), baseline_mg))
    # the seed's stability rule: nothing started, stopped or changed in the 2 months before course 1
    c1 = max(last_stop, gc_steps[-1][0]) + days(rng.randint(90, 200))

    # --- IVIG courses (1 g/kg/day x 2 days, monthly)
    n_courses = rng.choice([4, 5, 6]) if story.group != "ivig_dependent" else 6
    starts = [c1]
    for _ in range(n_courses - 1):
        starts.append(starts[-1] + days(rng.choice([28, 28, 28, 35])))

    # --- measures at baseline and their targets
    b_mmt = rng.randint(38, 58)
    b_ck = rng.randint(900, 7000)
    b_phys = vas(rng.uniform(5.0, 8.0))
    b_pat = vas(rng.uniform(5.0, 8.5))
    b_haq = haq(rng.uniform(1.25, 2.25))
    b_extra = vas(rng.uniform(0.0, 3.0))
    dysphagia = rng.random() < 0.35
    responder = story.group != "non_responder"
    if responder:
        best_mmt = min(79, round(b_mmt * rng.uniform(1.15, 1.45)))
        target = {
            "phys": b_phys * rng.uniform(0.2, 0.65),
            "pat": b_pat * rng.uniform(0.3, 0.8),
            "haq": b_haq * rng.uniform(0.35, 0.9),
            "extra": b_extra * rng.uniform(0.1, 0.8),
            "ck": rng.uniform(0.5, 1.2) * 200,
        }
    else:  # CK falls (biochemical response) but strength and function do not improve
        best_mmt = b_mmt + rng.choice([0, 0, 1])
        target = {
            "phys": b_phys,
            "pat": b_pat + rng.choice([0.0, 0.5]),
            "haq": b_haq,
            "extra": b_extra,
            "ck": b_ck * rng.uniform(0.4, 0.65),
        }

    def measures(
        d: date,
        frac: float,
        mmt: int | None = None,
        ck: float | None = None,
        dys: str | None = None,
        worse: float = 0.0,
    ) -> dict[str, Any]:
        """An assessment ``frac`` of the way from baseline to target; ``worse`` pulls it back.

        Responders' visits after the first phase (``mmt`` given) vary a little from visit to visit:
        CK by up to 15% (well under the 2 x nadir of a flare), the VAS by 0.5 cm, HAQ by 1/8.
        """
        f = max(0.0, frac - worse)
        noisy = responder and mmt is not None

        def mix(b: float, tgt: float, step: float = 0.5) -> float:
            return b + (tgt - b) * f + (rng.choice([-step, 0.0, 0.0, step]) if noisy else 0.0)

        ck_value = ck if ck is not None else b_ck * (target["ck"] / b_ck) ** f
        if noisy and ck is None:
            ck_value *= rng.uniform(0.85, 1.15)
        return {
            # MMT-8 on the 0-80 scale and CK with ULN 200 U/L: the contract's defaults, so not written
            "date": iso(d),
            "mmt8": mmt if mmt is not None else round(mix(b_mmt, best_mmt, 0.0)),
            "ck_u_per_l": round(ck_value),
            "physician_global_cm": vas(mix(b_phys, target["phys"])),
            "patient_global_cm": vas(mix(b_pat, target["pat"])),
            "haq": haq(mix(b_haq, target["haq"], 0.125)),
            "extramuscular_global_cm": vas(mix(b_extra, target["extra"])),
            "dysphagia": dys or ("mild" if dysphagia and (not responder or f < 0.4) else "none"),
        }

    baseline_day = c1 - days(rng.randint(0, 10))
    assessments = [measures(baseline_day, 0.0)]
    for k, s in enumerate(starts[1:]):  # before each course ("biochemical evaluations before each period")
        assessments.append(measures(s, PROGRESS[min(k, len(PROGRESS) - 1)]))
    labs = [
        {"date": iso(baseline_day), "test": test, "value": value}
        for test, value in (
            ("creatinine_mg_dl", round(rng.uniform(0.6, 1.1), 1)),
            ("egfr_ml_min_1_73m2", rng.randint(70, 110)),
            ("iga_mg_dl", rng.randint(90, 350)),
            ("hemoglobin_g_dl", round(rng.uniform(11.8, 15.2), 1)),
        )
    ]

    # --- prednisone during and after IVIG: never increased; cut by > 50% in responders
    gc_after: list[tuple[date, float]] = []
    final_mg = baseline_mg
    if responder:
        final_mg = {
            "remission_off_therapy": 0.0,
            # <= 5 mg: low dose under the core threshold (7.5) and under a site's stricter 5
            "remission_low_dose_steroid": rng.choice([2.5, 5.0, 5.0]),
            "ivig_dependent": rng.choice([0.0, 2.5, 5.0]),
            "relapse": rng.choice([0.0, 2.5, 5.0, 7.5]),
        }[story.group]
        final_mg = min(final_mg, floor_to(0.45 * baseline_mg, 2.5))
        dose, when = baseline_mg, c1 + months(2)
        for share in (0.7, 0.45):
            dose = max(final_mg, floor_to(share * baseline_mg, 2.5))
            gc_after.append((when, dose))
            when += months(2)
        while dose > final_mg:
            dose = max(final_mg, dose - (5.0 if dose > 10 else 2.5))
            gc_after.append((when, dose))
            when += months(rng.choice([2, 3]))
    gc_steps += gc_after

    # --- what happened after the first phase
    discontinued: date | None = None
    as_of: date
    last = starts[-1]
    if story.group == "non_responder":
        discontinued = last + days(28)
        assessments.append(measures(discontinued, 1.0))
        as_of = discontinued + days(rng.randint(7, 45))
    elif story.group == "ivig_dependent":
        # never stopped: each weaning attempt defers the next course to 8-10 weeks, strength falls to
        # <= 76% of its best meanwhile, and the patient goes back to 4-weekly courses
        for _ in range(rng.choice([2, 2, 3])):
            gap = rng.choice([56, 63, 70])
            assessments.append(measures(last + days(28), 1.0, mmt=round(best_mmt * 0.93), worse=0.2))
            assessments.append(measures(last + days(gap - 7), 1.0, mmt=math.floor(best_mmt * 0.76), worse=0.6))
            last += days(gap)
            starts.append(last)
            for _ in range(rng.randint(2, 4)):
                last += days(28)
                starts.append(last)
                assessments.append(measures(last, 1.0, mmt=best_mmt - rng.randint(0, 2)))
        as_of = last + days(14)
        assessments.append(measures(as_of, 1.0, mmt=best_mmt - rng.randint(0, 1)))
    else:
        discontinued = last + days(28)
        assessments.append(measures(discontinued, 1.0))
        if story.group == "relapse":
            assert story.relapse_months is not None
            relapse_day = discontinued + months(story.relapse_months)
            m = 3.0
            while m <= story.relapse_months - 0.5:  # relapse watch visits, still well
                assessments.append(measures(discontinued + months(m), 1.0, mmt=best_mmt - rng.randint(0, 2)))
                m += 3.0 if m < 24 else 6.0
            assessments.append(
                measures(
                    relapse_day,
                    1.0,
                    mmt=math.floor(best_mmt * rng.uniform(0.62, 0.76)),
                    ck=200 * rng.uniform(5, 15),
                    dys="mild" if dysphagia else "none",
                    worse=0.7,
                )
            )
            as_of = relapse_day
        else:
            followup = max(rng.gauss(51.4, 13.1), (discontinued - c1).days / DAYS_PER_MONTH + 9)
            as_of = c1 + months(followup)
            if gc_steps[-1][0] >= as_of - months(3):  # taper finished well before the last visit
                as_of = gc_steps[-1][0] + months(6)
            m = 3.0
            while discontinued + months(m) <= as_of:
                assessments.append(measures(discontinued + months(m), 1.0, mmt=best_mmt - rng.randint(0, 2)))
                m += 3.0 if m < 24 else 6.0
    # the file ends at as_of (for a relapse: the relapse visit); later prednisone steps are not written
    gc_steps = [(d, mg) for d, mg in gc_steps if d <= as_of]

    courses = [{"start": iso(s), "days": 2, "dose_g_per_kg_per_day": 1.0} for s in starts]
    if story.side_effect is not None:
        courses[rng.randrange(min(3, len(courses)))]["adverse_events"] = [story.side_effect]

    gc_stop = next((d for d, mg in gc_steps if mg == 0.0), None)
    prednisone = {
        "agent": "prednisone",
        "start": iso(dx),
        "stop": iso(gc_stop) if gc_stop else None,
        "outcome": "inadequate_response",
    }
    age_risk = story.age >= 60
    risk = dict.fromkeys(RISK_FACTORS, False)
    risk["cardiovascular_disease"] = age_risk and rng.random() < 0.4
    risk["diabetes"] = rng.random() < 0.1
    risk["estrogen_therapy"] = female and story.age < 50 and rng.random() < 0.15

    anniversary = date(c1.year - story.age, c1.month, min(c1.day, 28))
    birth = anniversary - days(rng.randint(1, 360))
    assert age_on(birth, c1) == story.age

    doc: dict[str, Any] = {
        "schema_version": 1,
        "patient_id": f"seed-{story.number:03d}",
        "as_of": iso(as_of),
        "demographics": {
            "birth_date": iso(birth),
            "sex": story.sex,
            "weight_kg": weight,
            "height_cm": height,
            "abo_group": abo,
        },
        "diagnosis": {
            "condition": "polymyositis",
            "diagnosed_on": iso(dx),
            "classification": rng.choice(["definite", "definite", "probable"]),
            "criteria": "bohan_peter",
            "ibm_features": False,
            "statin_exposure": False,
            "anti_hmgcr": False,
            "anti_srp": False,
        },
        "therapies": [prednisone, *therapies],
        "glucocorticoid_doses": [{"date": iso(d), "prednisone_mg_per_day": mg} for d, mg in gc_steps],
        "assessments": sorted(assessments, key=lambda a: a["date"]),
        "labs": labs,
        "ivig_courses": courses,
        "risk_factors": risk,
    }
    if discontinued is not None:
        doc["ivig_discontinued_on"] = iso(discontinued)
    return doc


def generate() -> dict[str, dict[str, Any]]:
    """The 35 patient files, by file name."""
    rng = random.Random(SEED)
    sexes = ["female"] * N_FEMALE + ["male"] * (N_PATIENTS - N_FEMALE)
    rng.shuffle(sexes)
    ages = draw_ages(rng)
    agents = assign_prior_therapies(rng)
    groups = [g for g, n in GROUPS.items() for _ in range(n)]
    rng.shuffle(groups)
    relapse_months = list(RELAPSE_MONTHS)
    rng.shuffle(relapse_months)
    effects = [
        {"type": "headache", "severity": "mild"},
        {"type": "fever", "severity": "mild"},
        {"type": "rash", "severity": "mild"},
        {"type": "infusion_reaction", "severity": "mild"},
        {"type": "headache", "severity": "moderate"},
        {"type": "aseptic_meningitis", "severity": "moderate"},
    ]
    with_effects = dict(zip(rng.sample(range(N_PATIENTS), N_WITH_SIDE_EFFECTS), effects, strict=True))
    files: dict[str, dict[str, Any]] = {}
    for i in range(N_PATIENTS):
        story = Story(
            number=i + 1,
            sex=sexes[i],
            age=ages[i],
            group=groups[i],
            agents=agents[i],
            side_effect=with_effects.get(i),
        )
        if story.group == "relapse":
            story.relapse_months = relapse_months.pop()
        files[f"seed-{i + 1:03d}.json"] = build_patient(story, rng)
    return files


def write(out: Path) -> list[Path]:
    """Write the 35 files (sorted keys, 2-space indent, trailing newline) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, doc in generate().items():
        path = out / name
        path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    written = write(args.out)
    print(f"wrote {len(written)} patient files to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
