"""IVIG from medication resources: courses from administrations, the stop date, the draft order."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from .index import Index, Item
from .infusions import one_record_each
from .mapping import FhirMapping
from .medications import MappingProblem, MedInfo, dosages_of, identify, resource_period, stopped_after
from .report import ReportBuilder
from .values import codings, first_date, is_obj, quantity

__all__ = [
    "ENDED",
    "MedicationResult",
    "WeightAt",
    "courses",
    "discontinued",
    "dosage_bounds",
    "identify_into",
    "not_intravenous",
]

WeightAt = Callable[[date], tuple[float, str] | None]
"""The latest body weight (kg, source) on or before a date."""

ENDED = frozenset({"completed", "stopped"})
_RATE_FIELD = "ivig_courses.max_rate_mg_kg_min"
_MAX_COURSE_DAYS = 5


@dataclass
class MedicationResult:
    """Patient-file pieces built from medication resources (records carry ``source``)."""

    therapies: list[dict[str, Any]] = field(default_factory=list)
    glucocorticoid_doses: list[dict[str, Any]] = field(default_factory=list)
    ivig_courses: list[dict[str, Any]] = field(default_factory=list)
    ivig_discontinued_on: str | None = None
    ivig_order: dict[str, Any] | None = None
    admin_course: dict[str, int] = field(default_factory=dict)  # MedicationAdministration ref -> course index
    ivig_given: set[str] = field(default_factory=set)  # the IVIG administrations read (a course or not)
    problems: list[MappingProblem] = field(default_factory=list)


def identify_into(item: Item, index: Index, mapping: FhirMapping, out: MedicationResult) -> MedInfo | None:
    try:
        return identify(item, index, mapping)
    except MappingProblem as exc:
        out.problems.append(exc)
        return None


def not_intravenous(
    item: Item, mapping: FhirMapping, rb: ReportBuilder, field_name: str, *, count: bool = True
) -> bool:
    """Whether an IVIG resource's route says it is not intravenous (then warned and, with ``count``, counted
    as ignored).

    A route the table lists as intravenous, or no route, is IVIG as its medication says; a route the table
    does not list is read the same way and warned (a site adds its route codes to ``routes``).
    """
    element = "dosageInstruction.route" if item.kind == "MedicationRequest" else "dosage.route"
    dosage = item.resource.get("dosage")
    found: set[str] = set()
    unlisted = False
    for d in [dosage] if item.kind == "MedicationAdministration" else dosages_of(item):
        if not is_obj(d) or "route" not in d:
            continue
        pairs = codings(d["route"])
        hits = {name for name, codes in mapping.routes.items() if codes.match(pairs) is not None}
        unlisted = unlisted or not hits
        found |= hits
    other = sorted(found - {"intravenous"})
    if other:
        rb.warn(item.ref, field_name, f"{element} is {'/'.join(other)}, not intravenous: not IVIG, not mapped")
        if count:
            rb.ignored[item.kind] += 1
        return True
    if unlisted:
        rb.warn(
            item.ref,
            field_name,
            f"{element} is not a route of the mapping table: read as intravenous, as the medication says",
        )
    return False


def _admin_day(item: Item) -> date | None:
    return item.day()[0]  # effectiveDateTime, else effectivePeriod.start


def courses(
    admins: list[tuple[Item, MedInfo]],
    mapping: FhirMapping,
    weight_at: WeightAt,
    rb: ReportBuilder,
    out: MedicationResult,
) -> None:
    """IVIG courses: administrations on consecutive days are one course; grams ÷ the weight before the course."""
    per_day: dict[date, list[tuple[Item, MedInfo]]] = {}
    out.ivig_given.update(item.ref for item, _ in admins)
    for item, info in admins:
        if not_intravenous(item, mapping, rb, "ivig_courses"):
            continue
        day = _admin_day(item)
        if day is None:
            rb.warn(item.ref, "ivig_courses", "no effective date: not mapped")
            rb.incomplete("ivig_courses", item.ref)
            continue
        if item.resource.get("status") == "stopped":
            rb.warn(item.ref, "ivig_courses", "infusion stopped early: the recorded dose is used")
        per_day.setdefault(day, []).append((item, info))
    repeats: dict[date, list[str]] = {}  # a day's records of an infusion read already
    doubtful: set[date] = set()  # days whose dose is unknown (records that may be one infusion)
    for day, group in per_day.items():  # a day's administrations by the time written, then reference: the
        group.sort(key=lambda g: (str(_admin_time(g[0])), g[0].ref))  # input order never decides
        if len(group) > 1:
            per_day[day], repeats[day], unknown = one_record_each(group, rb)
            if unknown:
                doubtful.add(day)
    days = sorted(per_day)
    runs: list[list[date]] = []
    for day in days:
        if runs and day == runs[-1][-1] + timedelta(days=1):
            runs[-1].append(day)
        else:
            if runs and (day - runs[-1][-1]).days <= _CLOSE_DAYS:
                rb.warn(
                    per_day[day][0][0].ref,
                    "ivig_courses",
                    f"{(day - runs[-1][-1]).days - 1} day(s) without infusion since the previous infusion day:"
                    " read as a new course (one course with a pause, or a day recorded in another time zone?)",
                )
            runs.append([day])
    for run in runs:
        first = per_day[run[0]][0][0]
        refs = [i.ref for d in run for i, _ in per_day[d]] + [r for d in run for r in repeats.get(d, ())]
        if any(d in doubtful for d in run):
            _not_counted(refs, rb)
            continue
        if len(run) > _MAX_COURSE_DAYS:
            rb.warn(
                first.ref, "ivig_courses", f"{len(run)} consecutive infusion days (a course holds 1-5): not mapped"
            )
            _not_counted(refs, rb)
            continue
        weight = weight_at(run[0])
        daily: list[float] = []
        rates: list[float] = []
        unusable = rate_unknown = rate_absent = False
        for day in run:
            total = 0.0
            for item, _ in per_day[day]:
                dose = _admin_dose(item, mapping, weight, rb)
                if dose is None:
                    unusable = True
                    break
                total += dose
                dosage = item.resource.get("dosage")
                rate, problem = _rate(
                    dosage.get("rateQuantity") if is_obj(dosage) else None, mapping, "dosage.rateQuantity"
                )
                if rate is not None:
                    rates.append(rate)
                elif problem is not None:
                    rb.warn(item.ref, _RATE_FIELD, problem)
                    rate_unknown = True
                elif is_obj(dosage) and "rateRatio" in dosage:
                    rb.warn(item.ref, _RATE_FIELD, "rate given as a ratio (e.g. mL/min): not mapped")
                    rate_unknown = True
                else:
                    rate_absent = True
            daily.append(total)
        if unusable:
            _not_counted(refs, rb)
            continue
        if rate_unknown and rates:
            # the fastest known rate is not the course's maximum when another rate is unknown
            rb.warn(
                first.ref, _RATE_FIELD, "a rate of the course could not be read: the maximum rate is not recorded"
            )
            rates = []
        if rate_absent and rates:  # another infusion of the course may have run faster
            rb.warn(
                first.ref, _RATE_FIELD, "an infusion of the course has no rate: the maximum rate is not recorded"
            )
            rates = []
        dose = sum(daily) / len(daily)
        if len(set(round(d, 6) for d in daily)) > 1:
            rb.warn(first.ref, "ivig_courses", "daily doses differ within the course: their mean is recorded")
        # the mean, and each day's upper bound: a 3 g/kg day is not hidden in a mean (a short day - an infusion
        # stopped early - keeps its course)
        if not 0.1 <= dose <= 2.0 or any(d > 2.0 * (1 + 1e-9) for d in daily):
            rb.warn(first.ref, "ivig_courses", "daily dose outside 0.1-2.0 g/kg: not mapped")
            _not_counted(refs, rb)
            continue
        products = [info.product for d in run for _, info in per_day[d] if info.product]
        if len(set(products)) > 1:
            rb.warn(
                first.ref, "ivig_courses.product", "different products within one course: the first is recorded"
            )
        course: dict[str, Any] = {
            "start": run[0].isoformat(),
            "days": len(run),
            "dose_g_per_kg_per_day": round(dose, 6),
            "source": first.ref,
        }
        if products:
            course["product"] = products[0]
        if rates:
            course["max_rate_mg_kg_min"] = max(rates)
        for ref in refs:
            out.admin_course[ref] = len(out.ivig_courses)
            rb.used("MedicationAdministration", ref)
        out.ivig_courses.append(course)


_CLOSE_DAYS = 3
"""Infusion days this close (1-2 days without infusion between) are warned: a pause, or a time zone?"""


def _admin_time(item: Item) -> object:
    res = item.resource
    period = res.get("effectivePeriod")
    return res.get("effectiveDateTime") or (period.get("start") if is_obj(period) else None) or ""


def _not_counted(refs: list[str], rb: ReportBuilder) -> None:
    """The administrations of a run that makes no course: IVIG was given, and the file will not show it."""
    for ref in refs:
        rb.incomplete("ivig_courses", ref)


def _admin_dose(
    item: Item, mapping: FhirMapping, weight: tuple[float, str] | None, rb: ReportBuilder
) -> float | None:
    dosage = item.resource.get("dosage")
    q = quantity(dosage.get("dose")) if is_obj(dosage) else None
    if q is None or isinstance(q, str) or q.comparator:
        rb.warn(item.ref, "ivig_courses", "no usable dosage.dose: the course is not mapped")
        return None
    per_kg = mapping.unit("dose_g_per_kg").convert(q.value, q.unit)
    if per_kg is not None:
        return per_kg
    grams = mapping.unit("dose_g").convert(q.value, q.unit)
    if grams is None:
        rb.warn(
            item.ref,
            "ivig_courses",
            f"dose unit {str(q.unit)[:32]!r} is not grams or g/kg: the course is not mapped",
        )
        return None
    if weight is None:
        rb.warn(
            item.ref,
            "ivig_courses",
            f"dose in grams but no body weight on or before the course (within {mapping.course_weight_days} days"
            " before it): not mapped",
        )
        return None
    rb.convert(item.ref, "ivig_courses", f"grams ÷ body weight of {weight[1]} → g/kg")
    return grams / weight[0]


def _rate(value: object, mapping: FhirMapping, element: str) -> tuple[float | None, str | None]:
    """A rate in mg/kg/min, or why the rate given cannot be read (``(None, None)``: no rate given)."""
    q = quantity(value)
    if q is None:
        return None, None
    if isinstance(q, str) or q.comparator:
        return None, f"{element} without a usable value: not mapped"
    rate = mapping.unit("rate_mg_kg_min").convert(q.value, q.unit)
    if rate is None:
        return None, (
            f"{element} unit {str(q.unit)[:32]!r} is not convertible to mg/kg/min"
            " (a volume rate needs the concentration and the weight): not mapped"
        )
    if rate <= 0:
        return None, f"{element} is not a positive rate: not mapped"
    return rate, None


def dosage_bounds(item: Item) -> tuple[list[date], list[date]]:
    """The readable ``timing.repeat.boundsPeriod`` starts and ends of a request's or statement's dosages."""
    starts: list[date] = []
    ends: list[date] = []
    for d in dosages_of(item):  # a request's dosageInstruction, a statement's dosage
        begun, _, _ = first_date(d, "timing.repeat.boundsPeriod.start")
        ended, _, _ = first_date(d, "timing.repeat.boundsPeriod.end")
        starts += [begun] if begun is not None else []
        ends += [ended] if ended is not None else []
    return starts, ends


def discontinued(
    requests: list[Item],
    rb: ReportBuilder,
    courses: Sequence[Mapping[str, Any]] = (),
    *,
    planned: bool = False,
    as_of: date | None = None,
    schedule_days: int = 42,
) -> str | None:
    """The latest end of a stopped/completed IVIG order or statement, unless IVIG goes on after it: an IVIG
    order or statement active from that day or later, or the schedule kept - the next course (or, with
    none after it, a draft order at ``as_of``) at most ``schedule_days`` after the course before (an order
    per course, completed after it, is no discontinuation). A next course after a longer gap is a restart:
    the end stays the discontinuation."""
    stops: list[tuple[date, str]] = []
    active: list[date] = []
    unknown: list[tuple[date | None, str]] = []  # (start, ref) of orders stopped on a day not read: no end,
    # or an end after as_of (a plan, not the stop)
    for item in requests:
        start, end = resource_period(item)
        bounds = dosage_bounds(item)[1]
        end = end or (max(bounds) if bounds else None)
        status = item.resource.get("status")
        if status in ENDED:
            if end is not None and stopped_after(end, status, as_of):
                rb.warn(
                    item.ref,
                    "ivig_discontinued_on",
                    f"IVIG {item.kind} stopped with its end after as_of (the planned end, not the day it"
                    " stopped): the day IVIG stopped is unknown, ivig_discontinued_on not recorded",
                )
                unknown.append((start, item.ref))
            elif end is not None and as_of is not None and end > as_of:  # completed later: going on at as_of
                rb.convert(
                    item.ref, "ivig_discontinued_on", "IVIG order completed after as_of: not stopped at as_of"
                )
                active.append(as_of)
            elif end is None:
                rb.warn(
                    item.ref,
                    "ivig_discontinued_on",
                    f"IVIG {item.kind} {status} without an end date: ivig_discontinued_on not recorded",
                )
                if status == "stopped":  # said stopped (a completed order may be one order per course)
                    unknown.append((start, item.ref))
            else:
                stops.append((end, item.ref))
        elif status == "active" and start is not None:
            active.append(start)
    latest = max(stops)[0] if stops else None
    # stopped after every stop with a day (or with none): the file would read "never discontinued", or an
    # earlier stop - unless an IVIG order active from then on goes on
    late = [(b, ref) for b, ref in unknown if latest is None or b is None or b >= latest]
    if late and not any(b is None or a >= b for a in active for b, _ in late):
        for _, ref in late:
            rb.incomplete("ivig_discontinued_on", ref)
        if stops:
            return None
    if not stops:
        return None
    day, ref = max(stops)
    if any(a >= day for a in active):
        rb.convert(ref, "ivig_discontinued_on", "an IVIG order from its end on is active: IVIG not discontinued")
        return None
    starts = sorted(date.fromisoformat(c["start"]) for c in courses)
    before = [s for s in starts if s <= day]
    after = [s for s in starts if s > day]
    if after and not before:  # ended before any course: the courses are the therapy that went on
        rb.warn(ref, "ivig_discontinued_on", "ended before the first mapped IVIG course: not read as IVIG stopped")
        return None
    # a draft keeps the schedule of an order completed after its course, never of one stopped (a decision)
    completed = _status_of(requests, ref) == "completed"
    following = after[0] if after else (as_of if planned and completed else None)
    if before and following is not None and (following - before[-1]).days <= schedule_days:
        what = f"the course of {following.isoformat()}" if after else "the draft IVIG order"
        rb.convert(
            ref, "ivig_discontinued_on", f"IVIG goes on to schedule after its end ({what}): not discontinued"
        )
        return None
    if completed and not after and as_of is not None and (as_of - day).days <= schedule_days:
        # one order per course, the next not yet due: IVIG read as going on (its monitoring stays on)
        rb.convert(
            ref,
            "ivig_discontinued_on",
            f"IVIG order completed, as_of within {schedule_days} days of it (the next course may not be due):"
            " not read as stopped",
        )
        return None
    if completed and not after:
        rb.warn(
            ref,
            "ivig_discontinued_on",
            "IVIG order completed, no IVIG order or course after it: read as IVIG stopped on its end (an order"
            " per course ends too: record the next course's order)",
        )
    rb.convert(ref, "ivig_discontinued_on", "end of the stopped IVIG order")
    return day.isoformat()


def _status_of(items: Sequence[Item], ref: str) -> object:
    return next((i.resource.get("status") for i in items if i.ref == ref), None)
