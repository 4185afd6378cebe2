"""The built-in text formats: json and ndjson (the output contract) and a Markdown report."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ivig_cds.model.evaluation import Evaluation, Finding
from ivig_cds.plugins.spec import OutputFormat, hookimpl

__all__ = ["FORMATS", "register_output_formats", "render_json", "render_markdown", "render_ndjson"]


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
        f"As of {ev.as_of}{' (today, UTC)' if s.as_of_source == 'today' else ''} · {p.age_years} y {_md(p.sex)}"
        f" · {_md(p.condition)} ({_md(p.classification)}) · {p.courses_given} IVIG course(s)"
    )
    out += ["", "| status | value |", "|---|---|"]
    rows: list[tuple[str, object]] = [
        ("refractory", s.refractory),
        (
            "eligibility",
            s.eligibility + (f" ({', '.join(s.eligibility_reasons)})" if s.eligibility_reasons else ""),
        ),
        ("missing screen", ", ".join(s.missing_screen) or None),
        ("response", s.response),
        ("response level", s.response_level),
        ("total improvement score", s.total_improvement_score),
        ("latest total improvement score", s.latest_total_improvement_score),
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


FORMATS: tuple[OutputFormat, ...] = (
    OutputFormat("json", "the evaluation contract, one object per patient", render_json, "application/json",
                 _json_error, per_record=True),
    OutputFormat("ndjson", "the evaluation contract, one line per patient", render_ndjson,
                 "application/x-ndjson", _ndjson_error, per_record=True),
    OutputFormat("markdown", "a Markdown report per patient", render_markdown, "text/markdown", _md_error,
                 per_record=True),
)  # fmt: skip


@hookimpl
def register_output_formats(register: Callable[[OutputFormat], None]) -> None:
    """Register json, ndjson and markdown (a built-in plugin, through the same hook as everyone's)."""
    for fmt in FORMATS:
        register(fmt)
