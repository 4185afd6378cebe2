"""CDS Hooks 2.0 cards from an evaluation: pure Python, shared by ``--format cds-hooks`` and the service.

One card per finding at ``advisory`` or above (most severe first) after one summary card (eligibility
with the screen gaps, response, taper, outcome, relapse alert, dose plan and the draft order against
it). ``stop`` is ``critical``, ``warning`` is ``warning``, anything else ``info``. Every card has a
``uuid`` stable for the same hook instance, rule and ruleset, a ``source`` naming the rule (``label``,
``url`` when a rule documentation URL is configured, ``topic`` Coding with the rule id) and
``overrideReasons`` with displays. Suggestions (``card_actions``) are made only where the action is clear: order a
missing IgA level or creatinine (a ``ServiceRequest`` create) and, for a draft IVIG order whose days
match the plan, change its daily dose to the planned grams (an update of the draft
``MedicationRequest``). Optional attributes without a value are omitted: no ``null`` and no empty
string, array or object appear anywhere except ``"cards": []``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ivig_cds.glossary import screen_item, status_word
from ivig_cds.model.format import INCOMPLETE, format_value, mapping_lines
from ivig_cds.outputs.card_actions import (
    DoseCheck,
    DraftOrder,
    card_codes,
    dose_check,
    lab_suggestions,
    num,
    override_reasons,
    prune,
)
from ivig_cds.plugins.spec import OutputFormat, hookimpl

if TYPE_CHECKING:  # annotations only
    from ivig_cds.model.evaluation import Evaluation, Finding

__all__ = [
    "HOOKS",
    "INPUT_RULE",
    "MAX_SUMMARY",
    "SUMMARY_RULE",
    "CardMeta",
    "CardOptions",
    "CardSet",
    "DraftOrder",
    "build_cards",
    "register_output_formats",
    "render_cds_hooks",
    "shorten",
    "unevaluable_cards",
]

MAX_SUMMARY = 139  # the spec: "<140 characters"
HOOKS = ("patient-view", "order-select", "order-sign")
SUMMARY_RULE = "ivig-cds-summary"
INPUT_RULE = "ivig-cds-input"
INDICATOR = {"stop": "critical", "warning": "warning", "advisory": "info", "info": "info"}
_CARDED = ("stop", "warning", "advisory")
_RANK = {"info": 0, "warning": 1, "critical": 2}
NAMESPACE = uuid.UUID("4b0d3c3e-8f6e-5a52-9a57-1d7c1b8e2f10")
_ELIGIBILITY = {
    "eligible": "eligible",
    "eligible_with_precautions": "eligible with precautions",
    "screen_incomplete": "pre-IVIG screen incomplete",
    "not_eligible": "not eligible",
    "contraindicated": "contraindicated",
}


@dataclass(frozen=True)
class CardOptions:
    """How to build the cards of one response.

    Attributes:
        hook: ``patient-view``, ``order-select`` or ``order-sign`` (sets the wording).
        hook_instance: The request's ``hookInstance``; card uuids derive from it, the rule and the ruleset.
        rule_url: Template of a rule's documentation URL with ``{rule_id}`` (``source.url``); ``None``
            leaves ``source.url`` out.
        patient_reference: ``Patient/<id>`` for the subject of suggested orders (default from the
            evaluation's patient id).
        draft_order: The draft IVIG order (order-select and order-sign).
        dose_tolerance_pct: A draft order's daily grams may differ from the plan by this much before a
            dose change is suggested.
        mapping_warnings: What the input adapter could not read (one line each, no patient values): listed
            on the summary card so an unmapped medication is never invisible.
    """

    hook: str = "patient-view"
    hook_instance: str | None = None
    rule_url: str | None = None
    patient_reference: str | None = None
    draft_order: DraftOrder | None = None
    dose_tolerance_pct: float = 5.0
    mapping_warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class CardMeta:
    """What the feedback store keeps about a card: never the patient."""

    uuid: str
    rule_id: str
    rule_version: str
    indicator: str


@dataclass(frozen=True)
class CardSet:
    """A CDS Hooks response (``{"cards": [...]}``) and the metadata of each card."""

    response: dict[str, Any]
    cards: tuple[CardMeta, ...]
    ruleset_hash: str


def shorten(text: str, limit: int = MAX_SUMMARY) -> str:
    """One line of at most ``limit`` characters, cut on a word boundary with an ellipsis."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:-–")
    return cut + "…"


def _esc(value: Any) -> str:
    """A value as markdown text: HTML and markdown syntax in patient data are shown, never interpreted."""
    return format_value(value, "markdown")


@lru_cache(maxsize=2048)
def _esc_citation(text: str) -> str:
    """A rule's citation (the same few strings on every call), escaped once."""
    return _esc(text)


def _label(value: str | None) -> str:
    return "not recorded" if value is None else value.replace("_", " ")


def _word(field: str, value: str | None) -> str:
    """A status value in the console's plain words (``insufficient_data`` -> ``cannot be scored``)."""
    return "not recorded" if value is None else status_word(field, value)


def _refractory(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "unknown (no therapy history)"}[value]


def _card_uuid(hook_instance: str, ruleset: str, key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{hook_instance}|{ruleset}|{key}"))


# ---------------------------------------------------------------- pieces


def _source(rule_id: str, rule_version: str, title: str, rule_url: str | None) -> dict[str, Any]:
    own = rule_id in (SUMMARY_RULE, INPUT_RULE)
    label = f"ivig-cds v{rule_version}" if own else f"ivig-cds {rule_id} v{rule_version}"
    source: dict[str, Any] = {
        "label": label,
        "topic": {"system": card_codes()["topic_system"], "code": rule_id, "display": title},
    }
    if rule_url:
        source["url"] = rule_url.replace("{rule_id}", rule_id)
    return source


def _screen_gaps(ev: Evaluation) -> list[str]:
    """The pre-IVIG screen fields not recorded (``status.missing_screen``, evaluation contract 1.1)."""
    return [str(p) for p in getattr(ev.status, "missing_screen", None) or []]


# ---------------------------------------------------------------- summary card


def _summary_line(ev: Evaluation, hook: str, dose: DoseCheck | None, incomplete: bool = False) -> str:
    line = _summary_text(ev, hook, dose)
    # the record holds IVIG, steroid doses or drugs that were not counted: said before the answer
    return shorten("Record incomplete (see details): " + line) if incomplete else line


def _summary_text(ev: Evaluation, hook: str, dose: DoseCheck | None) -> str:
    s = ev.status
    elig = _ELIGIBILITY.get(s.eligibility, _label(s.eligibility))
    reasons = ", ".join(s.eligibility_reasons)
    dose_part = ""
    if dose is not None and dose.differs and dose.ordered_g is not None:
        dose_part = f"; ordered {num(dose.ordered_g)} g/day, plan {num(dose.planned_g)} g/day"
    if hook == "order-sign":
        lead = {
            "contraindicated": f"Do not sign: IVIG is contraindicated ({reasons})",
            "not_eligible": f"Review before signing: IVIG is not indicated ({reasons})",
            "screen_incomplete": "Complete the pre-IVIG screen before signing",
            "eligible_with_precautions": f"Sign only with precautions ({reasons})",
        }.get(s.eligibility, "IVIG order checked: eligible")
        return shorten(lead + dose_part)
    if hook == "order-select":
        return shorten(f"IVIG order: {elig}" + (f" ({reasons})" if reasons else "") + dose_part)
    alert = "; RELAPSE ALERT" if s.relapse_alert else ""
    response, outcome = _word("response", s.response), _word("outcome", s.outcome)
    return shorten(f"IVIG: {elig}; response {response}; outcome {outcome}{alert}")


_MAX_LISTED = 10


def _listed(title: str, lines: Sequence[str]) -> list[str]:
    shown = [f"- {_esc(line)}" for line in lines[:_MAX_LISTED]]
    more = [f"- … and {len(lines) - _MAX_LISTED} more"] if len(lines) > _MAX_LISTED else []
    return ["", f"**{title}** ({len(lines)})", "", *shown, *more]


def _summary_detail(
    ev: Evaluation, gaps: Sequence[str], dose: DoseCheck | None, warnings: Sequence[str] = ()
) -> str:
    s = ev.status
    reasons = f" ({', '.join(s.eligibility_reasons)})" if s.eligibility_reasons else ""
    rows = [
        f"- **Incomplete**: {_esc(line.removeprefix(INCOMPLETE).strip())}"
        for line in warnings
        if line.startswith(INCOMPLETE)  # the record holds IVIG or steroid doses not counted below: said first
    ]
    rows.append(f"- **Eligibility**: {_esc(_ELIGIBILITY.get(s.eligibility, s.eligibility))}{reasons}")
    if gaps:
        named = (f"{_esc(screen_item(g))} (`{g.replace('`', '')}`)" for g in gaps)
        rows.append("- **Not recorded**: " + "; ".join(named))
    rows.append(f"- **Refractory**: {_refractory(s.refractory)}")
    level = f" ({_word('response_level', s.response_level)})" if s.response_level else ""
    response = _word("response", s.response) + level
    if s.total_improvement_score is not None:
        response += f", best TIS {num(s.total_improvement_score)}"
    latest = getattr(s, "latest_total_improvement_score", None)
    if latest is not None:
        response += f", latest TIS {num(latest)}"
    rows.append(f"- **Response**: {_esc(response)}")
    if s.steroid_reduction_pct is not None:
        beyond = {True: "beyond 50%", False: "not beyond 50%", None: "target not assessed"}
        rows.append(
            f"- **Steroid taper**: {num(s.steroid_reduction_pct)}% below baseline "
            f"({beyond[s.steroid_taper_beyond_50]})"
        )
    rows.append(f"- **Outcome**: {_esc(_word('outcome', s.outcome))}")
    if s.relapse_alert:
        months = f" {num(s.months_to_relapse)} months after stopping IVIG" if s.months_to_relapse else ""
        rows.append(f"- **Relapse alert**: relapse{months}")
    d = ev.dose_plan
    if d is not None:
        basis = f"{num(d.g_per_kg_per_day)} g/kg/day on {d.weight_basis} weight {num(d.dosing_weight_kg)} kg"
        phase = f"{_esc(d.courses_in_first_phase)} courses in the first phase"
        rows.append(
            f"- **Dose plan**: {num(d.grams_per_day)} g/day × {d.days_per_course} days every {d.interval_weeks} "
            f"weeks ({basis}; {num(d.grams_per_course)} g per course; {phase})"
        )
    else:
        rows.append("- **Dose plan**: none (weight not recorded)")
    if dose is not None:
        ordered = "not readable" if dose.ordered_g is None else f"{num(dose.ordered_g)} g/day"
        rows.append(f"- **Draft order**: {ordered}; {_esc(dose.note)}")
    if warnings:
        rows += _listed("Not read from the record", warnings)
    source = getattr(s, "as_of_source", None)
    when = f"As of {ev.as_of}" + (f" ({source})" if source else "")
    rows += ["", f"{when} · ruleset `{ev.engine.ruleset_hash[:12]}` · ivig-cds {ev.engine.version} · "
             "decision support only: review against the patient and the product label."]  # fmt: skip
    return "\n".join(rows)


# ---------------------------------------------------------------- finding cards


def _finding_summary(f: Finding, hook: str) -> str:
    if hook == "order-sign" and f.severity == "stop":
        return shorten("Do not sign: " + f.summary)
    if hook == "order-sign" and f.severity == "warning":
        return shorten("Before signing: " + f.summary)
    return shorten(f.summary)


def _caveat(not_read: Sequence[str]) -> str | None:
    """The line every finding card of an incomplete record begins its detail with, else ``None``: a finding
    such as "IVIG-naive" read alone must not look settled when the record holds IVIG it could not count."""
    fields = [line[len(INCOMPLETE) :].strip().split(":", 1)[0] for line in not_read if line.startswith(INCOMPLETE)]
    if not fields:
        return None
    named = ", ".join("`" + f.replace("`", "") + "`" for f in fields)
    return (
        f"**Record incomplete** ({named}): the record holds data this finding was made without"
        " (see the summary card); check the record before acting on it."
    )


def _finding_detail(f: Finding, ruleset: str, caveat: str | None = None) -> str:
    lines = [caveat, "", _esc(f.summary)] if caveat else [_esc(f.summary)]
    if f.detail:
        lines += ["", _esc(f.detail)]
    if f.facts:
        lines += ["", "**Values used**", ""] + [f"- `{k}`: {_esc(v)}" for k, v in f.facts.items()]
    if f.thresholds:
        lines += ["", "**Thresholds**", ""] + [f"- `{k}`: {_esc(v)}" for k, v in f.thresholds.items()]
    if f.dates:
        lines += ["", "**Dates**: " + ", ".join(f"{_label(k)} {_esc(v)}" for k, v in f.dates.items())]
    if f.sources:
        lines += ["", "**From**: " + ", ".join(_esc(s) for s in f.sources)]
    if f.evidence:
        lines += ["", "**Evidence**", ""] + [f"- {_esc_citation(e)}" for e in f.evidence]
    lines += ["", f"Rule {f.rule_id} v{f.rule_version} ({_esc(f.origin)}) · ruleset `{ruleset[:12]}`"]
    return "\n".join(lines)


def _finding_key(f: Finding) -> str:
    return f"{f.rule_id}:{f.facts.get('rule')}" if f.rule_id == "DATA-001" else f.rule_id


# ---------------------------------------------------------------- response


def build_cards(ev: Evaluation, options: CardOptions | None = None) -> CardSet:
    """The CDS Hooks response for one evaluation: the summary card, then one card per finding ≥ advisory.

    Args:
        ev: The evaluation.
        options: Hook, hook instance, rule documentation URL, the draft order (default: patient-view).

    Returns:
        The response and what the feedback store keeps about each card.
    """
    opts = options or CardOptions()
    ruleset = ev.engine.ruleset_hash
    instance = opts.hook_instance or str(uuid.uuid5(NAMESPACE, f"{ev.patient_id}|{ev.as_of}"))
    subject = opts.patient_reference or f"Patient/{ev.patient_id}"
    reasons = override_reasons()
    summary_uuid = _card_uuid(instance, ruleset, SUMMARY_RULE)
    dose = (
        dose_check(ev, opts.draft_order, opts.dose_tolerance_pct, summary_uuid)
        if opts.draft_order is not None
        else None
    )
    gaps = _screen_gaps(ev)
    carded = [f for f in ev.findings if f.severity in _CARDED]
    indicator = max((INDICATOR[f.severity] for f in carded), key=_RANK.__getitem__, default="info")
    if dose is not None and dose.differs and indicator == "info":
        indicator = "warning"
    not_read = opts.mapping_warnings or mapping_lines(ev.mapping)
    caveat = _caveat(not_read)
    incomplete = caveat is not None
    if indicator == "info" and incomplete:
        indicator = "warning"  # the record holds IVIG or steroid doses the evaluation could not count
    summary: dict[str, Any] = {
        "uuid": summary_uuid,
        "summary": _summary_line(ev, opts.hook, dose, incomplete),
        "indicator": indicator,
        "detail": _summary_detail(ev, gaps, dose, not_read),
        "source": _source(
            SUMMARY_RULE, ev.engine.version, "IVIG in refractory polymyositis: status", opts.rule_url
        ),
    }
    suggestions = lab_suggestions(gaps, summary_uuid, subject)
    if dose is not None and dose.suggestion is not None:
        suggestions.append(dose.suggestion)
    if suggestions:
        summary["suggestions"] = suggestions
        summary["selectionBehavior"] = "any"
    cards = [summary]
    meta = [CardMeta(summary_uuid, SUMMARY_RULE, ev.engine.version, indicator)]
    seen: dict[str, int] = {}
    for f in sorted(carded, key=lambda f: -_RANK[INDICATOR[f.severity]]):  # stable: keeps the engine's order
        key = _finding_key(f)
        seen[key] = seen.get(key, 0) + 1
        card_uuid = _card_uuid(instance, ruleset, f"{key}#{seen[key]}")
        url_rule = str(f.facts.get("rule", f.rule_id)) if f.rule_id == "DATA-001" else f.rule_id
        source = _source(f.rule_id, f.rule_version, f.title, None)
        if opts.rule_url:
            source["url"] = opts.rule_url.replace("{rule_id}", url_rule)
        cards.append(
            {
                "uuid": card_uuid,
                "summary": _finding_summary(f, opts.hook),
                "indicator": INDICATOR[f.severity],
                "detail": _finding_detail(f, ruleset, caveat),
                "source": source,
            }
        )
        meta.append(CardMeta(card_uuid, f.rule_id, f.rule_version, INDICATOR[f.severity]))
    pruned = prune(cards)  # the override reasons (constant, never empty) are added after
    assert isinstance(pruned, list) and len(pruned) == len(cards)
    response = {"cards": [{**card, "overrideReasons": reasons} for card in pruned]}
    return CardSet(response=response, cards=tuple(meta), ruleset_hash=ruleset)


def unevaluable_cards(
    problems: Sequence[tuple[str, str]], *, ruleset_hash: str, version: str, options: CardOptions | None = None
) -> CardSet:
    """The one card saying the evaluation could not run because the record lacks data it needs.

    Args:
        problems: ``(field path, message)`` of each problem (messages carry no patient values).
        ruleset_hash: The ruleset in force (for the uuid).
        version: The ivig-cds version.
        options: Hook, hook instance, rule documentation URL, mapping warnings.
    """
    opts = options or CardOptions()
    instance = opts.hook_instance or str(uuid.uuid5(NAMESPACE, "|".join(loc for loc, _ in problems)))
    card_uuid = _card_uuid(instance, ruleset_hash, INPUT_RULE)
    lines = [f"`{loc.replace('`', '') or 'record'}`: {_esc(msg)}" for loc, msg in problems]
    detail = ["IVIG decision support did not evaluate this patient: record the data below and try again.",
              "Missing data is never read as a negative.", "", *(f"- {line}" for line in lines)]  # fmt: skip
    if opts.mapping_warnings:
        detail += _listed("Not read from the record", opts.mapping_warnings)
    card = {
        "uuid": card_uuid,
        "summary": shorten("IVIG decision support could not run: the record lacks data it needs"),
        "indicator": "info" if opts.hook == "patient-view" else "warning",
        "detail": "\n".join(detail),
        "source": _source(INPUT_RULE, version, "IVIG decision support: input incomplete", opts.rule_url),
        "overrideReasons": override_reasons(),
    }
    response = prune({"cards": [card]})
    assert isinstance(response, dict)
    return CardSet(response, (CardMeta(card_uuid, INPUT_RULE, version, str(card["indicator"])),), ruleset_hash)


def render_cds_hooks(evaluations: Sequence[Evaluation]) -> str:
    """One CDS Hooks patient-view response per evaluation, one JSON document per line."""
    return "".join(
        json.dumps(build_cards(ev).response, ensure_ascii=False, sort_keys=True) + "\n" for ev in evaluations
    )


def _error_line(record: Any) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


CDS_HOOKS = OutputFormat(
    "cds-hooks",
    "CDS Hooks 2.0 cards, one patient-view response per line",
    render_cds_hooks,
    "application/json",
    _error_line,
    per_record=True,
)


@hookimpl
def register_output_formats(register: Any) -> None:
    """Register ``cds-hooks`` (a built-in plugin, through the same hook as everyone's)."""
    register(CDS_HOOKS)
