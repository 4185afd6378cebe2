"""The ``rich`` output format: the console view, written by :class:`~ivig_cds.console.writer.RichWriter`.

At a terminal the view is drawn live, in colour; in a file it is plain text 100 columns wide. rich
is imported only when the format renders or opens a writer, so registering it costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import IO

from ivig_cds.model.evaluation import Evaluation
from ivig_cds.plugins.spec import OutputFormat, Writer, WriterOptions, hookimpl

__all__ = ["RICH", "open_rich", "register_output_formats", "render_rich_text"]


def render_rich_text(evaluations: Sequence[Evaluation]) -> str:
    """The console view of each evaluation, as plain text 100 columns wide."""
    from ivig_cds.console.evaluation import render_text

    return render_text(evaluations)


def open_rich(stream: IO[str], options: WriterOptions) -> Writer:
    """A writer of the console view on ``stream`` (``OutputFormat.open``)."""
    from ivig_cds.console.writer import RichWriter

    return RichWriter(stream, options)


RICH = OutputFormat(
    "rich", "the console view (plain text in a file)", render_rich_text, "text/plain", open=open_rich
)


@hookimpl
def register_output_formats(register: Callable[[OutputFormat], None]) -> None:
    """Register the ``rich`` format (a built-in plugin)."""
    register(RICH)
