"""ivig-cds benchmarks (not timed tests): latency, backend ratio, batch throughput, cold start, memory.

Usage::

    python bench/run.py            # full run (a few minutes)
    python bench/run.py --quick    # < 1 minute on 2 cores
    python bench/run.py --json     # one JSON object with exactly the metric keys below

Metrics (medians over repeated rounds where it says so):

* ``eval_p50_ms`` / ``eval_p99_ms`` - one evaluation through a reused durable Engine, from a dict
  (validation + derivation + rules + status + findings), on a generated cohort with realistic
  histories (``tests/strategies.py``); per round p50/p99, median over rounds;
* ``eval_reference_p50_ms`` - the same patients, same run, on the pure-Python reference backend;
* ``ratio_vs_reference`` - ``eval_p50_ms / eval_reference_p50_ms``;
* ``plain_python_p50_ms`` - the floor a rule engine competes with: the same dict read + validated
  and derived by the engine's own steps, then the status block computed by a hand-written if-chain
  (``bench/baseline.py``), checked equal to the engine's ``evaluation.status`` on every latency
  patient before any timing (a mismatch raises);
* ``ratio_vs_plain_python`` - ``eval_p50_ms / plain_python_p50_ms``. The durable engine, the
  reference engine and the plain-Python floor run interleaved patient by patient (the order
  rotating), so all three see the same machine load;
* ``durable_c_p50_ms`` - the durable-rules C calls of each evaluation replayed alone, no Python
  around them (``bench/floors.py``), interleaved with the others;
* ``floor_p50_ms`` - per patient, plain Python floor + durable C calls: what an engine deciding on
  durable-rules could approach with zero glue; ``ratio_vs_floor`` = ``eval_p50_ms / floor_p50_ms``;
* ``batch_patients_per_s`` - NDJSON in, NDJSON out through the CLI with all cores:
  ``ivig-cds evaluate FILE.ndjson --format ndjson --jobs N`` (whole process, median of runs);
* ``version_cold_start_ms`` - ``ivig-cds --version``, whole process, median of runs;
* ``cli_cold_start_ms`` - ``ivig-cds evaluate one.json --format json``, whole process, median;
* ``cli_cold_start_cached_ms`` - the same with the opt-in on-disk rule cache (``IVIG_CDS_CACHE_DIR``,
  filled by one run first);
* ``python_pass_ms`` - ``python -c pass`` with the same interpreter, same run (the floor of both);
* ``cold_start_ratio_vs_python`` - ``version_cold_start_ms / python_pass_ms``;
* ``scaling_exponent`` - ``Engine.evaluate`` CPU time (median of runs) on one realistic record
  scaled to 10x, 100x and 1,000x its courses (a creatinine after each), glucocorticoid dose steps and visits
  (``bench/scaling.py``): the least-squares slope of log(time) on log(size); 1.0 is linear;
* ``rss_growth_pct`` - resident memory growth across 100,000 evaluations (``--quick``: 5,000),
  from after a warm-up to the end, in a fresh child process (engine + a 2,000-patient cohort).

Plugins are off (``IVIG_CDS_LOAD_PLUGINS=""``) so the figures measure the core engine. With
``--json`` the metadata (machine, date, sizes, methods) goes to stderr; stdout holds only the
metric object.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the cohort generator lives with the tests
os.environ["IVIG_CDS_LOAD_PLUGINS"] = ""

sys.path.insert(0, str(REPO / "bench"))  # the plain-Python baseline and the scaled record live beside this file

from baseline import check_against_engine, plain_evaluate  # noqa: E402
from floors import capture, replay  # noqa: E402
from scaling import scaling  # noqa: E402

from ivig_cds import Engine  # noqa: E402
from ivig_cds.backends._durable import DurableBackend  # noqa: E402
from strategies import cohort  # noqa: E402

KEYS = (
    "eval_p50_ms",
    "eval_p99_ms",
    "eval_reference_p50_ms",
    "ratio_vs_reference",
    "plain_python_p50_ms",
    "ratio_vs_plain_python",
    "durable_c_p50_ms",
    "floor_p50_ms",
    "ratio_vs_floor",
    "batch_patients_per_s",
    "version_cold_start_ms",
    "cli_cold_start_ms",
    "cli_cold_start_cached_ms",
    "python_pass_ms",
    "cold_start_ratio_vs_python",
    "scaling_exponent",
    "rss_growth_pct",
)
TARGETS = {  # issue 14
    "eval_p50_ms": ("<=", 0.5),
    "eval_p99_ms": ("<=", 1.5),
    "ratio_vs_plain_python": ("<=", 3.0),
    "ratio_vs_reference": ("<=", 1.3),
    "batch_patients_per_s": (">=", 3000.0),
    "version_cold_start_ms": ("<=", 150.0),
    "cli_cold_start_ms": ("<=", 300.0),
    "scaling_exponent": ("<=", 1.1),
    "rss_growth_pct": ("<=", 5.0),
}


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def rss_kib() -> int:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def time_evaluations(engine: Engine, docs: list[dict[str, Any]]) -> list[float]:
    """Milliseconds per evaluation, in order."""
    out: list[float] = []
    clock = time.perf_counter_ns
    for doc in docs:
        t = clock()
        engine.evaluate(doc)
        out.append((clock() - t) / 1e6)
    return out


def time_plain(engine: Engine, docs: list[dict[str, Any]]) -> list[float]:
    """Milliseconds per patient of the plain-Python floor (validate + derive + if-chain), in order."""
    out: list[float] = []
    clock = time.perf_counter_ns
    for doc in docs:
        t = clock()
        plain_evaluate(engine, doc)
        out.append((clock() - t) / 1e6)
    return out


def latency(docs: list[dict[str, Any]], rounds: int, log: Callable[[str], None]) -> dict[str, float]:
    durable = Engine(backend="durable")
    reference = Engine(backend="reference")
    matched = check_against_engine(durable, docs)  # raises on the first status field that differs
    log(f"  plain-Python status block = the engine's on {matched}/{len(docs)} patients (every Status field)")
    warm = docs[: min(300, len(docs))]
    time_evaluations(durable, warm)
    time_evaluations(reference, warm)
    time_plain(durable, warm)
    backend = durable._backend
    assert isinstance(backend, DurableBackend)
    sessions = [capture(durable, doc) for doc in docs]  # the C calls of each evaluation, replayed below
    runners: list[tuple[str, Callable[[int], object]]] = [
        ("d", lambda i: durable.evaluate(docs[i])),
        ("r", lambda i: reference.evaluate(docs[i])),
        ("p", lambda i: plain_evaluate(durable, docs[i])),
        ("c", lambda i: replay(backend, sessions[i])),
    ]
    p50s, p99s, ref50s, plain50s, c50s, floor50s = [], [], [], [], [], []
    clock = time.perf_counter_ns
    for r in range(rounds):
        times: dict[str, list[float]] = {"d": [], "r": [], "p": [], "c": []}
        # interleaved patient by patient, the order rotating, so no runner always goes first
        for i in range(len(docs)):
            k = (i + r) % len(runners)
            for tag, run in runners[k:] + runners[:k]:
                t = clock()
                run(i)
                times[tag].append((clock() - t) / 1e6)
        floor = sorted(p + c for p, c in zip(times["p"], times["c"], strict=True))
        d, ref, plain, c_only = sorted(times["d"]), sorted(times["r"]), sorted(times["p"]), sorted(times["c"])
        p50s.append(percentile(d, 50))
        p99s.append(percentile(d, 99))
        ref50s.append(percentile(ref, 50))
        plain50s.append(percentile(plain, 50))
        c50s.append(percentile(c_only, 50))
        floor50s.append(percentile(floor, 50))
        log(
            f"  round {r + 1}: durable p50 {p50s[-1]:.3f} p99 {p99s[-1]:.3f}  reference p50 {ref50s[-1]:.3f}"
            f"  plain Python p50 {plain50s[-1]:.3f}  durable C calls alone p50 {c50s[-1]:.3f}"
            f"  floor (plain + C) p50 {floor50s[-1]:.3f} ms"
        )
    p50, p99 = statistics.median(p50s), statistics.median(p99s)
    ref50, plain50 = statistics.median(ref50s), statistics.median(plain50s)
    c50, floor50 = statistics.median(c50s), statistics.median(floor50s)
    return {
        "durable_c_p50_ms": round(c50, 3),
        "floor_p50_ms": round(floor50, 3),
        "ratio_vs_floor": round(p50 / floor50, 3),
        "eval_p50_ms": round(p50, 3),
        "eval_p99_ms": round(p99, 3),
        "eval_reference_p50_ms": round(ref50, 3),
        "ratio_vs_reference": round(p50 / ref50, 3),
        "plain_python_p50_ms": round(plain50, 3),
        "ratio_vs_plain_python": round(p50 / plain50, 3),
    }


def cli() -> list[str]:
    exe = shutil.which("ivig-cds", path=str(Path(sys.executable).parent)) or shutil.which("ivig-cds")
    return [exe] if exe else [sys.executable, "-m", "ivig_cds.cli"]


def cli_supports_jobs() -> bool:
    proc = subprocess.run([*cli(), "evaluate", "--help"], capture_output=True, text=True, timeout=60)
    return "--jobs" in proc.stdout and "ndjson" in proc.stdout


def batch_cli(path: Path, n: int, jobs: int, runs: int, log: Callable[[str], None]) -> float:
    rates = []
    for r in range(runs):
        out = path.with_suffix(f".out{r}.ndjson")
        t = time.perf_counter()
        command = [*cli(), "evaluate", str(path), "--format", "ndjson", "--jobs", str(jobs), "--no-summary"]
        proc = subprocess.run(
            [*command, "-o", str(out)],
            capture_output=True,
            text=True,
            timeout=3600,
        )
        wall = time.perf_counter() - t
        lines = out.read_text().count("\n") if out.exists() else 0
        if proc.returncode not in (0, 1) or lines != n:
            raise RuntimeError(f"batch run failed (rc {proc.returncode}, {lines}/{n} lines): {proc.stderr[-500:]}")
        rates.append(n / wall)
        log(f"  batch run {r + 1}: {n} patients in {wall:.2f} s = {n / wall:,.0f} patients/s")
        out.unlink()
    return statistics.median(rates)


def _pool_worker_init() -> None:
    global _POOL_ENGINE
    _POOL_ENGINE = Engine()


_POOL_ENGINE: Engine | None = None


def _pool_evaluate(line: str) -> str:
    assert _POOL_ENGINE is not None
    return _POOL_ENGINE.evaluate(json.loads(line)).to_json(indent=None)


def batch_pool(path: Path, n: int, jobs: int, runs: int, log: Callable[[str], None]) -> float:
    """Fallback when the CLI has no --jobs/NDJSON: a process pool calling the engine (labelled)."""
    import multiprocessing

    lines = path.read_text().splitlines()
    rates = []
    for r in range(runs):
        t = time.perf_counter()
        with multiprocessing.get_context("fork").Pool(jobs, initializer=_pool_worker_init) as pool:
            got = pool.map(_pool_evaluate, lines, chunksize=64)
        wall = time.perf_counter() - t
        assert len(got) == n
        rates.append(n / wall)
        log(f"  pool run {r + 1}: {n} patients in {wall:.2f} s = {n / wall:,.0f} patients/s")
    return statistics.median(rates)


def whole_process_ms(command: list[str], runs: int, env: dict[str, str] | None = None) -> list[float]:
    """Wall milliseconds of each of ``runs`` runs of a command (exit 0 or 1 accepted)."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, timeout=120, env=env)
        times.append((time.perf_counter() - t) * 1000)
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"{' '.join(command[-3:])} failed: {proc.stderr[-500:]!r}")
    return times


def cold_starts(path: Path, runs: int, log: Callable[[str], None]) -> dict[str, float]:
    """``ivig-cds --version``, ``ivig-cds evaluate one.json`` and ``python -c pass``, interleaved run by run."""
    commands = {
        "version_cold_start_ms": [*cli(), "--version"],
        "cli_cold_start_ms": [*cli(), "evaluate", str(path), "--format", "json"],
        "python_pass_ms": [sys.executable, "-c", "pass"],
    }
    times: dict[str, list[float]] = {key: [] for key in [*commands, "cli_cold_start_cached_ms"]}
    with tempfile.TemporaryDirectory(prefix="ivig-cache-") as cache:  # the opt-in on-disk rule cache
        cached_env = dict(os.environ, IVIG_CDS_CACHE_DIR=cache)
        whole_process_ms(commands["cli_cold_start_ms"], 1, cached_env)  # fills it
        for _ in range(runs):
            for key, command in commands.items():
                times[key] += whole_process_ms(command, 1)
            times["cli_cold_start_cached_ms"] += whole_process_ms(commands["cli_cold_start_ms"], 1, cached_env)
    out = {}
    for key, values in times.items():
        log(f"  {key} runs (ms): {', '.join(f'{x:.0f}' for x in values)}")
        out[key] = round(statistics.median(values), 1)
    out["cold_start_ratio_vs_python"] = round(out["version_cold_start_ms"] / out["python_pass_ms"], 2)
    return out


def rss_growth_here(total: int, seed: int, log: Callable[[str], None]) -> float:
    """RSS growth over ``total`` evaluations, in this (fresh) process: engine, cohort, warm-up, run."""
    docs = cohort(2000, seed=seed)
    engine = Engine()
    warm = max(1000, total // 20)
    for i in range(warm):
        engine.evaluate(docs[i % len(docs)])
    gc.collect()
    start = rss_kib()
    checkpoints = {total // 4, total // 2, 3 * total // 4}
    for i in range(total):
        engine.evaluate(docs[i % len(docs)])
        if i in checkpoints:
            log(f"  rss after {i:,} evaluations: {rss_kib() / 1024:.1f} MiB")
    gc.collect()
    end = rss_kib()
    log(f"  rss {start / 1024:.1f} MiB after {warm:,} warm-up evaluations")
    log(f"  rss {end / 1024:.1f} MiB after {total:,} more")
    return (end - start) / start * 100


def rss_growth(total: int, seed: int, log: Callable[[str], None]) -> float:
    """Run :func:`rss_growth_here` in a clean child process (this one holds the latency cohort)."""
    proc = subprocess.run(
        [sys.executable, __file__, "--rss-child", str(total), "--seed", str(seed)],
        capture_output=True,
        text=True,
        timeout=7200,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"rss child failed: {proc.stderr[-500:]}")
    for line in proc.stderr.splitlines():
        log(line)
    return float(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a smaller run that finishes in under a minute")
    ap.add_argument("--json", action="store_true", help="print one JSON object with exactly the metric keys")
    ap.add_argument("--jobs", type=int, default=0, help="batch worker processes (default: all usable CPUs)")
    ap.add_argument("--seed", type=int, default=20240601, help="cohort seed")
    ap.add_argument("--rss-child", type=int, metavar="N", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.rss_child:
        growth = rss_growth_here(args.rss_child, args.seed, lambda msg: print(msg, file=sys.stderr))
        print(growth)
        return 0

    def log(msg: str) -> None:
        print(msg, file=sys.stderr if args.json else sys.stdout, flush=True)

    quick = args.quick
    n_latency = 1000 if quick else 5000
    rounds = 1 if quick else 3
    n_batch = 4000 if quick else 20000
    batch_runs = 1 if quick else 3
    cold_runs = 5 if quick else 9
    scale_runs = 3 if quick else 7
    n_rss = 5000 if quick else 100_000
    jobs = args.jobs or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)

    meta = machine()
    log(f"ivig-cds bench {'(quick) ' if quick else ''}- {json.dumps(meta)}")
    started = time.perf_counter()
    docs = cohort(max(n_latency, 2000), seed=args.seed)
    results: dict[str, float] = {}

    log(f"latency: {n_latency:,} generated patients x {rounds} round(s), dict input, reused engines")
    results.update(latency(docs[:n_latency], rounds, log))

    with tempfile.TemporaryDirectory(prefix="ivig-bench-") as tmp:
        tmpdir = Path(tmp)
        ndjson = tmpdir / "cohort.ndjson"
        ndjson.write_text("".join(json.dumps(d) + "\n" for d in cohort(n_batch, seed=args.seed + 1)))
        if cli_supports_jobs():
            method = f"CLI: ivig-cds evaluate cohort.ndjson --format ndjson --jobs {jobs}"
            log(f"batch: {n_batch:,} patients, {method}")
            results["batch_patients_per_s"] = round(batch_cli(ndjson, n_batch, jobs, batch_runs, log), 1)
        else:
            method = f"FALLBACK multiprocessing pool of {jobs} engines (the CLI has no --jobs/NDJSON yet)"
            log(f"batch: {n_batch:,} patients, {method}")
            results["batch_patients_per_s"] = round(batch_pool(ndjson, n_batch, jobs, batch_runs, log), 1)
        one = tmpdir / "one.json"
        one.write_text(json.dumps(docs[0]))
        log(f"cold start: ivig-cds --version, ivig-cds evaluate one.json, python -c pass; {cold_runs} runs")
        results.update(cold_starts(one, cold_runs, log))

    log(f"scaling: one record at 10x, 100x, 1,000x its cycles (bench/scaling.py); {scale_runs} runs each")
    exponent, _ = scaling(Engine(), scale_runs, log)
    results["scaling_exponent"] = round(exponent, 3)

    log(f"memory: {n_rss:,} evaluations{' (--quick: 5,000, not 100,000)' if quick else ''}")
    results["rss_growth_pct"] = round(rss_growth(n_rss, args.seed, log), 2)

    log(f"done in {time.perf_counter() - started:.0f} s")
    for key in KEYS:
        target = TARGETS.get(key)
        mark = ""
        if target:
            op, bound = target
            ok = results[key] <= bound if op == "<=" else results[key] >= bound
            mark = f"  (target {op} {bound:g}: {'ok' if ok else 'MISSED'})"
        log(f"  {key:24s} {results[key]:>12,.3f}{mark}")
    if args.json:
        print(json.dumps({key: results[key] for key in KEYS}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
