"""The rule condition language: parsed patterns, and a three-valued evaluator used for explanations.

A rule's ``when`` is a list of patterns. Each pattern matches one fact:

* ``{fact: therapy, as: t, where: {...}}`` — some fact of that type satisfies ``where``;
* ``{none: {fact: therapy, where: {...}}}`` — no fact of that type satisfies ``where``;
* ``{rule: REFRACTORY-001}`` / ``{not_rule: ...}`` — another rule's conclusion exists / does not;
* ``{status: {response: responder}}`` / ``{not_status: ...}`` — some rule concluded that status value.

``where`` maps a field to a test: a literal (equality) or ``{op: value}`` with ``op`` one of
``eq ne lt le gt ge in present``; ``any:`` / ``all:`` hold lists of nested ``where`` mappings.
A value written ``$name`` is a threshold, resolved from the thresholds table at compile time.

Durable-rules executes these patterns (:mod:`ivig_cds.backends._durable`); :mod:`ivig_cds.rulebook.truth`
evaluates them in Python, two-valued and three-valued (which missing data kept a rule from deciding).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

__all__ = [
    "OPERATORS",
    "And",
    "Cond",
    "Or",
    "Pattern",
    "Test",
    "fields_of",
    "parse_where",
    "thresholds_of",
]

OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "present")


@dataclass(frozen=True)
class Test:
    """A single comparison ``field op value``; ``threshold`` names the table entry the value came from."""

    field: str
    op: str
    value: Any
    threshold: str | None = None


@dataclass(frozen=True)
class And:
    items: tuple[Cond, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Cond, ...]


Cond: TypeAlias = "Test | And | Or"


@dataclass(frozen=True)
class Pattern:
    """One element of a rule's ``when`` list.

    Attributes:
        kind: ``match`` (a fact must exist) or ``none`` (no such fact may exist).
        fact_type: The fact type matched (``conclusion`` for rule / status references).
        alias: The name the rule's message uses for the matched fact.
        cond: The condition the fact must satisfy.
    """

    kind: Literal["match", "none"]
    fact_type: str
    alias: str
    cond: Cond


class ConditionSyntaxError(ValueError):
    """Raised by :func:`parse_where` with a message naming the offending part."""


def parse_where(where: Any, thresholds: Mapping[str, Any], *, path: str = "where") -> Cond:
    """Parse a ``where`` mapping into a condition tree, resolving ``$threshold`` references."""
    if not isinstance(where, Mapping) or not where:
        raise ConditionSyntaxError(f"{path}: must be a non-empty mapping of field tests")
    items: list[Cond] = []
    for key, test in where.items():
        if not isinstance(key, str):
            raise ConditionSyntaxError(f"{path}: keys must be field names, got {key!r}")
        if key in ("any", "all"):
            if not isinstance(test, list) or not test:
                raise ConditionSyntaxError(f"{path}.{key}: must be a non-empty list of mappings")
            parts = tuple(parse_where(t, thresholds, path=f"{path}.{key}[{i}]") for i, t in enumerate(test))
            items.append(Or(parts) if key == "any" else And(parts))
            continue
        items.extend(_parse_test(key, test, thresholds, path=f"{path}.{key}"))
    return items[0] if len(items) == 1 else And(tuple(items))


def _parse_test(field: str, test: Any, thresholds: Mapping[str, Any], *, path: str) -> list[Cond]:
    if not isinstance(test, Mapping):
        return [_make_test(field, "eq", test, thresholds, path)]
    if not test:
        raise ConditionSyntaxError(f"{path}: empty test")
    out: list[Cond] = []
    for op, value in test.items():
        if op not in OPERATORS:
            raise ConditionSyntaxError(f"{path}: unknown operator {op!r} (use one of {', '.join(OPERATORS)})")
        out.append(_make_test(field, op, value, thresholds, f"{path}.{op}"))
    return out


def _resolve(value: Any, thresholds: Mapping[str, Any], path: str) -> tuple[Any, str | None]:
    if isinstance(value, str) and value.startswith("$"):
        name = value[1:]
        if name not in thresholds:
            raise ConditionSyntaxError(f"{path}: unknown threshold {value!r}")
        return thresholds[name], name
    return value, None


def _make_test(field: str, op: str, value: Any, thresholds: Mapping[str, Any], path: str) -> Cond:
    value, name = _resolve(value, thresholds, path)
    if op == "present":
        if not isinstance(value, bool):
            raise ConditionSyntaxError(f"{path}: 'present' takes true or false")
    elif op == "in":
        if not isinstance(value, list) or not value:
            raise ConditionSyntaxError(f"{path}: 'in' takes a non-empty list")
        if any(isinstance(v, (list, dict)) or v is None for v in value):
            raise ConditionSyntaxError(f"{path}: 'in' takes a list of plain values")
        value = tuple(value)
    elif op in ("lt", "le", "gt", "ge"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConditionSyntaxError(f"{path}: {op!r} compares numbers only, got {value!r}")
    elif value is None or isinstance(value, (list, dict)):
        raise ConditionSyntaxError(f"{path}: compare with a number, string or boolean (use 'present' for missing)")
    return Test(field, op, value, name)


def iter_tests(cond: Cond) -> Iterator[Test]:
    """Yield every :class:`Test` in a condition tree, depth first, in written order."""
    if isinstance(cond, Test):
        yield cond
    else:
        for item in cond.items:
            yield from iter_tests(item)


def fields_of(cond: Cond) -> list[str]:
    """The fields a condition reads, in written order, without repeats."""
    return list(dict.fromkeys(t.field for t in iter_tests(cond)))


def thresholds_of(cond: Cond) -> list[str]:
    """The threshold names a condition uses, in written order, without repeats."""
    return list(dict.fromkeys(t.threshold for t in iter_tests(cond) if t.threshold))
