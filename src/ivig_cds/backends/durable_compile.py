"""Rules compiled for durable-rules: its JSON condition grammar and load checks (the fact ordering for
negations is planned in :mod:`ivig_cds.rulebook.plan`, so both backends refuse the same rules).

No durable import here: :mod:`ivig_cds.backends._durable` registers what this module produces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ivig_cds.errors import EngineError
from ivig_cds.rulebook.conditions import And, Cond, Pattern, Test, iter_tests
from ivig_cds.rulebook.plan import Node, conclusion_fact, negation_order
from ivig_cds.rulebook.spec import Rule

__all__ = [
    "SENTINEL",
    "Node",
    "check_pattern",
    "check_property_names",
    "compile_condition",
    "compile_pattern",
    "compile_rule",
    "negation_order",
]

_DURABLE_OPS = {"lt": "$lt", "le": "$lte", "gt": "$gt", "ge": "$gte"}
SENTINEL = "__session__"  # rule name and fact type of the per-session sentinel (never a rule id)
_RESERVED_FIELDS = ("sid", "id", "$s", "t")


def compile_condition(cond: Cond) -> dict[str, Any]:
    """Translate a condition tree into durable-rules' JSON condition grammar."""
    if isinstance(cond, Test):
        f, v = cond.field, cond.value
        if cond.op == "eq":
            return {f: v}
        if cond.op == "ne":
            return {"$and": [{"$ex": {f: 1}}, {"$neq": {f: v}}]}
        if cond.op == "in":
            return {f: v[0]} if len(v) == 1 else {"$or": [{f: x} for x in v]}
        if cond.op == "present":
            return {"$ex": {f: 1}} if v else {"$nex": {f: 1}}
        return {_DURABLE_OPS[cond.op]: {f: v}}
    parts = [compile_condition(c) for c in cond.items]
    return {"$and" if isinstance(cond, And) else "$or": parts}


def compile_pattern(pattern: Pattern) -> dict[str, Any]:
    """One ``all`` element: the fact-type discriminator AND the condition (``alias$not`` for none)."""
    body = compile_condition(pattern.cond)
    parts = [{"t": pattern.fact_type}, *(body["$and"] if "$and" in body and len(body) == 1 else [body])]
    key = f"{pattern.alias}$not" if pattern.kind == "none" else pattern.alias
    return {key: {"$and": parts}}


def _property_hash(name: str) -> int:
    """durable's hash of a property name (32-bit FNV-1a over C chars): it finds fields by it alone."""
    h = 0x811C9DC5
    for byte in name.encode("utf-8"):
        h = ((h ^ ((byte - 256 if byte > 127 else byte) & 0xFFFFFFFF)) * 16777619) & 0xFFFFFFFF
    return h


def check_property_names(rules: Sequence[Rule]) -> None:
    """Refuse two fact field names that durable could not tell apart (equal property hashes)."""
    names = {"t", "id", "sid", "$s"}
    for rule in rules:
        names.update(conclusion_fact(rule))
        for p in rule.patterns:
            names.update(t.field for t in iter_tests(p.cond))
    seen: dict[int, str] = {}
    for name in sorted(names):
        other = seen.setdefault(_property_hash(name), name)
        if other != name:
            raise EngineError(f"fields {other!r} and {name!r} collide in durable-rules (same property hash)")


def check_pattern(rule: Rule) -> None:
    # Defence in depth: the loader guarantees these, and durable loops for ever without them.
    if not any(p.kind == "match" for p in rule.patterns):
        raise EngineError(f"{rule.id}: a rule made only of negations would loop in durable-rules")
    if rule.id == SENTINEL:
        raise EngineError(f"{rule.id}: reserved rule name")
    for p in rule.patterns:
        if p.fact_type == SENTINEL:
            raise EngineError(f"{rule.id}: fact type {SENTINEL!r} is reserved")
        for test in iter_tests(p.cond):
            if test.field in _RESERVED_FIELDS:
                raise EngineError(f"{rule.id}: conditions may not test the engine's own field {test.field!r}")


def compile_rule(rule: Rule) -> dict[str, Any]:
    """A rule's durable definition: positive patterns first, negations after, every fact in any alias.

    durable never fires a rule whose ``all`` opens with a negation (measured), so the conjunction is
    written positives first - the same rule in logic, whatever order the rule file used.
    """
    ordered = sorted(rule.patterns, key=lambda p: p.kind == "none")
    return {"all": [compile_pattern(p) for p in ordered], "dist": 0}
