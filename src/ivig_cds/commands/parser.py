"""The argument parser of every command: options with help, an example per command, the environment."""

from __future__ import annotations

import argparse
from datetime import date

from ivig_cds._version import __version__
from ivig_cds.batch.runner import default_jobs
from ivig_cds.commands.fhir import add_fhir_parser, add_mapping_options
from ivig_cds.model.evaluation import SEVERITY_ORDER
from ivig_cds.outputs.registry import builtin_formats

__all__ = ["COMMAND_EXAMPLES", "ENVIRONMENT", "build_parser"]

ENVIRONMENT = (
    ("IVIG_CDS_CONFIG", "site configuration file (TOML) when --config is not given"),
    ("IVIG_CDS_LOAD_PLUGINS", "installed plugins to load: unset all, empty none, or a comma list of names"),
    ("IVIG_CDS_DEBUG=1", "print the traceback of an internal error (the exit code stays 3)"),
    ("NO_COLOR", "no colour (as --color never); --color always wins"),
    ("COLUMNS", "width of the console view when the output is not a terminal"),
)
COMMAND_EXAMPLES = {
    "evaluate": "ivig-cds evaluate examples/relapse.json --as-of 2017-06-01",
    "cohort": "ivig-cds cohort examples/seed_cohort/patients",
    "explain": "ivig-cds explain examples/relapse.json OUT-004",
    "rules": "ivig-cds rules validate site-rules.yaml --plugin site_plugin.py",
    "plugins": "ivig-cds plugins --format json",
    "formats": "ivig-cds formats",
    "schema": "ivig-cds schema > patient-file.schema.json",
    "fhir": "ivig-cds fhir map examples/fhir/polymyositis-bundle.json",
    "serve": "ivig-cds serve --dev",
    "feedback": "ivig-cds feedback report --database-url sqlite:///feedback.db",
    "completion": 'eval "$(ivig-cds completion bash)"',
}
_EXIT_CODES = (
    "exit codes: 0 success; 1 a finding at or above --fail-on (rules validate: errors; plugins: a plugin "
    "failed); 2 invalid input, no records, a usage error, or a plugin failure with --strict-plugins; "
    "3 internal error (please report); 130 interrupted."
)


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from None


def _jobs(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError("must be 0 (all CPUs) or more")
    return n or default_jobs()


def _width(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 40 <= n <= 400:
        raise argparse.ArgumentTypeError("must be between 40 and 400")
    return n


def _epilog(command: str) -> str:
    return f"example:\n  {COMMAND_EXAMPLES[command]}"


def _sub(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str, *, example: str = "",
         parents: list[argparse.ArgumentParser] | None = None) -> argparse.ArgumentParser:  # fmt: skip
    return sub.add_parser(
        name,
        help=text,
        description=text,
        epilog=f"example:\n  {example}" if example else (_epilog(name) if name in COMMAND_EXAMPLES else None),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents or [],
    )


def _view() -> argparse.ArgumentParser:
    """--width, --color and --quiet: how a view is drawn."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--width", type=_width, metavar="COLS", help="width of the console view (default: the terminal's)"
    )
    p.add_argument(
        "--color",
        choices=["auto", "always", "never"],
        default="auto",
        help="colour: auto (a terminal, unless NO_COLOR is set), always or never (default auto)",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar, counts line or notes on stderr")
    return p


def _site() -> argparse.ArgumentParser:
    """--config, --threshold, --plugin, --strict-plugins: the site's engine."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--config",
        dest="site_config",
        metavar="FILE",
        help="site configuration (TOML: thresholds, plugins, backend, FHIR mapping); default $IVIG_CDS_CONFIG",
    )
    p.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a threshold for this run, e.g. low_dose_gc_mg=5 (repeatable; `ivig-cds rules show` names them)",
    )
    p.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="PATH",
        help="load a local plugin file, or every *.py in a directory (repeatable)",
    )
    p.add_argument(
        "--strict-plugins", action="store_true", help="a plugin that fails to load or raises is fatal (exit 2)"
    )
    return p


def _engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as-of", type=_iso_date, metavar="DATE", help="evaluate as of this date (YYYY-MM-DD)")
    p.add_argument(
        "--backend",
        choices=["durable", "reference"],
        default=None,
        help="rules backend: durable (default) or the pure-Python reference (same rules, same results)",
    )
    add_mapping_options(p)


def _batch_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="patient files (JSON, YAML, NDJSON), FHIR Bundles, Bulk Data NDJSON, directories, or - for stdin",
    )
    _engine_options(p)
    p.add_argument(
        "--jobs", "-j", type=_jobs, default=1, metavar="N", help="worker processes (0: one per CPU; default 1)"
    )
    p.add_argument(
        "--output", "-o", metavar="FILE", help="write to FILE instead of stdout (written whole, or not at all)"
    )


def _evaluate(sub: argparse._SubParsersAction[argparse.ArgumentParser], view: argparse.ArgumentParser,
              site: argparse.ArgumentParser) -> None:  # fmt: skip
    ev = _sub(sub, "evaluate", "evaluate patient files, directories or NDJSON cohorts", parents=[view, site])
    _batch_options(ev)
    names = "|".join(builtin_formats())
    ev.add_argument(
        "--format", "-f", default="rich", metavar="FORMAT", help=f"{names}, or a plugin's (`ivig-cds formats`)"
    )
    ev.add_argument(
        "--fail-on",
        choices=list(SEVERITY_ORDER),
        metavar="SEVERITY",
        help="exit 1 if a finding is at or above SEVERITY (stop, warning, advisory, info)",
    )
    ev.add_argument(
        "--summary",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the cohort table after the records (default: on for more than one record, rich format;"
        " with another format on stderr)",
    )
    ev.add_argument("--summary-json", metavar="FILE", help="write the record counts and cohort summary as JSON")
    ev.add_argument(
        "--brief", action="store_true", help="rich format: one row per record instead of the full view"
    )
    ev.add_argument("--no-timeline", dest="timeline", action="store_false", help="rich format: no timeline")
    ev.add_argument("--export-svg", metavar="FILE", help="also save the console view as SVG (100 columns)")
    ev.add_argument("--export-html", metavar="FILE", help="also save the console view as HTML (100 columns)")


def _rules(sub: argparse._SubParsersAction[argparse.ArgumentParser], view: argparse.ArgumentParser,
           site: argparse.ArgumentParser) -> None:  # fmt: skip
    ru = _sub(sub, "rules", "list, show or validate rules")
    rsub = ru.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    rl = _sub(rsub, "list", "id, version, severity, category and title of every rule",
              example="ivig-cds rules list --format json", parents=[view, site])  # fmt: skip
    rl.add_argument("--format", "-f", choices=["rich", "json"], default="rich", help="a table or JSON")
    rs = _sub(rsub, "show", "one rule as written, with its citations and threshold values",
              example="ivig-cds rules show RESP-003", parents=[site])  # fmt: skip
    rs.add_argument("rule_id", metavar="RULE_ID", help="rule id, e.g. RESP-003 (case-insensitive)")
    rs.add_argument("--format", "-f", choices=["yaml", "json"], default="yaml", help="YAML or JSON")
    rv = _sub(rsub, "validate", "check a rule file or directory before deploying it",
              example=COMMAND_EXAMPLES["rules"], parents=[site])  # fmt: skip
    rv.add_argument("path", metavar="PATH", help="a rule file, a directory of rule files, or a rules directory")
    rv.add_argument(
        "--origin", metavar="NAME", help="the plugin the files belong to (default: the namespace of their ids)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    commands = "\n".join(f"  {c:<11} {ex}" for c, ex in COMMAND_EXAMPLES.items())
    env = "\n".join(f"  {name:<22} {text}" for name, text in ENVIRONMENT)
    parser = argparse.ArgumentParser(
        prog="ivig-cds",
        description="Clinical decision support for IVIG in refractory polymyositis (decision support only:"
        " a clinician reviews every recommendation).",
        epilog=f"examples:\n{commands}\n\nenvironment:\n{env}\n\n{_EXIT_CODES}\nSee docs/console.md.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", "-V", action="version", version=f"ivig-cds {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    view, site = _view(), _site()
    _evaluate(sub, view, site)
    co = _sub(sub, "cohort", "the cohort summary table (seed-study form) of many patients", parents=[view, site])
    _batch_options(co)
    co.add_argument("--format", "-f", choices=["rich", "json"], default="rich", help="a table or JSON")

    ex = _sub(
        sub, "explain", "why a rule fired, did not, or could not decide, for one patient", parents=[view, site]
    )
    ex.add_argument("file", metavar="FILE", help="patient file (JSON, YAML or a FHIR Bundle)")
    ex.add_argument("rule_id", metavar="RULE_ID", help="rule id, e.g. OUT-004, DATA-001 (`ivig-cds rules list`)")
    _engine_options(ex)
    ex.add_argument("--format", "-f", choices=["rich", "json"], default="rich", help="the explanation or JSON")

    _rules(sub, view, site)
    pl = _sub(sub, "plugins", "list plugins: name, version, hooks, rules, formats, errors", parents=[view, site])
    pl.add_argument("--format", "-f", choices=["rich", "json"], default="rich", help="a table or JSON")
    _sub(sub, "formats", "list the output formats (built-in and plugins')", parents=[site])
    _sub(sub, "schema", "print the patient-file JSON Schema")
    add_fhir_parser(sub, _iso_date)
    sv = _sub(sub, "serve", "run the CDS Hooks 2.0 service (needs the [service] extra)")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    sv.add_argument("--workers", type=_jobs, default=1, metavar="N", help="worker processes (default 1)")
    sv.add_argument("--config", metavar="FILE", help="service configuration (TOML; see docs/service.md)")
    sv.add_argument(
        "--dev", action="store_true", help="development mode: NO authentication, loopback addresses only"
    )
    fb = _sub(sub, "feedback", "CDS Hooks feedback: `feedback report` (needs the [service] extra)")
    fbsub = fb.add_subparsers(dest="feedback_command", required=True, metavar="ACTION")
    fr = _sub(fbsub, "report", "cards shown, accepted, overridden and override reasons per rule",
              example=COMMAND_EXAMPLES["feedback"])  # fmt: skip
    where = fr.add_mutually_exclusive_group()
    where.add_argument("--database-url", metavar="URL", help="SQLAlchemy URL of the feedback store")
    where.add_argument("--config", metavar="FILE", help="read the database URL from a service configuration")
    fr.add_argument("--format", "-f", choices=["rich", "json"], default="rich", help="a table or JSON")
    cp = _sub(sub, "completion", "print a shell completion script (bash or zsh)")
    cp.add_argument("shell", choices=["bash", "zsh"], help="the shell: bash or zsh")
    return parser
