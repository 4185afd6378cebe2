"""Compiling rule files: schema validation, patterns, fact-catalog checks, threshold references, messages.

Rule files are data: they are read with a safe YAML loader and validated against a schema and
the fact catalog; nothing in them is ever evaluated as code. Every error names the file and rule id.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ivig_cds.errors import RuleFileError
from ivig_cds.facts.catalog import CATALOG, FactField
from ivig_cds.rulebook.conditions import (
    ConditionSyntaxError,
    Pattern,
    Test,
    iter_tests,
    parse_where,
    thresholds_of,
)
from ivig_cds.rulebook.spec import (
    CORE_CATEGORIES,
    RULE_ID,
    SEMVER,
    TEMPLATE_REF,
    Rule,
    RuleFileInfo,
    RuleFileSpec,
    RuleSource,
    RuleSpec,
    StatusField,
)
from ivig_cds.rulebook.tables import sha256_of, yaml_load

__all__ = ["compile_file", "parse_rule_file", "plugin_namespace", "read_rule_source"]


def read_rule_source(source: RuleSource) -> tuple[RuleFileSpec, str, str]:
    """Read a rule file (or rule-file-shaped mapping): its spec, a label for errors, and its SHA-256."""
    if isinstance(source, Path):
        data, label, digest = yaml_load(source), str(source), sha256_of(source)
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
    return compile_file(spec, label, digest, values, status, bib, origin, catalog)


def compile_file(
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
        if name not in status or not status[name].concluded:
            raise fail(f"sets unknown status field {name!r}")
        if origin != "core" and (name != "eligibility" or value == "eligible"):
            # core safety precedence: a plugin may make eligibility stricter, never decide another field
            raise fail(f"a plugin rule may set only eligibility (a level stricter than eligible), not {name}")
        if value not in status[name].values:
            raise fail(f"sets {name}={value!r}, not one of {list(status[name].values)}")
    _check_severity(spec, fail)

    conclusion_fields = {"rule": FactField("string", "rules", "rule id")} | {
        n: FactField("bool" if all(isinstance(v, bool) for v in s.values) else "string", "rules", n, None)
        for n, s in status.items()
        if s.concluded
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
            if fmt and not re.fullmatch(r"\.\d[fg%]", fmt):
                # no 'd': a number field may hold 64.5, and format(64.5, "d") raises at the bedside
                raise fail(f"message format {fmt!r} not allowed (use .0f, .1f, .2f, .1g or .1%)")
    used = tuple(dict.fromkeys(t for p in patterns for t in thresholds_of(p.cond)))
    return Rule(spec=spec, patterns=tuple(patterns), file=path, origin=origin, thresholds=used)


# A rule that sets an eligibility level must be at least this severe, so `--fail-on` and the CDS
# Hooks indicator never show a contraindication or a blocked patient as a mere advisory.
_LEVEL_SEVERITY = {
    "contraindicated": ("stop",),
    "not_eligible": ("stop", "warning"),
    "screen_incomplete": ("stop", "warning"),
    "eligible_with_precautions": ("stop", "warning"),
}


def _check_severity(spec: RuleSpec, fail: Any) -> None:
    level = spec.sets.get("eligibility")
    allowed = _LEVEL_SEVERITY.get(str(level)) if level is not None else None
    if allowed is not None and spec.severity not in allowed:
        raise fail(f"a rule that sets eligibility {level} must have severity {' or '.join(allowed)}")


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
            if name not in status or not status[name].concluded:
                raise ConditionSyntaxError(f"unknown status field {name!r} (rules can test only concluded fields)")
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
