"""How the cost of one evaluation grows with the length of a record (``scaling_exponent`` of ``bench/run.py``).

Usage::

    python bench/scaling.py [--runs 5] [--profile]   # times per size, the fitted exponent

:func:`scaled_record` builds a realistic treated patient (the demographics, diagnosis, screen,
labs and failed steroid-sparing drugs of ``examples/ivig-dependent.json``) whose history is
``factor`` times a base of :data:`BASE_CYCLES` treatment cycles. One cycle is an IVIG course
(2 days at 1 g/kg/day) with a creatinine the day after, a glucocorticoid dose step a week later
(prednisone tapered from 60 mg, with a flare back up every 12 cycles) and a visit three weeks
after the course (MMT-8 rising to a plateau, dipping during every weaning attempt). Courses are
28 days apart, every sixth interval 63 days (a weaning attempt, longer than ``weaning_gap_days``),
so the derivation walks every list: weaning intervals, taper steps, response windows, each
course's creatinine windows. Dates stay valid (1800-2200) and ordered; the patient is old, the
intervals are clinical. The size is the number of cycles.

:func:`scaling` times ``Engine.evaluate`` (CPU time, median of runs) at 10x, 100x and 1,000x and
fits the exponent by least squares on log(time) vs log(size).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("IVIG_CDS_LOAD_PLUGINS", "")

from ivig_cds import Engine  # noqa: E402

__all__ = ["BASE_CYCLES", "FACTORS", "fit_exponent", "scaled_record", "scaling"]

BASE_CYCLES = 3
"""Cycles (course + dose step + visit) of the 1x record."""
FACTORS = (10, 100, 1000)
"""The sizes fitted, as multiples of the base record."""


def _iso(d: date) -> str:
    return d.isoformat()


def scaled_record(factor: int) -> dict[str, Any]:
    """A valid patient file with ``factor * BASE_CYCLES`` cycles (course, creatinine, dose step, visit)."""
    base = json.loads((REPO / "examples" / "ivig-dependent.json").read_text(encoding="utf-8"))
    cycles = factor * BASE_CYCLES
    diagnosed = date(1830, 1, 15)
    first = diagnosed + timedelta(days=380)
    starts: list[date] = []
    day = first
    for i in range(cycles):
        starts.append(day)
        day += timedelta(days=63 if i % 6 == 5 else 28)
    as_of = starts[-1] + timedelta(days=21)
    gc: list[dict[str, Any]] = [{"date": _iso(diagnosed), "prednisone_mg_per_day": 60}]
    visits: list[dict[str, Any]] = [
        {"date": _iso(first - timedelta(days=10)), "mmt8": 48, "mmt8_max": 80, "ck_u_per_l": 3300,
         "ck_uln_u_per_l": 200, "physician_global_cm": 6.5, "patient_global_cm": 7.0, "haq": 1.75,
         "extramuscular_global_cm": 1.5, "dysphagia": "mild"},
    ]  # fmt: skip
    dose = 60.0
    for i, start in enumerate(starts):
        phase = i % 12
        dose = 20.0 if phase == 0 and i else max(7.5, dose - 5.0 if dose > 25 else dose - 2.5)
        gc.append({"date": _iso(start + timedelta(days=7)), "prednisone_mg_per_day": dose})
        after_wean = i % 6 == 5  # the visit inside the long interval
        mmt8 = 58 if after_wean else min(76, 50 + 4 * min(i, 6) + (i % 3))
        visits.append(
            {
                "date": _iso(start + timedelta(days=21)),
                "mmt8": mmt8,
                "mmt8_max": 80,
                "ck_u_per_l": 900 if after_wean else max(200, 3000 - 400 * min(i, 7)),
                "ck_uln_u_per_l": 200,
                "physician_global_cm": 4.5 if after_wean else max(1.0, 6.0 - 0.8 * min(i, 6)),
                "patient_global_cm": 5.0 if after_wean else max(1.5, 6.5 - 0.8 * min(i, 6)),
                "haq": 1.25 if after_wean else max(0.25, 1.75 - 0.25 * min(i, 6)),
                "extramuscular_global_cm": 0.5 if after_wean else max(0.0, 1.5 - 0.3 * min(i, 5)),
                "dysphagia": "none",
            }
        )
    courses = [{"start": _iso(s), "days": 2, "dose_g_per_kg_per_day": 1.0, "product": "Privigen"} for s in starts]
    therapies = [
        {"agent": "prednisone", "start": _iso(diagnosed), "stop": None, "outcome": "ongoing",
         "dose_changed_on": [g["date"] for g in gc[1:]]},
        {"agent": "methotrexate", "start": _iso(diagnosed + timedelta(days=30)),
         "stop": _iso(diagnosed + timedelta(days=180)), "outcome": "inadequate_response"},
        {"agent": "azathioprine", "start": _iso(diagnosed + timedelta(days=190)),
         "stop": _iso(diagnosed + timedelta(days=300)), "outcome": "inadequate_response"},
    ]  # fmt: skip
    last_lab = as_of - timedelta(days=20)
    labs = [
        {"date": _iso(first - timedelta(days=10)), "test": "iga_mg_dl", "value": 190},
        {"date": _iso(first - timedelta(days=10)), "test": "creatinine_mg_dl", "value": 0.8},
        *({"date": _iso(s + timedelta(days=1)), "test": "creatinine_mg_dl", "value": 0.9} for s in starts),
        {"date": _iso(last_lab), "test": "creatinine_mg_dl", "value": 0.9},
        {"date": _iso(last_lab), "test": "egfr_ml_min_1_73m2", "value": 80},
    ]
    return {
        "schema_version": 1,
        "patient_id": f"scaled-{factor}x",
        "as_of": _iso(as_of),
        "demographics": {**base["demographics"], "birth_date": "1800-03-01"},
        "diagnosis": {**base["diagnosis"], "diagnosed_on": _iso(diagnosed)},
        "therapies": therapies,
        "glucocorticoid_doses": gc,
        "assessments": visits,
        "labs": labs,
        "ivig_courses": courses,
        "risk_factors": base["risk_factors"],
    }


def fit_exponent(sizes: Sequence[float], times: Sequence[float]) -> float:
    """Least-squares slope of log(time) on log(size)."""
    xs, ys = [math.log(s) for s in sizes], [math.log(t) for t in times]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)


def cpu_ms(engine: Engine, doc: dict[str, Any], runs: int) -> float:
    """Median CPU milliseconds of ``engine.evaluate(doc)`` over ``runs`` runs (after one warm-up)."""
    engine.evaluate(doc)
    clock = time.process_time_ns
    samples = []
    for _ in range(runs):
        t = clock()
        engine.evaluate(doc)
        samples.append((clock() - t) / 1e6)
    return statistics.median(samples)


def scaling(engine: Engine, runs: int, log: Callable[[str], None]) -> tuple[float, dict[int, float]]:
    """The fitted exponent over :data:`FACTORS`, and the median CPU ms per factor (1x included)."""
    times: dict[int, float] = {}
    for factor in (1, *FACTORS):
        doc = scaled_record(factor)
        ev = engine.evaluate(doc)
        assert ev.patient.courses_given == factor * BASE_CYCLES, ev.patient.courses_given
        times[factor] = cpu_ms(engine, doc, runs if factor < 1000 else max(3, runs // 2))
        log(
            f"  {factor:>5}x ({factor * BASE_CYCLES:>5} cycles): {times[factor]:9.2f} ms"
            f"  ({times[factor] / factor:.3f} ms per 1x)"
        )
    exponent = fit_exponent(FACTORS, [times[f] for f in FACTORS])
    log(f"  exponent (least squares, log time on log size, {FACTORS[0]}x..{FACTORS[-1]}x): {exponent:.3f}")
    return exponent, times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--profile", action="store_true", help="cProfile one evaluation of the 1,000x record")
    args = ap.parse_args(argv)
    engine = Engine()
    if args.profile:
        doc = scaled_record(1000)
        engine.evaluate(doc)
        prof = cProfile.Profile()
        prof.runcall(engine.evaluate, doc)
        pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative").print_stats(30)
        return 0
    scaling(engine, args.runs, print)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
