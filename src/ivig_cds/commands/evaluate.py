"""``evaluate`` and ``cohort``: collect the records, evaluate them, feed each result to the format's writer.

The writer (:func:`ivig_cds.outputs.open_writer`) draws or writes each record as it comes; this
module only routes: results to the writer, input errors to standard error, the counts line, the
summary JSON, the exit code. An ``--output`` file is written whole or not at all.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

from ivig_cds.batch.records import Failure, Record, Result, Tally, collect_records
from ivig_cds.batch.runner import run_batch
from ivig_cds.cohort import CohortEntry, summarize
from ivig_cds.commands.common import (
    EXIT_FINDINGS,
    EXIT_INTERNAL,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    NoRecords,
    engine_spec,
    load_book,
    print_failure,
    say,
)
from ivig_cds.engine.config import EngineSpec
from ivig_cds.engine.engine import Engine
from ivig_cds.model.evaluation import PluginFailure
from ivig_cds.outfile import FILE_WIDTH, AtomicFile, write_atomic
from ivig_cds.outputs.registry import OutputFormat, builtin_formats, error_record
from ivig_cds.outputs.writer import open_writer
from ivig_cds.plugins.spec import OutputRecord, WriterOptions

__all__ = ["run_cohort", "run_evaluate"]

_PROGRESS_MIN = 20  # a progress bar only for longer runs


def _collect(args: argparse.Namespace) -> list[Record | Failure]:
    items = collect_records(args.inputs, sys.stdin.buffer if "-" in args.inputs else None)
    if not items:
        raise NoRecords
    return items


def _formats(name: str, spec: EngineSpec, engine: Engine | None) -> dict[str, OutputFormat]:
    """The formats ``--format`` may name: built in, or the plugins' (loaded only when ``name`` needs them)."""
    builtin = builtin_formats()
    if name in builtin:
        return builtin
    found = engine.output_formats if engine is not None else load_book(spec, rules=False).formats
    return {**builtin, **{k: v for k, v in found.items() if k not in builtin}}


class _Run:
    """One batch: the results in input order, with a progress bar on a terminal for long runs."""

    def __init__(self, args: argparse.Namespace, items: Sequence[Record | Failure], keep_patient: bool) -> None:
        self.args, self.items, self.keep = args, items, keep_patient
        self.spec = engine_spec(args)
        self.engine = self.spec() if args.jobs <= 1 else None  # with workers, each builds its own
        self.warned = False

    def results(self, hold: bool) -> Iterator[Result]:
        """``hold``: stdout is the terminal too, so results wait until the bar is gone."""
        make: Callable[[], Any] = (lambda: self.engine) if self.engine is not None else self.spec
        bar = None
        if len(self.items) > _PROGRESS_MIN and not self.args.quiet:
            from ivig_cds.console.brief import progress_bar  # rich loads only when a bar may show

            bar = progress_bar(len(self.items))
        stream = run_batch(
            self.items,
            make_engine=make,
            as_of=self.args.as_of,
            jobs=self.args.jobs,
            keep_patient=self.keep,
            on_done=(lambda _r: bar.advance()) if bar is not None else None,
            patient_id=getattr(self.args, "patient_id", None),
        )
        if bar is None:
            yield from stream
            return
        if not hold:
            with bar:
                yield from stream
            return
        with bar:  # results are printed after the bar, so the two never interleave
            done = list(stream)
        yield from done

    def notice(self, failures: Sequence[PluginFailure]) -> None:
        """Say a plugin failure once per run (every result also carries it)."""
        if self.warned or not failures:
            return
        self.warned = True
        for f in failures:
            say(f"ivig-cds: warning: plugin {f.plugin!r} failed in {f.hook}: {f.error} - results are incomplete")


def exit_code(tally: Tally, findings_hit: bool) -> int:
    """Internal failure 3 > invalid input or no records 2 > findings at --fail-on 1 > 0."""
    if tally.failed:
        return EXIT_INTERNAL
    if tally.invalid or tally.records == 0:
        return EXIT_INVALID
    return EXIT_FINDINGS if findings_hit else EXIT_OK


def _summary_doc(tally: Tally, rows: Sequence[CohortEntry]) -> str:
    doc = {
        "records": tally.records,
        "evaluated": tally.evaluated,
        "invalid": tally.invalid,
        "failed": tally.failed,
        "cohort": summarize(rows).to_dict(),
    }
    return json.dumps(doc, indent=2) + "\n"


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[tuple[IO[str], AtomicFile | None]]:
    """stdout, or an :class:`AtomicFile` committed by the caller when the run completes."""
    if path is None:
        yield sys.stdout, None
        return
    with AtomicFile(path) as out:
        yield out.stream, out


def _record(result: Result, text_ok: bool = False) -> OutputRecord:
    """The writers' record; ``text_ok``: every writer takes the contract JSON as it came from a worker."""
    if text_ok and result.evaluation_json is not None:
        return OutputRecord(result.source, evaluation_json=result.evaluation_json, patient=result.patient)
    if result.evaluated:
        return OutputRecord(result.source, evaluation=result.model(), patient=result.patient)
    assert result.failure is not None
    failure = result.failure
    return OutputRecord(
        result.source, error=error_record(failure.source, failure.errors), failed=failure.kind == "failed"
    )


def run_evaluate(args: argparse.Namespace) -> int:
    """``ivig-cds evaluate``."""
    spec = engine_spec(args)
    formats = _formats(args.format, spec, None)
    fmt = formats.get(args.format)
    if fmt is None:
        say(f"error: unknown format {args.format!r} (available: {', '.join(sorted(formats))})")
        return EXIT_USAGE
    items = _collect(args)
    tally, rows, hit = Tally(), [], False
    with _output(args.output) as (stream, atomic):
        options = WriterOptions(
            width=args.width or (FILE_WIDTH if atomic is not None else None),
            color="never" if atomic is not None else args.color,
            terminal=atomic is None and sys.stdout.isatty(),
            records=len(items),
            brief=args.brief,
            timeline=args.timeline,
            summary=args.summary,
            export_svg=args.export_svg,
            export_html=args.export_html,
            quiet=args.quiet,
        )
        writers = [open_writer(fmt, stream, options)]
        if fmt.name != "rich" and (args.export_svg or args.export_html):
            # the exports are of the console view, whatever --format writes
            writers.append(open_writer(builtin_formats()["rich"], io.StringIO(), options))
        keep = any(getattr(w, "needs_patient", False) for w in writers)
        text_ok = all(getattr(w, "accepts_json", False) for w in writers)
        run = _Run(args, items, keep_patient=keep)
        for result in run.results(hold=options.terminal):
            tally.add(result)
            if result.evaluated:
                digest = result.summary()
                run.notice(digest.plugin_failures)
                rows.append(CohortEntry(digest.status, digest.patient))
                hit = hit or digest.fails_on(args.fail_on)
            elif result.failure is not None:
                print_failure(result.failure)
            record = _record(result, text_ok)
            for writer in writers:
                writer.write(record)
        for writer in writers:
            writer.close()
        if args.summary and fmt.open is None and rows:
            _print_cohort(summarize(rows))  # another format's output stays clean: the table goes to stderr
        if atomic is not None:
            atomic.commit()
    if args.summary_json:
        write_atomic(args.summary_json, _summary_doc(tally, rows))
    if not args.quiet and (tally.records != 1 or tally.invalid or tally.failed):
        say(tally.line())
    return exit_code(tally, hit)


def run_cohort(args: argparse.Namespace) -> int:
    """``ivig-cds cohort``: only the seed-form summary table (or its JSON)."""
    tally, rows = Tally(), []
    run = _Run(args, _collect(args), keep_patient=False)
    for result in run.results(hold=False):
        tally.add(result)
        if result.evaluated:
            digest = result.summary()
            run.notice(digest.plugin_failures)
            rows.append(CohortEntry(digest.status, digest.patient))
        elif result.failure is not None:
            print_failure(result.failure)
    with _output(args.output) as (stream, atomic):
        if args.format == "json":
            stream.write(_summary_doc(tally, rows))
        else:
            width = args.width or (FILE_WIDTH if atomic is not None else None)
            _print_cohort(summarize(rows), stream, width=width, color="never" if atomic else args.color)
        if atomic is not None:
            atomic.commit()
    if not args.quiet:
        say(tally.line())
    return exit_code(tally, False)


def _print_cohort(*args: Any, **kwargs: Any) -> None:
    from ivig_cds.console.reports import print_cohort

    print_cohort(*args, **kwargs)
