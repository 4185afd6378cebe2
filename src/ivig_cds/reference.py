"""The pure-Python reference evaluation of the same rules: the explain/data-gap logic and a fallback backend.

Semantics match the durable backend: a fact pattern holds if some fact of its type satisfies
the condition; a ``none`` pattern holds if none does; a missing field never matches. The
three-valued variant (:func:`rule_truth`) additionally says when missing data kept a rule from
deciding, and which fields.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .conditions import eval_cond
from .plan import Plan, conclusion_fact
from .rules import Rule

__all__ = ["Match", "ReferenceBackend", "rule_matches", "rule_truth"]

Match = tuple[str, dict[str, str]]


def _by_type(facts: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, list[tuple[str, Mapping[str, Any]]]]:
    out: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for key, fact in facts:
        out.setdefault(str(fact["t"]), []).append((key, fact))
    return out


def rule_matches(rule: Rule, typed: Mapping[str, list[tuple[str, Mapping[str, Any]]]]) -> list[dict[str, str]]:
    """Every combination of facts (alias -> fact key) that makes the rule fire (two-valued)."""
    choices: list[list[tuple[str, str]]] = []
    for p in rule.patterns:
        hits = [key for key, fact in typed.get(p.fact_type, []) if eval_cond(p.cond, fact) is True]
        if p.kind == "none":
            if hits:
                return []
            continue
        if not hits:
            return []
        choices.append([(p.alias, key) for key in hits])
    return [dict(combo) for combo in itertools.product(*choices)]


def rule_truth(
    rule: Rule, typed: Mapping[str, list[tuple[str, Mapping[str, Any]]]]
) -> tuple[bool | None, list[tuple[str, str]]]:
    """Kleene truth of a rule, and when unknown the (fact type, field) pairs that left it open."""
    verdict: bool | None = True
    missing: list[tuple[str, str]] = []
    for p in rule.patterns:
        seen: list[bool | None] = []
        fields: list[str] = []
        for _, fact in typed.get(p.fact_type, []):
            local: list[str] = []
            value = eval_cond(p.cond, fact, local)
            if p.fact_type == "conclusion" and value is None:
                value = False  # conclusions are known exactly: a rule fired or it did not
            seen.append(value)
            if value is None:
                fields.extend(local)
        exists: bool | None = True if True in seen else (None if None in seen else False)
        holds = exists if p.kind == "match" else (None if exists is None else not exists)
        if holds is False:
            return False, []
        if holds is None:
            verdict = None
            missing.extend((p.fact_type, f) for f in fields)
    return verdict, list(dict.fromkeys(missing))


class ReferenceBackend:
    """Evaluates a :class:`~ivig_cds.plan.Plan` in Python, stratum by stratum, chaining to a fixpoint."""

    name = "reference"

    def __init__(self, plan: Plan) -> None:
        self._plan = plan

    def run(
        self, facts: Sequence[Mapping[str, Any]], conclude: Callable[[int, list[Match]], list[dict[str, Any]]]
    ) -> list[Match]:
        keyed: list[tuple[str, Mapping[str, Any]]] = [(f"f{i}", f) for i, f in enumerate(facts)]
        out: list[Match] = []
        for level, stratum in enumerate(self._plan.strata):
            chained = self._plan.chained[level]
            fired: dict[str, list[dict[str, str]]] = {}
            pool = list(keyed)
            while True:  # chain within the stratum until no new rule fires
                typed = _by_type(pool)
                new = False
                for rule in stratum:
                    if rule.id in fired:
                        continue
                    found = rule_matches(rule, typed)
                    if found:
                        fired[rule.id] = found
                        if rule.id in chained:
                            pool.append((f"c{rule.id}", conclusion_fact(rule)))
                            new = True
                if not new:
                    break
            matches = [(rid, m) for rid in sorted(fired) for m in fired[rid]]
            out.extend(matches)
            for fact in conclude(level, matches):
                keyed.append((f"f{len(keyed)}", fact))
        return out
