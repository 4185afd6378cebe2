"""The FHIR mapping panel of the console view: what was read and every warning (no unmapped drug is hidden)."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from ivig_cds.model.format import incomplete_lines

__all__ = ["mapping_panel"]

_MAX_LINES = 12  # beyond this the panel says how many more; `ivig-cds fhir map` lists them all


def mapping_panel(mapping: dict[str, Any] | None) -> Panel | None:
    """A short panel for an evaluation's ``mapping`` block; ``None`` for a patient-file input."""
    if mapping is None:
        return None
    read = ", ".join(f"{n} {k}" for k, n in mapping.get("resources_read", {}).items()) or "nothing"
    ignored = sum(mapping.get("resources_ignored", {}).values())
    later = sum(mapping.get("ignored_after_as_of", {}).values())
    lines: list[RenderableType] = [Text(f"Read: {read}")]
    extra = []
    if ignored:
        extra.append(f"{ignored} not used")
    if later:
        extra.append(f"{later} dated after as_of")
    if extra:
        lines.append(Text("Ignored: " + ", ".join(extra), style="dim"))
    for line in incomplete_lines(mapping):  # the record holds more than was evaluated: said first, in red
        lines.append(Text(line, style="bold red"))
    warnings = mapping.get("warnings", [])
    # medication warnings first: an unmapped drug changes the therapy history the rules see
    ordered = sorted(warnings, key=lambda w: (not str(w.get("resource", "")).startswith("Medication"),))
    for w in ordered[:_MAX_LINES]:
        lines.append(
            Text.from_markup(
                f"[yellow]WARNING[/yellow] {escape(str(w['resource']))} · {escape(str(w['field']))}: "
                f"{escape(str(w['message']))}"
            )
        )
    if len(ordered) > _MAX_LINES:
        lines.append(
            Text(f"… {len(ordered) - _MAX_LINES} more warning(s): ivig-cds fhir map lists them", style="dim")
        )
    title = f"FHIR mapping {mapping.get('mapping_version', '')} · {len(warnings)} warning(s)"
    border = "red" if mapping.get("incomplete") else "yellow" if warnings else "dim"
    return Panel(Group(*lines), title=title, title_align="left", border_style=border)
