"""``explain``, ``rules``, ``plugins``, ``formats``, ``schema``: what the rules and plugins are, why a rule fired.

Only ``explain`` builds an engine (it evaluates the patient); the others load the plugins and the
rulebook the way an engine would, without compiling or running a rule.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from ivig_cds.batch.records import Failure
from ivig_cds.commands.common import (
    EXIT_FINDINGS,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    engine_spec,
    load_book,
    print_failure,
    say,
)
from ivig_cds.console.reports import render_explanation, render_plugins, render_rules
from ivig_cds.console.theme import console_for
from ivig_cds.errors import InputError
from ivig_cds.explain import UnknownRuleError, explain_rule, lint_rules, rule_document, rule_rows
from ivig_cds.inputs.files import patient_json_schema
from ivig_cds.model.format import printable

__all__ = ["run_explain", "run_formats", "run_plugins", "run_rules", "run_schema"]


def _unknown_rule(exc: UnknownRuleError) -> int:
    say(f"error: unknown rule id {exc.rule_id!r}")
    if exc.suggestions:
        say(f"close ids: {', '.join(exc.suggestions)}")
    say("`ivig-cds rules list` shows every rule.")
    return EXIT_USAGE


def run_explain(args: argparse.Namespace) -> int:
    """``ivig-cds explain FILE RULE_ID``."""
    engine = engine_spec(args)()
    try:
        x = explain_rule(engine, args.file, args.rule_id, as_of=args.as_of, patient_id=args.patient_id)
    except UnknownRuleError as exc:
        return _unknown_rule(exc)
    except InputError as exc:
        print_failure(Failure(exc.source, tuple(exc.errors), what=exc.what))
        return EXIT_INVALID
    if args.format == "json":
        sys.stdout.write(json.dumps(x.to_dict(), indent=2, default=str) + "\n")
    else:
        render_explanation(x, console_for(sys.stdout, args.width, args.color))
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if not path.exists():
        say(f"error: file not found: {args.path}")
        return EXIT_USAGE
    # the plugins named with --plugin (and installed ones) extend the fact catalog the files are checked against
    catalog = load_book(engine_spec(args), rules=False).catalog
    report = lint_rules(path, origin=args.origin, catalog=catalog)
    for name, n in report.ok:
        sys.stdout.write(printable(f"OK     {name} ({n} rule{'' if n == 1 else 's'})") + "\n")
    for e in report.errors:
        sys.stdout.write(printable(f"ERROR  {e}") + "\n")
    if report.errors:
        sys.stdout.write(f"{len(report.errors)} error{'' if len(report.errors) == 1 else 's'}\n")
    return EXIT_FINDINGS if report.errors else EXIT_OK


def run_rules(args: argparse.Namespace) -> int:
    """``ivig-cds rules list | show | validate``."""
    if args.rules_command == "validate":
        return _validate(args)
    book = load_book(engine_spec(args)).book
    if args.rules_command == "list":
        rows = rule_rows(book)
        if args.format == "json":
            sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        else:
            render_rules(rows, console_for(sys.stdout, args.width, args.color))
        return EXIT_OK
    try:
        doc = rule_document(book, args.rule_id)
    except UnknownRuleError as exc:
        return _unknown_rule(exc)
    if args.format == "json":
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        sys.stdout.write(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100))
    return EXIT_OK


def run_plugins(args: argparse.Namespace) -> int:
    """``ivig-cds plugins``: exit 1 when a plugin failed."""
    host = load_book(engine_spec(args)).host
    rows = [
        {
            "name": p.name,
            "version": p.version,
            "source": p.source,
            "hooks": sorted(p.hooks),
            "rules": sorted(p.rules),
            "formats": sorted(p.formats),
            "thresholds": dict(sorted(p.thresholds.items())),
            "error": p.error,
        }
        for p in sorted(host.infos.values(), key=lambda p: (p.name != "core", p.name))
    ]
    if args.format == "json":
        sys.stdout.write(json.dumps({"plugins": rows}, indent=2) + "\n")
    else:
        render_plugins(rows, console_for(sys.stdout, args.width, args.color))
    return EXIT_FINDINGS if any(r["error"] for r in rows) else EXIT_OK


def run_formats(args: argparse.Namespace) -> int:
    """``ivig-cds formats``: name, media type and description of every format, sorted by name."""
    for name, f in sorted(load_book(engine_spec(args), rules=False).formats.items()):
        sys.stdout.write(printable(f"{name:<12} {f.media_type:<22} {f.description}") + "\n")
    return EXIT_OK


def run_schema(args: argparse.Namespace) -> int:
    """``ivig-cds schema``: the patient-file JSON Schema."""
    sys.stdout.write(json.dumps(patient_json_schema(), indent=2, sort_keys=True) + "\n")
    return EXIT_OK
