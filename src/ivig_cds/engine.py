"""The evaluation pipeline: patient snapshot -> derived facts -> rules (durable) -> status, findings, dose plan."""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal

from . import __version__
from ._builtin import CorePlugin
from .conditions import iter_tests
from .derive import Derived, derive
from .errors import EngineError, IvigCdsError
from .evaluation import (
    SEVERITY_ORDER,
    DosePlan,
    EngineInfo,
    Evaluation,
    Finding,
    PatientSummary,
    PluginFailure,
    RulesetInfo,
    Status,
    StatusSource,
)
from .inputs.fhir.integration import load_input, resolve_mapping, with_mapping
from .patient import Patient
from .plan import conclusion_fact, make_plan
from .plugins import EvaluationContext, PluginHost, PluginInfo
from .reference import ReferenceBackend, rule_truth
from .rules import TEMPLATE_REF, Rule, RuleBook, load_rulebook
from .scoring import TisTable

__all__ = ["Engine", "evaluate"]

BackendName = Literal["durable", "reference"]
PatientSource = Patient | dict[str, Any] | str | os.PathLike[str] | bytes
_GAP_SEVERITY = {"stop": "warning", "warning": "advisory", "advisory": "info", "info": "info"}
_TYPE_CHECK = {"number": (int, float), "bool": (bool,), "string": (str,)}


def _fmt(value: Any, spec: str = "") -> str:
    if value is None:
        return "not recorded"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        if spec:
            return format(value, spec)
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return f"{value:g}" if isinstance(value, float) else str(value)
    return str(value)


def render_template(text: str, aliases: Mapping[str, Mapping[str, Any]], thresholds: Mapping[str, Any]) -> str:
    """Fill ``{alias.field}`` and ``{threshold}`` references; no attribute access, no code."""

    def sub(m: re.Match[str]) -> str:
        ref, spec = m.group(1), m.group(2) or ""
        if "." in ref:
            alias, field = ref.split(".", 1)
            return _fmt(aliases.get(alias, {}).get(field), spec)
        return _fmt(thresholds.get(ref), spec)

    return TEMPLATE_REF.sub(sub, text)


class Engine:
    """Loads the rules and plugins once and evaluates many patients; safe to share between threads.

    Args:
        rules_dir: A rules directory to use instead of the built-in one.
        thresholds: Site values for named thresholds; they win over plugins' values.
        backend: ``durable`` (default: durable-rules decides) or ``reference`` (pure Python).
        extra_rule_files: ``(path or mapping, origin)`` rule files to add.
        plugins: Plugin objects to register (modules, classes, instances, or ``(name, object)``).
        plugin_paths: Local plugin files (``.py``) or directories of them.
        entry_points: Load installed plugins (the ``ivig_cds`` entry-point group), filtered by
            the ``IVIG_CDS_LOAD_PLUGINS`` environment variable (empty: none).
        strict_plugins: Raise :class:`~ivig_cds.PluginError` when a plugin fails instead of
            isolating it and reporting it in each result.
        fhir_mapping: For FHIR input, a site mapping table (``FhirMapping`` or a path); default built-in.
        strict_fhir: Validate FHIR input against the R4B models of ``fhir.resources`` first ([fhir] extra).
    """

    def __init__(
        self,
        *,
        rules_dir: Path | None = None,
        thresholds: Mapping[str, Any] | None = None,
        backend: BackendName = "durable",
        extra_rule_files: Iterable[tuple[Path | Mapping[str, Any], str]] = (),
        plugins: Iterable[object] = (),
        plugin_paths: Iterable[str | os.PathLike[str]] = (),
        entry_points: bool = True,
        strict_plugins: bool = False,
        fhir_mapping: Any = None,
        strict_fhir: bool = False,
    ) -> None:
        # FHIR input: a site mapping table, loaded (and checked) here so a bad table fails at start-up
        self.fhir_mapping = resolve_mapping(fhir_mapping) if fhir_mapping is not None else None
        self.strict_fhir = strict_fhir
        self.host = PluginHost(
            CorePlugin(rules_dir),
            entry_points=entry_points,
            paths=plugin_paths,
            objects=plugins,
            strict=strict_plugins,
        )
        reg = self.host.collect()
        self.catalog = self.host.catalog(reg)
        self._derivers = sorted(reg.derivers, key=lambda d: (d[0], d[1].name))
        self.output_formats: dict[str, Any] = {name: fmt for name, (_, fmt) in sorted(reg.formats.items())}
        self.book: RuleBook = load_rulebook(
            rules_dir,
            threshold_overrides=thresholds,
            sources=reg.rule_sources,
            extra_rule_files=extra_rule_files,
            plugin_overrides=reg.thresholds,
            catalog=self.catalog,
            on_error=lambda origin, hook, exc: self.host.fail(origin, hook, exc),
        )
        for rid, rule in sorted(self.book.rules.items()):
            if rule.origin in self.host.infos:
                self.host.infos[rule.origin].rules.append(rid)
        self._tis = TisTable.from_mapping(self.book.tis_table, source="tis.yaml")
        self._thresholds = self.book.threshold_values()
        self.plan = make_plan(list(self.book.rules.values()))
        self.fingerprint = self.book.fingerprint()
        self._needed: dict[str, set[str]] = {}
        for rule in self.book.rules.values():
            for p in rule.patterns:
                if p.fact_type != "conclusion":
                    self._needed.setdefault(p.fact_type, set()).update(t.field for t in iter_tests(p.cond))
        self._reads = {
            rid: [
                (p.fact_type, frozenset(t.field for t in iter_tests(p.cond)))
                for p in rule.patterns
                if p.fact_type != "conclusion"
            ]
            for rid, rule in self.book.rules.items()
        }
        self._gap_rules = [rid for rid, r in sorted(self.book.rules.items()) if r.spec.gaps and r.spec.emit]
        self._rule_consts: dict[
            str, tuple[dict[str, list[str]], dict[str, str], dict[str, Any], tuple[str, ...]]
        ] = {}
        for rid, rule in self.book.rules.items():
            used = {name: self._thresholds[name] for name in rule.thresholds}
            for ref, _ in TEMPLATE_REF.findall(rule.spec.summary + rule.spec.detail):
                if "." not in ref:
                    used[ref] = self._thresholds[ref]
            self._rule_consts[rid] = (
                rule.fields_read(),
                {p.alias: p.fact_type for p in rule.patterns if p.kind == "match"},
                used,
                tuple(self._cite(k) for k in rule.spec.evidence),
            )
        self.backend_name: BackendName = backend
        if backend == "durable":
            try:
                from ._durable import DurableBackend
            except ImportError as exc:
                raise EngineError(
                    f"durable-rules cannot be imported ({exc}); install it, or use backend='reference'"
                ) from None

            chained = [set(c) for c in self.plan.chained]
            self._backend: Any = DurableBackend(self.plan.strata, self.fingerprint, chained)
        elif backend == "reference":
            self._backend = ReferenceBackend(self.plan)
        else:
            raise EngineError(f"unknown backend {backend!r} (use durable or reference)")
        overridden = {
            k: t.value
            for k, t in sorted(self.book.thresholds.items())
            if t.source == "overrides" or t.source.startswith("plugin ")
        }
        self.info = EngineInfo(
            version=__version__,
            backend=backend,
            ruleset_hash=self.fingerprint,
            rulesets=[
                RulesetInfo(name=f.name, version=f.version, sha256=f.sha256, origin=f.origin)
                for f in sorted(self.book.files, key=lambda f: (f.origin != "core", f.origin, f.name))
            ],
            plugins=self.host.versions(),
            plugin_failures=[PluginFailure(plugin=p, hook=h, error=e) for p, h, e in self.host.failures],
            thresholds_overridden=overridden,
        )

    @property
    def plugins(self) -> list[PluginInfo]:
        """Every plugin loaded or attempted, with version, hooks, rules and formats."""
        return [self.host.infos[name] for name in sorted(self.host.infos)]

    def format(self, name: str, evaluations: list[Evaluation]) -> str:
        """Render evaluations in a registered output format (built-in or a plugin's)."""
        if name not in self.output_formats:
            raise EngineError(f"unknown output format {name!r} (known: {', '.join(self.output_formats)})")
        return str(self.output_formats[name].render(evaluations))

    @property
    def rules(self) -> dict[str, Rule]:
        return self.book.rules

    def derive(self, patient: Patient, as_of: date, sink: list[tuple[str, str, str]] | None = None) -> Derived:
        """The derived facts of a patient, core and plugin (exposed for ``explain`` and tests).

        Args:
            patient: A validated patient.
            as_of: The evaluation date.
            sink: Where plugin deriver failures go (default: raise nothing, drop them).
        """
        derived = derive(patient, as_of, self._thresholds, self.book.terminology, self._tis)
        failures = sink if sink is not None else []
        for plugin, deriver in self._derivers:
            try:
                produced = deriver.derive(patient, as_of, self._thresholds)
                rows = [produced] if isinstance(produced, Mapping) else list(produced)
                checked = [self._check_plugin_fact(deriver.fact_type, deriver.fields, dict(r)) for r in rows]
            except Exception as exc:
                self.host.fail(plugin, f"register_fact_derivers[{deriver.name}]", exc, failures)
                continue
            if deriver.fact_type == "patient":
                for row in checked:
                    derived.patient.update(row)
            else:
                for row in checked:
                    derived.add({"t": deriver.fact_type, **row}, f"plugin {plugin}")
        return derived

    @staticmethod
    def _check_plugin_fact(fact_type: str, fields: Mapping[str, Any], row: dict[str, Any]) -> dict[str, Any]:
        extra = sorted(set(row) - set(fields))
        if extra:
            raise TypeError(f"deriver returned undeclared fields {extra} for {fact_type}")
        for key, value in row.items():
            kind = fields[key].type
            if value is not None and (
                not isinstance(value, _TYPE_CHECK[kind]) or (kind != "bool" and isinstance(value, bool))
            ):
                raise TypeError(f"{fact_type}.{key} must be a {kind}, got {type(value).__name__}")
        return row

    def evaluate(self, patient: PatientSource, *, as_of: date | None = None) -> Evaluation:
        """Evaluate one patient.

        Args:
            patient: A :class:`Patient`, a dict in the patient-file shape, or a path to a JSON/YAML file;
                or a FHIR R4 Bundle (dict, bytes or file, recognised by ``resourceType``): the result then
                has a ``mapping`` block.
            as_of: Evaluate as of this date; else the file's ``as_of``; else today (the only clock read).

        Raises:
            InputError: the patient file is invalid (``errors`` lists each field path).
            EngineError: the rules engine failed.
        """
        model, report = load_input(patient, as_of=as_of, mapping=self.fhir_mapping, strict=self.strict_fhir)
        day = as_of or model.as_of or date.today()
        failures: list[tuple[str, str, str]] = []
        derived = self.derive(model, day, failures)
        result = with_mapping(self._evaluate(model, day, derived, failures), report)
        if self.host.has_impls("adjust_findings"):
            result = self._adjust(result, failures)
        result = self._with_failures(result, failures)
        if self.host.has_impls("observe_evaluation"):
            context = EvaluationContext(
                input_sha256=hashlib.sha256(model.model_dump_json().encode()).hexdigest(),
                ruleset_hash=self.fingerprint,
                plugins=tuple(self.info.plugins),
            )
            observed: list[tuple[str, str, str]] = []
            self.host.call("observe_evaluation", observed, evaluation=result, context=context)
            if observed:
                result = self._with_failures(result, failures + observed)
        return result

    def _adjust(self, result: Evaluation, failures: list[tuple[str, str, str]]) -> Evaluation:
        """Let plugins adjust findings; core stop/warning findings cannot be dropped or weakened."""
        findings = list(result.findings)
        protected = [f for f in findings if f.origin == "core" and f.severity in ("stop", "warning")]
        impls = sorted(self.host.pm.hook.adjust_findings.get_hookimpls(), key=lambda i: i.plugin_name)
        for impl in impls:
            if impl.plugin_name == "core":
                continue
            current = result.model_copy(update={"findings": list(findings)})
            got = self.host.call_one(impl, failures, evaluation=current, findings=list(findings))
            if got is None:
                continue
            try:
                new = [f if isinstance(f, Finding) else Finding.model_validate(f) for f in got]
                for core in protected:
                    kept = [
                        f
                        for f in new
                        if f.rule_id == core.rule_id
                        and f.summary == core.summary
                        and f.category == core.category
                        and SEVERITY_ORDER[f.severity] <= SEVERITY_ORDER[core.severity]
                    ]
                    if not kept:
                        raise ValueError(f"it removed or downgraded core finding {core.rule_id} ({core.severity})")
                before = {id(f) for f in findings}
                new = [
                    f
                    if id(f) in before or f.origin != "core"
                    else f.model_copy(update={"origin": impl.plugin_name})
                    for f in new
                ]
            except Exception as exc:
                self.host.fail(impl.plugin_name, "adjust_findings", exc, failures)
                continue
            findings = new
        findings.sort(key=_finding_key)
        return result.model_copy(update={"findings": findings})

    def _with_failures(self, result: Evaluation, failures: list[tuple[str, str, str]]) -> Evaluation:
        """Record plugin failures in the result: engine.plugin_failures and a PLUGIN-001 warning each."""
        everything = [(f.plugin, f.hook, f.error) for f in self.info.plugin_failures] + failures
        if not everything:
            return result
        extra = [
            Finding(
                rule_id="PLUGIN-001",
                rule_version="1.0.0",
                title="Plugin failed: evaluation incomplete",
                category="data",
                severity="warning",
                summary=f"Evaluation incomplete: plugin {plugin!r} failed in {hook}; its contribution is missing",
                detail=error,
                evidence=["[ivig-cds] plugin isolation: a failing plugin is reported, never silent"],
                facts={"plugin": plugin, "hook": hook},
                origin="core",
            )
            for plugin, hook, error in everything
        ]
        findings = sorted([f for f in result.findings if f.rule_id != "PLUGIN-001"] + extra, key=_finding_key)
        engine = result.engine.model_copy(
            update={"plugin_failures": [PluginFailure(plugin=p, hook=h, error=e) for p, h, e in everything]}
        )
        return result.model_copy(update={"findings": findings, "engine": engine})

    def run_rules(self, derived: Derived) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, str]]]]:
        """Run the backend; return all facts (input + conclusions) and the matches."""
        facts: list[dict[str, Any]] = []
        for fact in derived.facts:
            t = str(fact["t"])
            needed = self._needed.get(t, set())
            slim = {"t": t}
            spec = self.catalog.get(t, {})
            for key in needed:
                value = fact.get(key)
                if value is None:
                    continue
                kind = spec[key].type if key in spec else None
                if kind and (
                    not isinstance(value, _TYPE_CHECK[kind]) or (kind == "number" and isinstance(value, bool))
                ):
                    raise EngineError(f"fact {t}.{key} should be a {kind}, got {type(value).__name__}")
                slim[key] = value
            facts.append(slim)
        all_facts = list(facts)

        def conclude(level: int, matches: list[tuple[str, dict[str, str]]]) -> list[dict[str, Any]]:
            new = [conclusion_fact(self.book.rules[rid]) for rid in sorted({m[0] for m in matches})]
            all_facts.extend(new)
            return new

        try:
            matches = self._backend.run(facts, conclude)
        except IvigCdsError:
            raise
        except Exception as exc:  # never let a backend's own exception type leak
            raise EngineError(f"{self.backend_name} backend failed: {exc}") from None
        return all_facts, matches

    def _evaluate(
        self, model: Patient, day: date, derived: Derived, failures: list[tuple[str, str, str]]
    ) -> Evaluation:
        all_facts, matches = self.run_rules(derived)
        fired: dict[str, list[dict[str, str]]] = {}
        for rid, combo in matches:
            fired.setdefault(rid, []).append(combo)
        status, sources, basis = self._status(fired, derived)
        dates = {
            k: v.isoformat()
            for k, v in (
                ("as_of", day),
                ("first_course", derived.context.get("first_course")),
                ("discontinued_on", derived.context.get("discontinued_on")),
            )
            if v is not None
        }
        findings = self._findings(fired, derived, all_facts, dates)
        findings += self._gaps(fired, all_facts)
        findings.sort(key=_finding_key)
        return Evaluation(
            patient_id=model.patient_id,
            as_of=day.isoformat(),
            engine=self.info,
            patient=PatientSummary(
                age_years=derived.patient["age_years"],
                sex=derived.patient["sex"],
                condition=derived.patient["condition"],
                classification=derived.patient["classification"],
                weight_kg=derived.patient["weight_kg"],
                courses_given=derived.patient["courses_count"],
                first_course=dates.get("first_course"),
                discontinued_on=dates.get("discontinued_on"),
            ),
            status=status,
            dose_plan=self._dose_plan(derived, basis),
            findings=findings,
            status_sources=sources,
            ignored_after_as_of=derived.ignored_after_as_of,
        )

    def _status(
        self, fired: Mapping[str, Any], derived: Derived
    ) -> tuple[Status, list[StatusSource], tuple[str, str | None]]:
        concluded: dict[str, list[tuple[Any, str]]] = {}
        for rid in sorted(fired):
            for name, value in self.book.rules[rid].spec.sets.items():
                concluded.setdefault(name, []).append((value, rid))
        values: dict[str, Any] = {}
        sources: list[StatusSource] = []
        for name, spec in self.book.status.items():
            got = concluded.get(name, [])
            if not got:
                values[name] = spec.default
                continue
            distinct = {v for v, _ in got}
            if spec.mode == "exclusive" and len(distinct) > 1:
                detail = ", ".join(f"{rid}={v!r}" for v, rid in got)
                raise EngineError(f"rules concluded conflicting values for status.{name}: {detail}")
            values[name] = next(v for v in spec.values if v in distinct)
            for v, rid in got:
                sources.append(
                    StatusSource(field=name, value=v, rule_id=rid, rule_version=self.book.rules[rid].spec.version)
                )
        p = derived.patient
        reasons = sorted({rid for v, rid in concluded.get("eligibility", []) if v != "eligible"})
        status = Status(
            refractory=values["refractory"],
            eligibility=values["eligibility"],
            eligibility_reasons=reasons,
            response=values["response"],
            response_level=values["response_level"],
            total_improvement_score=p.get("best_tis"),
            steroid_reduction_pct=p.get("gc_reduction_pct"),
            steroid_taper_beyond_50=values["steroid_taper_beyond_50"],
            outcome=values["outcome"],
            relapse_alert=values["relapse_alert"],
            months_to_relapse=p.get("months_to_relapse") if values["outcome"] == "relapse" else None,
        )
        basis_rule = next(
            (rid for v, rid in concluded.get("weight_basis", []) if v == values["weight_basis"]), None
        )
        return status, sources, (values["weight_basis"], basis_rule)

    def _findings(
        self,
        fired: Mapping[str, list[dict[str, str]]],
        derived: Derived,
        all_facts: list[dict[str, Any]],
        dates: dict[str, str],
    ) -> list[Finding]:
        n_input = len(derived.facts)
        out: list[Finding] = []
        for rid in sorted(fired):
            rule = self.book.rules[rid]
            if not rule.spec.emit:
                continue
            reads, types, used, evidence = self._rule_consts[rid]
            seen: set[str] = set()

            def content(combo: dict[str, str]) -> str:
                # order by what was matched, not where it sat in the input: shuffled lists give the same output
                parts = []
                for alias, key in sorted(combo.items()):
                    index = int(key[1:]) if key.startswith("f") else -1
                    fact = (derived.facts[index] if index < n_input else all_facts[index]) if index >= 0 else key
                    parts.append((alias, fact))
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
                    fact = derived.facts[index] if index < n_input else all_facts[index]
                    aliases[alias] = fact
                    for field in reads.get(alias, []):
                        facts[f"{types[alias]}.{field}"] = fact.get(field)
                    if index < n_input and derived.refs[index]:
                        refs.append(derived.refs[index])
                summary = render_template(rule.spec.summary, aliases, self._thresholds)
                if summary in seen:
                    continue
                seen.add(summary)
                out.append(
                    Finding.model_construct(  # trusted values from validated rules and typed facts
                        rule_id=rid,
                        rule_version=rule.spec.version,
                        title=rule.spec.title,
                        category=rule.spec.category,
                        severity=rule.spec.severity,
                        summary=summary,
                        detail=render_template(rule.spec.detail, aliases, self._thresholds),
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

    def _cite(self, key: str) -> str:
        src = self.book.bibliography[key]
        text = str(src.get("citation", key))
        return f"[{key}] {text}" + ("" if src.get("verified", True) else " (UNVERIFIED)")

    def _gaps(self, fired: Mapping[str, Any], all_facts: list[dict[str, Any]]) -> list[Finding]:
        absent: dict[str, set[str]] = {}  # fields some fact of the type does not have
        for fact in all_facts:
            t = fact["t"]
            needed = self._needed.get(t)
            if needed:
                gone = {f for f in needed if fact.get(f) is None}
                if gone:
                    absent.setdefault(t, set()).update(gone)
        typed: dict[str, list[tuple[str, Mapping[str, Any]]]] | None = None
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
                    severity=_GAP_SEVERITY[rule.spec.severity],  # type: ignore[arg-type]
                    summary=f"{rule.spec.title} ({rid}) could not be checked: not recorded - {', '.join(inputs)}",
                    detail="Missing is not false: record these values and re-evaluate.",
                    evidence=list(self._rule_consts[rid][3]),
                    facts={"rule": rid, "missing": [f"{t}.{f}" for t, f in missing]},
                    sources=inputs,
                    origin=rule.origin,
                )
            )
        return out

    def _dose_plan(self, derived: Derived, basis: tuple[str, str | None]) -> DosePlan | None:
        p, t = derived.patient, self._thresholds
        actual = p.get("weight_kg")
        if actual is None:
            return None
        weight_basis, rule = basis
        weight = p["adjusted_weight_kg"] if weight_basis == "adjusted" else float(actual)
        per_day = round(weight * float(t["dose_g_per_kg_per_day"]), 1)
        days = int(t["days_per_course"])
        return DosePlan(
            weight_basis=weight_basis,  # type: ignore[arg-type]
            dosing_weight_kg=round(float(weight), 1),
            actual_weight_kg=float(actual),
            g_per_kg_per_day=float(t["dose_g_per_kg_per_day"]),
            grams_per_day=per_day,
            days_per_course=days,
            interval_weeks=int(t["interval_weeks"]),
            courses_in_first_phase=str(t["courses_in_first_phase"]),
            grams_per_course=round(per_day * days, 1),
            basis_rule=rule,
        )


def _finding_key(f: Finding) -> tuple[int, str, str, str]:
    return (SEVERITY_ORDER[f.severity], f.rule_id, f.summary, repr(sorted(f.facts.items())))


_default: Engine | None = None
_default_lock = threading.Lock()


def evaluate(patient: PatientSource, *, as_of: date | None = None) -> Evaluation:
    """Evaluate one patient with the built-in rules (a shared :class:`Engine` is created on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Engine()
    return _default.evaluate(patient, as_of=as_of)
