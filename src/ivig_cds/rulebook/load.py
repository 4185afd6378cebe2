"""Load the rulebook: base tables, core and plugin rule files, thresholds with overrides, cross-file checks.

Rule files are data, validated on load (:mod:`ivig_cds.rulebook.compile`); every error names the
file and rule id. A plugin's broken source is isolated: that plugin contributes no rules at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ivig_cds.errors import RuleFileError
from ivig_cds.facts.catalog import CATALOG, FactField
from ivig_cds.model.resources import default_rules_dir
from ivig_cds.rulebook.compile import compile_file, parse_rule_file, plugin_namespace, read_rule_source
from ivig_cds.rulebook.conditions import Test
from ivig_cds.rulebook.spec import (
    SEVERITIES,
    SPECIAL_FILES,
    TEMPLATE_REF,
    ErrorSink,
    Rule,
    RuleBook,
    RuleFileInfo,
    RuleFileSpec,
    RuleSource,
    StatusField,
    Threshold,
)
from ivig_cds.rulebook.tables import apply_threshold_overrides, load_status, load_thresholds, yaml_load

__all__ = [
    "MAX_PLUGIN_RULES",
    "SEVERITIES",
    "SPECIAL_FILES",
    "TEMPLATE_REF",
    "Rule",
    "RuleBook",
    "RuleFileInfo",
    "StatusField",
    "Threshold",
    "apply_threshold_overrides",
    "default_rules_dir",
    "load_rulebook",
    "parse_rule_file",
    "plugin_namespace",
    "read_rule_source",
]

MAX_PLUGIN_RULES = 250
"""Most rules one plugin (or extra rule file origin) may register; a site's rules are a few dozen."""


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
    thresholds = load_thresholds(base / "thresholds.yaml")
    status = load_status(base / "status.yaml")
    bib = yaml_load(base / "bibliography.yaml")
    if not isinstance(bib, dict) or not isinstance(bib.get("sources"), dict):
        raise RuleFileError(str(base / "bibliography.yaml"), "expected 'sources: {key: {citation: ...}}'")
    terminology = yaml_load(base / "terminology.yaml")
    if not isinstance(terminology, dict):
        raise RuleFileError(str(base / "terminology.yaml"), "expected a mapping")
    tis = yaml_load(base / "tis.yaml")
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
            compiled.append(compile_file(spec, label, digest, values, status, book.bibliography, origin, catalog))
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
    counts: dict[str, int] = {}
    for rule in book.rules.values():
        counts[rule.origin] = counts.get(rule.origin, 0) + 1
    for origin, count in sorted(counts.items()):
        if origin != "core" and origin not in failed and count > MAX_PLUGIN_RULES:
            first = min((r for r in book.rules.values() if r.origin == origin), key=lambda r: r.id)
            error = f"{count} rules: a plugin may register at most {MAX_PLUGIN_RULES}"
            fail(origin, RuleFileError(first.file, error))
    # a plugin that failed anywhere contributes no rules at all (never half a rule set)
    book.rules = {k: r for k, r in book.rules.items() if r.origin not in failed}
    book.files = [f for f in book.files if f.origin not in failed]
    return book
