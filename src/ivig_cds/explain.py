"""Why a rule fired or did not, what a rule says, and whether a rule file is valid (no rich).

:func:`explain_rule` derives the patient's facts with the engine, runs the rules, and evaluates
every condition of one rule three-valued (true / false / unknown), naming the missing data that
kept it from deciding; :func:`rule_document` and :func:`rule_rows` describe rules
(``rules show`` / ``rules list``); :func:`lint_rules` checks rule files before a site deploys
them (``rules validate``). :mod:`ivig_cds.render` draws the results.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

from ivig_cds.errors import RuleFileError
from ivig_cds.facts.catalog import CATALOG, FactField
from ivig_cds.inputs.fhir.integration import load_input
from ivig_cds.model.evaluation import Finding
from ivig_cds.model.patient import Patient
from ivig_cds.rulebook.conditions import And, Cond, Test
from ivig_cds.rulebook.load import SPECIAL_FILES, TEMPLATE_REF, RuleBook, load_rulebook, parse_rule_file
from ivig_cds.rulebook.truth import eval_cond, eval_test, rule_truth

if TYPE_CHECKING:
    from ivig_cds.engine.engine import Engine, PatientSource

__all__ = [
    "Candidate",
    "CondNode",
    "Explanation",
    "LintReport",
    "PatternExplanation",
    "ThresholdUse",
    "UnknownRuleError",
    "cite",
    "close_rule_ids",
    "explain_rule",
    "lint_rules",
    "resolve_rule_id",
    "rule_document",
    "rule_rows",
]


Catalog = Mapping[str, Mapping[str, FactField]]


class UnknownRuleError(LookupError):
    """The rule id is not in the rulebook; ``suggestions`` holds close ids."""

    def __init__(self, rule_id: str, suggestions: Sequence[str]) -> None:
        self.rule_id = rule_id
        self.suggestions = list(suggestions)
        super().__init__(f"unknown rule id {rule_id!r}")


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
        }


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


def explain_rule(
    engine: Engine, patient: PatientSource | Patient, rule_id: str, *, as_of: date | None = None
) -> Explanation:
    """Explain one rule for one patient.

    Args:
        engine: The engine whose rules and thresholds to use.
        patient: A path, dict or :class:`Patient`.
        rule_id: The rule (case-insensitive).
        as_of: Evaluate as of this date (else the file's ``as_of``, else today).

    Raises:
        UnknownRuleError: No such rule (``suggestions`` lists close ids).
        InputError: The patient file is invalid.
    """
    rid = resolve_rule_id(rule_id, sorted(engine.rules))
    rule = engine.rules[rid]
    model, _ = load_input(patient, as_of=as_of, mapping=engine.fhir_mapping)  # a patient file or a FHIR Bundle
    day = as_of or model.as_of or date.today()
    derived = engine.derive(model, day)
    all_facts, matches = engine.run_rules(derived)
    evaluation = engine.evaluate(model, as_of=day)
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

    inputs = sorted({CATALOG[t][f].source if f in CATALOG.get(t, {}) else f"{t}.{f}" for t, f in missing})
    thresholds = tuple(
        ThresholdUse(name, t.value, t.unit, t.description, t.source)
        for name in dict.fromkeys([*rule.thresholds, *_message_thresholds(rule.spec.summary + rule.spec.detail)])
        if (t := engine.book.thresholds.get(name)) is not None
    )
    cites = tuple(cite(engine.book.bibliography, k) for k in rule.spec.evidence)
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
    )


def cite(bibliography: Mapping[str, Mapping[str, Any]], key: str) -> str:
    """``[key] citation``, marked ``(UNVERIFIED)`` as in findings."""
    src = bibliography.get(key, {})
    return f"[{key}] {src.get('citation', key)}" + ("" if src.get("verified", True) else " (UNVERIFIED)")


def _message_thresholds(text: str) -> list[str]:
    return [ref for ref, _ in TEMPLATE_REF.findall(text) if "." not in ref]


# ---------------------------------------------------------------- rule documents and linting


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
    names = dict.fromkeys([*rule.thresholds, *_message_thresholds(rule.spec.summary + rule.spec.detail)])
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


@dataclass(frozen=True)
class LintReport:
    """What ``rules validate`` found: files that loaded (with their rule counts) and every error."""

    ok: tuple[tuple[str, int], ...]
    errors: tuple[RuleFileError, ...]
    origin: str = "core"


def _each_rule(path: Path, tables: RuleBook, origin: str, catalog: Catalog) -> list[RuleFileError]:
    """Check the rules of a file one by one, so every broken rule is reported, not only the first."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return []  # parse_rule_file already reported it
    raws = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(raws, list):
        return []
    out: list[RuleFileError] = []
    for i, raw in enumerate(raws):
        try:
            parse_rule_file(
                {**data, "rules": [raw]},
                thresholds=tables.threshold_values(),
                status=tables.status,
                bibliography=tables.bibliography,
                origin=origin,
                catalog=catalog,
            )
        except RuleFileError as exc:
            rid = exc.rule_id if exc.rule_id not in (None, "rules[0]") else f"rules[{i}]"
            out.append(RuleFileError(str(path), exc.message, rid))
    return out


def _guess_origin(files: Sequence[Path]) -> str:
    """``core`` for ids without a namespace, else the namespace the ids carry (``site:SAFE-001``)."""
    spaces: set[str] = set()
    for f in files:
        try:
            data = yaml.safe_load(f.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            continue
        for raw in data.get("rules", []) if isinstance(data, dict) else []:
            rid = str(raw.get("id", "")) if isinstance(raw, dict) else ""
            spaces.add(rid.split(":", 1)[0] if ":" in rid else "core")
    return spaces.pop() if len(spaces) == 1 else "core"


def lint_rules(path: Path, *, origin: str | None = None, catalog: Catalog | None = None) -> LintReport:
    """Validate a rule file, a directory of rule files, or a complete rules directory.

    Rule files beside a ``thresholds.yaml`` (a complete rules directory, like the built-in one) are
    checked against that directory's own tables, as core rules. Other rule files are checked against
    the built-in thresholds, status table and bibliography, the way an engine loads a site's or a
    plugin's extra rule files; ``origin`` is their plugin name (default: the namespace their ids
    carry, or ``core``). Duplicate ids and references to unknown rules are checked across files.
    ``catalog`` is the fact catalog (pass ``Engine().catalog`` to include installed plugins' fields).
    """
    catalog = catalog if catalog is not None else CATALOG
    folder = path if path.is_dir() else path.parent
    full = (folder / "thresholds.yaml").exists()
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.name not in SPECIAL_FILES)
    else:
        files = [path]
    if full:
        origin = "core"
    elif origin is None:
        origin = _guess_origin(files)
    try:
        tables = load_rulebook(folder if full else None, sources=[])  # the tables, without rules
    except RuleFileError as exc:
        return LintReport((), (exc,), origin)
    errors: list[RuleFileError] = []
    ok: list[tuple[str, int]] = []
    for f in files:
        try:
            _, rules = parse_rule_file(
                f,
                thresholds=tables.threshold_values(),
                status=tables.status,
                bibliography=tables.bibliography,
                origin=origin,
                catalog=catalog,
            )
        except RuleFileError as exc:
            errors.extend((_each_rule(f, tables, origin, catalog) if exc.rule_id else []) or [exc])
            continue
        ok.append((str(f), len(rules)))
    if not errors and ok:  # across files: duplicate ids, references to unknown rules
        try:
            if full:
                load_rulebook(folder, catalog=catalog)  # the whole directory: rules may refer to others
            else:
                load_rulebook(extra_rule_files=[(Path(f), origin) for f, _ in ok], catalog=catalog)
        except RuleFileError as exc:
            errors.append(exc)
            ok.clear()
    return LintReport(tuple(ok), tuple(errors), origin)
