"""CDS Hooks 2.0 cards from ivig-cds findings: ``ivig-cds evaluate FILE --format cds-hooks``.

One CDS Hooks response (``{"cards": [...]}``) per evaluation, one JSON document per line.
Each card follows the CDS Hooks 2.0 card schema:

* ``summary`` — one sentence, at most 140 characters (cut on a word boundary with "…");
* ``indicator`` — ``critical`` for ``stop``, ``warning`` for ``warning``, ``info`` otherwise;
* ``source`` — ``label`` (ivig-cds, rule id and version) and, when the first citation has one, ``url``;
* ``detail`` — GitHub-flavoured markdown with the finding's detail, values, thresholds and evidence;
* ``uuid`` — deterministic (UUID v5 of patient, as-of date, ruleset and finding), so the same
  evaluation always gives the same cards and feedback can be matched to them.

Optional attributes without a value are omitted, never ``null``. ``info`` findings are left out
(they describe, they do not advise); a summary card with the status comes first. No advice
gives ``{"cards": []}``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from ivig_cds import Evaluation, Finding, hookimpl
from ivig_cds.plugins import OutputFormatSpec

__version__ = "0.1.0"
__all__ = ["MAX_SUMMARY", "cards_for", "render"]

MAX_SUMMARY = 140
INDICATOR = {"stop": "critical", "warning": "warning", "advisory": "info", "info": "info"}
NAMESPACE = uuid.UUID("4b0d3c3e-8f6e-5a52-9a57-1d7c1b8e2f10")


def _summary(text: str) -> str:
    if len(text) <= MAX_SUMMARY:
        return text
    cut = text[: MAX_SUMMARY - 1].rsplit(" ", 1)[0].rstrip(",;:-")
    return cut + "…"


def _value(v: Any) -> str:
    if v is None:
        return "not recorded"
    return json.dumps(v) if isinstance(v, (list, dict, bool)) else str(v)


def _detail(f: Finding) -> str:
    lines = [f.summary]
    if f.detail:
        lines += ["", f.detail]
    if f.facts:
        lines += ["", "**Values used**", ""] + [f"- `{k}`: {_value(v)}" for k, v in f.facts.items()]
    if f.thresholds:
        lines += ["", "**Thresholds**", ""] + [f"- `{k}`: {_value(v)}" for k, v in f.thresholds.items()]
    if f.sources:
        lines += ["", "**From**: " + ", ".join(f"`{s}`" for s in f.sources)]
    lines += ["", "**Evidence**", ""] + [f"- {e}" for e in f.evidence]
    return "\n".join(lines)


def _url(f: Finding) -> str | None:
    for e in f.evidence:
        for word in e.split():
            if word.startswith(("https://", "http://")):
                return word.rstrip(").,;")
    return None


def _card(ev: Evaluation, f: Finding, key: str) -> dict[str, Any]:
    card: dict[str, Any] = {
        "uuid": str(uuid.uuid5(NAMESPACE, f"{ev.patient_id}|{ev.as_of}|{ev.engine.ruleset_hash}|{key}")),
        "summary": _summary(f.summary),
        "indicator": INDICATOR[f.severity],
        "detail": _detail(f),
        "source": {"label": f"ivig-cds {f.rule_id} v{f.rule_version}"},
    }
    url = _url(f)
    if url:
        card["source"]["url"] = url
    return card


def _status_card(ev: Evaluation) -> dict[str, Any]:
    s = ev.status
    summary = _summary(
        f"IVIG eligibility: {s.eligibility.replace('_', ' ')}; response: {s.response.replace('_', ' ')}; "
        f"outcome: {s.outcome.replace('_', ' ')}"
    )
    rows = [f"- **{k.replace('_', ' ')}**: {_value(v)}" for k, v in s.model_dump(mode="json").items()]
    if ev.dose_plan is not None:
        d = ev.dose_plan
        rows.append(
            f"- **dose plan**: {d.grams_per_day:g} g/day × {d.days_per_course} days "
            f"every {d.interval_weeks} weeks ({d.weight_basis} weight {d.dosing_weight_kg:g} kg)"
        )
    worst = min(
        (f.severity for f in ev.findings), key=["stop", "warning", "advisory", "info"].index, default="info"
    )
    return {
        "uuid": str(uuid.uuid5(NAMESPACE, f"{ev.patient_id}|{ev.as_of}|{ev.engine.ruleset_hash}|status")),
        "summary": summary,
        "indicator": INDICATOR[worst],
        "detail": "\n".join(
            [*rows, "", f"Ruleset `{ev.engine.ruleset_hash[:12]}`, ivig-cds {ev.engine.version}."]
        ),
        "source": {"label": "ivig-cds status"},
    }


def cards_for(ev: Evaluation) -> dict[str, Any]:
    """The CDS Hooks response for one evaluation: ``{"cards": [...]}``."""
    advice = [f for f in ev.findings if f.severity != "info"]
    if not advice:
        return {"cards": []}
    cards = [_status_card(ev)]
    for i, f in enumerate(advice):
        cards.append(_card(ev, f, f"{f.rule_id}|{i}|{f.summary}"))
    return {"cards": cards}


def render(evaluations: Sequence[Evaluation]) -> str:
    """One CDS Hooks response per evaluation, one JSON document per line."""
    return "".join(json.dumps(cards_for(ev), ensure_ascii=False, sort_keys=True) + "\n" for ev in evaluations)


@hookimpl
def register_output_formats(register: Callable[[OutputFormatSpec], None]) -> None:
    register(
        OutputFormatSpec(
            "cds-hooks",
            "CDS Hooks 2.0 cards (one response per line)",
            render,
            "application/json",
            error=lambda record: json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n",
            per_record=True,
        )
    )
