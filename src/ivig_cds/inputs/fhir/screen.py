"""Patient-file sections from Procedures, AllergyIntolerances and risk Observations: procedures, IVIG adverse
events and the risk-factor screen (absent is not false)."""

from __future__ import annotations

from datetime import date
from typing import Any

from .clinical import _STALE, ObsValue, condition_status, outcome_of, recent, risk_votes
from .index import Index, Item
from .mapping import FhirMapping, contains_words, words
from .report import ReportBuilder
from .therapy import MedicationResult
from .values import array, codeable_text, codings, first_date, is_obj, reference

__all__ = ["adverse_events", "procedures", "risk_factors"]

_OBS_DATES = ("effectiveDateTime", "effectivePeriod.start", "effectiveInstant")


def procedures(items: list[Item], table: FhirMapping, rb: ReportBuilder) -> list[dict[str, Any]]:
    out = []
    for item in items:
        pairs = list(codings(item.resource.get("code")))
        agent = next((a for a, codes in table.procedures.items() if codes.match(pairs) is not None), None)
        status = item.resource.get("status")
        if agent is None or status not in ("completed", "in-progress"):
            rb.ignored[item.kind] += 1
            continue
        start, _, _ = first_date(item.resource, "performedPeriod.start", "performedDateTime")
        if start is None:
            rb.warn(item.ref, "therapies", "no performed date: not mapped")
            continue
        end, _, _ = first_date(item.resource, "performedPeriod.end")
        stop = end if end is not None else (start if "performedDateTime" in item.resource else None)
        said = [item.resource.get("outcome"), item.resource.get("statusReason")]
        out.append(
            {
                "agent": agent,
                "start": start.isoformat(),
                "stop": stop.isoformat() if stop else None,
                "outcome": outcome_of(said, item.resource.get("reasonCode") or [], table, rb, item.ref),
                "source": item.ref,
            }
        )
        rb.used(item.kind, item.ref)
    return out


def adverse_events(
    values: list[ObsValue],
    index: Index,
    meds: MedicationResult,
    table: FhirMapping,
    rb: ReportBuilder,
) -> None:
    """Each IVIG adverse-event Observation into the course of the first infusion it is ``partOf``."""
    for o in values:
        parents = o.item.resource.get("partOf") or []
        course = None
        absent = infusion = False
        for entry in parents if isinstance(parents, list) else []:  # the first that is an infusion of a course
            target = reference(entry)
            admin = index.resolve_item(target) if target else None
            absent = absent or (target is not None and admin is None)
            infusion = infusion or (admin is not None and admin.ref in meds.ivig_given)
            if admin is not None and (course := meds.admin_course.get(admin.ref)) is not None:
                break
        if course is None and absent:  # its infusion is not in the input (a prefetch of another window?)
            rb.warn(
                o.item.ref,
                "ivig_courses.adverse_events",
                "partOf an administration that is not in the input: a reaction to IVIG not mapped",
            )
            rb.incomplete("ivig_courses", o.item.ref)
            continue
        if course is None:
            rb.warn(
                o.item.ref,
                "ivig_courses.adverse_events",
                "not linked (partOf) to a mapped IVIG course: not mapped",
            )
            if infusion:  # its infusion is in the input, its course not mapped: a reaction the file would miss
                rb.incomplete("ivig_courses", o.item.ref)
            continue
        kind = next(
            (
                table.answers["adverse_event"][c]
                for _, c in codings(o.concept)
                if c in table.answers["adverse_event"]
            ),
            None,
        )
        if kind is None and o.concept is not None and table.anaphylaxis.match(codings(o.concept)) is not None:
            kind = "anaphylaxis"  # the allergy table's anaphylaxis code (SNOMED 39579001)
        severity = None
        for comp in o.item.resource.get("component") or []:
            value = comp.get("valueCodeableConcept") if is_obj(comp) else None
            severity = severity or next(
                (table.answers["severity"][c] for _, c in codings(value) if c in table.answers["severity"]), None
            )
        if kind is None or severity is None:
            rb.warn(
                o.item.ref,
                "ivig_courses.adverse_events",
                "event type or severity not a local answer code: not mapped (the course's reactions are"
                " incomplete)",
            )
            rb.incomplete("ivig_courses", o.item.ref)  # a reaction to IVIG (anaphylaxis?) the file would miss
            continue
        meds.ivig_courses[course].setdefault("adverse_events", []).append(
            {"type": kind, "severity": severity, "source": o.item.ref}
        )
        rb.used("Observation", o.item.ref)


def risk_factors(
    conditions: list[Item],
    allergies: list[Item],
    obs: dict[str, list[ObsValue]],
    table: FhirMapping,
    as_of: date | None,
    rb: ReportBuilder,
) -> dict[str, bool]:
    votes = risk_votes(conditions, table, as_of, rb)
    window = (_OBS_DATES, as_of, table)
    for key, spec in table.risk_factors.items():
        answers = obs.get("rf:" + key)
        if not answers:
            continue
        for o in answers:
            if o.boolean is None:
                rb.warn(o.item.ref, f"risk_factors.{key}", "no valueBoolean: not mapped")
                continue
            if spec.current and not recent(o.item.resource, *window):
                rb.warn(o.item.ref, f"risk_factors.{key}", _STALE.format(table.current_days))
                continue
            votes.setdefault(key, []).append((o.boolean, o.item.ref))
            rb.used("Observation", o.item.ref)
    pregnancy = obs.get("pregnancy", [])
    if pregnancy and not recent(pregnancy[-1].item.resource, *window):
        rb.warn(pregnancy[-1].item.ref, "risk_factors.pregnant", _STALE.format(table.current_days))
    elif pregnancy:
        latest = pregnancy[-1]
        pairs = list(codings(latest.concept)) if latest.concept else []
        positive = table.pregnancy_positive.match(pairs)
        hit = positive or table.pregnancy_negative.match(pairs)
        if hit is not None:
            votes.setdefault("pregnant", []).append((positive is not None, latest.item.ref))
            if not hit.verified:
                rb.warn(
                    latest.item.ref, "risk_factors.pregnant", f"matched the unverified default code {hit.label()}"
                )
        else:
            rb.warn(latest.item.ref, "risk_factors.pregnant", "pregnancy status value not recognised: not mapped")
        rb.used("Observation", latest.item.ref)
    for item in allergies:
        _allergy(item, table, rb, votes)
    out = {}
    for key, got in sorted(votes.items()):
        values = {v for v, _ in got}
        if values == {True, False}:
            yes = sorted(ref for v, ref in got if v)[0]
            no = sorted(ref for v, ref in got if not v)[0]
            rb.warn(yes, f"risk_factors.{key}", f"asserted here and refuted by {no}: recorded as present")
        out[key] = True in values
    return out


def _allergy(item: Item, table: FhirMapping, rb: ReportBuilder, votes: dict[str, list[tuple[bool, str]]]) -> None:
    res = item.resource
    code = res.get("code")
    pairs, texts = list(codings(code)), codeable_text(code)
    ivig = table.ivig.match(pairs) is not None or any(
        table.products.lookup(t).status in ("recognised", "generic", "ambiguous") for t in texts
    )
    said = [words(t) for t in texts]  # each text split once, whatever the number of names
    # an allergen named as any human immunoglobulin ("Immune Globulins", "gamma globulin"): IV, SC or IM alike
    ivig = ivig or any(contains_words(w, n) for w in said for n in table.ig_allergy_names)
    corn = any(contains_words(w, n) for w in said for n in table.corn_names)
    if not ivig and not corn:
        rb.ignored[item.kind] += 1
        return
    verification, _ = condition_status(res)
    rb.used(item.kind, item.ref)
    if verification == "entered-in-error":
        return
    if corn:
        votes.setdefault("corn_allergy", []).append((verification != "refuted", item.ref))
    if not ivig:
        return
    if verification == "refuted":
        votes.setdefault("prior_ig_anaphylaxis", []).append((False, item.ref))
        return
    severe = False
    for reaction in res.get("reaction") or []:
        if not is_obj(reaction):
            continue
        manifest = [p for m in array(reaction.get("manifestation")) for p in codings(m)]
        if table.anaphylaxis.match(manifest) is not None or reaction.get("severity") == "severe":
            severe = True
    if severe:
        votes.setdefault("prior_ig_anaphylaxis", []).append((True, item.ref))
    else:
        rb.warn(
            item.ref,
            "risk_factors.prior_ig_anaphylaxis",
            "immunoglobulin allergy without anaphylaxis or a severe"
            " reaction recorded: prior_ig_anaphylaxis not set, review the allergy",
        )
