"""Rules as people read them: ``rules list`` rows and ``rules show`` documents with citations and thresholds."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

from ivig_cds.rulebook.spec import TEMPLATE_REF, RuleBook

__all__ = [
    "UnknownRuleError",
    "close_rule_ids",
    "message_thresholds",
    "resolve_rule_id",
    "rule_document",
    "rule_rows",
]


class UnknownRuleError(LookupError):
    """The rule id is not in the rulebook; ``suggestions`` holds close ids."""

    def __init__(self, rule_id: str, suggestions: Sequence[str]) -> None:
        self.rule_id = rule_id
        self.suggestions = list(suggestions)
        super().__init__(f"unknown rule id {rule_id!r}")


def close_rule_ids(rule_id: str, known: Sequence[str], n: int = 6) -> list[str]:
    """Rule ids close to ``rule_id``: same family first, then by spelling."""
    wanted = rule_id.upper()
    family = wanted.split("-", 1)[0]
    same_family = sorted(k for k in known if k.upper().split("-", 1)[0] == family)
    spelled = difflib.get_close_matches(wanted, list(known), n=n, cutoff=0.6)
    return list(dict.fromkeys([*spelled, *same_family]))[:n]


def resolve_rule_id(rule_id: str, known: Sequence[str]) -> str:
    """The rule id as the rulebook spells it (case-insensitive), or :class:`UnknownRuleError`."""
    if rule_id in known:
        return rule_id
    folded = [k for k in known if k.upper() == rule_id.upper()]
    if len(folded) == 1:
        return folded[0]
    raise UnknownRuleError(rule_id, close_rule_ids(rule_id, known))


def message_thresholds(text: str) -> list[str]:
    """The thresholds a message template names (``{adjust_bmi}``)."""
    return [ref for ref, _ in TEMPLATE_REF.findall(text) if "." not in ref]


def rule_rows(book: RuleBook) -> list[dict[str, Any]]:
    """``rules list``: one row per rule, sorted by id."""
    return [
        {
            "id": rid,
            "version": r.spec.version,
            "severity": r.spec.severity,
            "category": r.spec.category,
            "title": r.spec.title,
            "origin": r.origin,
        }
        for rid, r in sorted(book.rules.items())
    ]


def rule_document(book: RuleBook, rule_id: str) -> dict[str, Any]:
    """``rules show``: the rule as written (when / sets / summary), with citations and threshold values.

    Raises:
        UnknownRuleError: No such rule.
    """
    rid = resolve_rule_id(rule_id, sorted(book.rules))
    rule = book.rules[rid]
    spec = rule.spec.model_dump(mode="json", exclude_defaults=True)
    names = dict.fromkeys([*rule.thresholds, *message_thresholds(rule.spec.summary + rule.spec.detail)])
    doc: dict[str, Any] = {k: spec[k] for k in ("id", "version", "title", "category", "severity") if k in spec}
    doc["file"] = rule.file
    doc["origin"] = rule.origin
    for key in ("when", "sets", "emit", "once", "gaps", "summary", "detail", "codes"):
        if key in spec:
            doc[key] = spec[key]
    doc["evidence"] = [
        {
            "key": k,
            "citation": str(book.bibliography.get(k, {}).get("citation", k)),
            "verified": bool(book.bibliography.get(k, {}).get("verified", True)),
        }
        for k in rule.spec.evidence
    ]
    doc["thresholds"] = {
        n: {"value": t.value, "unit": t.unit, "description": t.description, "source": t.source}
        for n in names
        if (t := book.thresholds.get(n)) is not None
    }
    return doc
