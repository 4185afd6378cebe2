"""FHIR adapter benchmarks (not timed tests): mapping a ~100-resource Bundle vs evaluating what it yields.

Usage::

    python bench/fhir.py            # full run (about a minute)
    python bench/fhir.py --quick    # a few seconds
    python bench/fhir.py --json     # one JSON object with the metric keys below

Metrics (medians, same process):

* ``map_p50_ms`` - CPU ms per ``patient_from_bundle`` on the export of a seed patient (~100 resources);
* ``eval_p50_ms`` - CPU ms per ``Engine().evaluate(patient)`` on the Patient it yields (durable backend);
* ``map_over_eval`` - ``map_p50_ms / eval_p50_ms`` (the target is "well under" 1); map and evaluation
  rounds are interleaved, so the ratio compares the same minutes of a shared machine;
* ``bundle_1e5_s`` - one Bundle of 100,000 resources (1 patient, 99,997 unread Observations), wall time;
* ``bulk_1e5_s`` / ``bulk_patients`` / ``bulk_peak_mib`` - ``iter_bulk_patients`` over an NDJSON export of
  ~100,000 resources (the seed cohort repeated under new ids, one file per type): wall time, patients
  mapped, and peak traced memory (``tracemalloc``, a second pass).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
os.environ["IVIG_CDS_LOAD_PLUGINS"] = ""

from ivig_cds import Engine  # noqa: E402
from ivig_cds.fhir import bundle_from_patient, iter_bulk_patients, patient_from_bundle  # noqa: E402
from ivig_cds.inputs.files import load_patient  # noqa: E402

SEED = sorted((REPO / "examples" / "seed_cohort" / "patients").glob("*.json"))


def _median_ms(fn: Any, rounds: int, batch: int = 10) -> float:
    """Median CPU milliseconds per call (``process_time`` over batches: robust on a shared, loaded machine)."""
    times = []
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(batch):
            fn()
        times.append((time.process_time() - start) * 1000 / batch)
    return statistics.median(times)


def _hundred_resource_bundle() -> tuple[str, dict[str, Any]]:
    sizes = [(abs(len(bundle_from_patient(load_patient(p))["entry"]) - 100), p) for p in SEED]
    _, path = min(sizes)
    return path.name, bundle_from_patient(load_patient(path))


def _bulk_export(directory: Path, target: int) -> int:
    """Write the seed cohort again and again under new ids until ~``target`` resources; returns the count."""
    bundles = [bundle_from_patient(load_patient(p)) for p in SEED]
    files: dict[str, Any] = {}
    written, copy_n = 0, 0
    try:
        while written < target:
            for bundle in bundles:
                pid = bundle["entry"][0]["resource"]["id"]
                text = json.dumps(bundle["entry"]).replace(pid, f"{pid}-c{copy_n}")  # ids and references
                for entry in json.loads(text):
                    r = entry["resource"]
                    handle = files.get(r["resourceType"])
                    if handle is None:
                        handle = files[r["resourceType"]] = (directory / f"{r['resourceType']}.ndjson").open("w")
                    handle.write(json.dumps(r) + "\n")
                    written += 1
            copy_n += 1
    finally:
        for handle in files.values():
            handle.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rounds = 20 if args.quick else 100
    name, bundle = _hundred_resource_bundle()
    engine = Engine()
    patient, _ = patient_from_bundle(bundle)
    engine.evaluate(patient)  # warm-up
    maps, evals = [], []
    for _ in range(rounds):  # interleaved: a shared machine's speed changes from minute to minute
        maps.append(_median_ms(lambda: patient_from_bundle(bundle), 1))
        evals.append(_median_ms(lambda: engine.evaluate(patient), 1))
    map_ms, eval_ms = statistics.median(maps), statistics.median(evals)
    metrics: dict[str, Any] = {
        "bundle": name,
        "bundle_resources": len(bundle["entry"]),
        "map_p50_ms": round(map_ms, 3),
        "eval_p50_ms": round(eval_ms, 3),
        "map_over_eval": round(map_ms / eval_ms, 3),
    }
    big = copy.deepcopy(bundle)
    base = [e for e in big["entry"] if e["resource"]["resourceType"] in ("Patient", "Condition")][:2]
    weight = next(e for e in big["entry"] if e["resource"]["resourceType"] == "Observation")
    noise = [
        {
            "resource": {
                "resourceType": "Observation",
                "id": f"hr{i}",
                "status": "final",
                "subject": weight["resource"]["subject"],
                "effectiveDateTime": "2020-01-01",
                "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                "valueQuantity": {"value": 70, "unit": "/min"},
            }
        }
        for i in range(99_997)
    ]
    big["entry"] = [*base, weight, *noise]
    start = time.perf_counter()
    patient_from_bundle(big)
    metrics["bundle_1e5_s"] = round(time.perf_counter() - start, 2)
    del big, noise
    with tempfile.TemporaryDirectory() as tmp:
        total = _bulk_export(Path(tmp), 10_000 if args.quick else 100_000)
        start = time.perf_counter()
        results = sum(1 for r in iter_bulk_patients(tmp) if r.patient is not None)
        elapsed = time.perf_counter() - start
        tracemalloc.start()  # a second pass for memory: tracing slows the run several times
        for _ in iter_bulk_patients(tmp):
            pass
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    metrics.update(
        bulk_resources=total,
        bulk_1e5_s=round(elapsed, 2),
        bulk_patients=results,
        bulk_peak_mib=round(peak / 2**20, 1),
    )
    if args.json:
        print(json.dumps(metrics))
    else:
        for key, value in metrics.items():
            print(f"{key:18} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
