"""The ``rich`` output format: the console view as plain text (what ``--output FILE`` stores).

At a terminal the CLI prints the same view live, in colour. rich is imported only when the format
renders, so registering it costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ivig_cds.model.evaluation import Evaluation
from ivig_cds.plugins.spec import OutputFormat, hookimpl

__all__ = ["RICH", "register_output_formats", "render_rich_text"]


def render_rich_text(evaluations: Sequence[Evaluation]) -> str:
    """The console view of each evaluation, as plain text 100 columns wide."""
    from ivig_cds.console.evaluation import render_text

    return render_text(evaluations)


RICH = OutputFormat("rich", "the console view (plain text in a file)", render_rich_text, "text/plain")


@hookimpl
def register_output_formats(register: Callable[[OutputFormat], None]) -> None:
    """Register the ``rich`` format (a built-in plugin)."""
    register(RICH)
