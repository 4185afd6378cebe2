"""Measure the proposed optimisations of files this bench does not own, by monkeypatching them.

Usage::

    python bench/proposals.py [--n 2000]

Each proposal (see bench/RESULTS.md) is applied in turn on top of the previous ones; every
patched run must produce byte-identical results (``Evaluation.to_json()``) to the unpatched one,
or the script stops. Times are CPU time of this process (``time.process_time``), min of 3 rounds
per percentile, so that other load on the machine matters less.

* P1 patient.py  - cache ``_null_default_fields`` per model class (computed on every validation);
* P2 engine.py   - ``_findings``: no JSON sort key for a single match; per-rule constants once;
* P3 engine.py   - ``_gaps``: reuse the frozen DATA-001 Finding per (rule, missing fields);
* P5 scoring.py  - TIS per measure in floats, the exact Fraction path kept near band edges;
* C1 rules.py    - rule files read with libyaml's CSafeLoader (cold start; measured separately).

The patched functions copy engine.py / scoring.py as of the measurement date: if those files
change, the equality check fails loudly instead of reporting a misleading gain.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from bisect import bisect_left
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
os.environ["IVIG_CDS_LOAD_PLUGINS"] = ""

import ivig_cds.engine as em  # noqa: E402
import ivig_cds.patient as pm  # noqa: E402
import ivig_cds.scoring as sc  # noqa: E402
from ivig_cds.engine import TEMPLATE_REF, render_template  # noqa: E402
from ivig_cds.evaluation import Finding  # noqa: E402
from ivig_cds.reference import rule_truth  # noqa: E402
from strategies import cohort  # noqa: E402

# ---------------------------------------------------------------- P1 patient.py

_orig_null = pm._null_default_fields
_null_cache: dict[type, frozenset[str]] = {}


def p1_null(model: type) -> frozenset[str]:
    hit = _null_cache.get(model)
    if hit is None:
        hit = _null_cache[model] = frozenset(_orig_null(model))  # type: ignore[arg-type]
    return hit


# ---------------------------------------------------------------- P2 engine._findings

_rule_consts: dict[str, Any] = {}


def _consts(self: Any, rule: Any) -> Any:
    hit = _rule_consts.get(rule.id)
    if hit is None:
        used = {name: self._thresholds[name] for name in rule.thresholds}
        for ref, _ in TEMPLATE_REF.findall(rule.spec.summary + rule.spec.detail):
            if "." not in ref:
                used[ref] = self._thresholds[ref]
        types = {p.alias: p.fact_type for p in rule.patterns if p.kind == "match"}
        evidence = [self._cite(k) for k in rule.spec.evidence]
        hit = _rule_consts[rule.id] = (rule.fields_read(), types, used, evidence)
    return hit


def p2_findings(self: Any, fired: Mapping[str, Any], derived: Any, all_facts: list[Any], dates: Any) -> list[Any]:
    n_input = len(derived.facts)
    out: list[Any] = []
    for rid in sorted(fired):
        rule = self.book.rules[rid]
        if not rule.spec.emit:
            continue
        reads, types, used, evidence = _consts(self, rule)
        seen: set[str] = set()

        def content(combo: dict[str, str]) -> str:
            parts = []
            for alias, key in sorted(combo.items()):
                index = int(key[1:]) if key.startswith("f") else -1
                fact = (derived.facts[index] if index < n_input else all_facts[index]) if index >= 0 else key
                parts.append((alias, fact))
            return json.dumps(parts, sort_keys=True, default=str)

        combos = fired[rid] if len(fired[rid]) == 1 else sorted(fired[rid], key=content)
        for combo in combos[:1] if rule.spec.once else combos:
            aliases: dict[str, Any] = {}
            facts: dict[str, Any] = {}
            refs: list[str] = []
            for alias, key in sorted(combo.items()):
                if types.get(alias) == "conclusion" or not key.startswith("f"):
                    continue
                index = int(key[1:])
                fact = derived.facts[index] if index < n_input else all_facts[index]
                aliases[alias] = fact
                for field in reads.get(alias, []):
                    facts[f"{types[alias]}.{field}"] = fact.get(field)
                if index < n_input and derived.refs[index]:
                    refs.append(derived.refs[index])
            summary = render_template(rule.spec.summary, aliases, self._thresholds)
            if summary in seen:
                continue
            seen.add(summary)
            out.append(
                Finding(
                    rule_id=rid,
                    rule_version=rule.spec.version,
                    title=rule.spec.title,
                    category=rule.spec.category,
                    severity=rule.spec.severity,
                    summary=summary,
                    detail=render_template(rule.spec.detail, aliases, self._thresholds),
                    evidence=list(evidence),
                    facts=facts,
                    thresholds=dict(used),
                    sources=sorted(set(refs)),
                    dates=dates,
                    origin=rule.origin,
                    codes=list(rule.spec.codes),
                )
            )
    return out


# ---------------------------------------------------------------- P3 engine._gaps

_gap_cache: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}


def p3_gaps(self: Any, fired: Mapping[str, Any], all_facts: list[Any]) -> list[Any]:
    typed: dict[str, list[tuple[str, Any]]] = {}
    absent: dict[str, set[str]] = {}
    for i, fact in enumerate(all_facts):
        t = str(fact["t"])
        typed.setdefault(t, []).append((f"f{i}", fact))
        absent.setdefault(t, set()).update(f for f in self._needed.get(t, ()) if fact.get(f) is None)
    out: list[Any] = []
    for rid, rule in sorted(self.book.rules.items()):
        if rid in fired or not rule.spec.gaps or not rule.spec.emit:
            continue
        if not any(reads & absent.get(t, set()) for t, reads in self._reads[rid]):
            continue
        verdict, missing = rule_truth(rule, typed)
        if verdict is not None or not missing:
            continue
        key = (rid, tuple(missing))
        finding = _gap_cache.get(key)
        if finding is None:
            cat = self.catalog
            inputs = sorted({cat[t][f].source if f in cat.get(t, {}) else f"{t}.{f}" for t, f in missing})
            finding = _gap_cache[key] = Finding(
                rule_id="DATA-001",
                rule_version="1.0.0",
                title="Missing data kept a rule from deciding",
                category="data",
                severity=em._GAP_SEVERITY[rule.spec.severity],  # type: ignore[arg-type]
                summary=f"{rule.spec.title} ({rid}) could not be checked: not recorded - {', '.join(inputs)}",
                detail="Missing is not false: record these values and re-evaluate.",
                evidence=[self._cite(k) for k in rule.spec.evidence],
                facts={"rule": rid, "missing": [f"{t}.{f}" for t, f in missing]},
                sources=inputs,
                origin=rule.origin,
            )
        out.append(finding)
    return out


# ---------------------------------------------------------------- P5 scoring._score_measure

_orig_score = sc._score_measure


def _float_value(visit: Any, spec: Any) -> float | None:
    raw = getattr(visit, spec.field)
    if raw is None:
        return None
    if spec.uln_field is None:
        return float(raw)
    uln = getattr(visit, spec.uln_field)
    uln = sc._ULN_DEFAULTS.get(spec.uln_field) if uln is None else uln
    return float(raw) / float(uln) if uln > 0 else math.nan


def p5_score_measure(spec: Any, baseline: Any, current: Any) -> Any:
    b, c = _float_value(baseline, spec), _float_value(current, spec)
    if b is None or c is None or b == 0 or not (math.isfinite(b) and math.isfinite(c)):
        return _orig_score(spec, baseline, current)
    scale = spec.scale_field
    if scale is not None and sc._scale(baseline, scale) != sc._scale(current, scale):
        return _orig_score(spec, baseline, current)
    improvement = c - b if spec.higher_is_better else b - c
    change = improvement * 100 / abs(b)
    edges = spec.band_upper_edges_pct
    i = bisect_left(edges, change)
    if (i < len(edges) and abs(edges[i] - change) < 1e-6) or (i > 0 and abs(change - edges[i - 1]) < 1e-6):
        return _orig_score(spec, baseline, current)  # near a band edge: exact arithmetic decides
    return sc.MeasureScore(spec.name, b, c, change, spec.points[i], None)


PROPOSALS: list[tuple[str, Callable[[], None]]] = [
    ("P1 patient._null_default_fields cached", lambda: setattr(pm, "_null_default_fields", p1_null)),
    ("P2 engine._findings", lambda: setattr(em.Engine, "_findings", p2_findings)),
    ("P3 engine._gaps", lambda: setattr(em.Engine, "_gaps", p3_gaps)),
    ("P5 scoring float fast path", lambda: setattr(sc, "_score_measure", p5_score_measure)),
]


def measure(engine: em.Engine, docs: list[dict[str, Any]]) -> tuple[float, float, float, list[str]]:
    rounds = []
    outputs: list[str] = []
    for r in range(3):
        times = []
        for doc in docs:
            t = time.process_time_ns()
            ev = engine.evaluate(doc)
            times.append((time.process_time_ns() - t) / 1e6)
            if r == 0:
                outputs.append(ev.to_json())
        times.sort()
        rounds.append((times[len(times) // 2], times[int(len(times) * 0.99)], statistics.fmean(times)))
    p50 = min(x[0] for x in rounds)
    p99 = min(x[1] for x in rounds)
    mean = min(x[2] for x in rounds)
    return p50, p99, mean, outputs


def cold_start_c1(runs: int = 7) -> tuple[float, float]:
    """Median wall ms of `ivig-cds evaluate one.json`, plain and with CSafeLoader for rule files."""
    patched = (
        "import sys, yaml\n"
        "yaml.safe_load = lambda s: yaml.load(s, Loader=getattr(yaml, 'CSafeLoader', yaml.SafeLoader))\n"
        "from ivig_cds.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "one.json"
        one.write_text(json.dumps(cohort(1, seed=1)[0]))
        out = []
        for code in ("from ivig_cds.cli import main; import sys; sys.exit(main(sys.argv[1:]))", patched):
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-c", code, "evaluate", str(one), "--format", "json"],
                    capture_output=True,
                    check=False,
                )
                times.append((time.perf_counter() - t) * 1000)
            out.append(statistics.median(times))
    return out[0], out[1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()
    docs = cohort(args.n, seed=20240601)
    engine = em.Engine()
    for doc in docs[:300]:
        engine.evaluate(doc)
    p50, p99, mean, reference = measure(engine, docs)
    print(f"{'current':45s} p50 {p50:.3f}  p99 {p99:.3f}  mean {mean:.3f} ms CPU")
    for name, apply in PROPOSALS:
        apply()
        p50, p99, mean, got = measure(engine, docs)
        same = sum(a == b for a, b in zip(got, reference, strict=True))
        print(f"+ {name:43s} p50 {p50:.3f}  p99 {p99:.3f}  mean {mean:.3f} ms CPU  identical {same}/{len(docs)}")
        if same != len(docs):
            print("  results differ: the copied engine code is out of date; stopping")
            return 1
    plain, fast = cold_start_c1()
    print(f"C1 rules.py CSafeLoader: cold start {plain:.0f} ms -> {fast:.0f} ms (median wall)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
