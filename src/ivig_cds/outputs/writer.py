"""The default writer of a text format: each record's text as it comes, error records in place.

A format whose ``render`` is ``per_record`` is written record by record (a long run streams); any
other is rendered in one call per run of evaluations between error records. A format with its own
``open`` (the console view) writes itself: :func:`open_writer` returns its writer.
"""

from __future__ import annotations

from typing import IO

from ivig_cds.model.evaluation import Evaluation
from ivig_cds.outputs.text import render_ndjson
from ivig_cds.plugins.spec import OutputFormat, OutputRecord, Writer, WriterOptions

__all__ = ["TextWriter", "open_writer"]


class TextWriter:
    """Writes ``fmt.render`` text for evaluations and ``fmt.error`` text for inputs that could not be evaluated."""

    needs_patient = False

    def __init__(self, fmt: OutputFormat, stream: IO[str]) -> None:
        self._fmt, self._stream = fmt, stream
        self._pending: list[Evaluation] = []
        # the built-in NDJSON format is one compact contract object per line: a worker's text as it is
        self.accepts_json = fmt.render is render_ndjson

    def _flush(self) -> None:
        if self._pending:
            self._stream.write(self._fmt.render(list(self._pending)))
            self._pending.clear()

    def write(self, record: OutputRecord) -> None:
        """Write (or, for a format that is not per record, hold) one record."""
        if record.evaluation_json is not None and self.accepts_json:
            self._stream.write(record.evaluation_json + "\n")  # pending is empty: NDJSON is per record
            return
        if record.evaluation is not None:
            self._pending.append(record.evaluation)
            if self._fmt.per_record:
                self._flush()
            return
        if self._fmt.error is not None and record.error is not None:
            self._flush()
            self._stream.write(self._fmt.error(record.error))

    def close(self) -> None:
        """Write what is held."""
        self._flush()


def open_writer(fmt: OutputFormat, stream: IO[str], options: WriterOptions) -> Writer:
    """The writer of ``fmt`` on ``stream``: its own (``fmt.open``) or a :class:`TextWriter`."""
    if fmt.open is not None:
        return fmt.open(stream, options)
    return TextWriter(fmt, stream)
