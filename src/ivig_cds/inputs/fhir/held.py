"""Glucocorticoid records beside their orders: dose records that replace an order's dose on their days, and
administrations (tablets taken, pulses) that the mapped doses hold - or, when they do not, an incomplete file."""

from __future__ import annotations

import bisect
import dataclasses
import math
from datetime import date, timedelta

from .index import Item
from .mapping import FhirMapping
from .medications import DoseStep, MedInfo
from .report import ReportBuilder
from .values import is_obj, quantity

__all__ = ["plans_without_recorded_days", "uncovered", "unheld"]


def plans_without_recorded_days(
    intervals: list[tuple[DoseStep, float]], recorded: dict[str, list[DoseStep]]
) -> list[tuple[DoseStep, float]]:
    """A therapy's own dose steps on the days none of its dose records covers: a record says what was taken
    under the order on its days (the plan and the record are one dose, not two to add)."""
    out: list[tuple[DoseStep, float]] = []
    for step, mg in intervals:
        records = sorted(recorded.get(step.source, ()), key=lambda r: r.start)
        start: date | None = step.start
        for r in records:
            if start is None or (step.end is not None and r.start > step.end):
                break
            if r.end is not None and r.end < start:
                continue
            if r.start > start:
                out.append((dataclasses.replace(step, start=start, end=r.start - timedelta(days=1)), mg))
            start = None if r.end is None else max(start, r.end + timedelta(days=1))
        if start is not None and (step.end is None or start <= step.end):
            out.append((dataclasses.replace(step, start=start), mg))
    return out


def uncovered(start: date | None, end: date | None, records: list[DoseStep], as_of: date | None) -> bool:
    """Whether a day from ``start`` to ``end`` (``None``: open), up to ``as_of`` (``None``: for ever), is one
    no record covers: an order's step of unknown dose is known only on its dose records' days."""
    if start is None:  # no day to begin from: nothing to place
        return False
    last = end if as_of is None else as_of if end is None else min(end, as_of)
    day = start
    for r in sorted(records, key=lambda r: r.start):
        if last is not None and day > last:
            return False
        if r.start > day:
            return True
        if r.end is None:
            return False
        day = max(day, r.end + timedelta(days=1))
    return last is None or day <= last


def unheld(
    given: list[tuple[Item, MedInfo]], steps: list[tuple[str, DoseStep]], mapping: FhirMapping, rb: ReportBuilder
) -> None:
    """Glucocorticoid administrations no mapped order or statement of their agent holds: incomplete.

    The day's administrations of an agent are held by the steps of that agent covering the day when what was
    given is within what they give: a mass total no more than their mg/day (a pulse: the day's total at least
    ``pulse_prednisone_mg`` prednisone-equivalent), or twice it for a smaller total (an alternate-day dose);
    or, for a step given less often than daily (a 1 g pulse every 4 weeks), no more than one administration's
    dose over the step's interval (:func:`_within_one_dose`: a 3-day 1 g course on a monthly order is not
    held). A tablet count of unknown strength is held by any covering daily step; an amount that is none of
    these - no dose, a volume (a 250 mL bag), a comparator, a negative one - is held by none.
    """
    by_day: dict[tuple[str, date | None], list[tuple[Item, float | None, bool]]] = {}
    for item, info in given:
        mg, counted = _given_amount(item, info, mapping)
        by_day.setdefault((str(info.agent), item.day()[0]), []).append((item, mg, counted))
    # each agent's days in order, with running sums of their mg and of their tablets of unknown strength
    totals: dict[str, tuple[list[date], list[float], list[int]]] = {}
    for (agent, day), records in sorted(by_day.items(), key=lambda kv: (kv[0][0], kv[0][1] or date.min)):
        if day is not None:
            days, running, tablets = totals.setdefault(agent, ([], [0.0], [0]))
            days.append(day)
            running.append(running[-1] + sum(mg or 0.0 for _, mg, _ in records))
            tablets.append(tablets[-1] + sum(1 for _, mg, c in records if c and mg is None))
    for (agent, day), records in by_day.items():
        covering = [
            st
            for a, st in steps
            if a == agent and day is not None and st.start <= day and (st.end is None or day <= st.end)
        ]
        daily = sum(st.mg_per_day or 0.0 for st in covering)
        total = sum(mg or 0.0 for _, mg, _ in records)
        pulse = total * mapping.prednisone_equivalents[agent] >= mapping.pulse_prednisone_mg
        known = all((mg is not None and mg >= 0) or counted for _, mg, counted in records)
        infrequent = [st for st in covering if _infrequent(st)]
        # twice the daily mean for an alternate-day dose - of daily steps only: an infrequent step's own dose
        # is checked over its interval (40 mg every day on a 40 mg every-2-days order is not held)
        factor = 1 if pulse or infrequent else 2
        held = bool(covering) and known and total <= daily * factor * (1 + 1e-9)
        if not held and infrequent and known and day is not None:
            regular = [st for st in covering if not _infrequent(st)]
            held = _within_one_dose(infrequent, regular, totals[agent], day)
        if not held:
            for item, _, _ in records:
                rb.incomplete("glucocorticoid_doses", item.ref)


def _infrequent(step: DoseStep) -> bool:
    """Whether a step is given less often than daily (one administration's mg above its mg/day)."""
    return bool(step.mg_per_dose and step.mg_per_day and step.mg_per_dose > step.mg_per_day * (1 + 1e-9))


def _within_one_dose(
    infrequent: list[DoseStep],
    regular: list[DoseStep],
    totals: tuple[list[date], list[float], list[int]],
    day: date,
) -> bool:
    """Whether what was given over the infrequent steps' interval, up to ``day``, is within one of their
    administrations (plus the daily steps' mg/day over those days).

    Interval = mg per administration ÷ mg/day days; the window is its whole days, a tenth shorter for weekly
    or rarer steps (monthly pulses by calendar date, a weekly dose a day early). A tablet of unknown strength
    in the window makes the amount unknown: not held.
    """
    interval = max((st.mg_per_dose or 0.0) / (st.mg_per_day or 1.0) for st in infrequent)
    window = max(math.floor((interval if interval < 7 else interval * 0.9) + 1e-9), 1)
    since = day - timedelta(days=window - 1)
    days, running, tablets = totals
    lo, hi = bisect.bisect_left(days, since), bisect.bisect_right(days, day)
    if tablets[hi] - tablets[lo]:
        return False
    allowed = sum(st.mg_per_dose or 0.0 for st in infrequent) + window * sum(
        st.mg_per_day or 0.0 for st in regular
    )
    return running[hi] - running[lo] <= allowed * (1 + 1e-9)


def _given_amount(item: Item, info: MedInfo, mapping: FhirMapping) -> tuple[float | None, bool]:
    """The mg a glucocorticoid administration gave (``dosage.dose`` in a mass unit, or a tablet count ×
    its Medication's strength), and whether its dose is a tablet count of unknown strength (then ``None``
    mg: held by its order, whose dose the count follows)."""
    dosage = item.resource.get("dosage")
    q = quantity(dosage.get("dose")) if is_obj(dosage) else None
    if q is None or isinstance(q, str) or q.comparator:
        return None, False
    mg = mapping.unit("dose_mg").convert(q.value, q.unit)
    if mg is None and q.unit in mapping.count_units:
        per_unit = info.strength[0]
        return (q.value * per_unit, False) if per_unit is not None else (None, True)
    return mg, False
