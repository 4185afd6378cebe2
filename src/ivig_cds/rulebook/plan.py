"""Order rules into strata so negation only looks at conclusions already drawn (stratified negation).

A rule may match another rule's conclusion positively (forward chaining, same stratum allowed)
or negatively (``not_rule`` / ``not_status``: the producer must be in an earlier stratum). Each
stratum becomes one durable ruleset; conclusions of earlier strata are asserted as facts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ivig_cds.errors import RuleFileError
from ivig_cds.rulebook.spec import Rule
from ivig_cds.rulebook.truth import eval_cond

__all__ = ["Plan", "conclusion_fact", "make_plan"]


def conclusion_fact(rule: Rule) -> dict[str, Any]:
    """The fact a firing rule asserts: its id plus the status values it concludes."""
    return {"t": "conclusion", "rule": rule.id, **rule.spec.sets}


@dataclass(frozen=True)
class Plan:
    """Strata of rules, and per stratum the rules whose conclusions are chained within it."""

    strata: tuple[tuple[Rule, ...], ...]
    chained: tuple[frozenset[str], ...]
    level: Mapping[str, int]


def _producers(rules: Sequence[Rule], cond_rule: Rule) -> dict[int, list[tuple[str, bool]]]:
    """For each conclusion pattern of ``cond_rule``: the (producer id, negated) pairs."""
    out: dict[int, list[tuple[str, bool]]] = {}
    for i, p in enumerate(cond_rule.patterns):
        if p.fact_type != "conclusion":
            continue
        out[i] = [(r.id, p.kind == "none") for r in rules if eval_cond(p.cond, conclusion_fact(r)) is True]
    return out


def make_plan(rules: Sequence[Rule]) -> Plan:
    """Compute strata; a cycle through negation is a rule-file error."""
    ordered = sorted(rules, key=lambda r: r.id)
    deps = {r.id: [d for ds in _producers(ordered, r).values() for d in ds] for r in ordered}
    level = dict.fromkeys(deps, 0)
    for _ in range(len(ordered) + 1):
        changed = False
        for rid, ds in deps.items():
            need = max((level[p] + (1 if neg else 0) for p, neg in ds), default=0)
            if need > level[rid]:
                level[rid] = need
                changed = True
        if not changed:
            break
    else:
        by_id = {r.id: r for r in ordered}
        stuck = sorted(rid for rid, lv in level.items() if lv >= len(ordered))
        first = by_id[stuck[0]] if stuck else ordered[0]
        raise RuleFileError(first.file, "rules negate each other's conclusions in a cycle", first.id)
    depth = max(level.values(), default=0) + 1
    strata = tuple(tuple(r for r in ordered if level[r.id] == k) for k in range(depth))
    chained: list[frozenset[str]] = []
    for k, stratum in enumerate(strata):
        ids = {p for r in stratum for p, neg in deps[r.id] if not neg and level[p] == k}
        chained.append(frozenset(ids))
    return Plan(strata, tuple(chained), level)
