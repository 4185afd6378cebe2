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
from ivig_cds.rulebook.conditions import Pattern
from ivig_cds.rulebook.spec import Rule
from ivig_cds.rulebook.truth import eval_cond

__all__ = ["MAX_CHAIN_DEPTH", "Node", "Plan", "conclusion_fact", "make_plan", "negation_order"]

Node = tuple[str, str]  # ("t", fact type) or ("c", rule id of a conclusion)

MAX_CHAIN_DEPTH = 64
"""Longest chain of rules firing on each other's conclusions within a stratum (the core's is 3).

durable-rules builds a ruleset for a chain of 1,000 rules in minutes, and each link is a round
of matching on both backends: a deeper chain is a rule-file error, not a slow engine.
"""


def conclusion_fact(rule: Rule) -> dict[str, Any]:
    """The fact a firing rule asserts: its id plus the status values it concludes."""
    return {"t": "conclusion", "rule": rule.id, **rule.spec.sets}


@dataclass(frozen=True)
class Plan:
    """Strata of rules, and per stratum the rules whose conclusions are chained within it.

    ``feeds`` maps a chained rule to the rules of its stratum that match its conclusion (the only
    rules a new conclusion can make fire again).
    """

    strata: tuple[tuple[Rule, ...], ...]
    chained: tuple[frozenset[str], ...]
    level: Mapping[str, int]
    feeds: Mapping[str, frozenset[str]]


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
    feeds: dict[str, set[str]] = {}
    for k, stratum in enumerate(strata):
        for r in stratum:
            for p, neg in deps[r.id]:
                if not neg and level[p] == k:
                    feeds.setdefault(p, set()).add(r.id)
        chained.append(frozenset(p for p in feeds if level[p] == k))
    _check_chain_depth(ordered, deps, level, feeds)
    earlier: list[Rule] = []
    for stratum in strata:  # the order of facts each stratum needs must exist (see negation_order)
        negation_order(stratum, earlier)
        earlier.extend(stratum)
    return Plan(strata, tuple(chained), level, {p: frozenset(c) for p, c in sorted(feeds.items())})


def _check_chain_depth(
    rules: Sequence[Rule],
    deps: Mapping[str, list[tuple[str, bool]]],
    level: Mapping[str, int],
    feeds: Mapping[str, set[str]],
) -> None:
    """Refuse a chain longer than :data:`MAX_CHAIN_DEPTH` (breadth-first from the rules no rule of
    their stratum feeds: the number of chaining rounds before the stratum settles)."""
    fed = {c for cs in feeds.values() for c in cs}
    depth = {r.id: 1 for r in rules if r.id not in fed}
    frontier = sorted(depth)
    while frontier:
        nxt: list[str] = []
        for rid in frontier:
            for consumer in sorted(feeds.get(rid, ())):
                if consumer not in depth:
                    depth[consumer] = depth[rid] + 1
                    if depth[consumer] > MAX_CHAIN_DEPTH:
                        rule = next(r for r in rules if r.id == consumer)
                        raise RuleFileError(
                            rule.file,
                            f"ends a chain of more than {MAX_CHAIN_DEPTH} rules, each firing on the one before",
                            rule.id,
                        )
                    nxt.append(consumer)
        frontier = nxt


def _pattern_nodes(pattern: Pattern, producers: Sequence[Rule]) -> set[Node]:
    """The fact nodes a pattern can match: its type, or for conclusions the producing rules."""
    if pattern.fact_type != "conclusion":
        return {("t", pattern.fact_type)}
    return {("c", r.id) for r in producers if eval_cond(pattern.cond, conclusion_fact(r)) is True}


def negation_order(rules: Sequence[Rule], producers: Sequence[Rule] = ()) -> dict[Node, int]:
    """Rank fact nodes so every fact a rule negates is asserted before every fact it matches.

    durable decides a negation when the frame reaches it and never revisits it (measured), so a
    negated fact asserted after the positive ones would be missed. Nodes are fact types and, for
    the conclusions asserted into a stratum, the rule that concluded (``producers``: the rules of
    earlier strata). Unranked nodes may go anywhere (rank 0).

    Raises:
        RuleFileError: a rule negates the fact type it matches, or two rules need opposite orders.
    """
    before: dict[Node, set[Node]] = {}
    for rule in rules:
        negated: set[Node] = set()
        matched: set[Node] = set()
        for p in rule.patterns:
            (negated if p.kind == "none" else matched).update(_pattern_nodes(p, producers))
        for n in negated:
            if n in matched and n[0] == "t":
                raise RuleFileError(
                    rule.file,
                    f"negates the fact type it also matches ({n[1]}): durable-rules cannot order that;"
                    " test the field in the positive pattern instead",
                    rule.id,
                )
            if n in matched:  # one conclusion both required and forbidden
                raise RuleFileError(
                    rule.file,
                    f"both matches and negates the conclusion of {n[1]}: the rule contradicts itself there",
                    rule.id,
                )
            before.setdefault(n, set()).update(matched - {n})
    nodes = set(before) | {m for after in before.values() for m in after}
    rank: dict[Node, int] = {}
    level = 0
    remaining = {n: {m for m, after in before.items() if n in after} for n in nodes}  # n -> must follow
    while remaining:
        ready = sorted(n for n, deps in remaining.items() if not deps & set(remaining))
        if not ready:
            names = ", ".join(n[1] for n in sorted(remaining))
            first = min(rules, key=lambda r: r.id)
            raise RuleFileError(
                first.file,
                f"rules of one stratum negate each other's fact types ({names}): no order of facts serves both",
            )
        for n in ready:
            rank[n] = level
            del remaining[n]
        level += 1
    return rank
