"""Renal function during IVIG treatment: the creatinine before and after each course, and re-checks.

Reference creatinine of a course: the lowest creatinine dated in the screen window (``renal_lab_max_age_days``)
up to and including the course's first day. It is the value before the course in question, or an earlier,
lower one of that window - the one before course 1 whenever course 1 was within it - so both an acute rise
and a creep over several courses are seen. A sample dated on a course's first day counts as drawn before
the infusion (dates carry no time). Peak: the highest creatinine dated after the first day, up to
``creatinine_course_window_days`` after the last infusion day. The 48-hour rise compares each of those
samples with the lowest sample dated 1 to ``creatinine_rise_window_days`` days before it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import date, timedelta
from typing import Any

from ivig_cds.facts.fields import FactField, flag, number
from ivig_cds.facts.records import Snapshot, ref
from ivig_cds.model.patient import IvigCourse

__all__ = ["COURSE_FIELDS", "FIELDS", "CreatinineSeries", "course_creatinine", "fill"]

_CREATININE = "creatinine_mg_dl"
_LABS = "labs[creatinine_mg_dl], ivig_courses[]"

COURSE_FIELDS: dict[str, FactField] = {
    "creatinine_reference_mg_dl": number(
        _LABS, "lowest creatinine of the screen window up to the course's first day, mg/dL"
    ),
    "creatinine_peak_mg_dl": number(
        _LABS, "highest creatinine after the first day, up to the window after the last infusion day, mg/dL"
    ),
    "creatinine_x_reference": number(_LABS, "peak ÷ reference creatinine"),
    "creatinine_rise_48h_mg_dl": number(
        _LABS, "largest rise of a post-course creatinine over the lowest sample 1-2 days before it, mg/dL"
    ),
}

FIELDS: dict[str, FactField] = {
    "creatinine_rechecked": flag(
        _LABS,
        "a creatinine is dated after the start of the course before the latest one (course 1 when only one)",
    ),
}


class CreatinineSeries:
    """The creatinine labs known at ``as_of``, sorted by date once, so each course's windows are two bisects."""

    __slots__ = ("dates", "values")

    def __init__(self, s: Snapshot) -> None:
        pairs = sorted((lab.date, float(lab.value)) for _, lab in s.labs if str(lab.test) == _CREATININE)
        self.dates = [d for d, _ in pairs]
        self.values = [v for _, v in pairs]

    def between(self, lo: date, hi: date) -> tuple[int, int]:
        """Index range of the samples dated ``lo`` to ``hi`` inclusive."""
        return bisect_left(self.dates, lo), bisect_right(self.dates, hi)


def course_creatinine(s: Snapshot, course: IvigCourse, series: CreatinineSeries | None = None) -> dict[str, Any]:
    """The creatinine fields of one course fact (``None`` where the labs do not say).

    ``series``: the snapshot's :class:`CreatinineSeries` when the caller has built it (once per patient).
    """
    t = s.t
    if series is None:
        series = CreatinineSeries(s)
    dates, values = series.dates, series.values
    first = course.start
    last_day = first + timedelta(days=course.days - 1)
    window_start = first - timedelta(days=int(t["renal_lab_max_age_days"]))
    window_end = last_day + timedelta(days=int(t["creatinine_course_window_days"]))
    lo, mid = series.between(window_start, first)
    end = bisect_right(dates, window_end)
    start_after = bisect_right(dates, first)  # after: first < d <= window_end
    before = values[lo:mid]
    after = list(zip(dates[start_after:end], values[start_after:end], strict=True))
    reference = min(before) if before else None
    peak = max(v for _, v in after) if after else None
    out: dict[str, Any] = {
        "creatinine_reference_mg_dl": reference,
        "creatinine_peak_mg_dl": peak,
        # round(…, 9) removes binary noise (1.2 / 0.8 is 1.4999999999999998), not a display rounding
        "creatinine_x_reference": round(peak / reference, 9) if peak is not None and reference else None,
        "creatinine_rise_48h_mg_dl": None,
    }
    span = int(t["creatinine_rise_window_days"])
    rises = []
    if span >= 1:
        for day, value in after:
            a, b = series.between(day - timedelta(days=span), day - timedelta(days=1))
            if b > a:
                rises.append(round(value - min(values[a:b]), 9))
    if rises:
        out["creatinine_rise_48h_mg_dl"] = max(rises)
    return out


def fill(s: Snapshot, p: dict[str, Any], src: dict[str, str]) -> None:
    """Fill ``creatinine_rechecked`` (``None`` before any course of the current episode)."""
    courses = s.episode.courses
    if not courses:
        p["creatinine_rechecked"] = None
        return
    anchor = courses[-2][1].start if len(courses) > 1 else courses[0][1].start
    checked = [(i, lab) for i, lab in s.labs if str(lab.test) == _CREATININE and lab.date > anchor]
    p["creatinine_rechecked"] = bool(checked)
    if checked:
        src["creatinine_rechecked"] = ref(checked[-1][1], f"labs[{checked[-1][0]}]")
