"""The ``ivig-cds`` command line: argument parsing, output routing and exit codes only; no clinical logic.

Exit codes: 0 success; 1 a finding at or above ``--fail-on``; 2 invalid input or a usage error
(wins over 1); 3 an internal error (a bug: "please report"; wins over everything).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import IO, Any

import yaml
from rich.console import Console

from ivig_cds._version import __version__
from ivig_cds.batch.records import Failure, Record, Result, Tally, collect_records
from ivig_cds.batch.runner import default_jobs, run_batch
from ivig_cds.cli_fhir import add_fhir_parser, add_mapping_options, run_fhir
from ivig_cds.cohort import CohortEntry, summarize
from ivig_cds.console.evaluation import progress_bar, render_brief, render_evaluation
from ivig_cds.console.reports import render_cohort, render_explanation, render_plugins, render_rules
from ivig_cds.engine.config import EngineSpec
from ivig_cds.engine.engine import Engine
from ivig_cds.errors import InputError, IvigCdsError
from ivig_cds.explain import UnknownRuleError, explain_rule, lint_rules, rule_document, rule_rows
from ivig_cds.inputs.files import patient_json_schema
from ivig_cds.model.evaluation import SEVERITY_ORDER, Evaluation
from ivig_cds.outputs.registry import OutputFormat, available_formats, builtin_formats, error_record
from ivig_cds.plugins.host import INTERRUPTS

__all__ = ["EXIT_FINDINGS", "EXIT_INTERNAL", "EXIT_INVALID", "EXIT_OK", "build_parser", "main"]

EXIT_OK, EXIT_FINDINGS, EXIT_INVALID, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_USAGE = EXIT_INVALID
DEBUG_ENV = "IVIG_CDS_DEBUG"
_PROGRESS_MIN = 20  # a progress bar only for longer runs
_FILE_WIDTH = 100  # width of the rich view written to files and exports


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


def _batch_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="patient files (JSON, YAML, NDJSON), FHIR Bundles, Bulk Data NDJSON, directories, or - for stdin",
    )
    p.add_argument("--as-of", type=_iso_date, metavar="DATE", help="evaluate as of this date (YYYY-MM-DD)")
    p.add_argument(
        "--jobs", "-j", type=_jobs, default=1, metavar="N", help="worker processes (0: one per CPU; default 1)"
    )
    p.add_argument("--output", "-o", metavar="FILE", help="write the output to FILE instead of stdout")
    p.add_argument("--width", type=_width, metavar="COLS", help="width of the rich view (default: the terminal's)")
    p.add_argument(
        "--backend",
        choices=["durable", "reference"],
        default="durable",
        help="rules backend: durable (default) or the pure-Python reference (same rules, same results)",
    )
    add_mapping_options(p)


def _plugin_options(p: argparse.ArgumentParser) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = argparse.ArgumentParser(
        prog="ivig-cds",
        description="Clinical decision support for IVIG in refractory polymyositis (decision support only).",
        epilog="Exit codes: 0 success; 1 a finding at or above --fail-on (rules validate: errors); 2 invalid input"
        " or usage error; 3 internal error (please report). See docs/console.md.",
    )
    parser.add_argument("--version", action="version", version=f"ivig-cds {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ev = sub.add_parser("evaluate", help="evaluate patient files, directories or NDJSON cohorts")
    _batch_options(ev)
    _plugin_options(ev)
    names = "|".join(builtin_formats())
    ev.add_argument(
        "--format", "-f", default="rich", metavar="FORMAT", help=f"{names}, or a plugin's (see `ivig-cds formats`)"
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
        help="cohort table after the records (default: on for more than one record, rich format)",
    )
    ev.add_argument("--summary-json", metavar="FILE", help="write the cohort summary as JSON to FILE")
    ev.add_argument(
        "--brief", action="store_true", help="rich format: one row per record instead of the full view"
    )
    ev.add_argument(
        "--no-timeline", dest="timeline", action="store_false", help="rich format: leave out the timeline"
    )
    ev.add_argument("--export-svg", metavar="FILE", help="also save the rich view as SVG")
    ev.add_argument("--export-html", metavar="FILE", help="also save the rich view as HTML")

    co = sub.add_parser("cohort", help="the cohort summary table (seed-study form) of many patients")
    _batch_options(co)
    _plugin_options(co)
    co.add_argument("--format", "-f", choices=["rich", "json"], default="rich", help="rich table or JSON")

    ex = sub.add_parser("explain", help="why a rule fired or did not for one patient")
    ex.add_argument("file", metavar="FILE", help="patient file")
    ex.add_argument("rule_id", metavar="RULE_ID", help="rule id, e.g. RESP-003 (see `ivig-cds rules list`)")
    ex.add_argument("--as-of", type=_iso_date, metavar="DATE", help="evaluate as of this date (YYYY-MM-DD)")
    ex.add_argument("--format", "-f", choices=["rich", "json"], default="rich")
    ex.add_argument("--width", type=_width, metavar="COLS", help=argparse.SUPPRESS)
    ex.add_argument("--backend", choices=["durable", "reference"], default="durable", help="rules backend")
    _plugin_options(ex)

    ru = sub.add_parser("rules", help="list, show or validate rules")
    rsub = ru.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    rl = rsub.add_parser("list", help="id, version, severity, category and title of every rule")
    rl.add_argument("--format", "-f", choices=["rich", "json"], default="rich")
    rl.add_argument("--width", type=_width, metavar="COLS", help=argparse.SUPPRESS)
    _plugin_options(rl)
    rs = rsub.add_parser("show", help="one rule as written, with its citations and threshold values")
    rs.add_argument("rule_id", metavar="RULE_ID")
    rs.add_argument("--format", "-f", choices=["yaml", "json"], default="yaml")
    _plugin_options(rs)
    rv = rsub.add_parser("validate", help="check a rule file or directory before deploying it")
    rv.add_argument("path", metavar="PATH", help="a rule file, a directory of rule files, or a rules directory")
    rv.add_argument(
        "--origin", metavar="NAME", help="the plugin the files belong to (default: the namespace of their ids)"
    )

    pl = sub.add_parser("plugins", help="list plugins: name, version, hooks, rules, formats, errors")
    pl.add_argument("--format", "-f", choices=["rich", "json"], default="rich")
    pl.add_argument("--width", type=_width, metavar="COLS", help=argparse.SUPPRESS)
    _plugin_options(pl)
    add_fhir_parser(sub, _iso_date)
    sv = sub.add_parser("serve", help="run the CDS Hooks 2.0 service (needs the [service] extra)")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    sv.add_argument("--workers", type=_jobs, default=1, metavar="N", help="worker processes (default 1)")
    sv.add_argument("--config", metavar="FILE", help="service configuration (TOML; see docs/service.md)")
    sv.add_argument(
        "--dev", action="store_true", help="development mode: NO authentication, loopback addresses only"
    )
    fb = sub.add_parser("feedback", help="CDS Hooks feedback: `feedback report` (needs the [service] extra)")
    fbsub = fb.add_subparsers(dest="feedback_command", required=True, metavar="ACTION")
    fr = fbsub.add_parser("report", help="cards shown, accepted, overridden and override reasons per rule")
    where = fr.add_mutually_exclusive_group()
    where.add_argument("--database-url", metavar="URL", help="SQLAlchemy URL of the feedback store")
    where.add_argument("--config", metavar="FILE", help="read the database URL from a service configuration")
    fr.add_argument("--format", "-f", choices=["rich", "json"], default="rich")
    sub.add_parser("schema", help="print the patient-file JSON Schema")
    fo = sub.add_parser("formats", help="list the output formats (built-in and plugins')")
    _plugin_options(fo)
    return parser


# ---------------------------------------------------------------- helpers


def _consoles(width: int | None) -> tuple[Console, Console]:
    return Console(highlight=False, width=width), Console(stderr=True, highlight=False, soft_wrap=True)


def _print_failure(failure: Failure, err: Console) -> None:
    if failure.kind == "invalid":
        err.print(f"invalid patient file {failure.source}", style="bold red", highlight=False, markup=False)
        for fe in failure.errors:
            err.print(f"  {fe.loc or '(document)'}: {fe.msg}", highlight=False, markup=False)
    else:
        msg = "; ".join(fe.msg for fe in failure.errors)
        err.print(f"error: {failure.source}: {msg}", style="bold red", highlight=False, markup=False)


def _spec(args: argparse.Namespace, backend: str | None = None) -> EngineSpec:
    chosen = backend or getattr(args, "backend", "durable")
    return EngineSpec(
        backend="reference" if chosen == "reference" else "durable",
        plugin_paths=tuple(getattr(args, "plugin", None) or ()),
        strict_plugins=bool(getattr(args, "strict_plugins", False)),
        fhir_mapping=getattr(args, "mapping", None),
        strict_fhir=bool(getattr(args, "strict_fhir", False)),
    )


def _engine(args: argparse.Namespace, backend: str | None = None) -> Engine:
    """The engine of this run; plugin failures are said on stderr once (they are also in each result)."""
    engine = _spec(args, backend)()
    assert isinstance(engine, Engine)
    for f in engine.info.plugin_failures:
        sys.stderr.write(
            f"ivig-cds: warning: plugin {f.plugin!r} failed in {f.hook}: {f.error} - evaluations are incomplete\n"
        )
    return engine


def _formats(
    engine: Engine | None, args: argparse.Namespace, wanted: str | None = None
) -> dict[str, OutputFormat]:
    """Built-in formats plus the plugins' (an engine is only built for them when ``wanted`` needs it)."""
    builtin = builtin_formats()
    if engine is None:
        if wanted in builtin:
            return available_formats()
        engine = _engine(args, "reference")
    return available_formats({k: v for k, v in engine.output_formats.items() if k not in builtin})


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[IO[str]]:
    if path is None:
        yield sys.stdout
        return
    with open(path, "w", encoding="utf-8") as fh:
        yield fh


def _fails_on(ev: Evaluation, level: str | None) -> bool:
    if level is None:
        return False
    limit = SEVERITY_ORDER[level]
    return any(SEVERITY_ORDER[f.severity] <= limit for f in ev.findings)


def _exit_code(tally: Tally, findings_hit: bool) -> int:
    if tally.failed:
        return EXIT_INTERNAL
    if tally.invalid or tally.records == 0:
        return EXIT_INVALID
    return EXIT_FINDINGS if findings_hit else EXIT_OK


class _NoRecords(Exception):
    """The inputs held no patient record (e.g. an empty directory)."""


def _collect(args: argparse.Namespace) -> list[Record | Failure]:
    items = collect_records(args.inputs, sys.stdin.buffer if "-" in args.inputs else None)
    if not items:
        raise _NoRecords
    return items


def _run(
    args: argparse.Namespace,
    items: Sequence[Record | Failure],
    err: Console,
    keep_patient: bool,
    engine: Engine | None = None,
    hold: bool = False,
) -> Iterator[Result]:
    """Evaluate the records, with a progress bar on a terminal for long runs.

    ``hold``: stdout is the same terminal, so results wait until the bar is gone.
    """
    if engine is None and args.jobs <= 1:
        engine = _engine(args)
    spec = _spec(args)
    make: Callable[[], Any] = (lambda: engine) if engine is not None else spec
    show = err.is_terminal and len(items) > _PROGRESS_MIN
    progress = progress_bar(err, len(items)) if show else None
    stream = run_batch(
        items,
        make_engine=make,
        as_of=args.as_of,
        jobs=args.jobs,
        keep_patient=keep_patient,
        on_done=(lambda _r: progress.advance()) if progress is not None else None,
    )
    if progress is None:
        yield from stream
        return
    if not hold:
        with progress:
            yield from stream
        return
    with progress:  # results are printed after the bar, so the two never interleave
        done = list(stream)
    yield from done


def _write_summary_json(path: str, tally: Tally, evaluations: Sequence[CohortEntry]) -> None:
    doc = {
        "records": tally.records,
        "evaluated": tally.evaluated,
        "invalid": tally.invalid,
        "failed": tally.failed,
        "cohort": summarize(evaluations).to_dict(),
    }
    Path(path).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- commands


def _cmd_evaluate(args: argparse.Namespace) -> int:
    out_term, err = _consoles(args.width)
    # one engine here when it evaluates too (--jobs 1); with workers, each builds its own
    engine = _engine(args) if args.jobs <= 1 else None
    formats = _formats(engine, args, args.format)
    fmt = formats.get(args.format)
    if fmt is None:
        err.print(
            f"error: unknown format {args.format!r} (available: {', '.join(formats)})",
            highlight=False,
            markup=False,
        )
        return EXIT_USAGE
    rich_mode = fmt.name == "rich"
    tally = Tally()
    rows: list[CohortEntry] = []  # what the cohort summary needs, not whole evaluations
    pending: list[Evaluation] = []
    brief: list[Result] = []
    findings_hit = False
    recorder = (
        Console(record=True, file=io.StringIO(), width=args.width or _FILE_WIDTH, highlight=False)
        if (args.export_svg or args.export_html)
        else None
    )
    with _output(args.output) as stream:
        out = (
            out_term
            if args.output is None
            else Console(file=stream, width=args.width or _FILE_WIDTH, highlight=False)
        )
        sinks = [c for c in (out if rich_mode else None, recorder) if c is not None]
        keep = args.timeline and not args.brief and bool(sinks)
        items = _collect(args)
        many = len(items) > 1

        def flush() -> None:
            if pending and not rich_mode:
                stream.write(fmt.render(list(pending)))
            pending.clear()

        hold = args.output is None and out_term.is_terminal
        for result in _run(args, items, err, keep, engine, hold):
            tally.add(result)
            if result.evaluation is not None:
                rows.append(CohortEntry.of(result.evaluation))
                findings_hit = findings_hit or _fails_on(result.evaluation, args.fail_on)
                pending.append(result.evaluation)
                if fmt.per_record:
                    flush()
                if args.brief:
                    brief.append(result)
                for console in sinks if not args.brief else []:
                    if many:
                        console.rule(result.source, style="dim", align="left")
                    render_evaluation(result.evaluation, console, result.patient if args.timeline else None)
                continue
            assert result.failure is not None
            _print_failure(result.failure, err)
            if args.brief:
                brief.append(result)
            if not rich_mode and fmt.error is not None:
                flush()
                stream.write(fmt.error(error_record(result.failure.source, result.failure.errors)))
        flush()
        for console in sinks:
            if args.brief:
                render_brief(brief, console)
            show_summary = args.summary if args.summary is not None else tally.records > 1
            if show_summary and rows and (rich_mode or console is recorder):
                render_cohort(summarize(rows), console)
        if args.summary and not rich_mode and rows:
            render_cohort(summarize(rows), err)
    if args.summary_json:
        _write_summary_json(args.summary_json, tally, rows)
    if recorder is not None:
        if args.export_svg:
            recorder.save_svg(args.export_svg, title="ivig-cds", clear=False)
        if args.export_html:
            recorder.save_html(args.export_html, clear=False)
    if tally.records != 1 or tally.invalid or tally.failed:
        err.print(tally.line(), highlight=False)
    return _exit_code(tally, findings_hit)


def _cmd_cohort(args: argparse.Namespace) -> int:
    out_term, err = _consoles(args.width)
    tally, evaluations = Tally(), []
    for result in _run(args, _collect(args), err, keep_patient=False):
        tally.add(result)
        if result.evaluation is not None:
            evaluations.append(CohortEntry.of(result.evaluation))
        elif result.failure is not None:
            _print_failure(result.failure, err)
    with _output(args.output) as stream:
        if args.format == "json":
            doc = {
                "records": tally.records,
                "evaluated": tally.evaluated,
                "invalid": tally.invalid,
                "failed": tally.failed,
            }
            stream.write(json.dumps({**doc, "cohort": summarize(evaluations).to_dict()}, indent=2) + "\n")
        else:
            out = (
                out_term
                if args.output is None
                else Console(file=stream, width=args.width or _FILE_WIDTH, highlight=False)
            )
            render_cohort(summarize(evaluations), out)
    err.print(tally.line(), highlight=False)
    return _exit_code(tally, False)


def _cmd_explain(args: argparse.Namespace) -> int:
    out, err = _consoles(args.width)
    engine = _engine(args)
    try:
        x = explain_rule(engine, args.file, args.rule_id, as_of=args.as_of)
    except UnknownRuleError as exc:
        err.print(f"error: unknown rule id {exc.rule_id!r}", highlight=False, markup=False)
        if exc.suggestions:
            err.print(f"close ids: {', '.join(exc.suggestions)}", highlight=False, markup=False)
        err.print("`ivig-cds rules list` shows every rule.", highlight=False, markup=False)
        return EXIT_USAGE
    except InputError as exc:
        _print_failure(Failure(exc.source, tuple(exc.errors)), err)
        return EXIT_INVALID
    if args.format == "json":
        sys.stdout.write(json.dumps(x.to_dict(), indent=2, default=str) + "\n")
    else:
        render_explanation(x, out)
    return EXIT_OK


def _cmd_rules(args: argparse.Namespace) -> int:
    out, err = _consoles(getattr(args, "width", None))
    if args.rules_command == "validate":
        path = Path(args.path)
        if not path.exists():
            err.print(f"error: {args.path}: no such file or directory", highlight=False, markup=False)
            return EXIT_USAGE
        report = lint_rules(path, origin=args.origin, catalog=_engine(args, "reference").catalog)
        for name, n in report.ok:
            sys.stdout.write(f"OK     {name} ({n} rule{'' if n == 1 else 's'})\n")
        for e in report.errors:
            sys.stdout.write(f"ERROR  {e}\n")
        if report.errors:
            sys.stdout.write(f"{len(report.errors)} error{'' if len(report.errors) == 1 else 's'}\n")
        return EXIT_FINDINGS if report.errors else EXIT_OK
    book = _engine(args, "reference").book
    if args.rules_command == "list":
        rows = rule_rows(book)
        if args.format == "json":
            sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        else:
            render_rules(rows, out)
        return EXIT_OK
    try:
        doc = rule_document(book, args.rule_id)
    except UnknownRuleError as exc:
        err.print(f"error: unknown rule id {exc.rule_id!r}", highlight=False, markup=False)
        if exc.suggestions:
            err.print(f"close ids: {', '.join(exc.suggestions)}", highlight=False, markup=False)
        return EXIT_USAGE
    if args.format == "json":
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        sys.stdout.write(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100))
    return EXIT_OK


def _cmd_plugins(args: argparse.Namespace) -> int:
    out, _ = _consoles(getattr(args, "width", None))
    engine = _engine(args, "reference")
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
        for p in sorted(engine.plugins, key=lambda p: (p.name != "core", p.name))
    ]
    if args.format == "json":
        sys.stdout.write(json.dumps({"plugins": rows}, indent=2) + "\n")
    else:
        render_plugins(rows, out)
    return EXIT_FINDINGS if any(r["error"] for r in rows) else EXIT_OK


def _cmd_formats(args: argparse.Namespace) -> int:
    for f in _formats(None, args).values():
        sys.stdout.write(f"{f.name:<12} {f.media_type:<22} {f.description}\n")
    return EXIT_OK


def _cmd_service(args: argparse.Namespace) -> int:
    """``serve`` and ``feedback``: imported here only, so the core CLI never loads the web stack."""
    try:
        from .service.cli import ensure_stack, run_command

        ensure_stack(args.command)
    except ImportError as exc:
        sys.stderr.write(
            f"ivig-cds: error: {args.command} needs the service extra: pip install 'ivig-cds[service]'"
            f" (missing: {exc.name or exc})\n"
        )
        return EXIT_USAGE
    return run_command(args)


def _dispatch(argv: Sequence[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (argparse already printed it)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command == "schema":
        sys.stdout.write(json.dumps(patient_json_schema(), indent=2, sort_keys=True) + "\n")
        return EXIT_OK
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "evaluate": _cmd_evaluate,
        "cohort": _cmd_cohort,
        "explain": _cmd_explain,
        "rules": _cmd_rules,
        "formats": _cmd_formats,
        "plugins": _cmd_plugins,
        "fhir": run_fhir,
        "serve": _cmd_service,
        "feedback": _cmd_service,
    }
    return commands[args.command](args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 findings at --fail-on, 2 invalid input or usage, 3 internal)."""
    try:
        with INTERRUPTS.guard():  # a KeyboardInterrupt a plugin raises is its failure; Ctrl-C stops
            return _dispatch(argv)
    except KeyboardInterrupt:
        sys.stderr.write("ivig-cds: interrupted\n")
        return 130
    except BrokenPipeError:  # e.g. `ivig-cds evaluate ... | head`: the reader left; nothing to report
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except _NoRecords:
        sys.stderr.write(
            "ivig-cds: error: no patient records found (a directory is read one level deep:"
            " *.json, *.yaml, *.yml, *.ndjson)\n"
        )
        return EXIT_USAGE
    except IvigCdsError as exc:  # configuration: rules, thresholds, plugins (messages carry no patient data)
        sys.stderr.write(f"ivig-cds: error: {exc}\n")
        return EXIT_USAGE
    except OSError as exc:  # e.g. --output into a missing directory
        sys.stderr.write(f"ivig-cds: error: {exc.filename or ''}: {exc.strerror or type(exc).__name__}\n")
        return EXIT_USAGE
    except Exception as exc:
        if os.environ.get(DEBUG_ENV) == "1":
            traceback.print_exc()
        else:
            # the type only: an exception's message could quote patient data
            name = type(exc).__name__
            sys.stderr.write(
                f"ivig-cds: internal error ({name}); please report. Set {DEBUG_ENV}=1 for the traceback.\n"
            )
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
