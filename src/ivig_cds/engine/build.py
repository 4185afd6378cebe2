"""Building an Engine's rules: load, plan and compile them, isolating the plugin that breaks the build.

A plugin that fails anywhere - its import, a registration hook, its thresholds, a rule that does not
load, or rules that load but cannot be planned or compiled (a negation cycle with another plugin, a
limit of durable-rules) - is left out whole, and the rules are loaded again without it, so its
thresholds never touch the core rules. Only a failure of the core rules raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ivig_cds.backends.base import Backend
from ivig_cds.backends.reference import ReferenceBackend
from ivig_cds.engine.findings import FindingBuilder
from ivig_cds.engine.status import check_status_table
from ivig_cds.errors import EngineError, RuleFileError
from ivig_cds.facts.catalog import FactField
from ivig_cds.facts.scoring import TisTable
from ivig_cds.plugins.host import PluginHost, Registrations
from ivig_cds.plugins.spec import FactDeriver
from ivig_cds.rulebook.load import load_rulebook
from ivig_cds.rulebook.plan import Plan, make_plan
from ivig_cds.rulebook.spec import RuleBook

__all__ = ["Built", "build_rules", "make_backend"]

RuleSources = list[tuple[Path | Mapping[str, Any], str]]


@dataclass(frozen=True)
class Built:
    """Everything an Engine evaluates with, once its rules are built."""

    book: RuleBook
    catalog: dict[str, dict[str, FactField]]
    plan: Plan
    tis: TisTable
    fingerprint: str
    backend: Backend
    thresholds: dict[str, Any]
    findings: FindingBuilder
    derivers: list[tuple[str, FactDeriver]]
    formats: dict[str, Any]


def make_backend(backend: str, plan: Plan, fingerprint: str) -> Backend:
    """The backend that runs ``plan``: durable-rules, or the pure-Python reference."""
    if backend == "durable":
        try:
            from ivig_cds.backends._durable import DurableBackend
        except ImportError as exc:
            raise EngineError(
                f"durable-rules cannot be imported ({exc}); install it, or use the reference backend"
                " (backend='reference', or --backend reference on the command line)"
            ) from None
        return DurableBackend(plan.strata, fingerprint, [set(c) for c in plan.chained])
    if backend == "reference":
        return ReferenceBackend(plan)
    raise EngineError(f"unknown backend {backend!r} (use durable or reference)")


class _Compiled:
    """A planned and compiled rule book (the backend is live until :meth:`close`)."""

    def __init__(self, book: RuleBook, backend_name: str) -> None:
        self.plan = make_plan(list(book.rules.values()))
        self.fingerprint = book.fingerprint()
        self.backend = make_backend(backend_name, self.plan, self.fingerprint)


def _compile(book: RuleBook, backend_name: str) -> tuple[_Compiled | None, tuple[str, Exception] | None]:
    """Plan and compile ``book``; else name the plugin that breaks it (found by adding one at a time).

    Raises:
        RuleFileError, EngineError: The core rules alone cannot be built.
    """
    try:
        return _Compiled(book, backend_name), None
    except (RuleFileError, EngineError) as exc:
        rule_id = getattr(exc, "rule_id", None)
        origin = book.rules[rule_id].origin if rule_id in book.rules else None
        if origin is not None and origin != "core":
            return None, (origin, exc)
        plugins = sorted({r.origin for r in book.rules.values()} - {"core"})
        if not plugins:
            raise
        first_error: Exception = exc
    accepted = ["core"]
    for plugin in ["core", *plugins]:  # which plugin, added to the core and the ones before it, breaks it
        trial = replace(book, rules={k: r for k, r in book.rules.items() if r.origin in {*accepted, plugin}})
        try:
            _Compiled(trial, backend_name).backend.close()
        except (RuleFileError, EngineError) as exc:
            if plugin == "core":
                raise first_error from None
            return None, (plugin, exc)
        if plugin != "core":
            accepted.append(plugin)
    return _Compiled(book, backend_name), None  # each builds with the others: the first error was transient


def build_rules(
    host: PluginHost,
    reg: Registrations,
    rules_dir: Path | None,
    thresholds: Mapping[str, Any] | None,
    extra: RuleSources,
    backend_name: str,
) -> Built:
    """Load, plan and compile the core and plugin rules; a plugin whose part fails is isolated.

    Each round leaves out the plugins that failed so far (``host.fail`` records them, or raises in
    strict mode; ``host.disable`` stops their hooks) and loads everything again without them.

    Raises:
        RuleFileError, EngineError: The core rules cannot be loaded or built.
    """
    # a "load" failure registered nothing (and may name a duplicate of a plugin that did load)
    excluded = {plugin for plugin, hook, _ in host.failures if hook != "load"}
    for _ in range(len(host.infos) + len(extra) + 2):
        derivers = [d for d in reg.derivers if d[0] not in excluded]
        catalog = host.catalog(Registrations(derivers=derivers))
        failed: dict[str, tuple[str, Exception]] = {}

        def record(
            origin: str, hook: str, exc: Exception, failed: dict[str, tuple[str, Exception]] = failed
        ) -> None:
            failed.setdefault(origin, (hook, exc))

        book = load_rulebook(
            rules_dir,
            threshold_overrides=thresholds,
            sources=[s for s in reg.rule_sources if s[1] not in excluded],
            extra_rule_files=[s for s in extra if s[1] not in excluded],
            plugin_overrides=[o for o in reg.thresholds if o[0] not in excluded],
            catalog=catalog,
            on_error=record,
        )
        compiled: _Compiled | None = None
        if not failed:
            check_status_table(book)
            compiled, culprit = _compile(book, backend_name)
            if culprit is not None:
                failed[culprit[0]] = ("register_rules", culprit[1])
        if compiled is not None:
            break
        for origin, (hook, exc) in sorted(failed.items()):
            host.fail(origin, hook, exc)  # strict mode raises here
            host.disable(origin)
        excluded |= set(failed)
    else:  # pragma: no cover - each round excludes at least one plugin
        raise EngineError("the rules could not be built")
    for rid, rule in sorted(book.rules.items()):
        if rule.origin in host.infos:
            host.infos[rule.origin].rules.append(rid)
    values = book.threshold_values()
    return Built(
        book=book,
        catalog=catalog,
        plan=compiled.plan,
        tis=TisTable.from_mapping(book.tis_table, source="tis.yaml"),
        fingerprint=compiled.fingerprint,
        backend=compiled.backend,
        thresholds=values,
        findings=FindingBuilder(book, values, catalog),
        derivers=sorted((d for d in reg.derivers if d[0] not in excluded), key=lambda d: (d[0], d[1].name)),
        formats={name: fmt for name, (plugin, fmt) in sorted(reg.formats.items()) if plugin not in excluded},
    )
