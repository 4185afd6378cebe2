"""The one value formatter of every output: message templates, the console, raw values and Markdown.

:func:`format_value` writes a value in one of four styles:

* ``message`` — inside a finding's message (``not recorded``, ``yes``/``no``, numbers to at most
  ``decimals`` places, or a ``format()`` spec such as ``.1f``); the text is data, stored as is in the
  JSON contract;
* ``display`` — for a person (``—`` for not recorded, ``yes``/``no``, numbers to at most ``decimals``
  places), with control characters made visible;
* ``raw`` — as the data holds it (``true``, ``null``, ``inadequate_response``, numbers unrounded),
  for ``explain`` and the ``values`` of a rule trace, control characters made visible;
* ``markdown`` — as Markdown text: whitespace collapsed, HTML and Markdown syntax escaped, control
  characters made visible, so patient text is shown and never interpreted.

:func:`printable` is what every human-facing output applies to patient text (a patient id, a
source path, a product name): a terminal escape such as ``\\x1b]0;…\\x07`` is shown as those
characters, never sent to the terminal. JSON output is exact and never goes through here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

__all__ = [
    "INCOMPLETE",
    "INCOMPLETE_CONSEQUENCES",
    "Style",
    "clean",
    "format_value",
    "incomplete_lines",
    "mapping_lines",
    "plural",
    "printable",
    "typeset",
]

Style = Literal["message", "display", "raw", "markdown"]

# C0 and C1 controls, DEL, line and paragraph separators, and the bidirectional overrides and
# isolates (a right-to-left override can make a file name or an id read backwards)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# HTML as entities, Markdown syntax backslash-escaped: shown, never interpreted
_MARKDOWN = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", **{c: "\\" + c for c in "\\`*_[]|~#"}})
_TYPESET = (
    (re.compile(r">="), "≥"),
    (re.compile(r"<="), "≤"),
    (re.compile(r"->"), "→"),
    (re.compile(r"\+/-"), "±"),
    (re.compile(r"(?<=\d) ?x (?=[A-Za-z(])"), " × "),
    (re.compile(r"(?<=\d)x(?= [a-z])"), "×"),
    (re.compile(r"(?<![\d.-])(\d{1,3}(?:\.\d+)?)-(\d{1,3}(?:\.\d+)?)(?![\d-])"), "\\1–\\2"),
)
_NONE = {"message": "not recorded", "display": "—", "raw": "null", "markdown": "not recorded"}


def printable(text: str) -> str:
    """``text`` with every control character written as an escape (``\\x1b``, ``\\u202e``).

    Newlines and tabs are escaped too: one value stays on one line.
    """

    def visible(m: re.Match[str]) -> str:
        code = ord(m.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _CONTROL.sub(visible, text)


def clean(value: Any) -> Any:
    """A copy of nested data (dicts, lists, tuples) with :func:`printable` applied to every string."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, Mapping):
        return {clean(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(clean(v) for v in value)
    return value


def _number(value: float, spec: str, decimals: int) -> str:
    if spec:
        try:
            return format(value, spec)
        except (ValueError, TypeError):  # a spec the value cannot take (rule files allow .Nf/.Ng/.N%): plain
            return _number(value, "", decimals)
    if isinstance(value, float):
        text = f"{value:.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{value:.0f}"
        return "0" if text == "-0" else text
    return str(value)


def format_value(
    value: object, style: Style = "display", *, spec: str = "", decimals: int = 2, none: str | None = None
) -> str:
    """A value as text in one style (see the module docstring).

    Args:
        value: Any value of a result: ``None``, a bool, a number, a string, a list or a mapping.
        style: ``message``, ``display``, ``raw`` or ``markdown``.
        spec: A ``format()`` spec for numbers (``.1f``); message and display styles.
        decimals: At most this many decimals for a float without ``spec`` (trailing zeros dropped);
            the raw style never rounds.
        none: What ``None`` reads as, instead of the style's default (``not recorded``, ``—``, ``null``).
    """
    if value is None:
        return _NONE[style] if none is None else none
    if style == "raw":
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if isinstance(value, str):
            return printable(value)
        return printable(json.dumps(list(value) if isinstance(value, tuple) else value, ensure_ascii=False))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if style == "markdown":
        if isinstance(value, float) and value.is_integer():
            text = str(int(value))
        elif isinstance(value, list | dict):
            text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        else:
            text = str(value)
        return printable(" ".join(text.split())).translate(_MARKDOWN) or "(empty)"
    if isinstance(value, int | float):
        return _number(value, spec, decimals)
    if style == "display" and isinstance(value, list | tuple):
        return ", ".join(format_value(v, style, spec=spec, decimals=decimals) for v in value)
    text = str(value)
    return text if style == "message" else printable(text)


def typeset(text: str) -> str:
    """Rule text as a person reads it: ``>=`` as ``≥``, ``->`` as ``→``, ``5-10`` as ``5–10``, ``2 x`` as ``2 ×``.

    For display only (the console, Markdown): messages in the JSON output keep the rules' own characters.
    Dates (``2024-05-10``) and rule ids (``SAFETY-011``) are left alone.
    """
    for pattern, repl in _TYPESET:
        text = pattern.sub(repl, text)
    return text


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 record``, ``2 records`` (``many`` for an irregular plural)."""
    return f"{n} {word if n == 1 else many or word + 's'}"


INCOMPLETE = "INCOMPLETE"
"""How a line of :func:`incomplete_lines` begins (cards raise their indicator on it)."""

INCOMPLETE_CONSEQUENCES = {
    "ivig_courses": (
        "IVIG given per the record is missing from the courses evaluated: IVIG-naive, the course count,"
        " response and relapse findings do not count it"
    ),
    "therapies": (
        "a medication of the record could not be identified (its Medication is not in the input, or names no"
        " drug): the therapy history, glucocorticoid doses and IVIG courses may all miss it"
    ),
    "therapies.stop": (
        "a therapy of the record ended on a day the record does not hold: its trial is not counted, so the"
        " refractory status may miss a failed agent"
    ),
    "ivig_discontinued_on": (
        "IVIG was stopped per the record on a day that could not be read: the file reads IVIG as not"
        " discontinued, and the outcome and relapse-after-stopping findings do not count the stop"
    ),
    "labs": (
        "the latest result of a lab test could not be read (a value with < or >, a unit not converted): the"
        " test's older results are left out too, so it reads as not recorded (never an old value as today's)"
    ),
    "glucocorticoid_doses": (
        "glucocorticoid doses taken per the record are missing: the steroid dose, taper and"
        " high-dose findings do not count them"
    ),
}
"""What the evaluation gets wrong when a field is incomplete (the ``mapping.incomplete`` block)."""


def incomplete_lines(mapping: Mapping[str, Any] | None) -> tuple[str, ...]:
    """One ``INCOMPLETE field: consequence (N resources)`` line per field of ``mapping.incomplete``: the record
    held more than the patient file (recognised resources that could not be mapped)."""
    block = (mapping or {}).get("incomplete") or {}
    if not isinstance(block, Mapping):
        return ()
    out = []
    for name, refs in block.items():
        n = len(refs) if isinstance(refs, list) else 0
        why = INCOMPLETE_CONSEQUENCES.get(str(name), "records of the field are missing from the evaluation")
        out.append(f"{INCOMPLETE} {name}: {why} ({n} resource{'' if n == 1 else 's'} not mapped; see below)")
    return tuple(out)


def mapping_lines(mapping: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The FHIR ``mapping`` block's incomplete fields, then its warnings, one ``Type/id (field): message``
    line each (resource references and element names only: the report holds no patient values)."""
    notes = (mapping or {}).get("warnings") or []
    return incomplete_lines(mapping) + tuple(
        f"{n.get('resource')} ({n.get('field')}): {n.get('message')}" for n in notes if isinstance(n, Mapping)
    )
