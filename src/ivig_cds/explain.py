"""Why a rule fired or did not, for one patient (no rich).

:func:`explain_rule` reads a traced evaluation (:meth:`Engine.trace`: the facts derived, every fact
asserted, the matches) and evaluates every condition of one rule three-valued (true / false /
unknown), naming the missing data that kept it from deciding. :mod:`ivig_cds.console.reports`
draws the result. (``rules list``/``show``/``validate`` live in :mod:`ivig_cds.rulebook`; their
names stay importable from here.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ivig_cds.engine.validate import validate_rules as lint_rules
from ivig_cds.explain_values import META_RULES, MetaExplanation, MetaRule, compared
from ivig_cds.model.evaluation import Finding
from ivig_cds.rulebook import describe
from ivig_cds.rulebook.conditions import And, Cond, Test, iter_tests
from ivig_cds.rulebook.describe import UnknownRuleError, close_rule_ids, message_thresholds
from ivig_cds.rulebook.lint import LintReport
from ivig_cds.rulebook.spec import RuleBook
from ivig_cds.rulebook.truth import eval_cond, eval_test, rule_truth

if TYPE_CHECKING:
    from ivig_cds.engine.engine import AsOf, Engine, PatientSource

__all__ = [
    "META_RULES",
    "Candidate",
    "CondNode",
    "Explanation",
    "LintReport",
    "MetaExplanation",
    "MetaRule",
    "PatternExplanation",
    "ThresholdUse",
    "UnknownRuleError",
    "close_rule_ids",
    "explain_rule",
    "lint_rules",
    "resolve_rule_id",
    "rule_document",
    "rule_rows",
]


@dataclass(frozen=True)
class CondNode:
    """One node of a condition tree with its three-valued verdict for one fact.

    For a test (``kind == "test"``): ``field op expected`` (``threshold`` names the table entry the
    expected value came from) and ``actual``, the fact's value (``None``: not recorded).
    """

    kind: Literal["test", "and", "or"]
    verdict: bool | None
    field: str = ""
    op: str = ""
    expected: Any = None
    threshold: str | None = None
    actual: Any = None
    children: tuple[CondNode, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """A fact the pattern looked at, with its verdict and where it came from in the patient file."""

    key: str
    ref: str
    verdict: bool | None
    tree: CondNode
    label: str = ""


@dataclass(frozen=True)
class PatternExplanation:
    """One pattern of the rule's ``when`` list.

    ``holds`` is the pattern's verdict: a ``match`` pattern holds when some fact satisfies it, a
    ``none`` pattern when no fact does; ``None`` when missing data leaves it open.
    """

    index: int
    kind: Literal["match", "none"]
    fact_type: str
    alias: str
    holds: bool | None
    candidates: tuple[Candidate, ...]
    cond: Cond


@dataclass(frozen=True)
class ThresholdUse:
    name: str
    value: Any
    unit: str
    description: str
    source: str


@dataclass(frozen=True)
class Explanation:
    """Everything ``ivig-cds explain`` shows about one rule for one patient."""

    patient_id: str
    as_of: str
    rule_id: str
    version: str
    title: str
    category: str
    severity: str
    file: str
    origin: str
    fired: bool
    verdict: bool | None
    missing: tuple[str, ...]
    missing_inputs: tuple[str, ...]
    patterns: tuple[PatternExplanation, ...]
    thresholds: tuple[ThresholdUse, ...]
    sets: dict[str, Any]
    evidence: tuple[str, ...]
    findings: tuple[Finding, ...]
    gap_findings: tuple[Finding, ...]
    summary_template: str
    compared: tuple[str, ...] = ()

    @property
    def outcome(self) -> str:
        """``fired``, ``did not fire`` or ``undecided (missing data)``."""
        if self.fired:
            return "fired"
        return "undecided (missing data)" if self.verdict is None else "did not fire"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (``explain --format json``)."""

        def node(n: CondNode) -> dict[str, Any]:
            if n.kind == "test":
                return {
                    "test": f"{n.field} {n.op} {n.expected!r}",
                    "field": n.field,
                    "op": n.op,
                    "expected": list(n.expected) if isinstance(n.expected, tuple) else n.expected,
                    "threshold": n.threshold,
                    "actual": n.actual,
                    "verdict": n.verdict,
                }
            return {n.kind: [node(c) for c in n.children], "verdict": n.verdict}

        return {
            "patient_id": self.patient_id,
            "as_of": self.as_of,
            "rule": {
                "id": self.rule_id,
                "version": self.version,
                "title": self.title,
                "category": self.category,
                "severity": self.severity,
                "file": self.file,
                "origin": self.origin,
                "sets": self.sets,
                "evidence": list(self.evidence),
            },
            "outcome": self.outcome,
            "fired": self.fired,
            "verdict": self.verdict,
            "missing": list(self.missing),
            "missing_inputs": list(self.missing_inputs),
            "thresholds": {
                t.name: {"value": t.value, "unit": t.unit, "source": t.source} for t in self.thresholds
            },
            "patterns": [
                {
                    "index": p.index,
                    "kind": p.kind,
                    "fact": p.fact_type,
                    "alias": p.alias,
                    "holds": p.holds,
                    "candidates": [
                        {
                            "fact": c.key,
                            "ref": c.ref,
                            "label": c.label,
                            "verdict": c.verdict,
                            "condition": node(c.tree),
                        }
                        for c in p.candidates
                    ],
                }
                for p in self.patterns
            ],
            "findings": [f.summary for f in self.findings],
            "compared": list(self.compared),
        }


def _tree(cond: Cond, fact: Mapping[str, Any]) -> CondNode:
    if isinstance(cond, Test):
        return CondNode(
            "test",
            eval_test(cond, fact),
            field=cond.field,
            op=cond.op,
            expected=cond.value,
            threshold=cond.threshold,
            actual=fact.get(cond.field),
        )
    return CondNode(
        "and" if isinstance(cond, And) else "or",
        eval_cond(cond, fact),
        children=tuple(_tree(c, fact) for c in cond.items),
    )


def _label(fact: Mapping[str, Any]) -> str:
    t = fact.get("t")
    if t == "therapy":
        return f"{fact.get('agent')} from {fact.get('start')}"
    if t == "therapy_change":
        return f"{fact.get('agent')} {fact.get('kind')} on {fact.get('date')}"
    if t == "course":
        return f"course {fact.get('number')} on {fact.get('start')}"
    if t == "conclusion":
        return f"conclusion of {fact.get('rule')}"
    return str(t)


def resolve_rule_id(rule_id: str, known: Sequence[str]) -> str:
    """The rule id as spelled (case-insensitive), the engine's own rules included; or :class:`UnknownRuleError`."""
    return describe.resolve_rule_id(rule_id, sorted({*known, *META_RULES}))


def rule_rows(book: RuleBook) -> list[dict[str, Any]]:
    """``rules list``: one row per rule, the engine's own (``DATA-001``, ``PLUGIN-001``) included, by id."""
    return sorted([*describe.rule_rows(book), *(m.row() for m in META_RULES.values())], key=lambda r: str(r["id"]))


def rule_document(book: RuleBook, rule_id: str) -> dict[str, Any]:
    """``rules show``: the rule as written with citations and thresholds, or an engine rule's description."""
    rid = resolve_rule_id(rule_id, sorted(book.rules))
    return META_RULES[rid].document() if rid in META_RULES else describe.rule_document(book, rid)


def explain_rule(
    engine: Engine, patient: PatientSource, rule_id: str, *, as_of: AsOf = None, patient_id: str | None = None
) -> Explanation | MetaExplanation:
    """Explain one rule for one patient.

    Args:
        engine: The engine whose rules and thresholds to use.
        patient: A path, dict or :class:`Patient`.
        rule_id: The rule (case-insensitive); ``DATA-001`` and ``PLUGIN-001`` give the engine's
            findings of that kind for the patient (:class:`MetaExplanation`).
        as_of: Evaluate as of this date (else the file's ``as_of``, else today).
        patient_id: FHIR input only: the Patient of a Bundle that holds several.

    Raises:
        UnknownRuleError: No such rule (``suggestions`` lists close ids).
        InputError: The patient file is invalid.
    """
    rid = resolve_rule_id(rule_id, sorted(engine.rules))
    if rid in META_RULES:
        ev = engine.evaluate(patient, as_of=as_of, patient_id=patient_id)
        found = tuple(f for f in ev.findings if f.rule_id == rid)
        return MetaExplanation(ev.patient_id, ev.as_of, META_RULES[rid], found)
    rule = engine.rules[rid]
    trace = engine.trace(patient, as_of=as_of, patient_id=patient_id)  # the same evaluation, with what produced it
    model, day, derived, evaluation = trace.patient, trace.as_of, trace.derived, trace.evaluation
    all_facts, matches = trace.all_facts, trace.matches
    n_input = len(derived.facts)

    typed: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    full: dict[str, tuple[Mapping[str, Any], str]] = {}
    for i, fact in enumerate(all_facts):
        key = f"f{i}"
        typed.setdefault(str(fact["t"]), []).append((key, fact))
        shown = derived.facts[i] if i < n_input else fact  # the full fact, not the engine's slim copy
        full[key] = (shown, derived.refs[i] if i < n_input else "")
    verdict, missing = rule_truth(rule, typed)

    patterns = []
    for index, p in enumerate(rule.patterns):
        cands = []
        for key, _ in typed.get(p.fact_type, []):
            seen_fact, ref = full[key]
            if p.fact_type == "conclusion" and seen_fact.get("rule") == rid:
                continue  # its own conclusion, asserted after it fired
            tree = _tree(p.cond, seen_fact)
            v = tree.verdict
            if p.fact_type == "conclusion" and v is None:
                v = False  # a conclusion is known exactly (as in rule_truth)
            cands.append(Candidate(key, ref, v, tree, _label(seen_fact)))
        seen = [c.verdict for c in cands]
        exists: bool | None = True if True in seen else (None if None in seen else False)
        holds = exists if p.kind == "match" else (None if exists is None else not exists)
        patterns.append(PatternExplanation(index, p.kind, p.fact_type, p.alias, holds, tuple(cands), p.cond))

    catalog = engine.catalog
    inputs = sorted({catalog[t][f].source if f in catalog.get(t, {}) else f"{t}.{f}" for t, f in missing})
    thresholds = tuple(
        ThresholdUse(name, t.value, t.unit, t.description, t.source)
        for name in dict.fromkeys([*rule.thresholds, *message_thresholds(rule.spec.summary + rule.spec.detail)])
        if (t := engine.book.thresholds.get(name)) is not None
    )
    cites = tuple(engine.book.cite(k) for k in rule.spec.evidence)
    tested = [t.field for p in rule.patterns if p.fact_type == "patient" for t in iter_tests(p.cond)]
    first = derived.context.get("first_course")
    values = compared(model, tested, derived.patient, derived.field_sources, first, engine.book.threshold_values())
    return Explanation(
        patient_id=model.patient_id,
        as_of=day.isoformat(),
        rule_id=rid,
        version=rule.spec.version,
        title=rule.spec.title,
        category=rule.spec.category,
        severity=rule.spec.severity,
        file=rule.file,
        origin=rule.origin,
        fired=any(m[0] == rid for m in matches),
        verdict=verdict,
        missing=tuple(f"{t}.{f}" for t, f in missing),
        missing_inputs=tuple(inputs),
        patterns=tuple(patterns),
        thresholds=thresholds,
        sets=dict(rule.spec.sets),
        evidence=cites,
        findings=tuple(f for f in evaluation.findings if f.rule_id == rid),
        gap_findings=tuple(
            f for f in evaluation.findings if f.rule_id == "DATA-001" and f.facts.get("rule") == rid
        ),
        summary_template=rule.spec.summary,
        compared=tuple(values),
    )
