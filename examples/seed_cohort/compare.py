"""Compare the engine's classification of the seed cohort with the seed study's published numbers.

Every outcome count below is computed from what ``Engine().evaluate`` returns for each patient file
(``Evaluation.status``: response, outcome, months_to_relapse, steroid_taper_beyond_50; and, for the
two rows the status block has no field for, the RESP-004 / REFRACTORY-005 findings), never from the
generator's intent. A second table checks the cohort's inputs (sex, age, prior therapies, side
effects) straight from the files.

Usage::

    python examples/seed_cohort/compare.py [--dir DIR] [--json] [--core-only]

``Engine()`` loads the installed plugins, as an integration would; ``--core-only`` evaluates with the
core rules and the contract's default thresholds (``Engine(entry_points=False)``). The engine
configuration in force (plugins, overridden thresholds) is printed with the result.

Exit code 0 when every row matches the seed, 1 when one does not, 2 when there are no files.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ivig_cds import Engine, Evaluation

DEFAULT_DIR = Path(__file__).resolve().parent / "patients"
SEED = "Cherin et al., Arthritis Rheum 2002 (35 adults, refractory polymyositis, IVIG 1 g/kg/day x 2 days monthly)"
PRIOR_THERAPIES: dict[str, int] = {
    "prednisone": 35,
    "methotrexate": 24,
    "azathioprine": 13,
    "cyclosporine": 7,
    "cyclophosphamide": 4,
    "chlorambucil": 1,
    "plasmapheresis": 8,
    "lymphopheresis": 1,
    "total_body_irradiation": 1,
}


@dataclass(frozen=True)
class Row:
    """One compared figure: the seed's value, the engine's (or the files') value, and whether they agree."""

    measure: str
    seed: str
    engine: str
    match: bool
    source: str


def frac(n: int, d: int, pct: bool = False) -> str:
    text = f"{n}/{d}"
    return f"{text} ({100 * n / d:.1f}%)" if pct and d else text


def outcome_rows(evals: Sequence[Evaluation]) -> list[Row]:
    """The seed's results next to the engine's, counted from each evaluation's status block."""
    treated = [e for e in evals if e.status.response != "not_started"]
    responders = [e for e in treated if e.status.response == "responder"]
    non_responders = [e for e in treated if e.status.outcome == "non_responder"]
    r = len(responders)

    def count(pred: Callable[[Evaluation], bool]) -> int:
        return sum(1 for e in responders if pred(e))

    off = count(lambda e: e.status.outcome == "remission_off_therapy")
    low = count(lambda e: e.status.outcome == "remission_low_dose_steroid")
    dependent = count(lambda e: e.status.outcome == "ivig_dependent")
    relapsed = [e for e in responders if e.status.outcome == "relapse" and e.status.relapse_alert]
    months = [e.status.months_to_relapse for e in relapsed if e.status.months_to_relapse is not None]
    tapered = count(lambda e: e.status.steroid_taper_beyond_50 is True)
    ck_fell = sum(1 for e in treated if any(f.rule_id == "RESP-004" for f in e.findings))
    stable = sum(1 for e in treated if not any(f.rule_id == "REFRACTORY-005" for f in e.findings))
    mean = round(statistics.mean(months), 1) if months else None
    low_m, high_m = (min(months), max(months)) if months else (None, None)
    t = len(treated)
    return [
        Row("Treated with IVIG", "35", str(t), t == 35, "status.response != not_started"),
        Row(
            "No change in the 2 months before IVIG",
            "35/35",
            frac(stable, t),
            stable == t == 35,
            "no REFRACTORY-005 finding",
        ),
        Row(
            "Clinical responders (TIS >= 20)",
            "25/35 (71.4%)",
            frac(r, t, pct=True),
            (r, t) == (25, 35),
            "status.response == responder",
        ),
        Row(
            "Non-responders",
            "10/35",
            frac(len(non_responders), t),
            (len(non_responders), t) == (10, 35),
            "status.outcome == non_responder",
        ),
        Row("CK fell before course 4", "35/35", frac(ck_fell, t), ck_fell == t == 35, "RESP-004 finding"),
        Row(
            "Prednisone cut by > 50% (responders)",
            "25/25",
            frac(tapered, r),
            tapered == r == 25,
            "status.steroid_taper_beyond_50",
        ),
        Row(
            "Remission (responders)",
            "12/25",
            frac(off + low, r),
            (off + low, r) == (12, 25),
            "status.outcome == remission_*",
        ),
        Row("  off all drugs", "5/25", frac(off, r), (off, r) == (5, 25), "status.outcome"),
        Row("  on low-dose steroid", "7/25", frac(low, r), (low, r) == (7, 25), "status.outcome"),
        Row("IVIG-dependent", "6/25", frac(dependent, r), (dependent, r) == (6, 25), "status.outcome"),
        Row(
            "Relapsed after stopping IVIG",
            "7/25",
            frac(len(relapsed), r),
            (len(relapsed), r) == (7, 25),
            "status.outcome == relapse",
        ),
        Row(
            "Months to relapse, mean",
            "17.1",
            "-" if mean is None else f"{mean:.1f}",
            mean == 17.1,
            "status.months_to_relapse",
        ),
        # the seed reports the range in whole months
        Row(
            "Months to relapse, range",
            "4-23",
            "-" if low_m is None else f"{low_m:g}-{high_m:g}",
            low_m is not None and high_m is not None and (round(low_m), round(high_m)) == (4, 23),
            "status.months_to_relapse",
        ),
    ]


def input_rows(docs: Sequence[dict[str, Any]]) -> list[Row]:
    """The cohort's baseline characteristics, read from the patient files."""
    n = len(docs)
    female = sum(1 for d in docs if d["demographics"]["sex"] == "female")
    ages = []
    for d in docs:
        birth = date.fromisoformat(d["demographics"]["birth_date"])
        first = min(date.fromisoformat(c["start"]) for c in d["ivig_courses"])
        ages.append(first.year - birth.year - ((first.month, first.day) < (birth.month, birth.day)))
    mean, sd = round(statistics.mean(ages), 1), round(statistics.stdev(ages), 1)
    rows = [
        Row("Patients", "35", str(n), n == 35, "files"),
        Row(
            "Female / male",
            "20 / 15",
            f"{female} / {n - female}",
            (female, n - female) == (20, 15),
            "demographics.sex",
        ),
        Row(
            "Age at first course, mean (SD)",
            "43.5 (16.8)",
            f"{mean} ({sd})",
            (mean, sd) == (43.5, 16.8),
            "demographics.birth_date",
        ),
        Row(
            "Adults",
            "35/35",
            frac(sum(a >= 18 for a in ages), n),
            all(a >= 18 for a in ages) and n == 35,
            "demographics.birth_date",
        ),
    ]
    for agent, seed_n in PRIOR_THERAPIES.items():
        got = sum(1 for d in docs if any(t["agent"] == agent for t in d["therapies"]))
        rows.append(Row(f"Prior {agent.replace('_', ' ')}", str(seed_n), str(got), got == seed_n, "therapies"))
    effects = sum(1 for d in docs if any(c.get("adverse_events") for c in d["ivig_courses"]))
    rows.append(Row("Side effects", "6/35", frac(effects, n), (effects, n) == (6, 35), "adverse_events"))
    return rows


def render(console: Console, title: str, rows: Sequence[Row]) -> None:
    table = Table(title=title, title_justify="left")
    table.add_column("Measure")
    table.add_column("Seed", justify="right")
    table.add_column("Engine" if "engine" in title.lower() else "Files", justify="right")
    table.add_column("From")
    table.add_column("Match", justify="center")
    for row in rows:
        table.add_row(
            row.measure,
            row.seed,
            row.engine,
            row.source,
            "[green]yes[/green]" if row.match else "[bold red]NO[/bold red]",
        )
    console.print(table)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Compare the engine's seed-cohort results with the seed study.")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"patient files (default {DEFAULT_DIR})")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    parser.add_argument(
        "--core-only",
        action="store_true",
        help="core rules and default thresholds only (do not load installed plugins)",
    )
    args = parser.parse_args(argv)

    paths = sorted(args.dir.glob("*.json"))
    if not paths:
        print(f"no patient files in {args.dir}: run generate.py first", file=sys.stderr)
        return 2
    engine = Engine(entry_points=not args.core_only)
    evals = [engine.evaluate(p) for p in paths]
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    outcomes, inputs = outcome_rows(evals), input_rows(docs)
    ok = all(r.match for r in outcomes + inputs)
    config = {
        "version": engine.info.version,
        "backend": engine.info.backend,
        "ruleset_hash": engine.info.ruleset_hash,
        "plugins": engine.info.plugins,
        "thresholds_overridden": engine.info.thresholds_overridden,
    }

    if args.json:
        print(
            json.dumps(
                {
                    "seed": SEED,
                    "engine": config,
                    "patients": len(paths),
                    "outcomes": [asdict(r) for r in outcomes],
                    "inputs": [asdict(r) for r in inputs],
                    "all_match": ok,
                },
                indent=2,
            )
        )
    else:
        console = Console() if sys.stdout.isatty() else Console(width=120)
        console.print(f"Seed: {SEED}")
        plugins = ", ".join(config["plugins"]) or "none"
        console.print(
            f"Engine {config['version']} ({config['backend']}), ruleset {config['ruleset_hash'][:12]}, "
            f"plugins: {plugins}, thresholds overridden: {config['thresholds_overridden'] or 'none'}"
        )
        render(console, f"Outcomes: seed vs engine ({len(paths)} files in {args.dir})", outcomes)
        render(console, "Cohort inputs: seed vs patient files", inputs)
        console.print("[green]every row matches the seed[/green]" if ok else "[bold red]mismatch[/bold red]")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
