"""The console's styles and labels: severity words and colours, verdict tones, safe text (rich only here).

Severity is carried by words as well as colour (``STOP``, ``WARNING`` in capitals), so it survives
``NO_COLOR`` and plain files. :func:`safe` is the one way patient text becomes a rich ``Text``: control
characters made visible, never markup.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, Any

from rich.console import Console
from rich.text import Text

from ivig_cds.model.evaluation import SEVERITY_ORDER, Finding
from ivig_cds.model.format import printable

__all__ = [
    "BORDER",
    "ELIGIBILITY_STYLE",
    "OUTCOME_STYLE",
    "RESPONSE_STYLE",
    "SEVERITY_LABEL",
    "SEVERITY_STYLE",
    "TONE_STYLE",
    "alert_counts",
    "console_for",
    "safe",
    "worst",
]

SEVERITY_STYLE = {"stop": "bold white on red", "warning": "bold red", "advisory": "yellow", "info": "cyan"}
SEVERITY_LABEL = {"stop": " STOP ", "warning": "WARNING", "advisory": "advisory", "info": "info"}
_COUNT_WORDS = {
    "stop": ("STOP", "STOPS"),
    "warning": ("WARNING", "WARNINGS"),
    "advisory": ("advisory", "advisories"),
    "info": ("info", "info"),
}
BORDER = {"stop": "red", "warning": "red", "advisory": "yellow", "info": "blue"}
ELIGIBILITY_STYLE = {
    "eligible": "green",
    "eligible_with_precautions": "yellow",
    "screen_incomplete": "yellow",
    "not_eligible": "bold red",
    "contraindicated": "bold white on red",
}
OUTCOME_STYLE = {
    "relapse": "bold red",
    "non_responder": "bold red",
    "ivig_dependent": "yellow",
    "remission_off_therapy": "green",
    "remission_low_dose_steroid": "green",
    "sustained_response_on_therapy": "green",
}
RESPONSE_STYLE = {"responder": "green", "non_responder": "bold red", "insufficient_data": "yellow"}
TONE_STYLE = {"good": "green", "warn": "yellow", "bad": "bold red", "stop": "bold white on red", "neutral": ""}


def safe(text: object, style: str = "") -> Text:
    """Patient or rule text as a rich ``Text``: never markup, control characters shown as escapes."""
    return Text(printable(str(text)), style=style)


def worst(findings: Iterable[Finding]) -> str | None:
    """The most severe severity among ``findings`` (``None`` when there are none)."""
    return min((str(f.severity) for f in findings), key=lambda s: SEVERITY_ORDER[s], default=None)


def alert_counts(findings: Iterable[Finding]) -> Text:
    """``1 STOP · 3 WARNINGS · 2 advisories`` for the clinical findings (data gaps are counted apart)."""
    counts = {sev: 0 for sev in ("stop", "warning", "advisory")}
    for f in findings:
        if f.rule_id != "DATA-001" and str(f.severity) in counts:
            counts[str(f.severity)] += 1
    text = Text()
    for sev, n in counts.items():
        if n:
            one, many = _COUNT_WORDS[sev]
            if text:
                text.append(" · ")
            text.append(f"{n} {one if n == 1 else many}", style=SEVERITY_STYLE[sev])
    return text


def console_for(stream: IO[str], width: int | None, color: str, **kw: Any) -> Console:
    """A console on ``stream``: colour ``auto`` (a terminal, unless ``NO_COLOR``), ``always`` or ``never``."""
    return Console(
        file=stream,
        width=width,
        highlight=False,
        force_terminal=True if color == "always" else None,
        no_color={"always": False, "never": True}.get(color),
        color_system=None if color == "never" else "auto",
        **kw,
    )
