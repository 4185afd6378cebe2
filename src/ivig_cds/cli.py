"""The ``ivig-cds`` command line: argument parsing and exit codes only; no clinical logic."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date

from rich.console import Console

from . import __version__
from .engine import Engine
from .errors import InputError, IvigCdsError
from .patient_io import patient_json_schema
from .render import render_evaluation

__all__ = ["main"]

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ivig-cds",
        description="Clinical decision support for IVIG in refractory polymyositis (decision support only).",
    )
    parser.add_argument("--version", action="version", version=f"ivig-cds {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="evaluate a patient file")
    ev.add_argument("files", nargs="+", metavar="FILE", help="patient file(s), JSON or YAML")
    ev.add_argument("--format", choices=["rich", "json"], default="rich", help="output format (default rich)")
    ev.add_argument("--as-of", type=_iso_date, metavar="DATE", help="evaluate as of this date (YYYY-MM-DD)")
    ev.add_argument("--backend", choices=["durable", "reference"], default="durable", help=argparse.SUPPRESS)
    sub.add_parser("schema", help="print the patient-file JSON Schema")
    return parser


def _print_input_error(err: InputError, console: Console) -> None:
    console.print(f"[bold red]invalid patient file[/] {err.source}", highlight=False)
    for fe in err.errors:
        console.print(f"  {fe.loc or '(document)'}: {fe.msg}", highlight=False, markup=False)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 findings at --fail-on, 2 invalid input or usage)."""
    args = build_parser().parse_args(argv)
    out = Console()
    err = Console(stderr=True)
    if args.command == "schema":
        sys.stdout.write(json.dumps(patient_json_schema(), indent=2, sort_keys=True) + "\n")
        return EXIT_OK
    try:
        engine = Engine(backend=args.backend)
    except IvigCdsError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        return EXIT_USAGE
    code = EXIT_OK
    for path in args.files:
        try:
            result = engine.evaluate(path, as_of=args.as_of)
        except InputError as exc:
            _print_input_error(exc, err)
            code = EXIT_USAGE
            continue
        except IvigCdsError as exc:
            err.print(f"[bold red]error:[/] {path}: {exc}", highlight=False)
            code = EXIT_USAGE
            continue
        if args.format == "json":
            sys.stdout.write(result.to_json() + "\n")
        else:
            render_evaluation(result, out)
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
