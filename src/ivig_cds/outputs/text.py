"""The built-in text formats: json and ndjson (the output contract) and a Markdown report."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ivig_cds.glossary import level_word, status_word, threshold_text, value_text
from ivig_cds.model.evaluation import Evaluation, Finding
from ivig_cds.model.format import format_value, mapping_lines, typeset
from ivig_cds.plugins.spec import OutputFormat, hookimpl
from ivig_cds.verdict import courses_given, eligibility_groups, plan_note, verdict

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
    """A value as Markdown text (patient text shown, never interpreted)."""
    return format_value(value, "markdown", none="—")


def _md_text(text: str) -> str:
    """Rule text (with patient values in it) as Markdown, typeset for reading."""
    return _md(typeset(text))


def _md_finding(f: Finding, keys: dict[str, str]) -> list[str]:
    lines = [f"- **{f.severity.upper()}** `{f.rule_id}` {_md_text(f.summary)}"]
    if f.detail:
        lines.append(f"  - {_md_text(f.detail)}")
    if f.facts and f.rule_id != "PLUGIN-001":
        lines.append("  - values: " + _md(", ".join(value_text(k, v) for k, v in f.facts.items())))
    if f.thresholds:
        lines.append("  - thresholds: " + _md(", ".join(threshold_text(k, v) for k, v in f.thresholds.items())))
    if f.sources:
        lines.append("  - from: " + _md(", ".join(f.sources)))
    if f.evidence:
        cited = []
        for e in f.evidence:
            key, _, text = e.partition("] ")
            key = key.lstrip("[")
            keys.setdefault(key, text)
            cited.append(f"[{_md(key)}]")
        lines.append("  - evidence: " + ", ".join(cited))
    return lines


def _md_status(ev: Evaluation) -> list[str]:
    s = ev.status
    reasons = f" ({', '.join(s.eligibility_reasons)})" if s.eligibility_reasons else ""
    rows: list[tuple[str, str]] = [
        ("refractory", _md(s.refractory)),
        ("eligibility", _md(status_word("eligibility", s.eligibility) + reasons)),
    ]
    rows += [(f"— {level_word(level)}", _md("; ".join(r))) for level, r in eligibility_groups(ev)]
    response = status_word("response", s.response)
    if s.response_level:
        response += f", {status_word('response_level', s.response_level)}"
    rows += [
        ("response", _md(response)),
        ("best total improvement score", _md(s.total_improvement_score)),
        ("latest total improvement score", _md(s.latest_total_improvement_score)),
        (
            "steroid reduction since course 1",
            _md(s.steroid_reduction_pct) + ("%" if s.steroid_reduction_pct is not None else ""),
        ),
        ("steroid taper beyond 50%", _md(s.steroid_taper_beyond_50)),
        ("outcome", _md(status_word("outcome", s.outcome))),
        ("relapse alert", _md(s.relapse_alert)),
        ("months to relapse", _md(s.months_to_relapse)),
    ]
    return ["| status | value |", "|---|---|", *(f"| {label} | {value} |" for label, value in rows)]


def _md_one(ev: Evaluation) -> list[str]:
    s, p = ev.status, ev.patient
    out = [f"## Patient {_md(ev.patient_id)}", ""]
    today = " (today, UTC)" if s.as_of_source == "today" else ""
    courses = courses_given(ev)
    out.append(
        f"As of {ev.as_of}{today} · {p.age_years} y {_md(p.sex)} · {_md(p.condition.replace('_', ' '))}"
        f" ({_md(p.classification)}) · {courses}"
    )
    out.append("")
    out += [f"- **{line.label}** {_md(line.text)}" for line in verdict(ev).lines]
    out += ["", *_md_status(ev), ""]
    note = plan_note(ev)
    out += ["### Dose plan" + (f" ({_md(note.title)})" if note.title else ""), ""]
    d = ev.dose_plan
    if d is None:
        out.append("No dose plan: weight not recorded.")
    else:
        phase = f"; {_md(typeset(note.phase))}" if note.phase else ""
        out.append(
            f"{_md(d.grams_per_day)} g/day × {d.days_per_course} days every {d.interval_weeks} weeks "
            f"({_md(d.g_per_kg_per_day)} g/kg/day on {d.weight_basis} weight {_md(d.dosing_weight_kg)} kg; "
            f"{_md(d.grams_per_course)} g per course){phase}."
        )
    clinical = [f for f in ev.findings if f.rule_id != "DATA-001"]
    keys: dict[str, str] = {}
    out += ["", "### Findings", ""]
    out += [line for f in clinical for line in _md_finding(f, keys)] or ["None."]
    if ev.data_gaps:
        out += ["", "### Data gaps (missing is not “no”: record and re-evaluate)", ""]
        out += [f"- `{_md(f.facts.get('rule', f.rule_id))}` {_md_text(f.summary)}" for f in ev.data_gaps]
    if ev.mapping and ev.mapping.get("warnings"):  # FHIR input: what the record held that was not read
        out += ["", "### Not read from the record (FHIR mapping warnings)", ""]
        out += [f"- {_md_text(line)}" for line in mapping_lines(ev.mapping)]
    if keys:
        out += ["", "### Evidence", ""]
        out += [f"- [{_md(k)}] {_md_text(text)}" for k, text in sorted(keys.items())]
    out += ["", f"_ruleset {ev.engine.ruleset_hash[:12]} · ivig-cds {ev.engine.version} · decision support only_"]
    return out


def render_markdown(evaluations: Sequence[Evaluation]) -> str:
    """A Markdown report: one section per patient (verdict, status, dose plan, findings, data gaps, evidence)."""
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
