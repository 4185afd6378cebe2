"""The output-format registry: how evaluations become text (json, ndjson, markdown, cds-hooks, rich, plugins).

A format is an :class:`OutputFormat`; :func:`builtin_formats` returns the built-in ones and
:func:`available_formats` merges in extra (plugin) formats, which is the one place the CLI resolves
``--format``. Renderers take evaluations in input order and return the whole text, ending in a newline.

The ``rich`` entry renders the console view as plain text (what ``--output FILE`` stores); at a
terminal the CLI prints that view live, in colour. It imports :mod:`ivig_cds.render` lazily so this
module never imports rich itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import FieldError
from .evaluation import Evaluation, Finding

__all__ = [
    "OutputFormat",
    "available_formats",
    "builtin_formats",
    "error_record",
    "render_json",
    "render_markdown",
    "render_ndjson",
]

Renderer = Callable[[Sequence[Evaluation]], str]


@dataclass(frozen=True)
class OutputFormat:
    """One way to write evaluations.

    Attributes:
        name: The ``--format`` value (lower case, no spaces).
        description: One line for ``--help``.
        render: Evaluations (input order) -> the complete text, ending in a newline.
        media_type: The IANA media type of the text (``application/json``, ``text/markdown``, ...).
        error: How the format writes an input that could not be evaluated (the ``error_record``
            mapping -> text); ``None``: the format has no error records (errors go to stderr only).
        per_record: ``render(a + b) == render(a) + render(b)``, so records can be written as they
            come (a long run streams); ``False`` (e.g. a format with a header): rendered in one call
            per run of evaluations between error records.
    """

    name: str
    description: str
    render: Renderer
    media_type: str = "text/plain"
    error: Callable[[Mapping[str, Any]], str] | None = None
    per_record: bool = False


def error_record(source: str, errors: Sequence[FieldError]) -> dict[str, Any]:
    """The JSON error record of an input that could not be evaluated: ``{"error": {source, errors}}``."""
    return {"error": {"source": source, "errors": [e.to_dict() for e in errors]}}


def render_json(evaluations: Sequence[Evaluation]) -> str:
    """One pretty-printed contract object per evaluation (a JSON text stream, as ``jq`` reads it)."""
    return "".join(ev.to_json() + "\n" for ev in evaluations)


def render_ndjson(evaluations: Sequence[Evaluation]) -> str:
    """One compact contract object per line."""
    return "".join(ev.to_json(indent=None) + "\n" for ev in evaluations)


def _json_error(record: Mapping[str, Any]) -> str:
    return json.dumps(record, indent=2, ensure_ascii=False) + "\n"


def _ndjson_error(record: Mapping[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------- markdown


def _md(value: object) -> str:
    """A cell value: raw, with pipes escaped so tables stay tables."""
    if value is None:
        text = "—"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _raw(value: object) -> str:
    """A fact value as JSON writes it (``true``, ``null``, ``12.5``): the values line shows raw data."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _md_finding(f: Finding) -> list[str]:
    lines = [f"- **{f.severity.upper()}** `{f.rule_id}` {_md(f.summary)}"]
    if f.detail:
        lines.append(f"  - {_md(f.detail)}")
    if f.facts:
        lines.append("  - values: " + ", ".join(f"`{k}={_raw(v)}`" for k, v in f.facts.items()))
    if f.thresholds:
        lines.append("  - thresholds: " + ", ".join(f"`{k}={_raw(v)}`" for k, v in f.thresholds.items()))
    if f.evidence:
        lines.append("  - evidence: " + "; ".join(_md(e) for e in f.evidence))
    return lines


def _md_one(ev: Evaluation) -> list[str]:
    s, p = ev.status, ev.patient
    out = [f"## Patient {_md(ev.patient_id)}", ""]
    out.append(
        f"As of {ev.as_of} · {p.age_years} y {_md(p.sex)} · {_md(p.condition)} ({_md(p.classification)}) · "
        f"{p.courses_given} IVIG course(s)"
    )
    out += ["", "| status | value |", "|---|---|"]
    rows: list[tuple[str, object]] = [
        ("refractory", s.refractory),
        (
            "eligibility",
            s.eligibility + (f" ({', '.join(s.eligibility_reasons)})" if s.eligibility_reasons else ""),
        ),
        ("response", s.response),
        ("response level", s.response_level),
        ("total improvement score", s.total_improvement_score),
        ("steroid reduction %", s.steroid_reduction_pct),
        ("steroid taper beyond 50%", s.steroid_taper_beyond_50),
        ("outcome", s.outcome),
        ("relapse alert", s.relapse_alert),
        ("months to relapse", s.months_to_relapse),
    ]
    out += [f"| {label} | {_md(value)} |" for label, value in rows]
    out += ["", "### Dose plan", ""]
    d = ev.dose_plan
    if d is None:
        out.append("No dose plan: weight not recorded.")
    else:
        out.append(
            f"{_md(d.grams_per_day)} g/day × {d.days_per_course} days every {d.interval_weeks} weeks "
            f"({_md(d.g_per_kg_per_day)} g/kg/day on {d.weight_basis} weight {_md(d.dosing_weight_kg)} kg; "
            f"{_md(d.grams_per_course)} g per course); {d.courses_in_first_phase} courses in the first phase."
        )
    clinical = [f for f in ev.findings if f.category != "data"]
    gaps = [f for f in ev.findings if f.category == "data"]
    out += ["", "### Findings", ""]
    out += [line for f in clinical for line in _md_finding(f)] or ["None."]
    if gaps:
        out += ["", "### Data gaps", ""]
        out += [f"- {f.severity} `{f.facts.get('rule', f.rule_id)}` {_md(f.summary)}" for f in gaps]
    out += ["", f"_ruleset {ev.engine.ruleset_hash[:12]} · ivig-cds {ev.engine.version} · decision support only_"]
    return out


def render_markdown(evaluations: Sequence[Evaluation]) -> str:
    """A Markdown report: one section per patient (status table, dose plan, findings, data gaps)."""
    parts = ["\n".join(_md_one(ev)) + "\n" for ev in evaluations]
    return "\n".join(parts)


def _md_error(record: Mapping[str, Any]) -> str:
    err = record["error"]
    lines = [f"## Invalid input {_md(err['source'])}", ""]
    lines += [f"- `{_md(e['loc'] or '(document)')}`: {_md(e['msg'])}" for e in err["errors"]]
    return "\n".join(lines) + "\n\n"


def _render_cds_hooks(evaluations: Sequence[Evaluation]) -> str:
    from .cards import render_cds_hooks  # lazy: the card codes are read only when the format is used

    return render_cds_hooks(evaluations)


def _render_rich_text(evaluations: Sequence[Evaluation]) -> str:
    from .render import render_text  # lazy: this module must not import rich

    return render_text(evaluations)


# ---------------------------------------------------------------- registry


def builtin_formats() -> dict[str, OutputFormat]:
    """The built-in formats, by name (a fresh dict each call)."""
    formats = [
        OutputFormat("rich", "the console view (plain text in a file)", _render_rich_text, "text/plain"),
        OutputFormat("json", "the evaluation contract, one object per patient", render_json, "application/json",
                     _json_error, per_record=True),
        OutputFormat("ndjson", "the evaluation contract, one line per patient", render_ndjson,
                     "application/x-ndjson", _ndjson_error, per_record=True),
        OutputFormat("markdown", "a Markdown report per patient", render_markdown, "text/markdown", _md_error,
                     per_record=True),
        OutputFormat("cds-hooks", "CDS Hooks 2.0 cards, one patient-view response per line", _render_cds_hooks,
                     "application/json", _ndjson_error, per_record=True),
    ]  # fmt: skip
    return {f.name: f for f in formats}


def _as_format(fmt: Any) -> OutputFormat:
    """Accept any object with the fields of :class:`OutputFormat` (e.g. a plugin's ``OutputFormatSpec``)."""
    if isinstance(fmt, OutputFormat):
        return fmt
    return OutputFormat(
        str(fmt.name),
        str(fmt.description),
        fmt.render,
        str(getattr(fmt, "media_type", "text/plain")),
        getattr(fmt, "error", None),
        bool(getattr(fmt, "per_record", False)),
    )


def available_formats(extra: Mapping[str, OutputFormat] | None = None) -> dict[str, OutputFormat]:
    """The built-in formats plus ``extra`` (e.g. from plugins), sorted by name.

    Args:
        extra: Additional formats by name (objects with the same fields are accepted). A name must
            equal its format's ``name``; built-in names cannot be replaced (a plugin cannot change
            what ``json`` means).

    Raises:
        ValueError: An extra format reuses a built-in name or is filed under another name.
    """
    formats = builtin_formats()
    for key, fmt in (extra or {}).items():
        if key != fmt.name:
            raise ValueError(f"output format filed as {key!r} is named {fmt.name!r}")
        if key in formats:
            raise ValueError(f"output format {key!r} is built in and cannot be replaced")
        formats[key] = _as_format(fmt)
    return dict(sorted(formats.items()))
