"""Therapies and glucocorticoid doses from medication resources (IVIG itself: ``ivig``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from .held import plans_without_recorded_days, uncovered, unheld
from .index import Index, Item
from .ivig import (
    ENDED,
    MedicationResult,
    WeightAt,
    courses,
    discontinued,
    dosage_bounds,
    not_intravenous,
)
from .mapping import FhirMapping
from .medications import (
    DoseStep,
    MappingProblem,
    MedInfo,
    dose_steps,
    identify,
    resource_period,
    step_function,
    stopped_after,
)
from .orders import draft_order
from .records import REQUEST_INTENTS as _REQUEST_INTENTS
from .records import REQUEST_USED as _REQUEST_USED
from .records import STATEMENT_USED as _STATEMENT_USED
from .records import dose_records, fold_records, resource_outcome
from .report import ReportBuilder
from .routes import acts_locally, local_use
from .values import day_of, is_obj, reference

__all__ = ["MedicationResult", "WeightAt", "map_medications"]

_ADMIN_USED = frozenset({"completed", "in-progress", "stopped"})
_NOT_GIVEN = frozenset({"not-done", "entered-in-error"})
# statements that say the medication was, or may have been, taken (not: intended, not-taken, entered-in-error)
_TAKEN = frozenset({"active", "completed", "stopped", "on-hold", "unknown"})


def _unrecognised(item: Item, info: MedInfo, rb: ReportBuilder, field_name: str = "therapies") -> None:
    if info.conflict:
        rb.warn(item.ref, field_name, f"names several agents ({', '.join(info.conflict)}): not mapped")
    elif info.subcutaneous:
        rb.warn(
            item.ref, "ivig_courses", f"{info.subcutaneous} is subcutaneous immunoglobulin, not IVIG: not mapped"
        )
    elif info.not_ivig:
        rb.warn(item.ref, "ivig_courses", f"{info.not_ivig}, not IVIG: not mapped")
        if info.not_ivig_unsure:  # free text (or a name against the IVIG code) decided it: IVIG may be missed
            rb.incomplete("ivig_courses", item.ref)
    elif info.other_steroid:  # a steroid taken: the file would show less than was given
        rb.warn(item.ref, "glucocorticoid_doses", _OTHER_STEROID.format(info.other_steroid))
        rb.incomplete("glucocorticoid_doses", item.ref)
    else:
        rb.warn(item.ref, field_name, "medication not recognised (no mapped code or name): not mapped")


def map_medications(
    index: Index,
    items: Sequence[Item],
    drafts: Sequence[Item],
    mapping: FhirMapping,
    weight_at: WeightAt,
    current_weight: tuple[float, str] | None,
    as_of: date | None,
    rb: ReportBuilder,
    unread: Sequence[Item] = (),
) -> MedicationResult:
    """Therapies, doses and IVIG from the patient's MedicationRequest/Statement/Administration resources.

    ``unread`` are the patient's medication resources refused for a status that is not an R4 code (already
    warned and counted): each that is IVIG, a glucocorticoid or an unknown drug makes the file incomplete.
    """
    out = MedicationResult()
    gc_intervals: list[tuple[DoseStep, float]] = []
    therapies: list[tuple[dict[str, Any], list[date]]] = []
    ivig_requests: list[Item] = []
    admins: list[tuple[Item, MedInfo]] = []
    gc_given: list[tuple[Item, MedInfo]] = []  # glucocorticoid administrations (pulses): not read as doses
    gc_agents: list[tuple[str, DoseStep]] = []  # the mapped steps, by agent
    gc_given += _status_not_read(unread, index, mapping, rb)
    records = dose_records(items, index, mapping)  # statements partOf a read therapy of their drug
    parents = records.parents  # (a dose record not read - entered-in-error, local - leaves its parent unquiet)
    recorded: dict[str, list[DoseStep]] = {}  # a therapy's dose records' steps, by the therapy
    # a therapy's spans of unknown dose, known only by its records; whether it ended (an end unknown)
    unknown: list[tuple[str, date | None, date | None, bool]] = []
    unknown_stop: list[str] = []  # ended therapies whose stop day is unknown (not mapped)
    folds: list[tuple[str, Item, MedInfo, list[DoseStep]]] = []  # dose records by their therapy
    trims: dict[str, list[DoseStep]] = {}  # a dose record's own records' steps, by the record
    for item in items:
        res = item.resource
        status = res.get("status")
        if status is None and item.kind != "MedicationAdministration":  # (an administration: _maybe_given)
            rb.warn(item.ref, "(status)", "no status (R4 requires one): not read")
            rb.ignored[item.kind] += 1
            _status_not_read([item], index, mapping, rb)  # IVIG, a steroid, a drug unknown: incomplete
            continue
        if item.kind == "MedicationRequest" and status == "draft":
            drafts = [*drafts, item]
            continue
        if item.kind == "MedicationRequest" and (
            status not in _REQUEST_USED or res.get("intent") not in _REQUEST_INTENTS
        ):
            rb.ignored[item.kind] += 1
            continue
        if item.kind == "MedicationStatement" and status not in _STATEMENT_USED:
            rb.ignored[item.kind] += 1
            continue
        if item.kind == "MedicationAdministration" and status not in _ADMIN_USED:
            rb.ignored[item.kind] += 1
            if status not in _NOT_GIVEN and (pulse := _maybe_given(item, index, mapping, rb)) is not None:
                gc_given.append(pulse)  # on-hold, unknown, absent: IVIG or a pulse may have been given
            continue
        try:
            info = identify(item, index, mapping)
        except MappingProblem as exc:  # the drug cannot be known: it may be IVIG, a steroid, anything
            rb.warn(item.ref, "therapies", f"{exc.message}: not mapped")
            rb.incomplete("therapies", item.ref)
            rb.ignored[item.kind] += 1
            continue
        if info.unverified is not None:
            rb.warn(item.ref, "therapies", f"matched the unverified default code {info.unverified.label()}")
        named = info.agent or info.other_steroid
        if named is not None and (local := local_use(item, info, index, mapping)) is not None:
            # a cream, eye drops, an inhaler: neither a systemic dose nor a trial of the agent for myositis
            steroid = info.agent in mapping.glucocorticoids or info.other_steroid
            field_name = "glucocorticoid_doses" if steroid else "therapies"
            why, conflict = local
            if conflict:  # local or systemic: which one is meant is unknown
                rb.warn(item.ref, field_name, f"{named}: {why}: local or systemic is unknown, not read")
                rb.incomplete(field_name, item.ref)
            else:
                rb.warn(item.ref, field_name, f"{named} acting locally ({why}): not read")
            rb.ignored[item.kind] += 1
            continue
        if item.kind == "MedicationAdministration":
            if info.ivig:
                admins.append((item, info))
            elif info.agent is not None:
                rb.warn(
                    item.ref,
                    "glucocorticoid_doses" if info.agent in mapping.glucocorticoids else "therapies",
                    f"{info.agent} administration not read (therapies come from orders and statements)",
                )
                rb.ignored[item.kind] += 1
                if info.agent in mapping.glucocorticoids:
                    gc_given.append((item, info))
            else:
                _unrecognised(item, info, rb)
            continue
        if info.ivig:
            if not not_intravenous(item, mapping, rb, "ivig_discontinued_on"):
                ivig_requests.append(item)
            continue
        if info.agent is None:
            _unrecognised(item, info, rb)
            continue
        if info.by_name:
            rb.convert(item.ref, "therapies", f"{info.agent} recognised by name (no mapped code)")
        if status == "unknown":
            rb.warn(item.ref, "therapies", "status unknown: mapped as recorded")
        gc = info.agent in mapping.glucocorticoids
        kept: list[DoseStep] = []  # the steps mapped as doses
        steps = dose_steps(item, info, mapping, rb, need_dose=gc, quiet=item.ref in parents)
        if gc:
            factor = mapping.prednisone_equivalents[info.agent]
            if item.ref in parents:
                # the dose records say the dose on their days; on the order's other days it is unknown
                spans = (
                    [(s.start, s.end) for s in steps if s.mg_per_day is None] if steps else [resource_period(item)]
                )
                unknown += [(item.ref, start, end, status in ENDED) for start, end in spans]
            if item.ref not in parents and (not steps or any(s.mg_per_day is None for s in steps)):
                rb.incomplete("glucocorticoid_doses", item.ref)  # taken, at a dose the file will not hold
            for s in steps:
                if (
                    s.mg_per_day is not None
                    and status in ENDED
                    and (s.end is None or stopped_after(s.end, status, as_of))
                ):
                    # a stopped order without an end (or with the end it was planned to have) would read as a
                    # dose held to this day
                    when = "without an end date" if s.end is None else "with its end after as_of (a planned end)"
                    rb.warn(item.ref, "glucocorticoid_doses", f"status {status} {when}: its dose is not mapped")
                    rb.incomplete("glucocorticoid_doses", item.ref)
                elif s.mg_per_day is not None:
                    gc_intervals.append((s, s.mg_per_day * factor))
                    gc_agents.append((info.agent, s))
                    kept.append(s)
            if factor != 1 and any(s.mg_per_day is not None for s in steps):
                rb.convert(
                    item.ref, "glucocorticoid_doses", f"{info.agent} mg × {factor:g} → prednisone-equivalent mg"
                )
        root = records.root.get(item.ref)
        if root is not None:  # a dose record of the therapy at the root of its partOf chain
            if gc:  # what was taken, on its days, instead of the order's plan (a step refused: none)
                recorded.setdefault(root.ref, []).extend(kept)
                parent = records.parent[item.ref]
                if parent != root.ref:  # a record of a record: instead of that record's dose too
                    trims.setdefault(parent, []).extend(kept)
            folds.append((root.ref, item, info, steps))
            rb.used(item.kind, item.ref)
            continue
        if (not_one := records.why_not.get(item.ref)) is not None:
            rb.warn(item.ref, "therapies", f"{not_one}: read as a therapy of its own")
        therapy = _therapy(item, info, steps, mapping, rb, as_of, unknown_stop)
        if therapy is not None:
            therapies.append(therapy)
            rb.used(item.kind, item.ref)
    roots = {r.ref: r for r in records.root.values()}
    made = fold_records(
        folds, therapies, roots, mapping, rb, lambda i, m, st: _therapy(i, m, st, mapping, rb, as_of)
    )
    for stopped in unknown_stop:  # a trial that ended on a day the record does not hold (and no records tell)
        if stopped not in made:
            rb.incomplete("therapies.stop", stopped)  # a known drug: not "IVIG may be unmapped"
    out.therapies = _merge(therapies, rb)
    for order, start, end, ended in unknown:
        known = recorded.get(order, [])
        if start is None:  # no start written: the therapy ran from its first record at least
            start = min((r.start for r in known), default=None)
        if end is None and ended:  # ended, when unknown: at least to its last record (a gap between is unknown)
            if not known:
                continue
            end = None if any(r.end is None for r in known) else max(r.end for r in known if r.end is not None)
        if uncovered(start, end, known, as_of):
            rb.warn(order, "glucocorticoid_doses", _PART_RECORDED)
            rb.incomplete("glucocorticoid_doses", order)
    if recorded:
        gc_intervals = plans_without_recorded_days(gc_intervals, {**trims, **recorded})
        agent_of = {st.source: a for a, st in gc_agents}
        gc_agents = [(agent_of[st.source], st) for st, _ in gc_intervals]  # the steps the file holds
    for day, mg, source in step_function(gc_intervals, as_of, rb):
        out.glucocorticoid_doses.append(
            {
                "date": day.isoformat(),
                "prednisone_mg_per_day": round(mg, 4),
                "source": source or _gc_source(gc_intervals, day),
            }
        )
    for step, _ in gc_intervals:
        rb.used(step.source.split("/")[0], step.source)
    unheld(gc_given, gc_agents, mapping, rb)
    courses(admins, mapping, weight_at, rb, out)
    _statements_without_courses(ivig_requests, out, rb)
    out.ivig_order = draft_order(drafts, index, mapping, current_weight, rb, out)
    out.ivig_discontinued_on = discontinued(
        ivig_requests,
        rb,
        out.ivig_courses,
        planned=out.ivig_order is not None,
        as_of=as_of,
        schedule_days=mapping.ivig_schedule_days,
    )
    for item in ivig_requests:
        rb.used(item.kind, item.ref)
    for item in [*items, *drafts]:  # a Medication of the input is read when a resource read names it
        ref = reference(item.resource.get("medicationReference"))
        target = index.resolve_item(ref) if ref and not ref.startswith("#") and rb.was_used(item.ref) else None
        if target is not None and target.kind == "Medication":
            rb.used("Medication", target.ref)
    return out


_OTHER_STEROID = (
    "{}: a systemic glucocorticoid that is no patient-file agent (no prednisone equivalent in the contract):"
    " its dose is unknown, not mapped"
)
_PART_RECORDED = (
    "its dose records (statements partOf it) cover only part of its period: the dose on the other days is"
    " unknown, not mapped"
)


def _maybe_given(item: Item, index: Index, mapping: FhirMapping, rb: ReportBuilder) -> tuple[Item, MedInfo] | None:
    """An IVIG administration whose status leaves open whether it was given: not read as given, and said;
    so is one whose drug cannot be known (it may be IVIG). A systemic glucocorticoid one (a pulse) is said
    and returned: incomplete unless an order of its agent holds its day."""
    try:
        info = identify(item, index, mapping)
    except MappingProblem as exc:
        rb.warn(item.ref, "therapies", f"{exc.message}: not mapped")
        rb.incomplete("therapies", item.ref)
        return None
    status = item.resource.get("status")
    said = f"status {status}" if isinstance(status, str) else "no status"  # an R4 code: others were refused
    if info.ivig:
        rb.warn(item.ref, "ivig_courses", f"IVIG administration with {said}: not read as given")
        rb.incomplete("ivig_courses", item.ref)
    elif info.agent in mapping.glucocorticoids and not acts_locally(item, info, index, mapping):
        rb.warn(item.ref, "glucocorticoid_doses", f"{info.agent} administration with {said}: not read as given")
        return item, info
    elif info.other_steroid and not acts_locally(item, info, index, mapping):
        rb.warn(item.ref, "glucocorticoid_doses", _OTHER_STEROID.format(info.other_steroid))
        rb.incomplete("glucocorticoid_doses", item.ref)
    return None


def _status_not_read(
    items: Sequence[Item], index: Index, mapping: FhirMapping, rb: ReportBuilder
) -> list[tuple[Item, MedInfo]]:
    """Medication resources not read for a status that is not an R4 code: whether they were given (taken,
    ordered) is unknown. IVIG, a glucocorticoid order or statement, and a drug that cannot be known make the
    file incomplete; the glucocorticoid administrations are returned (incomplete unless an order holds them)."""
    pulses: list[tuple[Item, MedInfo]] = []
    for item in items:
        if item.kind == "MedicationRequest" and item.resource.get("intent") not in _REQUEST_INTENTS:
            continue  # a proposal or a plan gives no drug, whatever its status
        try:
            info = identify(item, index, mapping)
        except MappingProblem as exc:  # it may be IVIG, a steroid, anything
            rb.warn(item.ref, "therapies", f"{exc.message}: not mapped")
            rb.incomplete("therapies", item.ref)
            continue
        if info.ivig:
            field_name = "ivig_courses" if item.kind == "MedicationAdministration" else "ivig_discontinued_on"
            if not not_intravenous(item, mapping, rb, field_name, count=False):
                rb.incomplete("ivig_courses", item.ref)
        elif info.agent in mapping.glucocorticoids and not acts_locally(item, info, index, mapping):
            if item.kind == "MedicationAdministration":
                pulses.append((item, info))
            else:
                rb.incomplete("glucocorticoid_doses", item.ref)
        elif info.other_steroid and not acts_locally(item, info, index, mapping):
            rb.incomplete("glucocorticoid_doses", item.ref)
    return pulses


def _ivig_period(item: Item) -> tuple[date | None, date | None, bool]:
    """The days an IVIG statement or ended order speaks of, and whether any date was written at all."""
    res = item.resource
    if item.kind == "MedicationStatement":
        period = res.get("effectivePeriod")
        if is_obj(period):
            return day_of(period.get("start")), day_of(period.get("end")), True
        if "effectiveDateTime" in res:
            day = day_of(res.get("effectiveDateTime"))
            return day, day, True  # one moment: that day
        return None, None, False
    starts, ends = dosage_bounds(item)
    start = min(starts) if starts else day_of(res.get("authoredOn"))
    return start, max(ends) if ends else None, start is not None or "authoredOn" in res


def _statements_without_courses(requests: list[Item], out: MedicationResult, rb: ReportBuilder) -> None:
    """An IVIG MedicationStatement that says IVIG was (or may have been) taken, or an IVIG order that ended,
    with no mapped course in its days: the infusions it reports are not in ``ivig_courses``."""
    firsts = [(date.fromisoformat(c["start"]), int(c["days"])) for c in out.ivig_courses]
    spans = [(day, day + timedelta(days=n - 1)) for day, n in firsts]
    for item in requests:
        status = item.resource.get("status")
        if item.kind == "MedicationStatement":
            if status not in _TAKEN:
                continue
            what = "IVIG taken per this statement"
        elif status in ENDED:
            what = f"IVIG order {status}"
        else:
            continue
        start, end, dated = _ivig_period(item)
        if not dated:  # no date written: any mapped course may be what it speaks of
            covered = bool(spans)
        else:  # an unusable date is no date: never covered
            covered = start is not None and any(b >= start and (end is None or a <= end) for a, b in spans)
        if covered:
            continue
        rb.warn(
            item.ref,
            "ivig_courses",
            f"{what}, but no IVIG administration in its period: a {item.kind} holds no infusion days or"
            " doses, so no course is mapped",
        )
        rb.incomplete("ivig_courses", item.ref)


def _gc_source(intervals: list[tuple[DoseStep, float]], day: date) -> str:
    ended = [s for s, _ in intervals if s.end is not None and s.end + timedelta(days=1) == day]
    return sorted(s.source for s in ended)[0] if ended else intervals[0][0].source


def _therapy(
    item: Item,
    info: MedInfo,
    steps: list[DoseStep],
    mapping: FhirMapping,
    rb: ReportBuilder,
    as_of: date | None,
    unknown_stop: list[str] | None = None,
) -> tuple[dict[str, Any], list[date]] | None:
    """The therapy of a request or statement, or ``None`` (warned); an ended one whose stop day is unknown is
    added to ``unknown_stop``."""
    res = item.resource
    own_start, own_end = resource_period(item)
    start = own_start if item.kind == "MedicationStatement" and own_start else None
    if start is None:
        start = min((s.start for s in steps), default=None) or own_start
    if start is None:
        rb.warn(
            item.ref, "therapies", "no start date (effective[x], boundsPeriod.start or authoredOn): not mapped"
        )
        return None
    stop = own_end
    if stop is None and steps and all(s.end is not None for s in steps):
        stop = max(s.end for s in steps if s.end is not None)
    if res.get("status") in ENDED and (stop is None or stopped_after(stop, res.get("status"), as_of)):
        # a trial that ended on a day the record does not hold: its length, and so its failure, is unknown
        when = "without an end date" if stop is None else "with its end after as_of (a planned end)"
        rb.warn(
            item.ref, "therapies", f"status {res.get('status')} {when}: when it stopped is unknown, not mapped"
        )
        if unknown_stop is not None:
            unknown_stop.append(item.ref)
        return None
    changes = sorted({s.start for s in steps if s.start > start and (stop is None or s.start <= stop)})
    therapy = {
        "agent": info.agent,
        "start": start.isoformat(),
        "stop": stop.isoformat() if stop else None,
        "outcome": resource_outcome(res, mapping, rb, item.ref),
        "source": item.ref,
    }
    return therapy, changes


def _merge(therapies: list[tuple[dict[str, Any], list[date]]], rb: ReportBuilder) -> list[dict[str, Any]]:
    """One therapy per run of contiguous or overlapping resources of one agent (renewals are dose changes)."""
    ordered = sorted(therapies, key=lambda t: (t[0]["agent"], t[0]["start"], t[0]["source"]))
    out: list[tuple[dict[str, Any], set[date]]] = []
    for therapy, changes in ordered:
        if out and out[-1][0]["agent"] == therapy["agent"]:
            prev, prev_changes = out[-1]
            limit = date.fromisoformat(prev["stop"]) + timedelta(days=1) if prev["stop"] else None
            start = date.fromisoformat(therapy["start"])
            if limit is None or start <= limit:
                rb.convert(
                    therapy["source"],
                    "therapies",
                    f"same agent as {prev['source']}, contiguous: one therapy (its start is a dose change)",
                )
                prev_changes.update(changes)
                prev_changes.add(start)
                stops = [prev["stop"], therapy["stop"]]
                prev["stop"] = None if None in stops else max(s for s in stops if s)
                if therapy["outcome"] != "unknown":
                    prev["outcome"] = therapy["outcome"]
                continue
        out.append((dict(therapy), set(changes)))
    result = []
    for therapy, merged in sorted(out, key=lambda t: (t[0]["start"], t[0]["agent"], t[0]["source"])):
        start = date.fromisoformat(therapy["start"])
        kept = sorted(
            d for d in merged if d > start and (therapy["stop"] is None or d.isoformat() <= therapy["stop"])
        )
        if kept:
            therapy["dose_changed_on"] = [d.isoformat() for d in kept]
        result.append(therapy)
    return result
