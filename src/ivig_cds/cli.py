"""The ``ivig-cds`` command line: parse, call the command, map what went wrong to an exit code. No clinical logic.

Exit codes: 0 success; 1 a finding at or above ``--fail-on``; 2 invalid input or a usage error
(wins over 1); 3 an internal error (a bug: "please report"; wins over everything); 130 interrupted.
The commands live in :mod:`ivig_cds.commands`; the views in :mod:`ivig_cds.console` (the only
package that imports rich).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from ivig_cds._version import __version__
from ivig_cds.exit_codes import EXIT_FINDINGS, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK, EXIT_USAGE

VERSION_ARGS = (["--version"], ["-V"])

__all__ = ["EXIT_FINDINGS", "EXIT_INTERNAL", "EXIT_INVALID", "EXIT_OK", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The whole ``ivig-cds`` argument parser (see :mod:`ivig_cds.commands.parser`)."""
    from ivig_cds.commands.parser import build_parser as build

    return build()


DEBUG_ENV = "IVIG_CDS_DEBUG"


def _cmd_service(args: argparse.Namespace) -> int:
    """``serve`` and ``feedback``: imported here only, so the core CLI never loads the web stack."""
    from ivig_cds.commands.common import error

    try:
        from .service.cli import ensure_stack, run_command

        ensure_stack(args.command)
    except ImportError as exc:
        error(
            f"{args.command} needs the service extra: pip install 'ivig-cds[service]' (missing: {exc.name or exc})"
        )
        return EXIT_USAGE
    return run_command(args)


COMMANDS: dict[str, str] = {
    "evaluate": "ivig_cds.commands.evaluate:run_evaluate",
    "cohort": "ivig_cds.commands.evaluate:run_cohort",
    "explain": "ivig_cds.commands.info:run_explain",
    "rules": "ivig_cds.commands.info:run_rules",
    "formats": "ivig_cds.commands.info:run_formats",
    "plugins": "ivig_cds.commands.info:run_plugins",
    "schema": "ivig_cds.commands.info:run_schema",
    "fhir": "ivig_cds.commands.fhir:run_fhir",
    "completion": "ivig_cds.commands.completion:run_completion",
}
"""Each command -> the function that runs it, imported when that command runs (``serve`` and
``feedback`` go through :func:`_cmd_service`)."""


def _command(name: str) -> Callable[..., int]:
    if name in ("serve", "feedback"):
        return _cmd_service
    module, func = COMMANDS[name].split(":")
    return getattr(importlib.import_module(module), func)  # type: ignore[no-any-return]


def _dispatch(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (argparse already printed it)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:  # bare `ivig-cds`: what it can do
        parser.print_help()
        return EXIT_OK
    if args.command == "completion":
        return _command("completion")(args, parser)
    return _command(args.command)(args)


def _write_error(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or type(exc).__name__}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 findings at --fail-on, 2 invalid input or usage, 3 internal)."""
    if (sys.argv[1:] if argv is None else list(argv)) in VERSION_ARGS:
        with contextlib.suppress(OSError, AttributeError):  # a closed or full stdout: as argparse's exit
            sys.stdout.write(f"ivig-cds {__version__}\n")  # argparse's text; nothing else imported
            sys.stdout.flush()
        return EXIT_OK
    from ivig_cds.plugins.host import INTERRUPTS

    with INTERRUPTS.guard():  # a real Ctrl-C is told from a plugin raising KeyboardInterrupt itself
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    from ivig_cds.commands.common import NoRecords, error
    from ivig_cds.errors import IvigCdsError
    from ivig_cds.plugins.host import INTERRUPTS

    for stream in (sys.stdout, sys.stderr):  # text no UTF-8 can hold (a lone surrogate) is escaped, not fatal
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    try:
        return _dispatch(argv)
    except KeyboardInterrupt:
        return _interrupted()
    except BrokenPipeError:  # e.g. `ivig-cds evaluate ... | head`: the reader left; nothing to report
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except NoRecords:
        error("no patient records found (a directory is read one level deep: *.json, *.yaml, *.yml, *.ndjson)")
        return EXIT_USAGE
    except IvigCdsError as exc:  # configuration: rules, thresholds, plugins (messages carry no patient data)
        error(str(exc))
        return EXIT_USAGE
    except OSError as exc:  # an output file: a missing directory, a full disk (the file is named)
        error(_write_error(exc) + "; nothing was written there")
        return EXIT_USAGE
    except Exception as exc:
        if INTERRUPTS.seen:  # Ctrl-C inside a library callback can surface wrapped (e.g. by pydantic-core)
            return _interrupted()
        if os.environ.get(DEBUG_ENV) == "1":
            traceback.print_exc()
        else:
            # the type only: an exception's message could quote patient data
            name = type(exc).__name__
            sys.stderr.write(
                f"ivig-cds: internal error ({name}); please report. Set {DEBUG_ENV}=1 for the traceback.\n"
            )
        return EXIT_INTERNAL


def _interrupted() -> int:
    # outputs are written whole or not at all: an interrupted run leaves no file that looks complete
    sys.stderr.write("\nivig-cds: interrupted (an output file is written only when the run completes)\n")
    return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
