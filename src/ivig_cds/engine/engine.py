"""The evaluation pipeline: patient snapshot -> derived facts -> rules (durable) -> status, findings, dose plan."""

from __future__ import annotations

import hashlib
import math
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from ivig_cds._version import __version__
from ivig_cds.backends.base import Match
from ivig_cds.engine.build import build_rules
from ivig_cds.engine.findings import finding_key, plugin_failure_finding, sort_findings
from ivig_cds.engine.guard import adjust_findings, observe
from ivig_cds.engine.status import assemble_status, dose_plan
from ivig_cds.errors import EngineError, InputError, IvigCdsError
from ivig_cds.facts.derive import Derived, derive
from ivig_cds.inputs.fhir.integration import load_input, resolve_mapping, with_mapping
from ivig_cds.inputs.files import check_as_of
from ivig_cds.model.evaluation import EngineInfo, Evaluation, PatientSummary, PluginFailure, RulesetInfo
from ivig_cds.model.patient import Patient
from ivig_cds.plugins.core import CorePlugin
from ivig_cds.plugins.host import PluginHost, PluginInfo, boundary
from ivig_cds.plugins.spec import EvaluationContext
from ivig_cds.rulebook.plan import conclusion_fact
from ivig_cds.rulebook.spec import Rule

__all__ = ["Engine", "PatientSource", "Trace", "evaluate", "today_utc"]

BackendName = Literal["durable", "reference"]
PatientSource = Patient | dict[str, Any] | str | os.PathLike[str] | bytes
AsOf = date | str | None
_TYPE_CHECK: dict[str, tuple[type, ...]] = {"number": (int, float), "bool": (bool,), "string": (str,)}
_KIND_NAME = {kinds: kind for kind, kinds in _TYPE_CHECK.items()}
Failures = list[tuple[str, str, str]]


def today_utc() -> date:
    """Today's date in UTC: the evaluation date when neither the caller nor the file gives one."""
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class Trace:
    """One evaluation with what produced it: the facts derived, every fact asserted, and the matches.

    ``ivig-cds explain`` reads a trace instead of running the pipeline again.
    """

    evaluation: Evaluation
    patient: Patient
    as_of: date
    derived: Derived
    all_facts: tuple[dict[str, Any], ...]
    matches: tuple[Match, ...]


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
        clock: Today's date when no ``as_of`` is given (default :func:`today_utc`; tests pass a fixed one).
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
        clock: Callable[[], date] = today_utc,
        fhir_mapping: Any = None,
        strict_fhir: bool = False,
    ) -> None:
        self._clock = clock
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
        self.backend_name: BackendName = backend
        built = build_rules(self.host, reg, rules_dir, thresholds, list(extra_rule_files), backend)
        self.book, self.catalog, self.plan, self._backend = built.book, built.catalog, built.plan, built.backend
        self.fingerprint, self._tis, self._thresholds = built.fingerprint, built.tis, built.thresholds
        self._findings, self._derivers, self.output_formats = built.findings, built.derivers, built.formats
        self._slim_plans: dict[str, tuple[tuple[str, tuple[type, ...] | None, bool], ...]] = {}
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

    def close(self) -> None:
        """Release the backend's native resources (durable's C rulesets); the Engine is unusable after."""
        self._backend.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- facts ---------------------------------------------------------------------------------
    def derive(self, patient: Patient, as_of: date, sink: Failures | None = None) -> Derived:
        """The derived facts of a patient, core and plugin (exposed for ``explain`` and tests).

        Args:
            patient: A validated patient.
            as_of: The evaluation date.
            sink: Where plugin deriver failures go (default: dropped).
        """
        derived = derive(patient, as_of, self._thresholds, self.book.terminology, self._tis)
        failures = sink if sink is not None else []
        for plugin, deriver in self._derivers:
            try:
                produced = deriver.derive(patient.model_copy(deep=True), as_of, dict(self._thresholds))
                rows = [produced] if isinstance(produced, Mapping) else list(produced)
                checked = [self._check_plugin_fact(deriver.fact_type, deriver.fields, dict(r)) for r in rows]
            except BaseException as exc:
                self.host.fail(plugin, f"register_fact_derivers[{deriver.name}]", boundary(exc), failures)
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
            if value is None:
                continue
            if not isinstance(value, _TYPE_CHECK[kind]) or (kind != "bool" and isinstance(value, bool)):
                raise TypeError(f"{fact_type}.{key} must be a {kind}, got {type(value).__name__}")
            if isinstance(value, float) and not math.isfinite(
                value
            ):  # NaN compares with nothing, inf is no measure
                raise TypeError(f"{fact_type}.{key} is {value!r}, not a finite number")
            if isinstance(value, str) and not value.isprintable():
                raise TypeError(f"{fact_type}.{key} holds a control character or a lone surrogate")
        return row

    def _slim_plan(self, fact_type: str) -> tuple[tuple[str, tuple[type, ...] | None, bool], ...]:
        """The fields of a fact type some rule reads, each with the Python types its catalog kind allows."""
        spec = self.catalog.get(fact_type, {})
        return tuple(
            (key, _TYPE_CHECK[spec[key].type] if key in spec else None, key in spec and spec[key].type == "number")
            for key in self._findings.needed.get(fact_type, set())
        )

    def run_rules(self, derived: Derived) -> tuple[list[dict[str, Any]], list[Match]]:
        """Run the backend; return all facts (input + conclusions) and the matches."""
        facts: list[dict[str, Any]] = []
        plans = self._slim_plans
        for fact in derived.facts:
            t = str(fact["t"])
            plan = plans.get(t)
            if plan is None:
                plan = plans[t] = self._slim_plan(t)
            slim: dict[str, Any] = {"t": t}
            for key, kinds, number in plan:
                value = fact.get(key)
                if value is None:
                    continue
                if kinds is not None and (not isinstance(value, kinds) or (number and isinstance(value, bool))):
                    raise EngineError(
                        f"fact {t}.{key} should be a {_KIND_NAME[kinds]}, got {type(value).__name__}"
                    )
                slim[key] = value
            facts.append(slim)
        all_facts = list(facts)

        def conclude(level: int, matches: list[Match]) -> list[dict[str, Any]]:
            new = [conclusion_fact(self.book.rules[rid]) for rid in sorted({m[0] for m in matches})]
            all_facts.extend(new)
            return new

        try:
            matches = self._backend.run(facts, conclude)
        except IvigCdsError:
            raise
        except Exception as exc:  # never let a backend's own exception type leak
            raise EngineError(f"{self.backend_name} backend failed: {type(exc).__name__}") from None
        return all_facts, matches

    # -- evaluation ----------------------------------------------------------------------------
    def _as_of(self, as_of: AsOf, model: Patient) -> tuple[date, str]:
        if as_of is not None:
            return check_as_of(as_of, model), "argument"
        if model.as_of is not None:
            return model.as_of, "file"
        return check_as_of(self._clock(), model), "today"

    def evaluate(self, patient: PatientSource, *, as_of: AsOf = None, patient_id: str | None = None) -> Evaluation:
        """Evaluate one patient.

        Args:
            patient: A :class:`Patient`, a dict in the patient-file shape, JSON or YAML text or bytes,
                or a path to a JSON/YAML file; or a FHIR R4 Bundle (dict, bytes or file, recognised by
                ``resourceType``): the result then has a ``mapping`` block.
            as_of: Evaluate as of this date (a ``date`` or ``YYYY-MM-DD``); else the file's ``as_of``;
                else today in UTC (the only clock read).
            patient_id: FHIR input only: the Patient to read when the Bundle holds several (``Patient.id``);
                a patient file given with it is refused (an :class:`InputError` at ``patient_id``).

        Raises:
            InputError: the patient file (or ``as_of``) is invalid (``errors`` lists each field path).
            TypeError: ``patient_id`` is not a string (or ``None``).
            EngineError: the rules engine failed.
        """
        return self.trace(patient, as_of=as_of, patient_id=patient_id).evaluation

    def evaluate_many(
        self, patients: Iterable[PatientSource], *, as_of: AsOf = None
    ) -> Iterator[Evaluation | InputError]:
        """Evaluate patients one by one, in order: an :class:`Evaluation` each, or the :class:`InputError`
        that made one unreadable (yielded, not raised, so one bad record loses nothing else).

        Raises:
            EngineError: The rules engine failed (a bug or a broken plugin in strict mode, not bad input).
        """
        for patient in patients:
            try:
                yield self.evaluate(patient, as_of=as_of)
            except InputError as exc:
                yield exc

    def trace(self, patient: PatientSource, *, as_of: AsOf = None, patient_id: str | None = None) -> Trace:
        """Evaluate one patient and keep what produced the result (see :class:`Trace`)."""
        model, report = load_input(
            patient,
            as_of=check_as_of(as_of, None) if as_of is not None else None,
            mapping=self.fhir_mapping,
            strict=self.strict_fhir,
            patient_id=patient_id,
        )
        day, day_source = self._as_of(as_of, model)
        failures: Failures = []
        derived = self.derive(model, day, failures)
        all_facts, matches = self.run_rules(derived)
        result = with_mapping(self._assemble(model, day, day_source, derived, all_facts, matches), report)
        if self.host.has_impls("adjust_findings"):
            result = adjust_findings(self.host, result, failures)
        result = self._with_failures(result, failures)
        if self.host.has_impls("observe_evaluation"):
            context = EvaluationContext(
                input_sha256=hashlib.sha256(model.model_dump_json().encode()).hexdigest(),
                ruleset_hash=self.fingerprint,
                plugins=tuple(self.info.plugins),
            )
            observed: Failures = []
            observe(self.host, result, context, observed)
            if observed:
                result = self._with_failures(result, failures + observed)
        return Trace(result, model, day, derived, tuple(all_facts), tuple(matches))

    def _with_failures(self, result: Evaluation, failures: Failures) -> Evaluation:
        """Record plugin failures in the result: engine.plugin_failures and a PLUGIN-001 warning each."""
        everything = [(f.plugin, f.hook, f.error) for f in self.info.plugin_failures] + failures
        if not everything:
            return result
        extra = [plugin_failure_finding(plugin, hook, error) for plugin, hook, error in everything]
        findings = sorted([f for f in result.findings if f.rule_id != "PLUGIN-001"] + extra, key=finding_key)
        engine = result.engine.model_copy(
            update={"plugin_failures": [PluginFailure(plugin=p, hook=h, error=e) for p, h, e in everything]}
        )
        return result.model_copy(update={"findings": findings, "engine": engine})

    def _assemble(
        self,
        model: Patient,
        day: date,
        day_source: str,
        derived: Derived,
        all_facts: list[dict[str, Any]],
        matches: list[Match],
    ) -> Evaluation:
        fired: dict[str, list[dict[str, str]]] = {}
        for rid, combo in matches:
            fired.setdefault(rid, []).append(combo)
        status, sources, values = assemble_status(self.book, fired, derived, {"as_of_source": day_source})
        context = derived.context
        dates = {
            k: v.isoformat()
            for k, v in (
                ("as_of", day),
                ("first_course", context.get("first_course")),
                ("discontinued_on", context.get("discontinued_on")),
                ("restarted_on", context.get("restarted_on")),
            )
            if v is not None
        }
        findings = self._findings.findings(fired, derived, all_facts, dates)
        findings += self._findings.gaps(fired, all_facts)
        sort_findings(findings)
        basis = values["weight_basis"]
        basis_rule = next((s.rule_id for s in sources if s.field == "weight_basis" and s.value == basis), None)
        p = derived.patient
        return Evaluation(
            patient_id=model.patient_id,
            as_of=day.isoformat(),
            engine=self.info,
            patient=PatientSummary(
                age_years=p["age_years"],
                sex=p["sex"],
                condition=p["condition"],
                classification=p["classification"],
                weight_kg=p["weight_kg"],
                courses_given=p["courses_count"],
                first_course=dates.get("first_course"),
                discontinued_on=dates.get("discontinued_on"),
                restarted_on=dates.get("restarted_on"),
            ),
            status=status,
            dose_plan=dose_plan(derived, self._thresholds, basis, basis_rule),
            findings=findings,
            status_sources=sources,
            ignored_after_as_of=derived.ignored_after_as_of,
        )


_default: Engine | None = None
_default_lock = threading.Lock()


def evaluate(patient: PatientSource, *, as_of: AsOf = None) -> Evaluation:
    """Evaluate one patient with the built-in rules (a shared :class:`Engine` is created on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Engine()
    return _default.evaluate(patient, as_of=as_of)
