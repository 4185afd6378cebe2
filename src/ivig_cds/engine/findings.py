"""Findings: what each fired rule says (with values, thresholds, sources, citations) and what missing data hid.

A rule's message is a template over the facts it matched (``{p.bmi}``) and the thresholds
(``{adjust_bmi}``): filled here, never evaluated as code. ``DATA-001`` findings name the rules
that missing data kept from deciding (Kleene three-valued truth), and the fields to record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ivig_cds.facts.derive import Derived
from ivig_cds.facts.fields import FactField
from ivig_cds.model.evaluation import SEVERITY_ORDER, Finding, Severity
from ivig_cds.model.format import format_value
from ivig_cds.rulebook.conditions import iter_tests
from ivig_cds.rulebook.spec import TEMPLATE_REF, RuleBook
from ivig_cds.rulebook.truth import rule_truth

__all__ = ["FindingBuilder", "finding_key", "plugin_failure_finding", "render_template"]

GAP_SEVERITY = {"stop": "warning", "warning": "advisory", "advisory": "info", "info": "info"}
Typed = dict[str, list[tuple[str, Mapping[str, Any]]]]


def render_template(text: str, aliases: Mapping[str, Mapping[str, Any]], thresholds: Mapping[str, Any]) -> str:
    """Fill ``{alias.field}`` and ``{threshold}`` references; no attribute access, no code."""

    def sub(m: re.Match[str]) -> str:
        ref, spec = m.group(1), m.group(2) or ""
        if "." in ref:
            alias, field = ref.split(".", 1)
            return format_value(aliases.get(alias, {}).get(field), "message", spec=spec)
        return format_value(thresholds.get(ref), "message", spec=spec)

    return TEMPLATE_REF.sub(sub, text)


def finding_key(f: Finding) -> tuple[int, str, str, str]:
    """Findings sort by severity (stop first), rule id, summary, facts: the same input gives the same bytes."""
    return (SEVERITY_ORDER[f.severity], f.rule_id, f.summary, repr(sorted(f.facts.items())))


def plugin_failure_finding(plugin: str, hook: str, error: str) -> Finding:
    """The ``PLUGIN-001`` warning a failed plugin leaves in every result: the evaluation is incomplete."""
    return Finding(
        rule_id="PLUGIN-001",
        rule_version="1.0.0",
        title="Plugin failed: evaluation incomplete",
        category="data",
        severity=Severity.WARNING,
        summary=f"Evaluation incomplete: plugin {plugin!r} failed in {hook}; its contribution is missing",
        detail=error,
        evidence=["[ivig-cds] plugin isolation: a failing plugin is reported, never silent"],
        facts={"plugin": plugin, "hook": hook},
        origin="core",
    )


class FindingBuilder:
    """Builds findings for one rulebook; everything per rule is computed once, here."""

    def __init__(
        self, book: RuleBook, thresholds: Mapping[str, Any], catalog: Mapping[str, Mapping[str, FactField]]
    ):
        self.book = book
        self.thresholds = thresholds
        self.catalog = catalog
        self.needed: dict[str, set[str]] = {}
        for rule in book.rules.values():
            for p in rule.patterns:
                if p.fact_type != "conclusion":
                    self.needed.setdefault(p.fact_type, set()).update(t.field for t in iter_tests(p.cond))
        self._reads = {
            rid: [
                (p.fact_type, frozenset(t.field for t in iter_tests(p.cond)))
                for p in rule.patterns
                if p.fact_type != "conclusion"
            ]
            for rid, rule in book.rules.items()
        }
        self._gap_rules = [rid for rid, r in sorted(book.rules.items()) if r.spec.gaps and r.spec.emit]
        self._consts: dict[str, tuple[dict[str, list[str]], dict[str, str], dict[str, Any], tuple[str, ...]]] = {}
        for rid, rule in book.rules.items():
            used = {name: thresholds[name] for name in rule.thresholds}
            for ref, _ in TEMPLATE_REF.findall(rule.spec.summary + rule.spec.detail):
                if "." not in ref:
                    used[ref] = thresholds[ref]
            self._consts[rid] = (
                rule.fields_read(),
                {p.alias: p.fact_type for p in rule.patterns if p.kind == "match"},
                used,
                tuple(book.cite(k) for k in rule.spec.evidence),
            )

    def evidence(self, rule_id: str) -> tuple[str, ...]:
        """The citations of a rule, strongest first."""
        return self._consts[rule_id][3]

    def findings(
        self,
        fired: Mapping[str, list[dict[str, str]]],
        derived: Derived,
        all_facts: Sequence[dict[str, Any]],
        dates: dict[str, str],
    ) -> list[Finding]:
        """One finding per fired rule and matched combination (``once`` rules: the first by content)."""
        n_input = len(derived.facts)
        out: list[Finding] = []

        def fact_at(index: int) -> Mapping[str, Any]:
            return derived.facts[index] if index < n_input else all_facts[index]

        for rid in sorted(fired):
            rule = self.book.rules[rid]
            if not rule.spec.emit:
                continue
            reads, types, used, evidence = self._consts[rid]
            seen: set[str] = set()

            def content(combo: dict[str, str]) -> str:
                # order by what was matched, not where it sat in the input: shuffled lists give the same output
                parts = [(a, fact_at(int(k[1:])) if k.startswith("f") else k) for a, k in sorted(combo.items())]
                return json.dumps(parts, sort_keys=True, default=str)

            combos = fired[rid] if len(fired[rid]) == 1 else sorted(fired[rid], key=content)
            for combo in combos[:1] if rule.spec.once else combos:
                aliases: dict[str, Mapping[str, Any]] = {}
                facts: dict[str, Any] = {}
                refs: list[str] = []
                for alias, key in sorted(combo.items()):
                    if types.get(alias) == "conclusion" or not key.startswith("f"):
                        continue
                    index = int(key[1:])
                    fact = fact_at(index)
                    aliases[alias] = fact
                    for field in reads.get(alias, []):
                        facts[f"{types[alias]}.{field}"] = fact.get(field)
                        if index == 0 and (where := derived.field_sources.get(field)):
                            refs.append(where)  # the record a patient-fact value came from
                    if 0 < index < n_input and derived.refs[index]:
                        refs.append(derived.refs[index])
                summary = render_template(rule.spec.summary, aliases, self.thresholds)
                if summary in seen:
                    continue
                seen.add(summary)
                out.append(
                    Finding.model_construct(  # trusted values from validated rules and typed facts
                        rule_id=rid,
                        rule_version=rule.spec.version,
                        title=rule.spec.title,
                        category=rule.spec.category,
                        severity=Severity(rule.spec.severity),
                        summary=summary,
                        detail=render_template(rule.spec.detail, aliases, self.thresholds),
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

    def gaps(self, fired: Mapping[str, Any], all_facts: Sequence[dict[str, Any]]) -> list[Finding]:
        """``DATA-001`` for each rule that missing data kept from deciding, naming the inputs to record."""
        absent: dict[str, set[str]] = {}  # fields some fact of the type does not have
        for fact in all_facts:
            t = fact["t"]
            needed = self.needed.get(t)
            if needed:
                gone = {f for f in needed if fact.get(f) is None}
                if gone:
                    absent.setdefault(t, set()).update(gone)
        typed: Typed | None = None
        out: list[Finding] = []
        for rid in self._gap_rules:
            if rid in fired:
                continue
            # three-valued logic can only be "unknown" where a field the rule reads is missing
            if not any(reads & absent[t] for t, reads in self._reads[rid] if t in absent):
                continue
            if typed is None:
                typed = {}
                for i, fact in enumerate(all_facts):
                    typed.setdefault(str(fact["t"]), []).append((f"f{i}", fact))
            rule = self.book.rules[rid]
            verdict, missing = rule_truth(rule, typed)
            if verdict is not None or not missing:
                continue
            cat = self.catalog
            inputs = sorted({cat[t][f].source if f in cat.get(t, {}) else f"{t}.{f}" for t, f in missing})
            out.append(
                Finding(
                    rule_id="DATA-001",
                    rule_version="1.0.0",
                    title="Missing data kept a rule from deciding",
                    category="data",
                    severity=Severity(GAP_SEVERITY[rule.spec.severity]),
                    summary=f"{rule.spec.title} ({rid}) could not be checked: not recorded - {', '.join(inputs)}",
                    detail="Missing is not false: record these values and re-evaluate.",
                    evidence=list(self._consts[rid][3]),
                    facts={"rule": rid, "missing": [f"{t}.{f}" for t, f in missing]},
                    sources=inputs,
                    origin=rule.origin,
                )
            )
        return out
