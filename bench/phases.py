"""Where one evaluation's time goes, phase by phase (CPU time, mean and median per patient).

Usage::

    python bench/phases.py [--n 2000] [--rounds 3] [--backend durable|reference|both]

Runs the engine's own pipeline steps one by one on a generated cohort (``tests/strategies.py``),
interleaving the backends per patient when ``both``: read + validate, derive, rules, assemble
(status, findings, gaps, dose plan, the ``Evaluation``), and the whole ``Engine.evaluate`` for
comparison. CPU time (``time.process_time_ns``) beside wall time, because these machines are shared.
A figure, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
os.environ["IVIG_CDS_LOAD_PLUGINS"] = ""

from ivig_cds import Engine  # noqa: E402
from ivig_cds.inputs.fhir.integration import load_input  # noqa: E402
from strategies import cohort  # noqa: E402

PHASES = ("read+validate", "derive", "rules", "assemble", "evaluate (whole)")


def phases_of(engine: Engine, text: bytes) -> dict[str, int]:
    """CPU ns of each phase for one patient (the same steps as Engine.trace)."""
    clock = time.process_time_ns
    out: dict[str, int] = {}
    t0 = clock()
    model, _ = load_input(text)
    t1 = clock()
    day, source = engine._as_of(None, model)
    derived = engine.derive(model, day, [])
    t2 = clock()
    all_facts, matches = engine.run_rules(derived)
    t3 = clock()
    engine._assemble(model, day, source, derived, all_facts, matches)
    t4 = clock()
    engine.evaluate(text)
    t5 = clock()
    out["read+validate"], out["derive"], out["rules"], out["assemble"] = t1 - t0, t2 - t1, t3 - t2, t4 - t3
    out["evaluate (whole)"] = t5 - t4
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", choices=["durable", "reference", "both"], default="both")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    texts = [json.dumps(d).encode() for d in cohort(args.n, seed=20240601)]
    names = ["durable", "reference"] if args.backend == "both" else [args.backend]
    engines = {name: Engine(backend=name) for name in names}  # type: ignore[arg-type]
    samples: dict[str, dict[str, list[int]]] = {n: {p: [] for p in PHASES} for n in names}
    for text in texts[:200]:  # warm-up
        for engine in engines.values():
            phases_of(engine, text)
    wall = time.perf_counter()
    for _ in range(args.rounds):
        for text in texts:
            for name, engine in engines.items():  # interleaved per patient
                for phase, ns in phases_of(engine, text).items():
                    samples[name][phase].append(ns)
    wall = time.perf_counter() - wall
    result: dict[str, Any] = {"patients": args.n, "rounds": args.rounds, "wall_s": round(wall, 1)}
    for name in names:
        result[name] = {
            p: {"mean_ms": round(statistics.fmean(v) / 1e6, 4), "median_ms": round(statistics.median(v) / 1e6, 4)}
            for p, v in samples[name].items()
        }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    show: Callable[[str], None] = print
    show(f"{args.n} patients x {args.rounds} rounds, CPU ms per patient (mean / median); load {os.getloadavg()}")
    header = f"{'phase':18}" + "".join(f"{n:>22}" for n in names)
    show(header)
    for p in PHASES:
        row = f"{p:18}"
        for n in names:
            s = result[n][p]
            row += f"{s['mean_ms']:>12.3f} / {s['median_ms']:<7.3f}"
        show(row)


if __name__ == "__main__":
    main()
