"""Medication resources: which agent or IVIG product a resource is, and the dose arithmetic EHR data needs."""

from __future__ import annotations

import bisect
import dataclasses
import heapq
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, NamedTuple

from .daily_dose import GC_FIELD, mg_doses, strength_of
from .immunoglobulins import not_ivig, scig_brand
from .index import Index, Item, unicode_text
from .mapping import Code, CodeSet, FhirMapping, contains_words, words
from .report import ReportBuilder
from .step_timing import bounds, chain, count_days, span_end
from .values import array, codeable_text, codings, day_of, is_obj, reference

__all__ = ["DoseStep", "MedInfo", "dose_steps", "identify", "step_function", "stopped_after"]

_GC_FIELD = GC_FIELD


class MappingProblem(Exception):
    """A resource that cannot make a valid patient file (raised as an InputError naming the resource)."""

    def __init__(self, item: Item, message: str) -> None:
        super().__init__(message)
        self.item = item
        self.message = message


@dataclass
class MedInfo:
    """What a medication resource is: a patient-file agent, IVIG, or neither (unrecognised). Shared between
    resources of the same medication: read-only."""

    agent: str | None = None
    ivig: bool = False
    product: str | None = None
    strength: tuple[float | None, str | None] = (None, None)  # mg per tablet, or why unknown (strength_of)
    unverified: Code | None = None
    by_name: bool = False
    conflict: list[str] = field(default_factory=list)
    subcutaneous: str | None = None
    not_ivig: str | None = None  # an immunoglobulin that is not IVIG, and why (SCIG, anti-D): reported
    not_ivig_unsure: bool = False  # said by free text alone (or against the IVIG code): incomplete
    other_steroid: str | None = None  # a systemic glucocorticoid that is no agent (triamcinolone): dose unknown
    texts: list[str] = field(default_factory=list)
    local_form: str | None = None  # a local_forms phrase of the names (a cream, eye drops): see routes.local_use
    systemic_word: str | None = None  # a systemic_words word of the names (tablet, injection)


_REFERENCE = re.compile(r"(?:[A-Za-z]+/[A-Za-z0-9\-.]{1,64}|#[A-Za-z0-9\-.]{1,64}|urn:uuid:[0-9a-fA-F\-]{36})")


def quoted(ref: str) -> str:
    """A reference as written when it has a FHIR reference's form; other text (it may be a name or a number
    typed into the field) is not echoed: warnings reach cards and logs."""
    tail = ref.rsplit("/", 2)[-2:] if "://" in ref else None
    shown = "/".join(tail) if tail else ref
    return repr(shown) if _REFERENCE.fullmatch(shown) else "(not a FHIR reference)"


def _concepts(item: Item, index: Index) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """The medication's CodeableConcepts and the Medication resources behind it (contained or referenced)."""
    res = item.resource
    concept = res.get("medicationCodeableConcept")
    if is_obj(concept):
        return [concept], []
    ref = reference(res.get("medicationReference"))
    if ref is None and "medicationReference" in res:
        raise MappingProblem(
            item,
            "medicationReference names no resource (no reference; a display is not read): the drug is unknown",
        )
    if ref is None:
        raise MappingProblem(item, "no medicationCodeableConcept or medicationReference: the drug is unknown")
    medication = index.resolve(ref, item)
    if medication is None or medication.get("resourceType") != "Medication":
        raise MappingProblem(item, f"medicationReference {quoted(ref)} is not a Medication in the input")
    code = medication.get("code")
    found: list[Mapping[str, Any]] = [code] if is_obj(code) else []
    for ingredient in array(medication.get("ingredient")):
        if not is_obj(ingredient):
            continue
        if is_obj(ingredient.get("itemCodeableConcept")):
            found.append(ingredient["itemCodeableConcept"])
        inner_ref = reference(ingredient.get("itemReference"))
        inner = _resolve_in(medication, inner_ref, index, item) if inner_ref else None
        if is_obj(inner) and is_obj(inner.get("code")):
            found.append(inner["code"])
    return found, [medication]


def _says_nothing(item: Item) -> str:
    """Why a medication that names no drug is unknown: its inline concept, or the Medication it references."""
    ref = reference(item.resource.get("medicationReference"))
    if ref is None or is_obj(item.resource.get("medicationCodeableConcept")):
        return "medicationCodeableConcept without a code or name: the drug is unknown"
    return f"medicationReference {quoted(ref)} is a Medication without a code or name: the drug is unknown"


def _resolve_in(medication: Mapping[str, Any], ref: str, index: Index, holder: Item) -> Mapping[str, Any] | None:
    if ref.startswith("#"):
        for inner in array(medication.get("contained")) + array(holder.resource.get("contained")):
            if is_obj(inner) and inner.get("id") == ref[1:]:
                return inner
        return None
    return index.resolve(ref, holder)


def identify(item: Item, index: Index, mapping: FhirMapping) -> MedInfo:
    """Recognise the agent (or IVIG) of a MedicationRequest/Statement/Administration.

    Raises:
        MappingProblem: The medication reference points to nothing in the input, or the medication has no
            code (a system and a code) and no name at all: the drug is unknown (never "not IVIG").
    """
    concept = item.resource.get("medicationCodeableConcept")
    raw = None
    if type(concept) is dict and type(coding := concept.get("coding")) is list:
        # the usual shape: an inline concept, its codings objects; keyed by its content as written
        raw = (
            concept.get("text"),
            tuple((c.get("system"), c.get("code"), c.get("display")) if type(c) is dict else c for c in coding),
        )
        try:
            known = _agent_index(mapping).by_raw.get(raw)
        except TypeError:  # an unhashable element (malformed): the full reading below
            known = raw = None
        if known is not None:
            return known
    concepts, medications = _concepts(item, index)
    pairs = [p for c in concepts for p in codings(c)]
    texts = [t for c in concepts for t in codeable_text(c) if unicode_text(t)]  # else it could not be written
    if not pairs and not texts:  # nothing a table could recognise: it may be IVIG, a steroid, anything
        raise MappingProblem(item, _says_nothing(item))
    first_text = concepts[0].get("text") if concepts else None
    if isinstance(first_text, str) and not unicode_text(first_text):
        first_text = None
    # What the codes and names say depends on them alone (orders and infusions repeat one medication):
    # decided once per table and content; the strength comes from this resource's Medication.
    key = (tuple(pairs), tuple(texts), first_text if isinstance(first_text, str) else None)
    memo = _agent_index(mapping).by_content
    info = memo.get(key)
    if info is None:
        info = _recognise(pairs, texts, concepts, mapping)
        if len(memo) > 4096:
            memo.clear()
        memo[key] = info
    if info.agent is not None and medications:
        info = dataclasses.replace(info, strength=strength_of(medications, mapping))
    elif raw is not None:
        by_raw = _agent_index(mapping).by_raw
        if len(by_raw) > 4096:
            by_raw.clear()
        by_raw[raw] = info
    return info


def _recognise(
    pairs: list[tuple[str, str]], texts: list[str], concepts: list[Mapping[str, Any]], mapping: FhirMapping
) -> MedInfo:
    """``identify`` from the medication's codes and names (the strength is left to the caller)."""
    info = MedInfo(texts=texts)
    hits: dict[str, Code] = {}
    tables = _agent_index(mapping)
    exact, prefixed = tables.exact, tables.prefixed
    for pair in pairs:
        found = exact.get(pair)
        if found is not None:
            hits.setdefault(found[0], found[1])
    for agent, codes in prefixed:  # agents with prefix codes (none by default)
        if agent not in hits:
            hit = codes.match(pairs)
            if hit is not None:
                hits[agent] = hit
    ivig_code = mapping.ivig.match(pairs)
    product = next((t for t in texts if mapping.products.lookup(t).status in ("recognised", "ambiguous")), None)
    generic = next((t for t in texts if mapping.products.lookup(t).status == "generic"), None)
    said = [words(t) for t in texts]
    brand = next(
        (t for t, w in zip(texts, said, strict=True) if any(contains_words(w, n) for n in mapping.ivig_names)),
        None,
    )
    generic = generic or brand
    other = mapping.not_ivig.match(pairs)
    sc_brand = scig_brand(said, mapping)  # an SCIG brand alone ("HyQvia") is an immunoglobulin; a route word
    # is one's only with another sign of one
    if other is not None or sc_brand or ivig_code is not None or product is not None or generic is not None:
        looked = mapping.products.lookup(product) if product else None
        if looked is not None and looked.product is not None and looked.product.route == "subcutaneous":
            info.subcutaneous = looked.product.name
            return info
        iv_product = looked is not None and looked.product is not None and looked.product.route == "intravenous"
        info.not_ivig, info.not_ivig_unsure = not_ivig(said, mapping, ivig_code, other, iv_product=iv_product)
        if info.not_ivig is not None:
            return info
        info.ivig = True
        info.unverified = ivig_code if ivig_code is not None and not ivig_code.verified else None
        text = concepts[0].get("text") if concepts else None
        info.product = text if isinstance(text, str) and text.strip() and unicode_text(text) else product
        return info
    others: dict[str, Code] = {}
    for name, codes in mapping.other_glucocorticoids.items():
        hit = codes.match(pairs)
        if hit is not None:
            others[name] = hit
    if not hits and not others:
        said = [words(t) for t in texts]
        by_name: tuple[tuple[Mapping[str, Any], dict[str, Code]], ...] = (
            (mapping.agent_names, hits),
            (mapping.other_glucocorticoid_names, others),
        )
        for table, named in by_name:
            for agent, names in table.items():
                if any(contains_words(w, n) for w in said for n in names):
                    named.setdefault(agent, Code("", ""))
                    info.by_name = True
    if len(hits) + len(others) > 1:
        info.conflict = sorted([*hits, *others])
        return info
    if hits or others:  # one agent, or one glucocorticoid the file has no agent for
        name, code = next(iter((hits or others).items()))
        if hits:
            info.agent = name
        else:
            info.other_steroid = name
        info.unverified = code if code.system and not code.verified else None
        info.local_form, info.systemic_word = form_words(texts, mapping)
    return info


def form_words(texts: list[str], mapping: FhirMapping) -> tuple[str | None, str | None]:
    """The first ``local_forms`` phrase and the first ``systemic_words`` word (table order) ``texts`` hold."""
    said = [words(t) for t in texts]
    found = []
    for table in (mapping.local_forms, mapping.systemic_words):
        found.append(next((" ".join(p) for p in table if any(contains_words(w, p) for w in said)), None))
    return found[0], found[1]


class _AgentIndex(NamedTuple):
    """A table's agent codes made fast to match, and what was recognised (each table keeps its own)."""

    exact: dict[tuple[str, str], tuple[str, Code]]  # (system, code) -> (agent, Code), exact codes
    prefixed: list[tuple[str, CodeSet]]  # the agents that have prefix codes, in table order
    by_content: dict[tuple[object, ...], MedInfo]  # (codings, names, text) -> what they say
    by_raw: dict[tuple[object, ...], MedInfo]  # an inline concept as written -> what it says


_AGENT_INDEX: dict[int, tuple[FhirMapping, _AgentIndex]] = {}


def _agent_index(mapping: FhirMapping) -> _AgentIndex:
    """The :class:`_AgentIndex` of ``mapping``, built once per table (tables are immutable)."""
    hit = _AGENT_INDEX.get(id(mapping))
    if hit is None or hit[0] is not mapping:
        index = {
            (c.system, c.code): (agent, c)
            for agent, codes in reversed(list(mapping.agents.items()))
            for c in codes.codes
            if not c.prefix
        }
        prefixed = [(a, codes) for a, codes in mapping.agents.items() if any(c.prefix for c in codes.codes)]
        if len(_AGENT_INDEX) > 32:
            _AGENT_INDEX.clear()
        hit = _AGENT_INDEX[id(mapping)] = (mapping, _AgentIndex(index, prefixed, {}, {}))
    return hit[1]


@dataclass(frozen=True)
class DoseStep:
    """One dose step of a resource: from ``start`` to ``end`` (inclusive; ``None``: open) at ``mg_per_day``."""

    start: date
    end: date | None
    mg_per_day: float | None  # of the agent itself (not yet prednisone-equivalent); None: no dose given
    source: str
    mg_per_dose: float | None = None  # one administration's mg (a monthly 1 g pulse: 1000, at 33 mg/day)


def dosages_of(item: Item) -> list[Mapping[str, Any]]:
    """The Dosage objects of a request (``dosageInstruction``) or a statement/administration (``dosage``)."""
    key = "dosageInstruction" if item.kind == "MedicationRequest" else "dosage"
    value = item.resource.get(key)
    return [d for d in value if is_obj(d)] if isinstance(value, list) else []


def stopped_after(day: date, status: object, as_of: date | None) -> bool:
    """A *stopped* order's end after ``as_of``: the end it was planned to have, not the day it stopped (which
    may be before ``as_of``). A *completed* order ran to its end: after ``as_of``, it was going on then."""
    return status == "stopped" and as_of is not None and day > as_of


def resource_period(item: Item) -> tuple[date | None, date | None]:
    """The start and end a MedicationRequest/Statement states for itself (before its dose steps)."""
    res = item.resource
    if item.kind == "MedicationStatement":
        period = res.get("effectivePeriod")
        begun = period.get("start") if is_obj(period) else None
        if begun is None:  # only an absent start falls back: an unusable one is no date
            begun = res.get("effectiveDateTime")
        return day_of(begun), day_of(period.get("end")) if is_obj(period) else None
    return day_of(res.get("authoredOn")), None


def dose_steps(
    item: Item, info: MedInfo, mapping: FhirMapping, rb: ReportBuilder, *, need_dose: bool, quiet: bool = False
) -> list[DoseStep]:
    """The dose steps of a request or statement, each placed in time; what cannot be mapped is reported.

    Args:
        need_dose: Compute mg/day (glucocorticoids); else steps only mark dose changes (dose ``None``).
        quiet: A step without a dose is expected (the doses are in statements that are ``partOf`` it).
    """
    ref = item.ref
    field_name = _GC_FIELD if need_dose else "therapies"
    own_start, own_end = resource_period(item)
    given = dosages_of(item)
    # a sequence step without a start follows the one before (its end from a duration or, for doses, a count)
    bounded = list(
        zip(given, chain(given, [bounds(d) for d in given], mapping if need_dose else None), strict=True)
    )
    for _, b in bounded:
        if b.unread or (b.span is not None and b.start is None and (len(given) > 1 or own_start is None)):
            rb.warn(
                ref,
                field_name,
                "timing.repeat.boundsDuration not read (days or weeks from a boundsPeriod.start, or from the end"
                " of the sequence step before, only): the step holds until the next one or the end",
            )
    timed = [(d, b) for d, b in bounded if b.start is not None]
    if len(bounded) > 1 and len(timed) < len(bounded):
        rb.warn(
            ref,
            field_name,
            "dose steps without timing.repeat.boundsPeriod.start (nor a sequence step before them that ends)"
            " cannot be placed in time: those steps are not mapped",
        )
        if need_dose and not quiet:  # the steps kept would read as the whole course: a taper's later doses lost
            rb.incomplete(_GC_FIELD, ref)
        bounded = timed
    raw: list[tuple[date, date | None, float | None, float | None]] = []
    for d, b in bounded:
        start, end = b.start, b.end
        if start is None and own_start is not None:  # the order's own start, as for a count: a 5-day burst
            start = own_start  # written with a boundsDuration alone ends after 5 days, not at as_of
            if end is None and b.span is not None:
                end = span_end(start, b.span)
                rb.convert(ref, field_name, "timing.repeat.boundsDuration counted from the order's own start")
        if start is None:
            continue
        if end is not None and end < start:
            rb.warn(ref, field_name, "a dose step ends before it starts: not mapped")
            continue
        timing = d.get("timing")
        repeat = timing.get("repeat") if is_obj(timing) else None
        if end is None and is_obj(repeat) and ("count" in repeat or "boundsRange" in repeat):
            days = count_days(repeat, mapping) if need_dose and "boundsRange" not in repeat else None
            if days is not None:  # a pulse of 3 doses is 3 days, not a dose held until the next step
                end = span_end(start, days)
                rb.convert(ref, _GC_FIELD, f"timing.repeat.count at its frequency: the step lasts {days} day(s)")
            elif need_dose:  # held open, a 1 g pulse would read as 1 g a day to this day
                rb.warn(ref, _GC_FIELD, "timing.repeat.count/boundsRange not read: the step is not mapped")
                if not quiet:
                    rb.incomplete(_GC_FIELD, ref)
                continue
            else:
                rb.warn(
                    ref,
                    "therapies",
                    "timing.repeat.count/boundsRange not read: the step holds until the next one or the end",
                )
        per_dose, per_day = mg_doses(d, info.strength, mapping, rb, ref, quiet) if need_dose else (None, None)
        raw.append((start, end, per_day, per_dose))
    if need_dose and not quiet and not given and own_start is not None:
        rb.warn(ref, _GC_FIELD, "no dosage: the glucocorticoid dose is not recorded")
    raw.sort(key=lambda s: (s[0], s[1] or date.max))
    starts = [s for s, _, _, _ in raw]
    steps: list[DoseStep] = []
    for start, end, mg, per_dose in raw:
        if end is None:  # an open step holds until the resource's next (later) step, else the resource's end
            k = bisect.bisect_right(starts, start)
            later = starts[k] if k < len(starts) else None
            end = later - timedelta(days=1) if later is not None else own_end
        steps.append(DoseStep(start, end, mg, ref, per_dose))
    return steps


_MORE_OVERLAPS = "more overlapping glucocorticoid doses than the notes name: all are added"
_OVERLAP_NOTES = 100
"""Overlap warnings named per mapping; beyond them one note says there are more (a record of thousands of
overlapping orders must not cost thousands squared)."""


def step_function(
    intervals: Iterable[tuple[DoseStep, float]], as_of: date | None, rb: ReportBuilder
) -> list[tuple[date, float, str]]:
    """The prednisone-equivalent step function of overlapping dose intervals: ``(date, mg/day, source)``.

    Each interval holds from its start to its end (inclusive); an open interval of a resource holds until
    that resource's next step. The dose on a day is the sum of the intervals covering it (added in start
    order), ``source`` the first (sorted) resource of them, ``""`` when none covers the day; intervals of
    different resources that overlap are summed and reported. A sweep: each interval enters and leaves once.
    """
    spans = sorted(intervals, key=lambda x: (x[0].start, x[0].source))
    points: set[date] = set()
    leaving: set[date] = set()  # days after an interval's last day
    for step, _ in spans:
        points.add(step.start)
        if step.end is not None:
            points.add(step.end + timedelta(days=1))
            leaving.add(step.end + timedelta(days=1))
    out: list[tuple[date, float, str]] = []
    reported: set[tuple[str, str]] = set()
    counts: dict[str, int] = {}  # active intervals per resource
    first: list[str] = []  # a heap of active resources (stale entries skipped)
    notes = 0
    nxt = 0
    total = 0.0
    active: list[int] = []  # indexes into spans, in spans order (the order doses are added in)
    for day in sorted(points):
        if as_of is not None and day > as_of:
            break
        left = day in leaving
        if left:
            kept = []
            for j in active:
                end = spans[j][0].end
                if end is None or day <= end:
                    kept.append(j)
                else:
                    counts[spans[j][0].source] -= 1
            active = kept
        started = []
        while nxt < len(spans) and spans[nxt][0].start <= day:
            step, mg = spans[nxt]
            if step.end is None or day <= step.end:
                active.append(nxt)
                started.append(step.source)
                if counts.get(step.source, 0) == 0:
                    heapq.heappush(first, step.source)
                counts[step.source] = counts.get(step.source, 0) + 1
                total += mg
            nxt += 1
        if left:
            total = sum(spans[j][1] for j in active)  # recomputed after a removal: no drift
        while first and counts.get(first[0], 0) == 0:
            heapq.heappop(first)
        if notes < _OVERLAP_NOTES:
            for new in sorted(set(started)):  # pairs first met today
                for other in counts:
                    if other == new or counts[other] == 0:
                        continue
                    pair = (min(new, other), max(new, other))
                    if pair in reported:
                        continue
                    reported.add(pair)
                    notes += 1
                    rb.warn(pair[0], _GC_FIELD, f"overlaps {pair[1]}: the two glucocorticoid doses are added")
                    if notes >= _OVERLAP_NOTES:
                        rb.warn(spans[0][0].source, _GC_FIELD, _MORE_OVERLAPS)
                        break
                if notes >= _OVERLAP_NOTES:
                    break
        out.append((day, total if active else 0, first[0] if first else ""))
    return out
