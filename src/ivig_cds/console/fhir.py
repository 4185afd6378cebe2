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


def _counts(by_type: object) -> str:
    """``3 Observation, 1 Medication`` (the counts by type, types with none left out)."""
    if not isinstance(by_type, dict):
        return ""
    return ", ".join(f"{n} {k}" for k, n in by_type.items() if n)


def mapping_panel(mapping: dict[str, Any] | None) -> Panel | None:
    """A short panel for an evaluation's ``mapping`` block; ``None`` for a patient-file input."""
    if mapping is None:
        return None
    lines: list[RenderableType] = [Text(f"Read: {_counts(mapping.get('resources_read')) or 'nothing'}")]
    extra = []
    if ignored := _counts(mapping.get("resources_ignored")):
        extra.append(f"not used {ignored}")
    if later := _counts(mapping.get("ignored_after_as_of")):
        extra.append(f"dated after as_of {later}")
    if extra:
        lines.append(Text("Ignored: " + "; ".join(extra), style="dim"))
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
