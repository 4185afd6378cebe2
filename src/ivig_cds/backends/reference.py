"""The pure-Python reference evaluation of the same rules: the explain/data-gap logic and a fallback backend.

Semantics match the durable backend: a fact pattern holds if some fact of its type satisfies
the condition; a ``none`` pattern holds if none does; a missing field never matches. The
three-valued variant (:func:`rule_truth`) additionally says when missing data kept a rule from
deciding, and which fields.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ivig_cds.errors import EngineError
from ivig_cds.rulebook.conditions import And, Cond, Or, Pattern, Test, _same_kind, eval_cond, fields_of
from ivig_cds.rulebook.load import Rule
from ivig_cds.rulebook.plan import Plan, conclusion_fact

__all__ = ["Match", "ReferenceBackend", "rule_matches", "rule_truth"]

Match = tuple[str, dict[str, str]]
Eval2 = Callable[[Mapping[str, Any]], bool]
Eval3 = Callable[[Mapping[str, Any], "list[str] | None"], "bool | None"]
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


# ---------------------------------------------------------------- compiled conditions
#
# The same semantics as conditions.eval_cond / eval_test, compiled once per condition into
# closures (no isinstance dispatch per node). tests/test_differential.py checks them against
# eval_cond on random conditions and facts.


def _kind_check(literal: Any) -> Callable[[Any], bool]:
    """``_same_kind(value, literal)`` specialised for one literal."""
    if isinstance(literal, bool):
        return lambda v: isinstance(v, bool)
    if isinstance(literal, (int, float)):
        return lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
    kind = type(literal)
    return lambda v: type(v) is kind


def _compile2(cond: Cond) -> Eval2:
    """Two-valued: True exactly when ``eval_cond(cond, fact) is True`` (the language is monotone)."""
    if isinstance(cond, Test):
        field, op, lit = cond.field, cond.op, cond.value
        if op == "present":
            return lambda fact: (fact.get(field) is not None) is lit
        if op == "in":
            members = tuple(lit)
            return lambda fact: (
                (v := fact.get(field)) is not None and any(_same_kind(v, x) and v == x for x in members)
            )
        if op not in _COMPARE:
            return lambda fact: eval_cond(cond, fact) is True
        compare, same = _COMPARE[op], _kind_check(lit)
        return lambda fact: (v := fact.get(field)) is not None and same(v) and bool(compare(v, lit))
    parts = tuple(_compile2(c) for c in cond.items)
    if isinstance(cond, And):
        return lambda fact: all(p(fact) for p in parts)
    if isinstance(cond, Or):
        return lambda fact: any(p(fact) for p in parts)
    return lambda fact: eval_cond(cond, fact) is True


def _compile3(cond: Cond) -> Eval3:
    """Kleene three-valued, appending the fields that left it unknown exactly like ``eval_cond``."""
    if isinstance(cond, Test):
        field, op, lit = cond.field, cond.op, cond.value
        if op == "present":
            return lambda fact, unknown: (fact.get(field) is not None) is lit
        if op == "in":
            members = tuple(lit)
        elif op in _COMPARE:
            compare, same = _COMPARE[op], _kind_check(lit)
        else:
            return lambda fact, unknown: eval_cond(cond, fact, unknown)

        def test(fact: Mapping[str, Any], unknown: list[str] | None) -> bool | None:
            v = fact.get(field)
            if v is None:
                if unknown is not None:
                    unknown.append(field)
                return None
            if op == "in":
                return any(_same_kind(v, x) and v == x for x in members)
            return same(v) and bool(compare(v, lit))

        return test
    if not isinstance(cond, (And, Or)):
        return lambda fact, unknown: eval_cond(cond, fact, unknown)
    parts = tuple(_compile3(c) for c in cond.items)
    decisive = not isinstance(cond, And)

    def junction(fact: Mapping[str, Any], unknown: list[str] | None) -> bool | None:
        results: list[tuple[bool | None, list[str]]] = []
        for part in parts:
            missing: list[str] = []
            results.append((part(fact, missing), missing))
        if any(r is decisive for r, _ in results):
            return decisive
        undecided = [m for r, m in results if r is None]
        if not undecided:
            return not decisive
        if unknown is not None:
            for m in undecided:
                unknown.extend(m)
        return None

    return junction


class _Compiled:
    """A condition's compiled forms and the fields it reads."""

    __slots__ = ("cond", "fields", "holds", "truth")

    def __init__(self, cond: Cond) -> None:
        self.cond = cond
        self.holds = _compile2(cond)
        self.truth = _compile3(cond)
        self.fields = tuple(fields_of(cond))


_CACHE: dict[int, _Compiled] = {}


def compiled(cond: Cond) -> _Compiled:
    """The compiled condition (cached per condition object)."""
    hit = _CACHE.get(id(cond))
    if hit is None or hit.cond is not cond:
        if len(_CACHE) > 50_000:  # many engines built and dropped (tests): start over
            _CACHE.clear()
        hit = _CACHE[id(cond)] = _Compiled(cond)
    return hit


def _by_type(facts: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, list[tuple[str, Mapping[str, Any]]]]:
    out: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for key, fact in facts:
        out.setdefault(str(fact["t"]), []).append((key, fact))
    return out


def rule_matches(rule: Rule, typed: Mapping[str, list[tuple[str, Mapping[str, Any]]]]) -> list[dict[str, str]]:
    """Every combination of facts (alias -> fact key) that makes the rule fire (two-valued)."""
    choices: list[list[tuple[str, str]]] = []
    for p in rule.patterns:
        holds = compiled(p.cond).holds
        hits = [key for key, fact in typed.get(p.fact_type, []) if holds(fact)]
        if p.kind == "none":
            if hits:
                return []
            continue
        if not hits:
            return []
        choices.append([(p.alias, key) for key in hits])
    return [dict(combo) for combo in itertools.product(*choices)]


_ORDER: dict[int, tuple[Rule, tuple[tuple[Pattern, _Compiled], ...]]] = {}


def _truth_order(rule: Rule) -> tuple[tuple[Pattern, _Compiled], ...]:
    """The rule's patterns, conclusions first (exact and cheap: most often they decide "false")."""
    hit = _ORDER.get(id(rule))
    if hit is None or hit[0] is not rule:
        if len(_ORDER) > 50_000:
            _ORDER.clear()
        ordered = sorted(rule.patterns, key=lambda q: q.fact_type != "conclusion")
        hit = _ORDER[id(rule)] = (rule, tuple((p, compiled(p.cond)) for p in ordered))
    return hit[1]


def rule_truth(
    rule: Rule, typed: Mapping[str, list[tuple[str, Mapping[str, Any]]]]
) -> tuple[bool | None, list[tuple[str, str]]]:
    """Kleene truth of a rule, and when unknown the (fact type, field) pairs that left it open."""
    verdict: bool | None = True
    missing: list[tuple[str, str]] = []
    for p, c in _truth_order(rule):
        facts = typed.get(p.fact_type, ())
        exists: bool | None = False
        fields: list[str] = []
        if p.fact_type == "conclusion":
            # conclusions are known exactly (a rule fired or it did not): unknown counts as false
            exists = any(c.holds(fact) for _, fact in facts)
        else:
            for _, fact in facts:
                if c.holds(fact):  # Kleene true exactly when two-valued true (no negation in the language)
                    exists = True
                    break
                if all(fact.get(f) is not None for f in c.fields):
                    continue  # nothing missing: the two-valued "false" is the Kleene answer
                local: list[str] = []
                if c.truth(fact, local) is None:
                    exists = None
                    fields.extend(local)
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
        self._rules = {r.id: r for stratum in plan.strata for r in stratum}
        self._reads_conclusions = [
            [r for r in stratum if any(p.kind == "match" and p.fact_type == "conclusion" for p in r.patterns)]
            for stratum in plan.strata
        ]

    def run(
        self, facts: Sequence[Mapping[str, Any]], conclude: Callable[[int, list[Match]], list[dict[str, Any]]]
    ) -> list[Match]:
        """Evaluate the facts stratum by stratum (same contract as the durable backend's ``run``).

        Within a stratum, conclusions of chained rules are added until nothing new fires; every
        rule's matches are then those against the final pool (a rule that already fired can match
        again on a conclusion chained after it, as in durable). Chaining only adds facts and
        negation only looks at earlier strata, so the fixpoint is unique.

        Raises:
            EngineError: a fact holds NaN (it compares with nothing; durable cannot take it either).
        """
        for fact in facts:
            for value in fact.values():
                if value != value:  # only NaN is unequal to itself
                    raise EngineError(f"fact {fact.get('t')} holds NaN, which no rule can compare")
        keyed: list[tuple[str, Mapping[str, Any]]] = [(f"f{i}", f) for i, f in enumerate(facts)]
        out: list[Match] = []
        for level, stratum in enumerate(self._plan.strata):
            chained = self._plan.chained[level]
            typed = _by_type(keyed)
            fired: dict[str, list[dict[str, str]]] = {}
            for rule in stratum:
                found = rule_matches(rule, typed)
                if found:
                    fired[rule.id] = found
            added: set[str] = set()
            while True:  # chain within the stratum until no new conclusion appears
                new = sorted(rid for rid in fired if rid in chained and rid not in added)
                if not new:
                    break
                for rid in new:
                    typed.setdefault("conclusion", []).append((f"c{rid}", conclusion_fact(self._rules[rid])))
                    added.add(rid)
                for rule in self._reads_conclusions[level]:
                    found = rule_matches(rule, typed)
                    if found:
                        fired[rule.id] = found
            matches = [(rid, m) for rid in sorted(fired) for m in fired[rid]]
            out.extend(matches)
            for fact in conclude(level, matches):
                keyed.append((f"f{len(keyed)}", fact))
        return out
