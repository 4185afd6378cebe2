"""The FHIR mapping table (``rules/fhir/mapping.yaml``): codes, units, equivalents, loaded and checked once."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from ivig_cds.errors import RuleFileError
from ivig_cds.model.resources import default_rules_dir
from ivig_cds.model.terminology import ProductTable, load_product_table
from ivig_cds.model.yaml_safe import YamlRejected, load_yaml

__all__ = ["Code", "CodeSet", "FhirMapping", "UnitTable", "default_mapping_path", "load_mapping"]

_WORD = re.compile(r"[a-z0-9]+")
_AGENTS_WITH_DOSES = (
    "prednisone",
    "prednisolone",
    "methylprednisolone",
    "dexamethasone",
    "hydrocortisone",
    "deflazacort",
)


@functools.cache
def default_mapping_path() -> Path:
    """The built-in table: ``fhir/mapping.yaml`` in the packaged rules directory."""
    return default_rules_dir() / "fhir" / "mapping.yaml"


_NEGATIONS = ("no", "not", "without", "denies", "denied", "never", "none", "free of", "absence of", "resolved")
"""Words that, outside an outcome phrase, make a free-text outcome unreadable ("no side effects")."""


def words(text: str) -> tuple[str, ...]:
    """Lower-case words of ``text`` (letters and digits), for whole-word name matching."""
    return tuple(_WORD.findall(text.lower()))


def contains_words(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    """Whether ``needle`` occurs as consecutive words in ``haystack``."""
    n = len(needle)
    if n == 0 or needle[0] not in haystack:  # (a tuple's "in": most names are one word, most texts lack it)
        return False
    return n == 1 or any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


@dataclass(frozen=True)
class Code:
    """One default code: ``system`` is the URI; ``prefix`` codes match any code that starts with ``code``."""

    system: str
    code: str
    prefix: bool = False
    verified: bool = True
    display: str | None = None

    def label(self) -> str:
        return f"{self.system}|{self.code}{'*' if self.prefix else ''}"


class CodeSet:
    """Codes that mean one thing; matched on system and code (exact, or by prefix)."""

    def __init__(self, codes: Iterable[Code]) -> None:
        self.codes = tuple(codes)
        self._exact = {(c.system, c.code): c for c in self.codes if not c.prefix}
        self._prefix = [c for c in self.codes if c.prefix]

    @property
    def exact(self) -> Mapping[tuple[str, str], Code]:
        """``(system, code) -> Code`` of the exact (not prefix) codes, as :meth:`match` looks them up."""
        return self._exact

    def match(self, pairs: Iterable[tuple[str, str]]) -> Code | None:
        """The first code of the set that one of the ``(system, code)`` pairs is."""
        for system, code in pairs:
            hit = self._exact.get((system, code))
            if hit is not None:
                return hit
            for c in self._prefix:
                if system == c.system and code.startswith(c.code):
                    return c
        return None

    def first(self, system: str | None = None) -> Code:
        """The first (verified where possible) code, optionally of one system: what the export writes."""
        pool = [c for c in self.codes if system is None or c.system == system]
        return next((c for c in pool if c.verified and not c.prefix), pool[0])


@dataclass(frozen=True)
class UnitTable:
    """UCUM unit conversions to a patient-file unit: ``value * factor`` (or ``/ divisor``)."""

    kind: str
    factors: Mapping[str, tuple[str, float]]
    units: tuple[str, ...] = field(init=False)
    """The accepted codes, the field's own unit first."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "units", tuple(self.factors))

    def convert(self, value: float, unit: str | None) -> float | None:
        """``value`` in the field's unit, or ``None`` when ``unit`` is not listed."""
        if unit is None or unit not in self.factors:
            return None
        how, number = self.factors[unit]
        return value * number if how == "factor" else value / number


@dataclass(frozen=True)
class RiskFactorSpec:
    """How one risk factor is asserted: Condition codes, and whether only a current Condition counts."""

    key: str
    conditions: CodeSet
    current: bool
    events: bool = False
    """A history of events (thrombosis): a refuted Condition rules out that event, not the history."""


@dataclass(frozen=True)
class FhirMapping:
    """The loaded mapping table. Build it with :func:`load_mapping`."""

    version: str
    source: str
    systems: Mapping[str, str]
    local_system: str
    diagnoses: Mapping[str, CodeSet]
    diagnosis_precedence: tuple[str, ...]
    classification: Mapping[str, str]
    agents: Mapping[str, CodeSet]
    agent_names: Mapping[str, tuple[tuple[str, ...], ...]]
    prednisone_equivalents: Mapping[str, float]
    other_glucocorticoids: Mapping[str, CodeSet]
    """Systemic glucocorticoids that are no patient-file agent (triamcinolone, betamethasone, cortisone, ...):
    recognised so that a dose of one is unknown (``glucocorticoid_doses`` incomplete), never "not a steroid"."""
    other_glucocorticoid_names: Mapping[str, tuple[tuple[str, ...], ...]]
    procedures: Mapping[str, CodeSet]
    ivig: CodeSet
    ivig_names: tuple[tuple[str, ...], ...]
    """IVIG brands the product table does not list (IVIG, stabiliser unknown)."""
    ivig_schedule_days: int
    """The next course at most this many days after the one before keeps the schedule (not discontinued)."""
    not_ivig: CodeSet
    """Immunoglobulins that are not IVIG (extravascular normal immunoglobulin, specific immunoglobulins)."""
    subcutaneous_names: tuple[tuple[str, ...], ...]
    specific_names: tuple[tuple[str, ...], ...]
    routes: Mapping[str, CodeSet]
    """``dosage.route`` codes by route: for IVIG ``intravenous`` is IVIG, every other listed route is not."""
    local_routes: Mapping[str, CodeSet]
    """Routes by which an agent acts locally (topical, eye, ear, nose, airways): not a systemic dose, not read."""
    local_forms: tuple[tuple[str, ...], ...]
    """Dose-form phrases (``cream``, ``eye drops``) in a medication's name or form that say it acts locally."""
    systemic_words: tuple[tuple[str, ...], ...]
    """Words of a name that say systemic use (``tablet``, ``injection``): with a local signal, a conflict."""
    pulse_prednisone_mg: float
    """A glucocorticoid administration of at least this prednisone-equivalent mg is a pulse: held only by an
    order or statement of at least its dose that day."""
    outcome_codes: Mapping[str, CodeSet]
    outcome_phrases: Mapping[str, tuple[tuple[str, ...], ...]]
    outcome_negations: tuple[tuple[str, ...], ...]
    observations: Mapping[str, CodeSet]
    labs: Mapping[str, CodeSet]
    answers: Mapping[str, Mapping[str, str]]
    pregnancy_positive: CodeSet
    pregnancy_negative: CodeSet
    units: Mapping[str, UnitTable]
    count_units: frozenset[str]
    risk_factors: Mapping[str, RiskFactorSpec]
    anaphylaxis: CodeSet
    corn_names: tuple[tuple[str, ...], ...]
    ig_allergy_names: tuple[tuple[str, ...], ...]
    current_days: int
    weight_warn_days: int
    course_weight_days: int
    products: ProductTable = field(compare=False)

    def local(self, code: str) -> dict[str, str]:
        """A Coding of the local CodeSystem."""
        return {"system": self.local_system, "code": code}

    def unit(self, kind: str) -> UnitTable:
        return self.units[kind]

    @functools.cached_property
    def glucocorticoids(self) -> tuple[str, ...]:
        return tuple(a for a in _AGENTS_WITH_DOSES if a in self.prednisone_equivalents)


class _Reader:
    """Checks the parsed YAML and turns its parts into typed values; errors name the table path."""

    def __init__(self, data: Mapping[str, Any], source: str) -> None:
        self.data = data
        self.source = source
        raw = data.get("systems")
        if not isinstance(raw, Mapping) or not all(isinstance(v, str) for v in raw.values()):
            self.fail("systems", "a mapping of alias: URI")
        self.systems = {str(k): str(v).rstrip("/") for k, v in raw.items()}

    def fail(self, where: str, msg: str) -> NoReturn:
        raise RuleFileError(self.source, f"{where}: {msg}")

    def section(self, key: str) -> Mapping[str, Any]:
        value = self.data.get(key)
        if not isinstance(value, Mapping):
            self.fail(key, "missing or not a mapping")
        return value

    def codes(self, value: object, where: str) -> CodeSet:
        if not isinstance(value, list):
            self.fail(where, "a list of codes")
        out = []
        for i, item in enumerate(value):
            at = f"{where}[{i}]"
            if not isinstance(item, Mapping) or not isinstance(item.get("code"), str) or not item["code"]:
                self.fail(at, "each code needs a system and a code (a string)")
            unknown = set(item) - {"system", "code", "display", "verified"}
            if unknown:
                self.fail(at, f"unknown key(s) {', '.join(sorted(unknown))}")
            alias = item.get("system")
            if alias not in self.systems:
                self.fail(at, f"unknown system {alias!r} (declare it under systems)")
            code = str(item["code"])
            prefix = code.endswith("*")
            out.append(
                Code(
                    system=self.systems[str(alias)],
                    code=code.rstrip("*"),
                    prefix=prefix,
                    verified=item.get("verified", True) is not False,
                    display=str(item["display"]) if item.get("display") else None,
                )
            )
        return CodeSet(out)

    def names(self, value: object, where: str) -> tuple[tuple[str, ...], ...]:
        if not isinstance(value, list) or not all(isinstance(n, str) and words(n) for n in value):
            self.fail(where, "a list of names")
        return tuple(words(n) for n in value)

    def number(self, value: object, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            self.fail(where, "a positive number")
        return float(value)


def _build(data: Mapping[str, Any], source: str) -> FhirMapping:
    r = _Reader(data, source)
    if "local" not in r.systems:
        r.fail("systems.local", "the local CodeSystem URI is required")
    diagnoses = {k: r.codes(v, f"diagnoses.{k}") for k, v in r.section("diagnoses").items()}
    precedence = data.get("diagnosis_precedence", [])
    if not isinstance(precedence, list) or sorted(precedence) != sorted(diagnoses):
        r.fail("diagnosis_precedence", "must list every condition of 'diagnoses' once")
    classification = {str(k): str(v) for k, v in r.section("classification").items()}
    agents: dict[str, CodeSet] = {}
    names: dict[str, tuple[tuple[str, ...], ...]] = {}
    for agent, spec in r.section("agents").items():
        if not isinstance(spec, Mapping):
            r.fail(f"agents.{agent}", "a mapping with codes and names")
        agents[agent] = r.codes(spec.get("codes", []), f"agents.{agent}.codes")
        names[agent] = r.names(spec.get("names", []), f"agents.{agent}.names")
    equivalents = {
        k: r.number(v, f"prednisone_equivalents.{k}") for k, v in r.section("prednisone_equivalents").items()
    }
    others: dict[str, CodeSet] = {}
    other_names: dict[str, tuple[tuple[str, ...], ...]] = {}
    other_section = data.get("other_glucocorticoids") or {}  # optional: without it none is recognised
    if not isinstance(other_section, Mapping):
        r.fail("other_glucocorticoids", "a mapping of glucocorticoids, each with codes and names")
    for name, spec in other_section.items():
        where = f"other_glucocorticoids.{name}"
        if not isinstance(spec, Mapping):
            r.fail(where, "a mapping with codes and names")
        if name in agents:
            r.fail(where, "is an agent of 'agents': list it once")
        if set(spec) - {"codes", "names"}:
            r.fail(
                where,
                f"unknown key(s) {', '.join(sorted(map(str, set(spec) - {'codes', 'names'})))}: codes, names",
            )
        others[str(name)] = r.codes(spec.get("codes", []), f"{where}.codes")
        other_names[str(name)] = r.names(spec.get("names", []), f"{where}.names")
    unknown_gc = set(equivalents) - set(agents)
    if unknown_gc:
        r.fail("prednisone_equivalents", f"not an agent: {', '.join(sorted(unknown_gc))}")
    outcomes = r.section("outcomes")
    routes = data.get("routes", {})  # optional: a table without it recognises no route (each one is warned)
    if not isinstance(routes, Mapping) or (routes and "intravenous" not in routes):
        r.fail("routes", "a mapping of route: codes, with intravenous among them")
    local_routes = data.get("local_routes", {})
    if not isinstance(local_routes, Mapping):
        r.fail("local_routes", "a mapping of route: codes")
    units: dict[str, UnitTable] = {}
    for kind, table in r.section("units").items():
        if kind == "count_units":
            continue
        if not isinstance(table, Mapping):
            r.fail(f"units.{kind}", "a mapping of UCUM code: {factor|divisor: number}")
        factors: dict[str, tuple[str, float]] = {}
        for code, how in table.items():
            if not isinstance(how, Mapping) or len(how) != 1 or next(iter(how)) not in ("factor", "divisor"):
                r.fail(f"units.{kind}.{code}", "one of {factor: N} or {divisor: N}")
            key = next(iter(how))
            factors[str(code)] = (key, r.number(how[key], f"units.{kind}.{code}.{key}"))
        units[kind] = UnitTable(kind, factors)
    count_units = r.section("units").get("count_units", [])
    if not isinstance(count_units, list):
        r.fail("units.count_units", "a list of unit codes")
    risks: dict[str, RiskFactorSpec] = {}
    for key, spec in r.section("risk_factors").items():
        spec = spec or {}
        if not isinstance(spec, Mapping):
            r.fail(f"risk_factors.{key}", "a mapping")
        risks[key] = RiskFactorSpec(
            key,
            r.codes(spec.get("conditions", []), f"risk_factors.{key}.conditions"),
            bool(spec.get("current")),
            bool(spec.get("events")),
        )
    answers = r.section("answers")
    pregnancy = answers.get("pregnancy", {})
    allergies = r.section("allergies")
    recency = r.section("recency")
    days = {k: r.number(recency.get(k), f"recency.{k}") for k in ("current_risk_factor_days", "weight_warn_days")}
    return FhirMapping(
        version=str(data.get("version", "1")),
        source=source,
        systems=r.systems,
        local_system=r.systems["local"],
        diagnoses=diagnoses,
        diagnosis_precedence=tuple(precedence),
        classification=classification,
        agents=agents,
        agent_names=names,
        prednisone_equivalents=equivalents,
        other_glucocorticoids=others,
        other_glucocorticoid_names=other_names,
        procedures={k: r.codes(v, f"procedures.{k}") for k, v in r.section("procedures").items()},
        ivig=r.codes(r.section("ivig").get("codes", []), "ivig.codes"),
        ivig_names=r.names(r.section("ivig").get("names", []), "ivig.names"),
        ivig_schedule_days=int(r.number(r.section("ivig").get("schedule_days", 42), "ivig.schedule_days")),
        not_ivig=r.codes(r.section("ivig").get("not_ivig_codes", []), "ivig.not_ivig_codes"),
        subcutaneous_names=r.names(r.section("ivig").get("subcutaneous_names", []), "ivig.subcutaneous_names"),
        specific_names=r.names(r.section("ivig").get("specific_names", []), "ivig.specific_names"),
        routes={str(k): r.codes(v, f"routes.{k}") for k, v in routes.items()},
        local_routes=_local_routes(r, local_routes, routes),
        local_forms=r.names(data.get("local_forms", []), "local_forms"),
        systemic_words=r.names(data.get("systemic_words", []), "systemic_words"),
        pulse_prednisone_mg=r.number(data.get("pulse_prednisone_mg", 250), "pulse_prednisone_mg"),
        outcome_codes={k: r.codes(v, f"outcomes.codes.{k}") for k, v in outcomes.get("codes", {}).items()},
        outcome_phrases={k: r.names(v, f"outcomes.phrases.{k}") for k, v in outcomes.get("phrases", {}).items()},
        outcome_negations=r.names(outcomes.get("negations", list(_NEGATIONS)), "outcomes.negations"),
        observations={k: r.codes(v, f"observations.{k}") for k, v in r.section("observations").items()},
        labs={k: r.codes(v, f"labs.{k}") for k, v in r.section("labs").items()},
        answers={k: {str(a): str(b) for a, b in v.items()} for k, v in answers.items() if k != "pregnancy"},
        pregnancy_positive=r.codes(pregnancy.get("positive", []), "answers.pregnancy.positive"),
        pregnancy_negative=r.codes(pregnancy.get("negative", []), "answers.pregnancy.negative"),
        units=units,
        count_units=frozenset(str(u) for u in count_units),
        risk_factors=risks,
        anaphylaxis=r.codes(
            allergies.get("anaphylaxis_manifestations", []), "allergies.anaphylaxis_manifestations"
        ),
        corn_names=r.names(allergies.get("corn_names", []), "allergies.corn_names"),
        ig_allergy_names=r.names(allergies.get("immunoglobulin_names", []), "allergies.immunoglobulin_names"),
        current_days=int(days["current_risk_factor_days"]),
        weight_warn_days=int(days["weight_warn_days"]),
        # (optional: a site table without it keeps the default year)
        course_weight_days=int(r.number(recency.get("course_weight_days", 365), "recency.course_weight_days")),
        products=load_product_table(),
    )


def _local_routes(r: _Reader, table: Mapping[str, Any], routes: Mapping[str, Any]) -> dict[str, CodeSet]:
    """``local_routes``, refused when one of its codes is an IVIG route's (an intravenous code listed as
    local would drop every intravenous glucocorticoid)."""
    out = {str(k): r.codes(v, f"local_routes.{k}") for k, v in table.items()}
    ivig = {(c.system, c.code) for k, v in routes.items() for c in r.codes(v, f"routes.{k}").codes}
    for name, codes in out.items():
        if any((c.system, c.code) in ivig for c in codes.codes):
            r.fail(
                f"local_routes.{name}", "a code of routes (intravenous, subcutaneous, intramuscular) is not local"
            )
    return out


_REQUIRED_UNITS = (
    "weight_kg",
    "height_cm",
    "ck_u_per_l",
    "vas_cm",
    "score",
    "creatinine_mg_dl",
    "egfr_ml_min_1_73m2",
    "iga_mg_dl",
    "hemoglobin_g_dl",
    "dose_mg",
    "dose_g",
    "dose_g_per_kg",
    "rate_mg_kg_min",
    "period_days",
)
_REQUIRED_OBSERVATIONS = (
    "weight",
    "height",
    "abo_group",
    "ck",
    "mmt8",
    "mmt8_150",
    "physician_global",
    "patient_global",
    "extramuscular_global",
    "haq",
    "dysphagia",
    "classification",
    "criteria",
    "ibm_features",
    "statin_exposure",
    "anti_hmgcr",
    "anti_srp",
    "ivig_adverse_event",
    "pregnancy",
)
_cache: dict[Path, tuple[float, FhirMapping]] = {}


def load_mapping(path: str | Path | None = None) -> FhirMapping:
    """Load and check a mapping table (default: the built-in ``rules/fhir/mapping.yaml``); cached per file.

    Raises:
        RuleFileError: The file is missing, not YAML, or a section is malformed (the message names it).
    """
    file = Path(path) if path is not None else default_mapping_path()
    try:
        stamp = os.stat(file).st_mtime  # every call: a site may replace its table while a service runs
        hit = _cache.get(file)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleFileError(str(file), f"cannot read the file: {exc.strerror or exc}") from None
    try:
        data = load_yaml(text)
    except (YamlRejected, RecursionError) as exc:
        raise RuleFileError(str(file), f"not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise RuleFileError(str(file), "expected a mapping")
    mapping = _build(data, str(file))
    from ivig_cds.model.patient import Agent, LabTest, RiskFactors

    missing = [k for k in _REQUIRED_UNITS if k not in mapping.units]
    missing += [f"observations.{k}" for k in _REQUIRED_OBSERVATIONS if k not in mapping.observations]
    missing += [f"labs.{k}" for k in (t.value for t in LabTest) if k not in mapping.labs]
    missing += [f"risk_factors.{k}" for k in RiskFactors.model_fields if k not in mapping.risk_factors]
    if missing:
        raise RuleFileError(str(file), f"missing entries: {', '.join(missing)}")
    known = {a.value for a in Agent}
    bad = sorted(set(mapping.agents) | set(mapping.procedures) - known)
    bad = [b for b in bad if b not in known]
    if bad:
        raise RuleFileError(str(file), f"not a patient-file agent: {', '.join(bad)}")
    _cache[file] = (stamp, mapping)
    return mapping
