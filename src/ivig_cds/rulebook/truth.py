"""Truth of rules over facts: two-valued (does it fire?) and Kleene three-valued (which missing data left it open).

Semantics match the durable backend: a fact pattern holds if some fact of its type satisfies the
condition; a ``none`` pattern holds if none does; a missing field never matches. The three-valued
answers (:func:`eval_cond`, :func:`rule_truth`) drive the ``DATA-001`` data-gap findings and
``ivig-cds explain``; the reference backend uses :func:`rule_matches`.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ivig_cds.rulebook.conditions import And, Cond, Or, Pattern, Test, fields_of
from ivig_cds.rulebook.spec import Rule

__all__ = [
    "UNKNOWN",
    "by_type",
    "compiled",
    "eval_cond",
    "eval_test",
    "rule_matches",
    "rule_truth",
    "same_kind",
]

UNKNOWN = None  # the third truth value
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


def same_kind(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return True
    return type(a) is type(b)


def eval_test(test: Test, fact: Mapping[str, Any], unknown: list[str] | None = None) -> bool | None:
    """Evaluate one test against a fact: ``True``, ``False``, or ``None`` when the field is missing.

    A missing field makes every comparison unknown (three-valued logic); ``present`` is always
    decided. Values of another kind than the literal never match (no string/number coercion).
    """
    value = fact.get(test.field)
    if test.op == "present":
        return (value is not None) is test.value
    if value is None:
        if unknown is not None:
            unknown.append(test.field)
        return UNKNOWN
    if test.op == "in":
        return any(same_kind(value, v) and value == v for v in test.value)
    if not same_kind(value, test.value):
        return False
    if test.op == "eq":
        return bool(value == test.value)
    if test.op == "ne":
        return bool(value != test.value)
    if test.op == "lt":
        return bool(value < test.value)
    if test.op == "le":
        return bool(value <= test.value)
    if test.op == "gt":
        return bool(value > test.value)
    return bool(value >= test.value)


def eval_cond(cond: Cond, fact: Mapping[str, Any], unknown: list[str] | None = None) -> bool | None:
    """Kleene three-valued evaluation.

    When the answer is unknown, the fields that made it so (only those on branches that could
    still decide it) are appended to ``unknown``.
    """
    if isinstance(cond, Test):
        return eval_test(cond, fact, unknown)
    results: list[tuple[bool | None, list[str]]] = []
    for item in cond.items:
        missing: list[str] = []
        results.append((eval_cond(item, fact, missing), missing))
    decisive = not isinstance(cond, And)
    if any(r is decisive for r, _ in results):
        return decisive
    undecided = [m for r, m in results if r is UNKNOWN]
    if not undecided:
        return not decisive
    if unknown is not None:
        for missing in undecided:
            unknown.extend(missing)
    return UNKNOWN


# ---------------------------------------------------------------- compiled conditions
#
# The same semantics as eval_cond / eval_test, compiled once per condition into closures (no
# isinstance dispatch per node). tests/test_differential.py checks them against eval_cond on
# random conditions and facts.


def _kind_check(literal: Any) -> Callable[[Any], bool]:
    """``same_kind(value, literal)`` specialised for one literal."""
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
                (v := fact.get(field)) is not None and any(same_kind(v, x) and v == x for x in members)
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
                return any(same_kind(v, x) and v == x for x in members)
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


def by_type(facts: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, list[tuple[str, Mapping[str, Any]]]]:
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
