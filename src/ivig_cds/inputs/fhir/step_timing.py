"""When each dose step of a request or statement holds: ``timing.repeat.boundsPeriod``; a ``boundsDuration``
counted from the step's start, where a ``sequence`` step without a start begins the day after the step before
it ends (a taper written as 14 days of 40 mg, then 14 of 30, then 20 mg); a ``count`` of administrations at
the step's frequency (methylprednisolone 1 g daily, count 3: three days, not a dose held to this day)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, NamedTuple

from .mapping import FhirMapping
from .values import LATEST, day_of, finite, is_obj, quantity

__all__ = ["Bounds", "bounds", "chain", "count_days", "span_end"]


class Bounds(NamedTuple):
    """A step's ``boundsPeriod`` start and end, its ``boundsDuration`` in whole days (``None``: none, or not
    readable), and whether a ``boundsDuration`` is given that cannot be read (a comparator, another unit)."""

    start: date | None
    end: date | None
    span: int | None
    unread: bool


_NONE = Bounds(None, None, None, False)
_MAX_SPAN = 200 * 366
"""Days beyond any date read (the adapter reads dates up to 2200): a longer span holds like an open step."""


def _repeat(dosage: Mapping[str, Any]) -> Mapping[str, Any] | None:
    timing = dosage.get("timing")
    repeat = timing.get("repeat") if is_obj(timing) else None
    return repeat if is_obj(repeat) else None


def bounds(dosage: Mapping[str, Any]) -> Bounds:
    """The step's bounds as written (a ``boundsPeriod.end`` wins over a ``boundsDuration``: R4 allows one)."""
    repeat = _repeat(dosage)
    if repeat is None:
        return _NONE
    period = repeat.get("boundsPeriod")
    start, end = (day_of(period.get("start")), day_of(period.get("end"))) if is_obj(period) else (None, None)
    if "boundsDuration" not in repeat or end is not None:
        return Bounds(start, end, None, False)
    duration = quantity(repeat["boundsDuration"])
    if duration is not None and not isinstance(duration, str) and not duration.comparator:
        days = {"d": 1, "wk": 7}.get(duration.unit or "")
        span = duration.value * (days or 0)
        if days is not None and duration.value >= 1 and math.isfinite(span):
            # a span past the last date read holds like an open step (span_end): capped, never an overflow
            return Bounds(start, None, math.floor(min(span, _MAX_SPAN)), False)
    return Bounds(start, None, None, True)


def span_end(start: date, span: int) -> date | None:
    """The last day of ``span`` days from ``start``; ``None`` past the last date read (holds like an open step)."""
    return start + timedelta(days=span - 1) if span - 1 < (LATEST - start).days else None


def chain(
    dosages: list[Mapping[str, Any]], found: list[Bounds], mapping: FhirMapping | None = None
) -> list[Bounds]:
    """Bounds with each step's end from its duration (with ``mapping``, of a sequence step, or from its
    ``count`` of doses: a taper of 14 daily doses of 40 mg, then 14 of 30), and - when every dosage has its own
    integer ``sequence`` (R4: the order of the instructions) - a step without a start placed the day after the
    step before it ends. The first step is never placed from the resource's date: a chain starts at a
    ``boundsPeriod.start``."""
    order = list(range(len(found)))
    numbers = [d.get("sequence") for d in dosages]
    sequential = len(found) > 1 and all(type(n) is int for n in numbers) and len(set(numbers)) == len(numbers)
    if sequential:
        order.sort(key=lambda i: numbers[i])  # type: ignore[arg-type,return-value]  # all int (checked)
    out = list(found)
    previous_end: date | None = None
    for i in order:
        b = out[i]
        start = b.start
        if start is None and sequential and previous_end is not None:
            start = previous_end + timedelta(days=1)
        end, span = b.end, b.span
        repeat = _repeat(dosages[i]) if mapping is not None and sequential else None
        if span is None and repeat is not None and "count" in repeat and "boundsRange" not in repeat:
            span = count_days(repeat, mapping)  # type: ignore[arg-type]  # (mapping checked above)
        if end is None and start is not None and span is not None:
            end = span_end(start, span)
        out[i] = Bounds(start, end, b.span, b.unread)
        previous_end = end
    return out


def count_days(repeat: Mapping[str, Any], mapping: FhirMapping) -> int | None:
    """The days a ``count`` of administrations spans at ``frequency`` per ``period`` ``periodUnit`` (an absent
    frequency is once per period, R4), or ``None`` when it cannot be read: no integer count, ``countMax``, no
    period or unit, a range (``frequencyMax``, ``periodMax``), a ``dayOfWeek``."""
    count = repeat.get("count")
    if (
        type(count) is not int
        or count < 1
        or any(k in repeat for k in ("countMax", "frequencyMax", "periodMax", "dayOfWeek"))
    ):
        return None
    frequency, period, unit = (
        finite(repeat.get("frequency", 1)),
        finite(repeat.get("period")),
        repeat.get("periodUnit"),
    )
    days = mapping.unit("period_days").convert(1.0, unit) if isinstance(unit, str) else None
    if frequency is None or frequency <= 0 or period is None or period <= 0 or days is None:
        return None
    spanned = count * period * days / frequency  # days from the first dose to the end of the last period
    if not math.isfinite(spanned):
        return None
    return max(1, math.ceil(min(spanned, _MAX_SPAN) - 1e-9))
