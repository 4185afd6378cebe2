"""What the commands share: exit codes, messages on standard error, the engine recipe, the rulebook.

Messages name files, line numbers and field paths, never patient values; whatever they quote (a
file name, an unknown field's name) has its control characters made visible first.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

from ivig_cds.batch.records import Failure
from ivig_cds.commands.config import SiteConfig, site_config
from ivig_cds.engine.config import EngineSpec
from ivig_cds.exit_codes import (
    EXIT_FINDINGS,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
)
from ivig_cds.facts.catalog import FactField
from ivig_cds.model.format import printable
from ivig_cds.plugins.core import CorePlugin
from ivig_cds.plugins.host import PluginHost
from ivig_cds.rulebook.load import load_rulebook
from ivig_cds.rulebook.spec import RuleBook

__all__ = [
    "EXIT_FINDINGS",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_INVALID",
    "EXIT_OK",
    "EXIT_USAGE",
    "Book",
    "NoRecords",
    "engine_spec",
    "error",
    "load_book",
    "print_failure",
    "say",
]


class NoRecords(Exception):
    """The inputs held no patient record (e.g. an empty directory)."""


def say(text: str) -> None:
    """One line on standard error (control characters made visible)."""
    sys.stderr.write(printable(text) + "\n")


def error(text: str) -> None:
    """``ivig-cds: error: ...`` on standard error."""
    say(f"ivig-cds: error: {text}")


def print_failure(failure: Failure) -> None:
    """An input that produced no evaluation: ``file not found: PATH``, or its source, each field and message."""
    errors = failure.errors
    if failure.kind == "invalid" and len(errors) == 1 and not errors[0].loc:
        problem = errors[0]
        if problem.msg == "file not found":
            say(f"file not found: {failure.source}")
        elif problem.type == "file":
            say(f"{failure.source}: {problem.msg}")
        else:  # the document as a whole: not JSON, empty, too large
            say(f"invalid {failure.what} {failure.source}: {problem.msg}")
    elif failure.kind == "invalid":
        say(f"invalid {failure.what} {failure.source}")
        for fe in errors:
            say(f"  {fe.loc}: {fe.msg}" if fe.loc else f"  {fe.msg}")
    else:
        say(f"error: {failure.source}: " + "; ".join(fe.msg for fe in failure.errors))


def _config(args: argparse.Namespace) -> SiteConfig:
    return site_config(getattr(args, "site_config", None), getattr(args, "threshold", None) or [])


def engine_spec(args: argparse.Namespace) -> EngineSpec:
    """The engine of this run, from the site configuration overridden by the command-line options."""
    cfg = _config(args)
    backend = getattr(args, "backend", None) or cfg.backend or "durable"
    return EngineSpec(
        backend="reference" if backend == "reference" else "durable",
        thresholds=tuple(sorted(cfg.thresholds.items())),
        plugin_paths=(*cfg.plugin_paths, *(getattr(args, "plugin", None) or ())),
        strict_plugins=bool(getattr(args, "strict_plugins", False)) or cfg.strict_plugins,
        fhir_mapping=getattr(args, "mapping", None) or cfg.fhir_mapping,
        strict_fhir=bool(getattr(args, "strict_fhir", False)) or cfg.strict_fhir,
    )


@dataclass
class Book:
    """The plugins and the rulebook of a run, without an engine (``rules``, ``plugins``, ``formats``)."""

    host: PluginHost
    book: RuleBook
    catalog: dict[str, dict[str, FactField]]
    formats: dict[str, Any]


def load_book(spec: EngineSpec, *, rules: bool = True) -> Book:
    """Load the plugins (and, with ``rules``, the rulebook they extend) the way an engine would.

    Raises:
        IvigCdsError: A core rule file is invalid, or a plugin failed with ``strict_plugins``.
    """
    host = PluginHost(
        CorePlugin(), entry_points=spec.entry_points, paths=spec.plugin_paths, strict=spec.strict_plugins
    )
    reg = host.collect()
    catalog = host.catalog(reg)
    formats = {name: fmt for name, (_, fmt) in sorted(reg.formats.items())}
    book = RuleBook({}, {}, {}, {}, {}, {})
    if rules:
        book = load_rulebook(
            None,
            threshold_overrides=dict(spec.thresholds) or None,
            sources=reg.rule_sources,
            plugin_overrides=reg.thresholds,
            catalog=catalog,
            on_error=lambda origin, hook, exc: host.fail(origin, hook, exc),
        )
        for rid, rule in sorted(book.rules.items()):
            if rule.origin in host.infos:
                host.infos[rule.origin].rules.append(rid)
    return Book(host, book, catalog, formats)
