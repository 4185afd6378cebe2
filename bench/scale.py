"""Screening throughput at scale: the local process pool against Spark local[2], on the same generated patients.

Usage::

    python bench/scale.py              # 100,000 patients, 3 interleaved rounds (~30-60 min on 2 busy cores)
    python bench/scale.py --n 10000    # a smaller run
    python bench/scale.py --json       # one JSON object on stdout (the log goes to stderr)

Needs the ``[spark]`` extra and Java 17 or 21. Each round runs, on the same NDJSON file:

* ``pool``: ``ivig-cds evaluate cohort.ndjson --format ndjson --jobs 2 --no-summary -o out.ndjson
  --as-of DATE`` (whole process: start-up, 2 spawned workers, writing every result line);
* ``spark``: ``evaluate_dataframe(spark.read.text(cohort.ndjson), as_of=DATE)`` written as Parquet
  (every column, ``result_json`` included) by a ``local[2]`` session that is already up.

Reported: median patients/s of each (and every round), the Spark/pool ratio, the session start-up
(``getOrCreate``, once, not in any round), the first Spark round's extra cost (Python workers start
and build their engines) and a single-core in-process rate (``Engine.evaluate`` over 2,000
patients, as the per-core ceiling). Plugins are off (``IVIG_CDS_LOAD_PLUGINS=""``).
"""

from __future__ import annotations

import argparse
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
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the cohort generator lives with the tests
os.environ["IVIG_CDS_LOAD_PLUGINS"] = ""
os.environ["PYSPARK_PYTHON"] = sys.executable
os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable

from ivig_cds import Engine  # noqa: E402
from strategies import cohort  # noqa: E402

AS_OF = "2024-06-01"


def cli() -> list[str]:
    beside = Path(sys.executable).with_name("ivig-cds")
    return [str(beside)] if beside.exists() else [shutil.which("ivig-cds") or "ivig-cds"]


def write_cohort(path: Path, n: int, seed: int, log: Callable[[str], None]) -> None:
    start = time.perf_counter()
    with path.open("w", encoding="utf-8") as fh:
        for offset in range(0, n, 10_000):  # in slices: 10^5 patients as dicts would hold ~1.5 GB
            for doc in cohort(min(10_000, n - offset), seed=seed + offset):
                fh.write(json.dumps(doc) + "\n")
    log(f"cohort: {n} patients, {path.stat().st_size / 2**20:.0f} MiB, {time.perf_counter() - start:.0f} s")


def run_pool(path: Path, out: Path, n: int) -> float:
    cmd = [*cli(), "evaluate", str(path), "--format", "ndjson", "--jobs", "2", "--no-summary", "--as-of", AS_OF]
    start = time.perf_counter()
    subprocess.run([*cmd, "-o", str(out)], check=True, capture_output=True)
    elapsed = time.perf_counter() - start
    with out.open("rb") as fh:
        lines = sum(1 for _ in fh)
    if lines != n:
        raise SystemExit(f"pool wrote {lines} lines for {n} patients")
    return elapsed


def start_spark(local_dir: Path) -> tuple[Any, float]:
    from pyspark.sql import SparkSession

    start = time.perf_counter()
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("ivig-cds-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "2g")
        .config("spark.local.dir", str(local_dir))
        .getOrCreate()
    )
    elapsed = time.perf_counter() - start
    spark.sparkContext.setLogLevel("ERROR")
    return spark, elapsed


def run_spark(spark: Any, path: Path, out: Path, n: int) -> float:
    from ivig_cds.spark import evaluate_dataframe

    # about 8 tasks per core (at most 16 MiB each): both cores stay busy to the end of the run
    split = max(2**20, min(16 * 2**20, path.stat().st_size // 16))
    spark.conf.set("spark.sql.files.maxPartitionBytes", str(split))
    start = time.perf_counter()
    df = spark.read.text(str(path)).withColumnRenamed("value", "patient_json")
    evaluate_dataframe(df, as_of=AS_OF).write.mode("overwrite").parquet(str(out))
    elapsed = time.perf_counter() - start
    rows = spark.read.parquet(str(out)).where("ok").count()
    if rows != n:
        raise SystemExit(f"spark wrote {rows} evaluated rows for {n} patients")
    return elapsed


def single_core_rate(seed: int) -> float:
    engine = Engine()
    docs = cohort(2000, seed=seed)
    day = date.fromisoformat(AS_OF)
    for doc in docs[:200]:
        engine.evaluate(doc, as_of=day)
    start = time.process_time()
    for doc in docs:
        engine.evaluate(doc, as_of=day)
    return len(docs) / (time.process_time() - start)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="patients (default 100,000)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of pool and Spark (default 3)")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = ap.parse_args(argv)

    def log(msg: str) -> None:
        print(f"[scale] {msg}", file=sys.stderr, flush=True)

    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "nproc": os.cpu_count(),
        "load_before": os.getloadavg()[0],
    }
    with tempfile.TemporaryDirectory(prefix="ivig-scale-") as tmp:
        root = Path(tmp)
        path = root / "cohort.ndjson"
        write_cohort(path, args.n, args.seed, log)
        spark, startup = start_spark(root / "spark-local")
        import pyspark

        meta["pyspark"] = pyspark.__version__
        log(f"spark {pyspark.__version__} session start-up (getOrCreate): {startup:.1f} s")
        pool_s: list[float] = []
        spark_s: list[float] = []
        try:
            for i in range(args.rounds):
                pool_s.append(run_pool(path, root / "pool.ndjson", args.n))
                log(f"round {i + 1}: pool {args.n / pool_s[-1]:.0f}/s ({pool_s[-1]:.1f} s)")
                spark_s.append(run_spark(spark, path, root / "spark.parquet", args.n))
                log(f"round {i + 1}: spark {args.n / spark_s[-1]:.0f}/s ({spark_s[-1]:.1f} s)")
        finally:
            spark.stop()
    per_core = single_core_rate(args.seed + 7)
    meta["load_after"] = os.getloadavg()[0]
    pool_rate = args.n / statistics.median(pool_s)
    spark_rate = args.n / statistics.median(spark_s)
    later = spark_s[1:] or spark_s
    result = {
        "n": args.n,
        "rounds": args.rounds,
        "pool_patients_per_s": round(pool_rate, 1),
        "spark_patients_per_s": round(spark_rate, 1),
        "spark_vs_pool": round(spark_rate / pool_rate, 3),
        "spark_session_startup_s": round(startup, 2),
        "spark_first_round_extra_s": round(spark_s[0] - statistics.median(later), 2),
        "single_core_patients_per_s": round(per_core, 1),
        "pool_rounds_s": [round(s, 2) for s in pool_s],
        "spark_rounds_s": [round(s, 2) for s in spark_s],
    }
    log(json.dumps(meta))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:32} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
