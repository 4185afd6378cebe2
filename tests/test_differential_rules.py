"""Differential tests on generated *rule files*: durable and the reference backend agree on any rules.

The core rule files happen to put positive patterns first and negations last, so patients alone
never exercised how the durable compilation orders patterns (issue 9, item 7: a rule opening with
``none:``/``not_rule:``/``not_status:`` never fired on durable). Here each case is a random site
rule set - random pattern order, negations anywhere, chains of rules on each other's conclusions,
conclusions and status of the core rules - evaluated on random patients by both backends; the
results must be byte-identical, and both engines must accept or refuse the rule set alike.

Budget: 40 rule sets x 12 patients (~20 s). ``IVIG_CDS_DIFF_RULES=500`` runs more rule sets;
``IVIG_CDS_DIFF_SEED`` changes the seed.
"""

from __future__ import annotations

import copy
import json
import os
import random
from datetime import date
from typing import Any

import pytest

from ivig_cds import Engine, EngineError, Evaluation
from ivig_cds.inputs.files import load_patient
from strategies import random_patient

RULE_SETS = int(os.environ.get("IVIG_CDS_DIFF_RULES", "40"))
PATIENTS_PER_SET = 12
SEED = int(os.environ.get("IVIG_CDS_DIFF_SEED", "20240601"))
NS = "gen"

# status values the core rules conclude (tested with status/not_status)
STATUS = [
    {"refractory": True},
    {"response": "responder"},
    {"response": "non_responder"},
    {"eligibility": "contraindicated"},
    {"outcome": "relapse"},
    {"screen_incomplete": True},
]
CORE_RULES = ["SAFETY-001", "REFRACTORY-001", "DX-001", "RESP-003", "DOSE-001", "OUT-004", "SCREEN-001"]


def canon(ev: Evaluation) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ev.to_json())
    data["engine"].pop("backend")
    return data


@pytest.fixture(scope="module")
def pools() -> dict[str, dict[str, list[Any]]]:
    """Values seen per fact type and field on a sample of generated patients: realistic literals."""
    engine = Engine(entry_points=False, backend="reference")
    seen: dict[str, dict[str, set[Any]]] = {}
    for seed in range(60):
        model = load_patient(random_patient(SEED + seed))
        day = model.as_of or date(2024, 6, 1)
        for fact in engine.derive(model, day).facts:
            t = str(fact["t"])
            for key, value in fact.items():
                if key != "t" and value is not None and t in engine.catalog and key in engine.catalog[t]:
                    seen.setdefault(t, {}).setdefault(key, set()).add(value)
    return {t: {k: sorted(v, key=repr) for k, v in sorted(fields.items())} for t, fields in sorted(seen.items())}


def _test(rng: random.Random, pool: dict[str, list[Any]]) -> dict[str, Any]:
    field = rng.choice(sorted(pool))
    value = rng.choice(pool[field])
    if isinstance(value, bool):
        return {field: value if rng.random() < 0.8 else not value}
    if isinstance(value, int | float):  # mostly ranges: an equality on a measured value rarely holds
        op = rng.choice(["ge", "gt", "le", "lt"] * 3 + ["eq", "ne"])
        return {field: {op: value}}
    if rng.random() < 0.2:
        return {field: {"in": sorted({value, rng.choice(pool[field])}, key=repr)}}
    return {field: value if rng.random() < 0.8 else {"ne": value}}


def _where(rng: random.Random, pool: dict[str, list[Any]]) -> dict[str, Any]:
    tests = [_test(rng, pool) for _ in range(rng.randint(1, 3))]
    if len(tests) > 1 and rng.random() < 0.3:
        return {"any": tests}
    merged: dict[str, Any] = {}
    for t in tests:
        merged.update(t)
    return merged


def generate_rule_set(rng: random.Random, pools: dict[str, dict[str, list[Any]]]) -> list[dict[str, Any]]:
    types = [t for t in sorted(pools) if t != "conclusion"]
    rules: list[dict[str, Any]] = []
    for i in range(rng.randint(1, 10)):
        rid = f"{NS}:GEN-{i:03d}"
        earlier = [r["id"] for r in rules]
        positive: list[dict[str, Any]] = []
        for k in range(rng.randint(1, 3)):
            kind = rng.random()
            if kind < 0.55 or not earlier:
                t = "patient" if rng.random() < 0.5 else rng.choice(types)
                positive.append({"fact": t, "as": f"a{k}", "where": _where(rng, pools[t])})
            elif kind < 0.75:
                positive.append({"rule": rng.choice(earlier)})  # a chain on an earlier generated rule
            elif kind < 0.9:
                positive.append({"status": rng.choice(STATUS)})
            else:
                positive.append({"rule": rng.choice(CORE_RULES)})
        negative: list[dict[str, Any]] = []
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            kind = rng.random()
            if kind < 0.4:
                t = rng.choice(types)
                negative.append({"none": {"fact": t, "where": _where(rng, pools[t])}})
            elif kind < 0.7 and earlier:
                negative.append({"not_rule": rng.choice(earlier)})  # earlier only: no negation cycle
            elif kind < 0.85:
                negative.append({"not_status": rng.choice(STATUS)})
            else:
                negative.append({"not_rule": rng.choice(CORE_RULES)})
        when = positive + negative
        rng.shuffle(when)  # negations first, last or between: the compilation must not care
        rules.append(
            {
                "id": rid,
                "version": "1.0.0",
                "title": f"Generated {i}",
                "category": "local",
                "severity": rng.choice(["advisory", "info", "warning"]),
                "evidence": ["cherin2002"],
                "when": when,
                "summary": "generated",
            }
        )
    return rules


def outcome(engine: Engine, doc: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "ok", canon(engine.evaluate(copy.deepcopy(doc)))
    except EngineError as exc:
        return "EngineError", type(exc).__name__


def test_generated_rule_sets_agree(pools: dict[str, dict[str, list[Any]]]) -> None:
    rng = random.Random(SEED)
    fired_somewhere = 0
    negation_first = 0
    for case in range(RULE_SETS):
        rules = generate_rule_set(rng, pools)
        negation_first += any(next(iter(r["when"][0])) in ("none", "not_rule", "not_status") for r in rules)
        source = {"family": NS, "version": "1.0.0", "rules": rules}
        durable = Engine(entry_points=False, backend="durable", extra_rule_files=[(source, NS)])
        reference = Engine(entry_points=False, backend="reference", extra_rule_files=[(source, NS)])
        try:
            d_fail = [(f.plugin, f.error) for f in durable.info.plugin_failures]
            r_fail = [(f.plugin, f.error) for f in reference.info.plugin_failures]
            assert d_fail == r_fail, f"case {case}: the backends load it differently\n{json.dumps(rules)}"
            for k in range(PATIENTS_PER_SET):
                doc = random_patient(SEED * 7 + case * 101 + k)
                d, r = outcome(durable, doc), outcome(reference, doc)
                assert d == r, f"case {case} patient {k}: backends differ\nrules: {json.dumps(rules)}"
                if d[0] == "ok":
                    fired_somewhere += any(f["rule_id"].startswith(f"{NS}:") for f in d[1]["findings"])
        finally:
            durable.close()
            reference.close()
    # the generator is not vacuous: generated rules fire, and rule sets open with a negation
    assert fired_somewhere > RULE_SETS, fired_somewhere
    assert negation_first >= RULE_SETS // 4, negation_first


def test_a_rule_opening_with_each_negation_kind_fires_on_both_backends() -> None:
    """The issue 9 reproduction itself: ``none:``, ``not_rule:``, ``not_status:`` as the first pattern."""
    adult = {"fact": "patient", "as": "p", "where": {"age_years": {"ge": 18}}}
    openings = {
        "none": {"none": {"fact": "therapy", "where": {"agent": "rituximab"}}},
        "not_rule": {"not_rule": "SAFETY-001"},
        "not_status": {"not_status": {"eligibility": "contraindicated"}},
    }
    doc = random_patient(SEED)
    doc["therapies"] = [t for t in doc.get("therapies", []) if t.get("agent") != "rituximab"]
    doc.get("risk_factors", {}).pop("prior_ig_anaphylaxis", None)
    for name, first in openings.items():
        source = {
            "family": NS,
            "version": "1.0.0",
            "rules": [
                {
                    "id": f"{NS}:OPEN-001",
                    "version": "1.0.0",
                    "title": name,
                    "category": "local",
                    "severity": "info",
                    "evidence": ["cherin2002"],
                    "when": [first, adult],
                    "summary": name,
                }
            ],
        }
        results = []
        for backend in ("durable", "reference"):
            with Engine(entry_points=False, backend=backend, extra_rule_files=[(source, NS)]) as engine:
                assert engine.info.plugin_failures == []
                ev = engine.evaluate(copy.deepcopy(doc))
                results.append(canon(ev))
        assert results[0] == results[1], name
        fired = {f["rule_id"] for f in results[0]["findings"]}
        if name != "not_status" or results[0]["status"]["eligibility"] != "contraindicated":
            assert f"{NS}:OPEN-001" in fired, name
