"""Load and validate the declarative rule files, thresholds, bibliography, terminology and status table.

Rule files are data: they are read with ``yaml.safe_load`` and validated against a schema and the
fact catalog; nothing in them is ever evaluated as code. Every error names the file and rule id.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ivig_cds.errors import RuleFileError
from ivig_cds.facts.catalog import CATALOG, FactField
from ivig_cds.model.resources import default_rules_dir
from ivig_cds.rulebook.conditions import (
    ConditionSyntaxError,
    Pattern,
    Test,
    fields_of,
    iter_tests,
    parse_where,
    thresholds_of,
)

__all__ = [
    "SEVERITIES",
    "Rule",
    "RuleBook",
    "RuleFileInfo",
    "StatusField",
    "Threshold",
    "default_rules_dir",
    "load_rulebook",
    "parse_rule_file",
]

SEVERITIES = ("stop", "warning", "advisory", "info")
CORE_CATEGORIES = (
    "diagnosis",
    "refractory",
    "eligibility",
    "safety",
    "dosing",
    "response",
    "steroid",
    "outcome",
    "relapse",
    "data",
)
RULE_ID = re.compile(r"^(?:[a-z][a-z0-9_]*:)?[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+$")
SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
TEMPLATE_REF = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)(?::([^{}]*))?\}")
SPECIAL_FILES = {"thresholds.yaml", "bibliography.yaml", "status.yaml", "terminology.yaml", "tis.yaml"}


def _yaml_load(path: Path) -> Any:
    try:
        # libyaml when installed: the pure-Python loader is ~75 ms of every cold start
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # a safe loader
    except FileNotFoundError:
        raise RuleFileError(str(path), "file not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise RuleFileError(str(path), f"not valid YAML: {exc}") from None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleSpec(_Strict):
    """The schema of one rule as written in a rule file."""

    id: str = Field(description="Stable rule id, e.g. SAFETY-001; plugins prefix theirs 'name:'.")
    version: str = Field(description="Semantic version of this rule.")
    title: str = Field(min_length=1, description="Short title.")
    category: str = Field(min_length=1, description="Finding category.")
    severity: Literal["stop", "warning", "advisory", "info"] = Field(description="Finding severity.")
    evidence: list[str] = Field(min_length=1, description="Bibliography keys, strongest first.")
    when: list[dict[str, Any]] = Field(min_length=1, description="Patterns that must all hold.")
    sets: dict[str, str | bool] = Field(default_factory=dict, description="Status values this rule concludes.")
    emit: bool = Field(default=True, description="False: a status-only rule that adds no finding.")
    once: bool = Field(default=False, description="One finding however many fact combinations match.")
    gaps: bool = Field(default=True, description="Report missing data that keeps this rule from deciding.")
    summary: str = Field(min_length=1, description="One-sentence summary; {alias.field} and {threshold}.")
    detail: str = Field(default="", description="What to do and why.")
    codes: list[str] = Field(default_factory=list, description="Interoperability codes (system|code).")


class RuleFileSpec(_Strict):
    family: str
    version: str
    description: str = ""
    thresholds: dict[str, dict[str, Any]] = Field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = Field(default_factory=dict)
    rules: list[dict[str, Any]]


RuleSource = Path | Mapping[str, Any]
ErrorSink = Callable[[str, str, Exception], None]


@dataclass(frozen=True)
class Threshold:
    """A named, site-overridable number (or string) used by rules and derivations."""

    name: str
    value: Any
    unit: str
    description: str
    source: str = "default"


@dataclass(frozen=True)
class StatusField:
    """How one ``status`` field is assembled from rule conclusions."""

    name: str
    values: tuple[Any, ...]
    default: Any
    mode: Literal["exclusive", "precedence"]


@dataclass(frozen=True)
class RuleFileInfo:
    """A loaded rule file, reported in every result (``engine.rulesets``)."""

    name: str
    version: str
    sha256: str
    path: str
    origin: str = "core"


@dataclass(frozen=True)
class Rule:
    """A validated, compiled rule: the spec plus parsed patterns and what it reads."""

    spec: RuleSpec
    patterns: tuple[Pattern, ...]
    file: str
    origin: str = "core"
    thresholds: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.spec.id

    def fields_read(self) -> dict[str, list[str]]:
        """alias -> fields the conditions and messages read (for the finding's ``facts``)."""
        out: dict[str, list[str]] = {}
        for p in self.patterns:
            if p.kind == "match" and p.fact_type != "conclusion":
                out[p.alias] = fields_of(p.cond)
        for text in (self.spec.summary, self.spec.detail):
            for ref, _ in TEMPLATE_REF.findall(text):
                if "." in ref:
                    alias, fld = ref.split(".", 1)
                    if alias in out and fld not in out[alias]:
                        out[alias].append(fld)
        return out


@dataclass
class RuleBook:
    """Everything the engine needs: rules, thresholds, status table, bibliography and terminology."""

    rules: dict[str, Rule]
    thresholds: dict[str, Threshold]
    status: dict[str, StatusField]
    bibliography: dict[str, dict[str, Any]]
    terminology: dict[str, Any]
    tis_table: dict[str, Any]
    files: list[RuleFileInfo] = field(default_factory=list)

    def threshold_values(self) -> dict[str, Any]:
        return {name: t.value for name, t in self.thresholds.items()}

    def fingerprint(self) -> str:
        """A hash of every rule and threshold in force: the version of the compiled ruleset."""
        canon = {
            "rules": {rid: r.spec.model_dump(mode="json") for rid, r in sorted(self.rules.items())},
            "thresholds": {k: t.value for k, t in sorted(self.thresholds.items())},
            "status": sorted(self.status),
        }
        return hashlib.sha256(json.dumps(canon, sort_keys=True, default=str).encode()).hexdigest()


def _load_thresholds(path: Path) -> dict[str, Threshold]:
    data = _yaml_load(path)
    table = data.get("thresholds") if isinstance(data, dict) else None
    if not isinstance(table, dict) or not table:
        raise RuleFileError(str(path), "expected a mapping 'thresholds: {name: {value, unit, description}}'")
    out: dict[str, Threshold] = {}
    for name, entry in table.items():
        if not isinstance(entry, dict) or "value" not in entry:
            raise RuleFileError(str(path), f"threshold {name!r} needs 'value', 'unit' and 'description'")
        value = entry["value"]
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise RuleFileError(str(path), f"threshold {name!r}: value must be a number or string")
        out[str(name)] = Threshold(str(name), value, str(entry.get("unit", "")), str(entry.get("description", "")))
    return out


def apply_threshold_overrides(
    thresholds: dict[str, Threshold], overrides: Mapping[str, Any], *, source: str
) -> dict[str, Threshold]:
    """Return a copy of ``thresholds`` with site overrides applied (same type required; unknown names fail)."""
    out = dict(thresholds)
    for name, value in overrides.items():
        if name not in out:
            raise RuleFileError(source, f"unknown threshold {name!r} (known: {', '.join(sorted(out))})")
        old = out[name]
        numeric = isinstance(old.value, (int, float))
        if (
            isinstance(value, bool)
            or (numeric and not isinstance(value, (int, float)))
            or (not numeric and not isinstance(value, str))
        ):
            raise RuleFileError(source, f"threshold {name!r} must be a {'number' if numeric else 'string'}")
        out[name] = Threshold(name, value, old.unit, old.description, source)
    return out


def _load_status(path: Path) -> dict[str, StatusField]:
    data = _yaml_load(path)
    fields = data.get("fields") if isinstance(data, dict) else None
    if not isinstance(fields, dict):
        raise RuleFileError(str(path), "expected 'fields: {name: {values, default, mode}}'")
    out: dict[str, StatusField] = {}
    for name, spec in fields.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("values"), list):
            raise RuleFileError(str(path), f"status field {name!r} needs a 'values' list")
        mode = spec.get("mode", "exclusive")
        if mode not in ("exclusive", "precedence"):
            raise RuleFileError(str(path), f"status field {name!r}: mode must be exclusive or precedence")
        default = spec.get("default")
        if default is not None and default not in spec["values"]:
            raise RuleFileError(str(path), f"status field {name!r}: default {default!r} is not one of its values")
        out[str(name)] = StatusField(str(name), tuple(spec["values"]), default, mode)
    return out


def read_rule_source(source: RuleSource) -> tuple[RuleFileSpec, str, str]:
    """Read a rule file (or rule-file-shaped mapping): its spec, a label for errors, and its SHA-256."""
    if isinstance(source, Path):
        data, label, digest = _yaml_load(source), str(source), _sha256(source)
    else:
        data = dict(source)
        label = f"<{data.get('family', 'rules')}>"
        digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    try:
        spec = RuleFileSpec.model_validate(data)
    except ValidationError as exc:
        raise RuleFileError(label, _first_error(exc)) from None
    if not SEMVER.match(spec.version):
        raise RuleFileError(label, f"file version {spec.version!r} is not semantic (x.y.z)")
    return spec, label, digest


def parse_rule_file(
    path: RuleSource,
    *,
    thresholds: Mapping[str, Any],
    status: Mapping[str, StatusField],
    bibliography: Mapping[str, Any],
    origin: str = "core",
    catalog: Mapping[str, Mapping[str, FactField]] = CATALOG,
) -> tuple[RuleFileInfo, list[Rule]]:
    """Read one rule file and validate every rule in it (thresholds and sources it declares included)."""
    spec, label, digest = read_rule_source(path)
    values = dict(thresholds)
    for name, entry in spec.thresholds.items():
        values.setdefault(name, entry.get("value"))
    bib = {**bibliography, **spec.sources}
    return _compile_file(spec, label, digest, values, status, bib, origin, catalog)


def _compile_file(
    spec: RuleFileSpec,
    label: str,
    digest: str,
    thresholds: Mapping[str, Any],
    status: Mapping[str, StatusField],
    bibliography: Mapping[str, Any],
    origin: str,
    catalog: Mapping[str, Mapping[str, FactField]],
) -> tuple[RuleFileInfo, list[Rule]]:
    info = RuleFileInfo(spec.family, spec.version, digest, label, origin)
    namespace = None if origin == "core" else plugin_namespace(origin)
    rules: list[Rule] = []
    for i, raw in enumerate(spec.rules):
        rid = raw.get("id") if isinstance(raw, dict) else None
        rule = _compile_rule(
            raw,
            path=label,
            rule_id=str(rid) if rid else f"rules[{i}]",
            thresholds=thresholds,
            status=status,
            bibliography=bibliography,
            origin=origin,
            catalog=catalog,
        )
        prefix = rule.id.split(":", 1)[0] if ":" in rule.id else None
        if prefix != namespace:
            want = f"'{namespace}:FAMILY-NNN'" if namespace else "no namespace prefix"
            raise RuleFileError(label, f"rule id must have {want}", rule.id)
        rules.append(rule)
    return info, rules


def plugin_namespace(name: str) -> str:
    """The rule-id namespace of a plugin: its name, lower case, with - and . as _."""
    return re.sub(r"[^a-z0-9_]", "_", name.lower())


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(x) for x in err["loc"])
    return f"{loc}: {err['msg']}" if loc else str(err["msg"])


def _compile_rule(
    raw: Any,
    *,
    path: str,
    rule_id: str,
    thresholds: Mapping[str, Any],
    status: Mapping[str, StatusField],
    bibliography: Mapping[str, Any],
    origin: str,
    catalog: Mapping[str, Mapping[str, FactField]],
) -> Rule:
    def fail(message: str) -> RuleFileError:
        return RuleFileError(path, message, rule_id)

    try:
        spec = RuleSpec.model_validate(raw)
    except ValidationError as exc:
        raise fail(_first_error(exc)) from None
    if not RULE_ID.match(spec.id):
        raise fail("id must look like FAMILY-NNN (plugins: 'name:FAMILY-NNN')")
    if not SEMVER.match(spec.version):
        raise fail(f"version {spec.version!r} is not semantic (x.y.z)")
    if origin == "core" and spec.category not in CORE_CATEGORIES:
        raise fail(f"category {spec.category!r} is not one of {', '.join(CORE_CATEGORIES)}")
    for key in spec.evidence:
        if key not in bibliography:
            raise fail(f"evidence {key!r} is not in the bibliography")
    for name, value in spec.sets.items():
        if name not in status:
            raise fail(f"sets unknown status field {name!r}")
        if value not in status[name].values:
            raise fail(f"sets {name}={value!r}, not one of {list(status[name].values)}")

    conclusion_fields = {"rule": FactField("string", "rules", "rule id")} | {
        n: FactField("bool" if all(isinstance(v, bool) for v in s.values) else "string", "rules", n, None)
        for n, s in status.items()
    }
    patterns: list[Pattern] = []
    aliases: set[str] = set()
    for i, item in enumerate(spec.when):
        where = f"when[{i}]"
        try:
            pattern = _parse_pattern(item, i, thresholds, status)
        except ConditionSyntaxError as exc:
            raise fail(f"{where}: {exc}") from None
        fields = conclusion_fields if pattern.fact_type == "conclusion" else catalog.get(pattern.fact_type)
        if fields is None:
            raise fail(f"{where}: unknown fact type {pattern.fact_type!r} (known: {', '.join(sorted(catalog))})")
        for test in iter_tests(pattern.cond):
            _check_test(test, fields, pattern.fact_type, fail, where)
        if pattern.kind == "match":
            if pattern.alias in aliases:
                raise fail(f"{where}: alias {pattern.alias!r} used twice")
            aliases.add(pattern.alias)
        patterns.append(pattern)
    if not any(p.kind == "match" for p in patterns):
        raise fail("a rule needs at least one positive pattern (a 'none'-only rule never stops matching)")
    for text in (spec.summary, spec.detail):
        for ref, fmt in TEMPLATE_REF.findall(text):
            if "." in ref:
                alias, fld = ref.split(".", 1)
                pat = next((p for p in patterns if p.alias == alias and p.kind == "match"), None)
                if pat is None or pat.fact_type == "conclusion" or fld not in catalog[pat.fact_type]:
                    raise fail(f"message refers to unknown {{{ref}}}")
            elif ref not in thresholds:
                raise fail(f"message refers to unknown threshold {{{ref}}}")
            if fmt and not re.fullmatch(r"\.\d[fg%]|d|", fmt):
                raise fail(f"message format {fmt!r} not allowed (use .1f, .0f, d)")
    used = tuple(dict.fromkeys(t for p in patterns for t in thresholds_of(p.cond)))
    return Rule(spec=spec, patterns=tuple(patterns), file=path, origin=origin, thresholds=used)


def _parse_pattern(item: Any, index: int, thresholds: Mapping[str, Any], status: Mapping[str, Any]) -> Pattern:
    if not isinstance(item, dict) or not item:
        raise ConditionSyntaxError("each pattern is a mapping")
    keys = set(item)
    if keys <= {"fact", "as", "where"} and "fact" in keys:
        if "where" not in item:
            raise ConditionSyntaxError("a fact pattern needs 'where' (what makes the fact relevant)")
        cond = parse_where(item["where"], thresholds)
        return Pattern("match", str(item["fact"]), str(item.get("as", f"m{index}")), cond)
    if keys == {"none"}:
        inner = item["none"]
        if (
            not isinstance(inner, dict)
            or set(inner) - {"fact", "where"}
            or "fact" not in inner
            or "where" not in inner
        ):
            raise ConditionSyntaxError("'none' takes {fact, where}")
        return Pattern("none", str(inner["fact"]), f"n{index}", parse_where(inner["where"], thresholds))
    if len(keys) == 1 or keys in ({"rule", "as"}, {"status", "as"}):
        key = next(k for k in keys if k != "as")
        value = item[key]
        alias = str(item.get("as", f"c{index}"))
        if key in ("rule", "not_rule"):
            if not isinstance(value, str) or not RULE_ID.match(value):
                raise ConditionSyntaxError(f"'{key}' takes a rule id")
            return Pattern("match" if key == "rule" else "none", "conclusion", alias, Test("rule", "eq", value))
        if key in ("status", "not_status"):
            if not isinstance(value, dict) or len(value) != 1:
                raise ConditionSyntaxError(f"'{key}' takes one {{field: value}}")
            ((name, val),) = value.items()
            if name not in status:
                raise ConditionSyntaxError(f"unknown status field {name!r}")
            if isinstance(val, list):
                cond = parse_where({name: {"in": val}}, thresholds)
            else:
                cond = parse_where({name: val}, thresholds)
            return Pattern("match" if key == "status" else "none", "conclusion", alias, cond)
    raise ConditionSyntaxError(
        "a pattern is {fact, as, where}, {none: {fact, where}}, {rule: ID}, {not_rule: ID}, {status: {f: v}}"
        " or {not_status: {f: v}}"
    )


def _check_test(test: Test, fields: Mapping[str, FactField], fact_type: str, fail: Any, where: str) -> None:
    spec = fields.get(test.field)
    if spec is None:
        raise fail(f"{where}: {fact_type} has no field {test.field!r}")
    if test.op == "present":
        return
    values = test.value if test.op == "in" else (test.value,)
    for v in values:
        ok = (
            (spec.type == "number" and isinstance(v, (int, float)) and not isinstance(v, bool))
            or (spec.type == "bool" and isinstance(v, bool))
            or (spec.type == "string" and isinstance(v, str))
        )
        if not ok:
            raise fail(f"{where}: {fact_type}.{test.field} is a {spec.type}; cannot compare with {v!r}")
        if spec.choices and v not in spec.choices:
            raise fail(f"{where}: {v!r} is not a value of {fact_type}.{test.field} ({', '.join(spec.choices)})")
    if spec.type != "number" and test.op in ("lt", "le", "gt", "ge"):
        raise fail(f"{where}: {test.op} needs a number field, {test.field!r} is a {spec.type}")


def load_rulebook(
    rules_dir: Path | None = None,
    *,
    threshold_overrides: Mapping[str, Any] | None = None,
    extra_rule_files: Iterable[tuple[RuleSource, str]] = (),
    sources: Iterable[tuple[RuleSource, str]] | None = None,
    plugin_overrides: Iterable[tuple[str, Mapping[str, Any]]] = (),
    catalog: Mapping[str, Mapping[str, FactField]] = CATALOG,
    on_error: ErrorSink | None = None,
    overrides_source: str = "overrides",
) -> RuleBook:
    """Load the rules: base data, rule files (core and plugin), thresholds with overrides.

    Args:
        rules_dir: Directory holding ``thresholds.yaml``, ``status.yaml``, ``bibliography.yaml``,
            ``terminology.yaml``, ``tis.yaml`` and, unless ``sources`` is given, one ``*.yaml``
            rule file per family.
        threshold_overrides: Values that win over everything (``Engine(thresholds=...)``).
        extra_rule_files: More ``(source, origin)`` pairs after the core ones.
        sources: The rule files to load as ``(path or mapping, origin)``; ``origin`` is ``core``
            or the plugin's name. Default: every family file in ``rules_dir``.
        plugin_overrides: ``(plugin, {threshold: value})`` from plugins.
        catalog: The fact catalog rules are validated against (core plus plugin fields).
        on_error: Called as ``on_error(origin, hook, exc)`` for a failing plugin source instead of
            raising; that plugin's rules are then left out whole. Core errors always raise.
        overrides_source: Named in errors and in each explicitly overridden threshold's ``source``.
    """
    base = rules_dir or default_rules_dir()
    thresholds = _load_thresholds(base / "thresholds.yaml")
    status = _load_status(base / "status.yaml")
    bib = _yaml_load(base / "bibliography.yaml")
    if not isinstance(bib, dict) or not isinstance(bib.get("sources"), dict):
        raise RuleFileError(str(base / "bibliography.yaml"), "expected 'sources: {key: {citation: ...}}'")
    terminology = _yaml_load(base / "terminology.yaml")
    if not isinstance(terminology, dict):
        raise RuleFileError(str(base / "terminology.yaml"), "expected a mapping")
    tis = _yaml_load(base / "tis.yaml")
    book = RuleBook(
        {}, thresholds, status, dict(bib["sources"]), terminology, tis if isinstance(tis, dict) else {}
    )
    if sources is None:
        sources = [(p, "core") for p in sorted(base.glob("*.yaml")) if p.name not in SPECIAL_FILES]
    failed: set[str] = set()

    def fail(origin: str, exc: Exception, stage: str = "register_rules") -> None:
        if origin == "core" or on_error is None:
            raise exc
        failed.add(origin)
        on_error(origin, stage, exc)

    read: list[tuple[RuleFileSpec, str, str, str]] = []
    for source, origin in [*sources, *extra_rule_files]:
        try:
            spec, label, digest = read_rule_source(source)
            for name, entry in spec.thresholds.items():
                if name in book.thresholds:
                    raise RuleFileError(label, f"threshold {name!r} already exists; override it instead")
                value = entry.get("value")
                if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                    raise RuleFileError(label, f"threshold {name!r}: value must be a number or string")
                book.thresholds[name] = Threshold(
                    name, value, str(entry.get("unit", "")), str(entry.get("description", "")), origin
                )
            for key, entry in spec.sources.items():
                if key in book.bibliography:
                    raise RuleFileError(label, f"source {key!r} already exists in the bibliography")
                book.bibliography[key] = entry
        except RuleFileError as exc:
            fail(origin, exc)
            continue
        read.append((spec, label, digest, origin))
    for origin, values in plugin_overrides:
        try:
            book.thresholds = apply_threshold_overrides(book.thresholds, values, source=f"plugin {origin}")
        except RuleFileError as exc:
            fail(origin, exc, "provide_thresholds")
    if threshold_overrides:
        book.thresholds = apply_threshold_overrides(book.thresholds, threshold_overrides, source=overrides_source)
    values = book.threshold_values()
    compiled: list[tuple[RuleFileInfo, list[Rule]]] = []
    for spec, label, digest, origin in read:
        if origin in failed:
            continue
        try:
            compiled.append(_compile_file(spec, label, digest, values, status, book.bibliography, origin, catalog))
        except RuleFileError as exc:
            fail(origin, exc)
    for info, rules in compiled:
        if info.origin in failed:
            continue
        try:
            for rule in rules:
                if rule.id in book.rules:
                    raise RuleFileError(
                        info.path, f"duplicate rule id (also in {book.rules[rule.id].file})", rule.id
                    )
            book.files.append(info)
            book.rules.update((r.id, r) for r in rules)
        except RuleFileError as exc:
            fail(info.origin, exc)
    for rule in list(book.rules.values()):
        if rule.origin in failed:
            continue
        for p in rule.patterns:
            refs: tuple[Any, ...] = ()
            if isinstance(p.cond, Test) and p.cond.field == "rule":
                refs = tuple(p.cond.value) if p.cond.op == "in" else (p.cond.value,)
            unknown = [r for r in refs if r not in book.rules]
            if p.fact_type == "conclusion" and unknown:
                fail(rule.origin, RuleFileError(rule.file, f"refers to unknown rule {unknown[0]!r}", rule.id))
                break
    # a plugin that failed anywhere contributes no rules at all (never half a rule set)
    book.rules = {k: r for k, r in book.rules.items() if r.origin not in failed}
    book.files = [f for f in book.files if f.origin not in failed]
    return book
